//! Plays API Gateway and a browser: turns a person's request into the HTTP
//! API (v2) event Lambda delivers, invokes the function that owns the route
//! through its Runtime API, and reads the answer back (status, headers,
//! cookies, body); signs in at the dev identity provider like a person.
//! Every invocation is recorded with its latency, CPU time and the calls
//! the function made while it ran.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::process::Function;
use crate::proxy::{Call, Proxy, Service};

/// Which function serves a path (template.yaml's routes).
pub fn function_for(path: &str) -> &'static str {
    match path {
        "/associate" => "request-association",
        p if p == "/redeem" || p.starts_with("/redeem/") || p == "/profiles/unlink" => "redeem-link",
        "/authorize" | "/end-session" => "authorize",
        "/token" | "/userinfo" | "/.well-known/openid-configuration" => "token",
        _ => "login",
    }
}

/// One invocation, as the bench measured it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invocation {
    pub function: String,
    pub endpoint: String,
    /// Part of the onboarding being costed (not the clean-up after it).
    pub onboarding: bool,
    pub status: u16,
    /// From the event's delivery to the function until its answer arrived.
    pub latency_ms: f64,
    /// Time inside calls to the emulator and the identity provider (at the proxy).
    pub upstream_ms: f64,
    pub cpu_ms: f64,
    pub calls: Vec<CallRecord>,
    /// Sequential waves of calls: overlapping calls count once.
    pub round_trips: usize,
    pub aws_round_trips: usize,
    pub response_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallRecord {
    pub service: Service,
    pub operation: String,
    pub ms: f64,
    pub read_units: f64,
    pub write_units: f64,
}

impl Invocation {
    pub fn handler_ms(&self) -> f64 {
        (self.latency_ms - self.upstream_ms).max(0.0)
    }
}

/// Summarises the calls made during one invocation.
pub fn call_records(calls: &[Call]) -> (Vec<CallRecord>, f64, usize, usize) {
    let records = calls
        .iter()
        .map(|c| CallRecord {
            service: c.service,
            operation: c.operation.clone(),
            ms: ms(c.duration()),
            read_units: c.read_units,
            write_units: c.write_units,
        })
        .collect();
    // Busy time: the union of the calls' intervals, so parallel calls count once.
    let mut spans: Vec<_> = calls.iter().map(|c| (c.started, c.finished)).collect();
    spans.sort();
    let mut busy = Duration::ZERO;
    let mut current: Option<(std::time::Instant, std::time::Instant)> = None;
    for (start, end) in spans {
        match &mut current {
            Some((_, e)) if start <= *e => *e = (*e).max(end),
            _ => {
                if let Some((s, e)) = current {
                    busy += e - s;
                }
                current = Some((start, end));
            }
        }
    }
    if let Some((s, e)) = current {
        busy += e - s;
    }
    (records, ms(busy), waves(calls.iter()), waves(calls.iter().filter(|c| c.service.is_aws())))
}

