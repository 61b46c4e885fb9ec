//! `GET /dev/mailbox`: the emails the emulator's SES has accepted, newest
//! first, with their links clickable, so a person running `scripts/dev` can
//! finish the flow. Only the dev server mounts it; no Lambda build has it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

/// One message as the emulator reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct SentMessage {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub destinations: serde_json::Value,
    #[serde(default)]
    pub subject: String,
    /// The HTML part.
    #[serde(default)]
    pub body: String,
}

impl SentMessage {
    pub fn recipients(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_strings(&self.destinations, &mut out);
        out
    }

    /// Every `href` in the HTML body, in order, without duplicates.
    pub fn links(&self) -> Vec<String> {
        let mut links: Vec<String> = Vec::new();
        for part in self.body.split("href=\"").skip(1) {
            if let Some(end) = part.find('"') {
                let link = part[..end].replace("&amp;", "&");
                if link.starts_with("http") && !links.contains(&link) {
                    links.push(link);
                }
            }
        }
        links
    }
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Reads the emulator's record of sent email (`GET /moto-api/data.json`).
pub async fn sent_messages(endpoint: &str) -> Result<Vec<SentMessage>, String> {
    let data: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", endpoint.trim_end_matches('/')))
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = Vec::new();
    let mut found = Vec::new();
    collect_messages(&data["ses"]["Message"], &mut found);
    for value in found {
        if let Ok(message) = serde_json::from_value::<SentMessage>(value) {
            messages.push(message);
        }
    }
    Ok(messages)
}

// The emulator nests messages by account and region; take every object with a subject.
fn collect_messages(value: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_messages(v, out)),
        serde_json::Value::Object(map) if map.contains_key("subject") => out.push(value.clone()),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_messages(v, out)),
        _ => {}
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub async fn page(State(endpoint): State<String>) -> Response {
    let messages = match sent_messages(&endpoint).await {
        Ok(messages) => messages,
        Err(error) => {
            return (StatusCode::BAD_GATEWAY, format!("cannot read the emulator's mail: {error}")).into_response();
        }
    };
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Local mailbox</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:48rem;margin:1rem auto;padding:0 1rem\">\
         <h1>Local mailbox</h1><p>Emails the AWS emulator's SES accepted, newest first. Dev server only.</p>",
    );
    if messages.is_empty() {
        html.push_str("<p><em>No emails yet.</em></p>");
    }
    for message in messages.iter().rev() {
        html.push_str(&format!(
            "<article style=\"border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0\">\
             <h2 style=\"font-size:1.1rem;margin:0 0 .5rem\">{}</h2><p>To: {}<br>From: {}</p><ul>",
            escape(&message.subject),
            escape(&message.recipients().join(", ")),
            escape(&message.source)
        ));
        for link in message.links() {
            html.push_str(&format!("<li><a href=\"{0}\">{0}</a></li>", escape(&link)));
        }
        html.push_str(&format!(
            "</ul><details><summary>Show the email</summary><iframe sandbox title=\"{}\" style=\"width:100%;height:32rem;border:0\" srcdoc=\"{}\"></iframe></details></article>",
            escape(&message.subject),
            escape(&message.body)
        ));
    }
    html.push_str("</body></html>");
    Html(html).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_links_and_recipients() {
        let m = SentMessage {
            id: "1".into(),
            source: "no-reply@example.com".into(),
            destinations: serde_json::json!({"ToAddresses": ["pat@example.com"]}),
            subject: "s".into(),
            body: r#"<a href="http://x/redeem?token=a.b&amp;c=1">go</a> <a href="http://x/redeem?token=a.b&amp;c=1">again</a> <a href="mailto:h@x">h</a>"#.into(),
        };
        assert_eq!(m.links(), vec!["http://x/redeem?token=a.b&c=1"]);
        assert_eq!(m.recipients(), vec!["pat@example.com"]);
    }
}
