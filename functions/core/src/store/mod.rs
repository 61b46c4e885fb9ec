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
#[cfg(feature = "operator")]
pub mod profile_batches;
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
pub use outbox::{Claim, DueMail, MAIL_DUE_PARTITION, Outgoing, SWEEP_GRACE_SECONDS, UNSENT_LINK_HOLD_SECONDS};
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
    /// SES did not send it for now (throttled, quota spent, paused,
    /// unavailable): the claim is given back and the item waits in the
    /// outbox's due index until `retry_at`.
    Deferred { refusal: crate::mail::SendRefusal, retry_at: i64 },
    /// SES will never send it as it is (`code` is SES's error code): the
    /// item leaves the outbox, refused, and the refusal is audited.
    Refused { code: &'a str },
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

    /// One page of a sweep's index partition (`gsi1pk = partition`, sort keys
    /// `<due time, 13 digits>#…`): the items due by `now`, oldest first, at
    /// most `limit`, after the key `after`; and the key to continue from.
    pub(crate) async fn due_page(
        &self,
        partition: &str,
        now: i64,
        limit: i32,
        after: Option<items::Item>,
        operation: &'static str,
    ) -> Result<(Vec<items::Item>, Option<items::Item>), StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :due AND gsi1sk <= :now")
            .expression_attribute_values(":due", items::s(partition))
            // '$' sorts after the '#' that follows the time.
            .expression_attribute_values(":now", items::s(format!("{now:013}$")))
            .limit(limit)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(|e| StoreError::sdk(operation, e))?;
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }
}
