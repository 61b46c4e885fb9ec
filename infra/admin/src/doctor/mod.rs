//! `profile-link-admin doctor`: a read-only preflight of a deployed stack (or
//! the local one). Each check is one line: its status, what it saw, and what
//! to do. The parameters are read and parsed by the functions' own code
//! (`startup`, `Providers`, `PortalClients`, `SessionKeys`), so the doctor and
//! the functions cannot disagree about what works. Nothing is written.
//!
//! One file per area: `parameters` (SSM: what every function reads at cold
//! start), `providers` (each identity provider's discovery), `keys` (the
//! signing keys against what is published), `ses`, `lambda`, `table`.

mod capacity;
mod keys;
mod lambda;
mod parameters;
mod providers;
mod ses;
mod table;

use serde::Serialize;

use crate::portals::Location;

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Safe to go ahead, but look at it (or it could not be checked from here).
    Warn,
    /// Not safe to go ahead: something people would meet is broken.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub status: Status,
    /// Which check ("providers list", "provider entra", "table stream").
    pub check: String,
    /// What it saw. Never a secret.
    pub detail: String,
    /// What to do about it (none when all is well).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// The width of the check's name column: every fixed name fits.
const NAME_WIDTH: usize = 20;

impl Check {
    pub fn ok(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { status: Status::Ok, check: check.into(), detail: detail.into(), action: None }
    }
    pub fn warn(check: impl Into<String>, detail: impl Into<String>, action: impl Into<String>) -> Self {
        Self { status: Status::Warn, check: check.into(), detail: detail.into(), action: Some(action.into()) }
    }
    pub fn fail(check: impl Into<String>, detail: impl Into<String>, action: impl Into<String>) -> Self {
        Self { status: Status::Fail, check: check.into(), detail: detail.into(), action: Some(action.into()) }
    }

    /// `FAIL  providers list        /p is not in SSM: create it …`, aligned for people.
    pub fn line(&self) -> String {
        let head = format!("{:<4}  {:<NAME_WIDTH$}  {}", self.status.label(), self.check, self.detail);
        match &self.action {
            Some(action) => format!("{head}: {action}"),
            None => head,
        }
    }
}

/// Where the stack keeps what the doctor checks: the template's parameters,
/// named by the same flags and variables as the other commands.
#[derive(Debug, Clone)]
pub struct Stack {
    pub providers_parameter: String,
    pub provider_secrets_path: String,
    pub portals: Location,
    pub signing_key_parameter: String,
    pub public_keys_parameter: String,
    /// The stack's OpenIdProviderIssuer (PublicBaseUrl): where the JWKS is published.
    pub public_base_url: Option<String>,
    pub table: Option<String>,
    /// The stack's MailFrom.
    pub mail_from: Option<String>,
    /// The stack's SendEmailsReservedConcurrency.
    pub send_emails_reserved_concurrency: i32,
    /// The people the onboarding expects in its busiest hour.
    pub expected_people_per_hour: u64,
    /// The emails of that hour, when the operator knows better than
    /// [`EMAILS_PER_PERSON`] times the people.
    pub expected_emails_per_hour: Option<u64>,
}

/// A person holds 1.5 profiles on average, and each profile costs two emails:
/// the link and the "now linked" notice (docs/capacity.md).
pub const EMAILS_PER_PERSON: u64 = 3;

impl Stack {
    pub fn expected_people_per_hour(&self) -> u64 {
        self.expected_people_per_hour
    }

    pub fn expected_emails_per_hour(&self) -> u64 {
        self.expected_emails_per_hour.unwrap_or(self.expected_people_per_hour * EMAILS_PER_PERSON)
    }
}

/// Every check, in the report's order.
pub async fn run(sdk: &aws_config::SdkConfig, stack: &Stack) -> Vec<Check> {
    let mut checks = Vec::new();
    let read = parameters::read(sdk, stack, &mut checks).await;
    if let Some(providers) = &read.providers {
        checks.extend(providers::discovery(providers).await);
    }
    checks.extend(keys::published(stack, read.signing_keys.as_ref()).await);
    checks.extend(ses::checks(sdk, stack).await);
    checks.push(lambda::concurrency(sdk, stack).await);
    checks.extend(table::checks(sdk, stack).await);
    checks.extend(capacity::checks(sdk, stack).await);
    checks
}

/// Whether it is safe to go ahead: no check failed (warnings allowed).
pub fn go_ahead(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Fail)
}

/// What an AWS call's failure says, in one line: the service's code and
/// message, or the HTTP status of an answer that had neither (an emulator
/// that does not know the operation), or the SDK's own account of it.
fn aws_problem<E>(error: &aws_sdk_ssm::error::SdkError<E>) -> String
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => match error {
            SdkError::ServiceError(context) => format!("HTTP {}", context.raw().status().as_u16()),
            // An answer the SDK could not read as an AWS error (an emulator's HTML page).
            SdkError::ResponseError(context) => format!("HTTP {}", context.raw().status().as_u16()),
            other => aws_sdk_ssm::error::DisplayErrorContext(other).to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_status_name_detail_and_what_to_do_aligned() {
        let failed = Check::fail("providers list", "/p is not in SSM", "create it");
        assert_eq!(failed.line(), "FAIL  providers list        /p is not in SSM: create it");
        assert_eq!(Check::ok("table TTL", "on expires_at").line(), "ok    table TTL             on expires_at");
        assert!(!go_ahead(&[Check::ok("a", "b"), failed]));
        assert!(go_ahead(&[Check::warn("a", "b", "c")]), "warnings allow going ahead");
    }
}
