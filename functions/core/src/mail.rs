//! Email: what a link email says (text and HTML, from templates) and sending
//! it through SES v2.

use askama::Template;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::config::{Branding, ConfigError, Env};
use crate::i18n::{Text, fill};

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The verified SES identity mail is sent from, e.g. `no-reply@example.com`.
    pub from: String,
    pub configuration_set: Option<String>,
}

impl MailConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let from = env.required("MAIL_FROM")?;
        if !from.contains('@') {
            return Err(ConfigError::invalid("MAIL_FROM", "expected an email address (optionally \"Name <address>\")"));
        }
        Ok(Self { from: from.to_owned(), configuration_set: env.get("SES_CONFIGURATION_SET").map(str::to_owned) })
    }
}

/// A rendered email.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What a link email needs to say.
pub struct LinkEmail<'a> {
    pub brand: &'a Branding,
    /// The language of the person who asked.
    pub t: &'a Text,
    pub display_name: &'a str,
    pub organization: &'a str,
    pub requester_label: &'a str,
    pub requester_provider: &'a str,
    pub link: &'a str,
    pub expires_at: i64,
    pub lifetime_minutes: i64,
}

/// The sentences with placeholders, filled once for both parts.
struct LinkSentences {
    intro: String,
    lifetime: String,
    questions_prefix: String,
    signature: String,
}

#[derive(Template)]
#[template(path = "email/link.txt")]
struct LinkText<'a> {
    m: &'a LinkEmail<'a>,
    s: &'a LinkSentences,
}

#[derive(Template)]
#[template(path = "email/link.html")]
struct LinkHtml<'a> {
    m: &'a LinkEmail<'a>,
    s: &'a LinkSentences,
}

/// `2026-11-24 14:05 UTC`: unambiguous for every reader.
pub fn format_utc(epoch_seconds: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| epoch_seconds.to_string())
}

impl LinkEmail<'_> {
    pub fn render(&self, to: &str) -> Result<Email, askama::Error> {
        let (t, brand) = (self.t, self.brand);
        let expires = format_utc(self.expires_at);
        let s = LinkSentences {
            intro: fill(
                t.mail_link_intro,
                &[
                    ("requester", &self.requester_label),
                    ("provider", &self.requester_provider),
                    ("operator", &brand.operator_name),
                ],
            ),
            lifetime: fill(t.mail_link_lifetime, &[("minutes", &self.lifetime_minutes), ("expires", &expires)]),
            questions_prefix: fill(t.mail_questions, &[("operator", &brand.operator_name)]),
            signature: fill(t.mail_signature, &[("product", &brand.product_name), ("operator", &brand.operator_name)]),
        };
        Ok(Email {
            to: to.to_owned(),
            subject: fill(t.mail_link_subject, &[("profile", &self.display_name), ("operator", &brand.operator_name)]),
            text: LinkText { m: self, s: &s }.render()?,
            html: LinkHtml { m: self, s: &s }.render()?,
        })
    }
}

/// "Your profile is now linked to …", to the profile's registered address.
pub struct NoticeEmail<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub display_name: &'a str,
    pub organization: &'a str,
    pub identity_label: &'a str,
    pub identity_provider: &'a str,
    pub replaced: bool,
}

struct NoticeSentences {
    intro: String,
    linked: String,
    not_you_prefix: String,
    signature: String,
}

#[derive(Template)]
#[template(path = "email/notice.txt")]
struct NoticeText<'a> {
    m: &'a NoticeEmail<'a>,
    s: &'a NoticeSentences,
}

#[derive(Template)]
#[template(path = "email/notice.html")]
struct NoticeHtml<'a> {
    m: &'a NoticeEmail<'a>,
    s: &'a NoticeSentences,
}

impl NoticeEmail<'_> {
    pub fn render(&self, to: &str) -> Result<Email, askama::Error> {
        let (t, brand) = (self.t, self.brand);
        let s = NoticeSentences {
            intro: fill(t.mail_notice_intro, &[("operator", &brand.operator_name)]),
            linked: fill(
                t.mail_notice_linked,
                &[("requester", &self.identity_label), ("provider", &self.identity_provider)],
            ),
            not_you_prefix: fill(
                t.mail_notice_not_you,
                &[("operator", &brand.operator_name), ("support", &brand.support_email)],
            ),
            signature: fill(t.mail_signature, &[("product", &brand.product_name), ("operator", &brand.operator_name)]),
        };
        Ok(Email {
            to: to.to_owned(),
            subject: fill(
                t.mail_notice_subject,
                &[("profile", &self.display_name), ("operator", &brand.operator_name)],
            ),
            text: NoticeText { m: self, s: &s }.render()?,
            html: NoticeHtml { m: self, s: &s }.render()?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("SES SendEmail failed{}: {message}", if *.throttled { " (throttled)" } else { "" })]
pub struct SendError {
    pub throttled: bool,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    config: MailConfig,
}

impl Mailer {
    pub fn new(client: aws_sdk_sesv2::Client, config: MailConfig) -> Self {
        Self { client, config }
    }

    /// Sends one email; the SES message id on success.
    pub async fn send(&self, email: &Email) -> Result<String, SendError> {
        let content = |text: &str| Content::builder().data(text).charset("UTF-8").build().expect("data set");
        let message = Message::builder()
            .subject(content(&email.subject))
            .body(Body::builder().text(content(&email.text)).html(content(&email.html)).build())
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&self.config.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.config.configuration_set.clone())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.message_id.unwrap_or_default()),
            Err(error) => {
                let throttled = error
                    .as_service_error()
                    .is_some_and(|e| e.is_too_many_requests_exception() || e.is_limit_exceeded_exception());
                Err(SendError { throttled, message: aws_sdk_sesv2::error::DisplayErrorContext(error).to_string() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_email_says_everything_the_person_needs() {
        let brand = Branding::new("Acme Link", "Acme", "help@acme.example");
        let email = LinkEmail {
            brand: &brand,
            t: &crate::i18n::EN,
            display_name: "Pat <Doe>",
            organization: "Doe Bakery",
            requester_label: "p***@mail.example.net",
            requester_provider: "login.example.net",
            link: "https://link.example.com/redeem?token=abc.def",
            expires_at: 1_795_000_000,
            lifetime_minutes: 60,
        }
        .render("pat@example.com")
        .unwrap();
        for part in [&email.text, &email.html] {
            assert!(part.contains("https://link.example.com/redeem?token=abc.def"));
            assert!(part.contains("Doe Bakery"));
            assert!(part.contains("p***@mail.example.net"));
            assert!(part.contains("login.example.net"));
            assert!(part.contains(&format_utc(1_795_000_000)));
            assert!(part.contains("help@acme.example"));
            assert!(part.contains("ignore this email"));
        }
        assert!(email.text.contains("Pat <Doe>"), "text is not HTML-escaped");
        assert!(email.html.contains("Pat &#60;Doe&#62;") || email.html.contains("Pat &lt;Doe&gt;"), "HTML is escaped");
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
    }
}