/// How many calls had to wait for another to finish first, plus one: the
/// number of sequential round trips.
fn waves<'a>(calls: impl Iterator<Item = &'a Call>) -> usize {
    let mut spans: Vec<_> = calls.map(|c| (c.started, c.finished)).collect();
    spans.sort();
    let mut count = 0;
    let mut end: Option<std::time::Instant> = None;
    for (s, e) in spans {
        match end {
            Some(current) if s < current => end = Some(current.max(e)),
            _ => {
                count += 1;
                end = Some(e);
            }
        }
    }
    count
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A person's browser: cookies for the service and for the identity provider.
#[derive(Debug, Default)]
pub struct Browser {
    cookies: BTreeMap<String, String>,
    provider_cookies: BTreeMap<String, String>,
    pub source_ip: String,
}

impl Browser {
    pub fn new(source_ip: impl Into<String>) -> Self {
        Self { source_ip: source_ip.into(), ..Self::default() }
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    fn cookie_list(&self) -> Vec<String> {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// Applies one `Set-Cookie` value to a jar (paths and domains ignored: one site each).
fn store_cookie(jar: &mut BTreeMap<String, String>, set_cookie: &str) {
    let mut attributes = set_cookie.split(';');
    let Some((name, value)) = attributes.next().and_then(|pair| pair.split_once('=')) else { return };
    let expired = attributes.any(|a| {
        let a = a.trim().to_ascii_lowercase();
        a == "max-age=0" || a.starts_with("expires=thu, 01 jan 1970")
    });
    if expired || value.is_empty() {
        jar.remove(name.trim());
    } else {
        jar.insert(name.trim().to_owned(), value.trim().to_owned());
    }
}

/// A function's answer to an HTTP event.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl HttpAnswer {
    pub fn location(&self) -> anyhow::Result<&str> {
        self.headers.get("location").map(String::as_str).with_context(|| {
            format!("expected a redirect, got {} {}", self.status, self.body.chars().take(300).collect::<String>())
        })
    }

    pub fn expect(self, status: u16, what: &str) -> anyhow::Result<Self> {
        if self.status != status {
            bail!("{what}: expected {status}, got {} {}", self.status, self.body.chars().take(500).collect::<String>());
        }
        Ok(self)
    }
}

/// The API Gateway v2 event for one request.
pub fn http_event(
    base: &Url,
    method: &str,
    path_and_query: &str,
    browser: &Browser,
    form: Option<&[(String, String)]>,
) -> Value {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let host = base.host_str().unwrap_or("127.0.0.1").to_owned();
    let host_header = match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let request_id = format!("{:016x}", now.as_nanos());
    let mut headers = json!({
        "host": host_header,
        "accept": "text/html,application/xhtml+xml",
        "accept-language": "en-GB,en;q=0.9",
        "user-agent": "profile-link-bench",
        "x-forwarded-for": browser.source_ip,
        "x-forwarded-port": base.port_or_known_default().unwrap_or(443).to_string(),
        "x-forwarded-proto": base.scheme(),
    });
    let body = form.map(|fields| {
        headers["content-type"] = json!("application/x-www-form-urlencoded");
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
    });
    let parameters: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": host_header,
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": browser.source_ip,
                "userAgent": "profile-link-bench",
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": now.as_millis() as u64,
        },
        "isBase64Encoded": false,
    });
    if !parameters.is_empty() {
        event["queryStringParameters"] = json!(parameters);
    }
    let cookies = browser.cookie_list();
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

/// Sets (or replaces) one request header of an HTTP event, as API Gateway passes it: lower-case.
pub fn set_header(event: &mut Value, name: &str, value: &str) {
    event["headers"][name.to_ascii_lowercase()] = json!(value);
}

/// API Gateway in front of the running functions, recording every invocation.
pub struct Gateway {
    pub base: Url,
    pub functions: HashMap<String, Function>,
    pub proxy: Arc<Proxy>,
    pub records: Vec<Invocation>,
    /// Whether invocations are being recorded (the first onboarding only warms up).
    pub recording: bool,
    /// Whether the invocations now belong to the onboarding being costed.
    pub onboarding: bool,
    provider: reqwest::Client,
    /// Every `SendEmail` body seen, newest last.
    pub emails: Vec<Bytes>,
}

impl Gateway {
    pub fn new(base: Url, functions: HashMap<String, Function>, proxy: Arc<Proxy>) -> Self {
        let provider = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("HTTP client builds");
        Self {
            base,
            functions,
            proxy,
            records: Vec::new(),
            recording: false,
            onboarding: true,
            provider,
            emails: Vec::new(),
        }
    }

    /// Invokes `function` with `event` and records it under `endpoint`.
    pub async fn invoke(&mut self, function: &str, endpoint: &str, event: Value) -> anyhow::Result<Bytes> {
        let process = self.functions.get_mut(function).with_context(|| format!("{function} is not running"))?;
        self.proxy.take();
        let before = process.cpu();
        let answer = process.invoke(Bytes::from(event.to_string())).await?;
        let after = process.cpu();
        let calls = self.proxy.take();
        self.emails.extend(calls.iter().filter_map(|c| c.email.clone()));
        if answer.error {
            bail!("{function} answered {endpoint} with an error: {}", String::from_utf8_lossy(&answer.body));
        }
        if let Some(failed) = calls.iter().find(|c| c.status >= 400 && c.service != Service::Provider) {
            // Conditional-check failures are part of some flows; anything else is a broken run.
            if !(failed.status == 400 && failed.operation == "TransactWriteItems") {
                eprintln!(
                    "warning: {function} {endpoint}: {} {} answered {}",
                    failed.operation, failed.caller, failed.status
                );
            }
        }
        if self.recording {
            let (records, upstream_ms, round_trips, aws_round_trips) = call_records(&calls);
            self.records.push(Invocation {
                function: function.to_owned(),
                endpoint: endpoint.to_owned(),
                onboarding: self.onboarding,
                status: 0,
                latency_ms: ms(answer.answered - answer.delivered),
                upstream_ms,
                cpu_ms: ms(after.since(&before)),
                calls: records,
                round_trips,
                aws_round_trips,
                response_bytes: answer.body.len(),
            });
        }
        Ok(answer.body)
    }

    /// One HTTP request from `browser`, routed as API Gateway routes it.
    pub async fn http(
        &mut self,
        browser: &mut Browser,
        endpoint: &str,
        method: &str,
        path_and_query: &str,
        form: Option<&[(String, String)]>,
    ) -> anyhow::Result<HttpAnswer> {
        self.http_with_headers(browser, endpoint, method, path_and_query, form, &[]).await
    }

    /// [`http`](Self::http) with request headers of its own (a portal's `Authorization`).
    pub async fn http_with_headers(
        &mut self,
        browser: &mut Browser,
        endpoint: &str,
        method: &str,
        path_and_query: &str,
        form: Option<&[(String, String)]>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<HttpAnswer> {
        let path = path_and_query.split('?').next().unwrap_or("/");
        let function = function_for(path);
        let mut event = http_event(&self.base, method, path_and_query, browser, form);
        for (name, value) in headers {
            set_header(&mut event, name, value);
        }
        let body = self.invoke(function, endpoint, event).await?;
        let answer = parse_http_answer(&body)?;
        if let Some(record) = self.records.last_mut().filter(|_| self.recording) {
            record.status = answer.0.status;
            record.response_bytes = answer.0.body.len();
        }
        for cookie in &answer.1 {
            store_cookie(&mut browser.cookies, cookie);
        }
        Ok(answer.0)
    }

    /// Signs `user` in at the identity provider, starting from the authorization
    /// URL `GET /login` redirected to; returns the path and query of the callback.
    pub async fn sign_in(&self, browser: &mut Browser, authorize: &str, user: &str) -> anyhow::Result<String> {
        let mut url = Url::parse(authorize)?;
        let mut form: Option<Vec<(String, String)>> = None;
        for _ in 0..12 {
            let mut request = match &form {
                Some(fields) => self.provider.post(url.clone()).form(fields),
                None => self.provider.get(url.clone()),
            };
            let cookies: Vec<String> = browser.provider_cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if !cookies.is_empty() {
                request = request.header("cookie", cookies.join("; "));
            }
            let response = request.send().await.with_context(|| format!("identity provider: {url}"))?;
            for value in response.headers().get_all("set-cookie") {
                store_cookie(&mut browser.provider_cookies, value.to_str().unwrap_or(""));
            }
            if response.status().is_redirection() {
                let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("");
                let next = url.join(location)?;
                if next.origin() == self.base.origin() {
                    let query = next.query().map(|q| format!("?{q}")).unwrap_or_default();
                    return Ok(format!("{}{query}", next.path()));
                }
                url = next;
                form = None;
                continue;
            }
            let page = response.text().await?;
            let Some((action, mut fields)) = first_post_form(&page) else {
                bail!(
                    "the identity provider showed a page without a form: {}",
                    page.chars().take(400).collect::<String>()
                );
            };
            if fields.iter().any(|(n, _)| n == "password") || page.contains("name=\"password\"") {
                fields.retain(|(n, _)| n != "login" && n != "password");
                fields.push(("login".into(), user.into()));
                fields.push(("password".into(), "demo".into()));
            }
            url = url.join(&action)?;
            form = Some(fields);
        }
        bail!("the sign-in at the identity provider did not come back to the service")
    }
}

/// (answer, Set-Cookie values) from lambda_http's API Gateway v2 response JSON.
fn parse_http_answer(body: &[u8]) -> anyhow::Result<(HttpAnswer, Vec<String>)> {
    let value: Value = serde_json::from_slice(body).context("the function's answer is not JSON")?;
    let status = value["statusCode"].as_u64().context("answer without statusCode")? as u16;
    let headers = value["headers"]
        .as_object()
        .map(|h| h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_owned())).collect())
        .unwrap_or_default();
    let mut text = value["body"].as_str().unwrap_or("").to_owned();
    if value["isBase64Encoded"].as_bool() == Some(true) {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(&text)?;
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let cookies = value["cookies"]
        .as_array()
        .map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    Ok((HttpAnswer { status, headers, body: text }, cookies))
}

/// The first `<form method="post">` of a page: its action and its named inputs
/// and buttons (a button only if it is the one named `action`'s first value).
pub fn first_post_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<form").map(|i| i + at) {
        let tag_end = lower[start..].find('>')? + start;
        let tag = &html[start..tag_end];
        let end = lower[tag_end..].find("</form>").map(|i| i + tag_end).unwrap_or(html.len());
        at = end;
        if attribute(tag, "method").is_none_or(|m| !m.eq_ignore_ascii_case("post")) {
            continue;
        }
        let action = attribute(tag, "action").unwrap_or_default();
        let inner = &html[tag_end..end];
        let mut fields = Vec::new();
        let mut rest = inner;
        while let Some(i) = rest.find("<input") {
            let close = rest[i..].find('>').map(|j| j + i).unwrap_or(rest.len());
            let input = &rest[i..close];
            if let Some(name) = attribute(input, "name") {
                fields.push((name, attribute(input, "value").unwrap_or_default()));
            }
            rest = &rest[close..];
        }
        return Some((action, fields));
    }
    None
}

