//! The `send-emails` function: invoked by the table's stream with new `LINK#`
//! items, it mints each link's verifier, sends one SES email per link and
//! records the send. One email per link under redelivery: a link is claimed
//! with a conditional write before sending, so a second delivery of the same
//! record finds it sent and does nothing. A send SES refused releases the
//! claim and reports only that record as failed (partial batch response). A
//! send SES did not answer (a timeout, a lost connection) may have gone out,
//! and SES has no idempotency token, so it is neither retried by the SDK nor
//! sent again: the link is recorded as sent, unconfirmed, and audited.
//!
//! An invocation that dies mid-send (timeout, crash) leaves its claim behind;
//! the redelivery waits until that claim is older than any live sender could
//! hold it ([`STALE_CLAIM_SECONDS`]) and takes it over, so nothing is lost.
//! The one window that can produce a second email is a death between SES
//! accepting a message and the write that records it; the takeover mints a
//! new verifier, so only the newest email's link works.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
pub use profile_link_core::linking::send::{
    CLAIM_WAIT_PER_INVOCATION_SECONDS, ClaimWaitBudget, Delivery, DeliveryError, STALE_CLAIM_SECONDS, Sender,
};
use profile_link_core::linking::send::{deliver_link, deliver_notice};
use profile_link_core::metrics::Emf;
use profile_link_core::telemetry::ColdStart;

/// The function's state: what sending needs, built once per cold start.
pub type SendEmailsApp = Sender;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "send-emails";

static COLD_START: ColdStart = ColdStart::new();

/// Lambda's entry: processes every record, reporting failed ones by sequence
/// number so only they (and what follows them in the shard) are retried.
/// One log line and one metrics line per invocation; `request_id` is
/// Lambda's (the dev server's stream mapping makes one up).
pub async fn handle(app: &SendEmailsApp, event: Event, request_id: &str) -> DynamoDbEventResponse {
    let started = std::time::Instant::now();
    let cold_start = COLD_START.take();
    let mut failures = Vec::new();
    let (mut sent, mut skipped, mut ignored, mut suppressed, mut unconfirmed) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut budget = ClaimWaitBudget::default();
    for record in &event.records {
        match deliver(app, record, &mut budget).await {
            Ok(outcome) => {
                tracing::debug!(?outcome, "stream record done");
                match outcome {
                    Delivery::Sent => sent += 1,
                    Delivery::Ignored => ignored += 1,
                    Delivery::Skipped(_) => skipped += 1,
                    Delivery::Suppressed => suppressed += 1,
                    Delivery::Unconfirmed => unconfirmed += 1,
                }
            }
            Err(error) => {
                tracing::warn!(%error, event_id = %record.event_id, "stream record failed; reported for retry");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                failures.push(failure);
            }
        }
    }
    let failed = failures.len() as u64;
    tracing::info!(
        target: "invocation",
        function = FUNCTION,
        records = event.records.len(),
        sent,
        skipped,
        ignored,
        suppressed,
        unconfirmed,
        failed,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        cold_start,
        request_id,
        "invocation"
    );
    Emf::new(FUNCTION)
        .count("EmailsSent", sent)
        .count("EmailsFailed", failed)
        .count("EmailsSuppressed", suppressed)
        .count("EmailsUnconfirmed", unconfirmed)
        .emit();
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    response
}

/// The key prefixes this function sends mail for (the template's event filter
/// names the same ones; checked again here so a misconfigured mapping cannot
/// make this function act on other items).
pub const MAIL_ITEM_PREFIXES: [&str; 2] = ["LINK#", "NOTICE#"];

/// The new item's key prefix, if the record is an INSERT of an item we send mail for.
fn inserted_kind(record: &EventRecord) -> Option<&'static str> {
    let Some(serde_dynamo::AttributeValue::S(pk)) = record.change.keys.get("pk") else { return None };
    if record.event_name != "INSERT" {
        return None;
    }
    MAIL_ITEM_PREFIXES.into_iter().find(|prefix| pk.starts_with(prefix))
}

fn new_image<T: serde::de::DeserializeOwned>(record: &EventRecord) -> Result<T, DeliveryError> {
    serde_dynamo::from_item(record.change.new_image.clone()).map_err(|e| DeliveryError::Unreadable(e.to_string()))
}

pub async fn deliver(
    app: &SendEmailsApp,
    record: &EventRecord,
    budget: &mut ClaimWaitBudget,
) -> Result<Delivery, DeliveryError> {
    match inserted_kind(record) {
        Some("LINK#") => deliver_link(app, new_image(record)?, budget).await,
        Some(_) => deliver_notice(app, new_image(record)?, budget).await,
        None => Ok(Delivery::Ignored),
    }
}
