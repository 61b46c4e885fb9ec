//! The `send-emails` function: invoked by the table's stream with new `LINK#`
//! and `NOTICE#` items, it mints each link's verifier, sends one SES email per
//! item and records the send; invoked by its schedule every minute, it sweeps
//! the outbox's due index for items the stream path left pending. One email
//! per item under redelivery and races: an item is claimed with a conditional
//! write before sending, so a second delivery finds it sent and does nothing.
//!
//! The table is the outbox. A send SES refused for now (throttled, quota
//! spent, account paused, SES unavailable) gives the claim back and leaves
//! the item pending with its next attempt time; the record is not failed,
//! because the sweep sends it when it is due. A refusal of the whole account
//! holds the rest of the batch. A permanent refusal settles the item unsent
//! and audited, and counts as `EmailsFailed`. A send SES did not answer (a
//! timeout, a lost connection) may have gone out, and SES has no idempotency
//! token, so it is neither retried by the SDK nor sent again: the link is
//! recorded as sent, unconfirmed, and audited. A record is reported failed
//! (partial batch response) only when the table could not be read or
//! written: Lambda retries it, and the sweep re-drives the item even if the
//! record ends in the dead-letter queue.
//!
//! A batch's records are delivered side by side, at most
//! [`Sender::concurrent_sends`] at a time, each send waiting for its slot in
//! the invocation's share of the SES account's rate (`mail::pace`); a send
//! the pace cannot fit in this invocation is not claimed, and its record is
//! reported for retry.
//!
//! An invocation that dies mid-send (timeout, crash) leaves its claim behind;
//! the redelivery waits until that claim is older than any live sender could
//! hold it ([`STALE_CLAIM_SECONDS`]) and takes it over, so nothing is lost.
//! The one window that can produce a second email is a death between SES
//! accepting a message and the write that records it; the takeover mints a
//! new verifier, so only the newest email's link works.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::StreamExt;
pub use profile_link_core::linking::send::{
    CLAIM_WAIT_PER_INVOCATION_SECONDS, ClaimWaitBudget, Delivery, DeliveryError, STALE_CLAIM_SECONDS, Sender,
};
use profile_link_core::linking::send::{deliver_link, deliver_notice};
use profile_link_core::metrics::Emf;
use profile_link_core::store::{DueMail, StoreError};
use profile_link_core::telemetry::ColdStart;

/// The function's state: what sending needs, built once per cold start.
pub type SendEmailsApp = Sender;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "send-emails";

static COLD_START: ColdStart = ColdStart::new();

/// Items one page of the sweep's query reads.
pub const SWEEP_PAGE: i32 = 25;
/// The sweep starts no send after this long: one send is at most a claim, a
/// send and a settlement, each abandoned after the SDK's operation timeout,
/// so the last one ends well inside the function's 30 s timeout
/// (template.yaml). What is left is due still, and the next minute's sweep
/// takes it.
pub const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(12);

/// How many items came to what, in one invocation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub sent: u64,
    pub skipped: u64,
    pub ignored: u64,
    pub suppressed: u64,
    pub unconfirmed: u64,
    /// Left pending for a later attempt (SES said "not now", or sending is held).
    pub deferred: u64,
    /// Refused by SES for good: settled unsent.
    pub refused: u64,
    /// Left pending, unclaimed, because the pace to the account's rate had no
    /// slot for it in this invocation (or the account cannot send).
    pub paced: u64,
    /// Records (or swept items) that met a table error: retried.
    pub failed: u64,
}

impl Tally {
    fn add(&mut self, outcome: &Delivery) {
        tracing::debug!(?outcome, "item done");
        let count = match outcome {
            Delivery::Sent => &mut self.sent,
            Delivery::Ignored => &mut self.ignored,
            Delivery::Skipped(_) => &mut self.skipped,
            Delivery::Suppressed => &mut self.suppressed,
            Delivery::Unconfirmed => &mut self.unconfirmed,
            Delivery::Deferred => &mut self.deferred,
            Delivery::Refused => &mut self.refused,
            Delivery::Paced => &mut self.paced,
        };
        *count += 1;
    }

    /// One log line and one metrics line per invocation. `EmailsFailed`
    /// counts what needs a person: SES's permanent refusals and failed records.
    fn report(
        &self,
        source: &'static str,
        records: usize,
        started: std::time::Instant,
        request_id: &str,
        pace_per_second: f64,
    ) {
        tracing::info!(
            target: "invocation",
            function = FUNCTION,
            source,
            records,
            sent = self.sent,
            skipped = self.skipped,
            ignored = self.ignored,
            suppressed = self.suppressed,
            unconfirmed = self.unconfirmed,
            deferred = self.deferred,
            refused = self.refused,
            paced = self.paced,
            pace_per_second,
            failed = self.failed,
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            cold_start = COLD_START.take(),
            request_id,
            "invocation"
        );
        Emf::new(FUNCTION)
            .count("EmailsSent", self.sent)
            .count("EmailsFailed", self.failed + self.refused)
            .count("EmailsDeferred", self.deferred + self.paced)
            .count("EmailsSuppressed", self.suppressed)
            .count("EmailsUnconfirmed", self.unconfirmed)
            .emit();
    }
}