/// An attribute's value in a tag, entity-decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x2F;", "/")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_post_form() {
        let html = r#"<form method="get" action="/x"></form><form method="post" action="/a?b=1&amp;c=2">
<input type="hidden" name="csrf" value="t0k"><input name="email" value=""></form>"#;
        let (action, fields) = first_post_form(html).unwrap();
        assert_eq!(action, "/a?b=1&c=2");
        assert_eq!(fields, vec![("csrf".into(), "t0k".into()), ("email".into(), String::new())]);
    }

    #[test]
    fn cookies_are_stored_and_removed() {
        let mut jar = BTreeMap::new();
        store_cookie(&mut jar, "pl_session=abc; Path=/; HttpOnly; Max-Age=3600");
        assert_eq!(jar.get("pl_session").map(String::as_str), Some("abc"));
        store_cookie(&mut jar, "pl_session=; Path=/; Max-Age=0");
        assert!(jar.is_empty());
    }

    #[test]
    fn routes_like_the_template() {
        assert_eq!(function_for("/associate"), "request-association");
        assert_eq!(function_for("/redeem"), "redeem-link");
        assert_eq!(function_for("/profiles/unlink"), "redeem-link");
        assert_eq!(function_for("/login/callback"), "login");
        assert_eq!(function_for("/"), "login");
        assert_eq!(function_for("/.well-known/jwks.json"), "login");
        assert_eq!(function_for("/authorize"), "authorize");
        assert_eq!(function_for("/end-session"), "authorize");
        assert_eq!(function_for("/token"), "token");
        assert_eq!(function_for("/userinfo"), "token");
        assert_eq!(function_for("/.well-known/openid-configuration"), "token");
    }
}
