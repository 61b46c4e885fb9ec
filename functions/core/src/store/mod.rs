//! The one DynamoDB table. Key prefixes name the item kinds (`LOGIN#`,
//! `PROFILE#`, `IDENTITY#…/PROFILE#…`, …); each submodule owns one kind and
//! exposes small named capabilities rather than raw table access.

pub mod associations;
pub mod audit;
pub mod codes;
pub mod conflicts;
pub mod deliveries;
mod items;
mod link_record;
mod login;
pub mod logouts;
mod notices;
mod outbox;
mod profiles;
pub mod redeem;
mod requests;
pub mod sessions;
/// What operators do (`profile-link-admin`): never compiled into a Lambda function.
#[cfg(feature = "operator")]
pub mod support;
pub mod suppressions;

pub use link_record::{LinkRecord, LinkState, SUPPORT_ORIGIN};
pub use login::{LoginRecorded, LoginTransaction};
pub use notices::NoticeRecord;
pub use outbox::{Claim, Outgoing};
pub use profiles::{BATCH_GET_MAX, BATCH_WRITE_MAX};
pub use requests::{AssociationRequest, MAX_PROFILES_PER_REQUEST, RequestOutcome, Requester};
pub use sessions::IdentityState;
pub use suppressions::{Feedback, FeedbackRecorded, MailFeedback, Suppression};

use aws_sdk_dynamodb::Client;

/// Failures talking to DynamoDB. Conditional-check failures are not errors:
/// capabilities that use them answer with `Option`/enums instead.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {message}")]
    Unavailable { operation: &'static str, message: String },
    #[error("item {key} is malformed: {problem}")]
    Corrupt { key: String, problem: String },
}

impl StoreError {
    pub(crate) fn sdk<E, R>(operation: &'static str, error: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Self::Unavailable { operation, message: crate::aws::error_line(&error) }
    }
}

/// What became of an email send, as the item that was claimed for it records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome<'a> {
    /// SES accepted it: its message id.
    Sent(&'a str),
    /// SES did not answer (a timeout, a lost connection): it may have been
    /// sent, so it is recorded as sent and never sent again (SES has no
    /// idempotency token). The person can ask for a new link.
    Unconfirmed,
    /// SES answered that it did not send it: the claim is given back for a retry.
    NotSent,
}

/// The table, through one client built once per cold start.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    /// How long audit items are kept: every verb that audits uses it.
    audit_retention_seconds: i64,
}

impl Store {
    /// Every client the store uses retries `TransactionConflictException` (see [`conflicts`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let client = Client::from_conf(
            client.config().to_builder().retry_classifier(conflicts::TransactionConflictIsTransient).build(),
        );
        Self { client, table: table.into(), audit_retention_seconds: audit::DEFAULT_AUDIT_RETENTION_SECONDS }
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    /// The same table, keeping audit items `seconds` (tests that read TTLs).
    pub fn with_audit_retention(mut self, seconds: i64) -> Self {
        self.audit_retention_seconds = seconds;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