/// Lambda's entry: a stream batch (`Records`), or the schedule's event (a sweep).
pub async fn handle_invocation(app: &SendEmailsApp, payload: serde_json::Value, request_id: &str) -> serde_json::Value {
    if payload.get("Records").is_some() {
        let response = match serde_json::from_value::<Event>(payload) {
            Ok(event) => Box::pin(handle(app, event, request_id)).await,
            Err(error) => {
                tracing::error!(%error, "a stream batch that does not parse");
                DynamoDbEventResponse::default()
            }
        };
        return serde_json::to_value(response).unwrap_or_default();
    }
    // Boxed, as is the stream's: both in one future make too deep a type for the compiler.
    match Box::pin(sweep(app, request_id)).await {
        Ok(tally) => serde_json::json!({ "sent": tally.sent, "deferred": tally.deferred, "failed": tally.failed }),
        Err(error) => {
            tracing::error!(%error, "mail sweep failed; the next one retries");
            serde_json::json!({ "error": error.to_string() })
        }
    }
}

/// The stream's batch: processes every record, reporting failed ones by
/// sequence number so only they (and what follows them in the shard) are
/// retried. `request_id` is Lambda's (the dev server's stream mapping makes one up).
pub async fn handle(app: &SendEmailsApp, event: Event, request_id: &str) -> DynamoDbEventResponse {
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    app.pace.refresh_if_due().await;
    let budget = ClaimWaitBudget::starting_at(app.clock.now());
    // Made up front (they start only when polled): a stream that maps each
    // record to its delivery as it goes trips the compiler's Send check.
    let deliveries: Vec<_> = event
        .records
        .iter()
        .enumerate()
        .map(|(position, record)| async move { (position, record, deliver(app, record, &budget).await) })
        .collect();
    let mut deliveries = futures::stream::iter(deliveries).buffer_unordered(app.concurrent_sends);
    let mut failures = Vec::new();
    while let Some((position, record, delivered)) = deliveries.next().await {
        match delivered {
            Ok(outcome) => tally.add(&outcome),
            Err(error) => {
                tracing::warn!(%error, event_id = %record.event_id, "stream record failed; reported for retry");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                failures.push((position, failure));
            }
        }
    }
    // In the batch's order, as they finished in any.
    failures.sort_by_key(|(position, _)| *position);
    tally.failed = failures.len() as u64;
    tally.report("stream", event.records.len(), started, request_id, app.pace.rate());
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures.into_iter().map(|(_, failure)| failure).collect();
    response
}

/// The schedule's run: every link and notice whose time in the outbox's due
/// index has come, sent through the same claim → send → settle as the
/// stream's, oldest first, for at most [`SWEEP_BUDGET`]. It passes over
/// items another sender holds, and stops when SES says the account cannot
/// send (what is left stays due for the next run).
pub async fn sweep(app: &SendEmailsApp, request_id: &str) -> Result<Tally, StoreError> {
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    app.pace.refresh_if_due().await;
    // The sweep's sends wait for the pace, and for a dead sender's claim to go
    // stale, within the same bound as a stream batch's.
    let budget = ClaimWaitBudget::starting_at(app.clock.now());
    let mut read = 0;
    let mut after = None;
    'pages: loop {
        let (items, next) = app.store.due_mail(app.clock.now(), SWEEP_PAGE, after).await?;
        for item in items {
            if started.elapsed() >= SWEEP_BUDGET || app.mailer.held_until(app.clock.now()).is_some() {
                break 'pages;
            }
            read += 1;
            let delivered = match item {
                Ok(DueMail::Link(link)) => deliver_link(app, link, &budget).await,
                Ok(DueMail::Notice(notice)) => deliver_notice(app, notice, &budget).await,
                Err(error) => Err(error.into()),
            };
            match delivered {
                Ok(outcome) => tally.add(&outcome),
                Err(error) => {
                    tracing::warn!(%error, "swept item failed; the next sweep retries it");
                    tally.failed += 1;
                }
            }
        }
        match next {
            Some(key) => after = Some(key),
            None => break,
        }
    }
    tally.report("sweep", read, started, request_id, app.pace.rate());
    Ok(tally)
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
    budget: &ClaimWaitBudget,
) -> Result<Delivery, DeliveryError> {
    match inserted_kind(record) {
        Some("LINK#") => deliver_link(app, new_image(record)?, budget).await,
        Some(_) => deliver_notice(app, new_image(record)?, budget).await,
        None => Ok(Delivery::Ignored),
    }
}
