//! Email: what the link and notice emails say (`compose`), how what an email
//! is about travels with it (`tags`), sending it through SES v2 (`mailer`),
//! and what each of SES's refusals means for the outbox (`refusal`), and
//! pacing the sends to the SES account's own rate (`pace`).

mod compose;
mod mailer;
pub mod pace;
mod refusal;
pub mod tags;

pub use compose::{LinkEmail, NoticeEmail, format_utc};
pub use mailer::{AccountRefusalIsNotRetried, Mailer, SendError, UnansweredSendIsNotRetried};
pub use pace::{PaceConfig, PaceRefusal, SendPace};
pub use refusal::SendRefusal;

use crate::config::{ConfigError, Env};

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
