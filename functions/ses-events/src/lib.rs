//! The `ses-events` function: SES publishes the bounces and complaints of
//! every email sent through the configuration set to an SNS topic, which
//! invokes this function. Each email carries message tags naming its link or
//! notice and its profile (see `MailSubject`), so no lookup is needed:
//!
//! - a permanent (hard) bounce or a complaint suppresses the address (no
//!   email goes to it until an operator lifts it), is recorded in the
//!   profile's audit trail (`bounced` / `complained`, with SES's type and
//!   subtype) and on the link or notice item;
//! - a transient (soft) bounce is recorded in the audit trail only;
//! - a delivery, a delivery delay or a reject is recorded on the link or
//!   notice (`links list` shows it) and in the profile's audit trail, once
//!   per SES message, event and recipient (SNS may deliver an event twice).
//!   One for a link or notice that is not in the table is counted and dropped.
//!
//! The input is untrusted: anything that does not read as an SES bounce or
//! complaint is logged (addresses masked) and dropped, never retried, never
//! a panic. Only a failure to write the table fails the invocation (Lambda
//! retries it).

use std::collections::HashMap;
use std::sync::Arc;

use profile_link_core::config::{ConfigError, Env};
use profile_link_core::domain::email::RegisteredEmail;
use profile_link_core::domain::identity::mask_email;
use profile_link_core::domain::mail_subject::MailSubject;
use profile_link_core::metrics::Emf;
use profile_link_core::store::deliveries::{Delivery, DeliveryRecorded, MailDelivery};
use profile_link_core::store::{Feedback, MailFeedback, StoreError};
use profile_link_core::telemetry::ColdStart;
use profile_link_core::{Clock, Store, SystemClock};
use serde::Deserialize;
use serde_json::Value;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "ses-events";

pub struct SesEventsApp {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl SesEventsApp {
    pub fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let table = env.required("TABLE_NAME")?;
        Ok(Self { store: Store::from_sdk_config(sdk, table), clock: Arc::new(SystemClock) })
    }
}

/// One SNS record of the event, as far as we read it. Every field is
/// optional so that one malformed record is dropped on its own.
#[derive(Debug, Deserialize)]
struct SnsRecord {
    #[serde(rename = "Sns")]
    sns: SnsMessage,
}

#[derive(Debug, Deserialize)]
struct SnsMessage {
    #[serde(rename = "Type", default)]
    kind: Option<String>,
    #[serde(rename = "MessageId", default)]
    message_id: Option<String>,
    #[serde(rename = "Message", default)]
    message: Option<String>,
}

/// An SES event: `eventType` from configuration-set event publishing,
/// `notificationType` from an identity's feedback notifications (untagged).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    event_type: Option<String>,
    notification_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
    delivery: Option<DeliveryObject>,
    delivery_delay: Option<DeliveryDelayObject>,
    reject: Option<RejectObject>,
    mail: Option<Mail>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryObject {
    recipients: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryDelayObject {
    delay_type: Option<String>,
    delayed_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RejectObject {
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    bounce_sub_type: Option<String>,
    bounced_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complaint_feedback_type: Option<String>,
    complained_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    message_id: Option<String>,
    /// The recipients (a reject names no other).
    #[serde(default)]
    destination: Vec<String>,
    /// Tag name → values. Read leniently: a malformed tag is one we ignore.
    #[serde(default)]
    tags: Value,
}

/// What one invocation did, for its log line, its metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub records: usize,
    pub hard_bounces: u64,
    pub soft_bounces: u64,
    pub complaints: u64,
    /// Addresses newly (or again) suppressed.
    pub suppressed: u64,
    pub deliveries: u64,
    pub delays: u64,
    pub rejects: u64,
    /// Delivery events recorded before (SNS redelivered them): nothing written.
    pub duplicates: u64,
    /// Events of other kinds (deliveries, subscription notices …).
    pub ignored: u64,
    /// Records or recipients that did not read as an SES event we record,
    /// or named a link or notice that is not in the table.
    pub dropped: u64,
}

static COLD_START: ColdStart = ColdStart::new();

/// Lambda's entry: every SNS record of the event. Fails only when the table
/// could not be written (Lambda then retries the invocation).
pub async fn handle(app: &SesEventsApp, event: Value, request_id: &str) -> Result<Summary, StoreError> {
    let started = std::time::Instant::now();
    let cold_start = COLD_START.take();
    let records = match event.get("Records") {
        Some(Value::Array(records)) => records.clone(),
        _ => Vec::new(),
    };
    let mut summary = Summary { records: records.len(), ..Summary::default() };
    if records.is_empty() {
        tracing::warn!("event without SNS records dropped");
        summary.dropped += 1;
    }
    let mut failure = None;
    for record in records {
        if let Err(error) = handle_record(app, record, &mut summary).await {
            tracing::error!(%error, "mail feedback could not be recorded; the invocation is retried");
            failure = Some(error);
        }
    }
    tracing::info!(
        target: "invocation",
        function = FUNCTION,
        records = summary.records,
        hard_bounces = summary.hard_bounces,
        soft_bounces = summary.soft_bounces,
        complaints = summary.complaints,
        suppressed = summary.suppressed,
        deliveries = summary.deliveries,
        delays = summary.delays,
        rejects = summary.rejects,
        duplicates = summary.duplicates,
        ignored = summary.ignored,
        dropped = summary.dropped,
        failed = failure.is_some(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        cold_start,
        request_id,
        "invocation"
    );
    Emf::new(FUNCTION)
        .count("HardBounces", summary.hard_bounces)
        .count("SoftBounces", summary.soft_bounces)
        .count("Complaints", summary.complaints)
        .count("AddressesSuppressed", summary.suppressed)
        .count("SesEventsDropped", summary.dropped)
        .emit();
    match failure {
        Some(error) => Err(error),
        None => Ok(summary),
    }
}

async fn handle_record(app: &SesEventsApp, record: Value, summary: &mut Summary) -> Result<(), StoreError> {
    let Ok(SnsRecord { sns }) = serde_json::from_value::<SnsRecord>(record) else {
        tracing::warn!("SNS record without a readable Sns member dropped");
        summary.dropped += 1;
        return Ok(());
    };
    let sns_message_id = sns.message_id.as_deref().map(short).unwrap_or_default();
    if sns.kind.as_deref().is_some_and(|kind| kind != "Notification") {
        tracing::info!(sns_message_id, "SNS message that is not a notification ignored");
        summary.ignored += 1;
        return Ok(());
    }
    let event = match sns.message.as_deref().map(serde_json::from_str::<SesEvent>) {
        Some(Ok(event)) => event,
        Some(Err(error)) => {
            // Where it went wrong, not serde's message: that can quote the value (an address).
            tracing::warn!(
                sns_message_id,
                category = ?error.classify(),
                line = error.line(),
                column = error.column(),
                "SNS message is not an SES event; dropped"
            );
            summary.dropped += 1;
            return Ok(());
        }
        None => {
            tracing::warn!(sns_message_id, "SNS notification without a message dropped");
            summary.dropped += 1;
            return Ok(());
        }
    };
    let kind = event.event_type.as_deref().or(event.notification_type.as_deref()).unwrap_or("");
    if matches!(kind, "Delivery" | "DeliveryDelay" | "Reject") {
        return handle_delivery(app, &event, kind, &sns_message_id, summary).await;
    }
    let (feedback, detail, recipients) = match (kind, &event.bounce, &event.complaint) {
        ("Bounce", Some(bounce), _) => {
            // Only a permanent bounce stops mail; transient and undetermined ones may deliver next time.
            let feedback = if bounce.bounce_type == "Permanent" { Feedback::HardBounce } else { Feedback::SoftBounce };
            let detail = format!(
                "{}/{}",
                known(&bounce.bounce_type, BOUNCE_TYPES),
                known(bounce.bounce_sub_type.as_deref().unwrap_or("Undetermined"), BOUNCE_SUBTYPES)
            );
            (feedback, detail, &bounce.bounced_recipients)
        }
        ("Complaint", _, Some(complaint)) => {
            let detail = match complaint.complaint_feedback_type.as_deref() {
                Some(kind) => format!("Complaint/{}", known(kind, COMPLAINT_TYPES)),
                None => "Complaint".to_owned(),
            };
            (Feedback::Complaint, detail, &complaint.complained_recipients)
        }
        ("Bounce" | "Complaint", _, _) => {
            tracing::warn!(sns_message_id, kind, "SES event without its bounce or complaint object; dropped");
            summary.dropped += 1;
            return Ok(());
        }
        (other, _, _) => {
            tracing::info!(sns_message_id, kind = known(other, OTHER_EVENTS), "SES event of another kind ignored");
            summary.ignored += 1;
            return Ok(());
        }
    };
    if recipients.is_empty() {
        tracing::warn!(sns_message_id, kind, "SES event names no recipient; dropped");
        summary.dropped += 1;
        return Ok(());
    }
    let mail = event.mail.as_ref();
    let about = mail.map(|m| tags(&m.tags)).and_then(|tags| MailSubject::from_tags(&tags));
    let ses_message_id = mail.and_then(|m| m.message_id.as_deref()).map(log_safe);
    for recipient in recipients {
        let Some(address) = recipient_address(&recipient.email_address, &sns_message_id, summary) else { continue };
        let recorded = app
            .store
            .record_mail_feedback(
                &MailFeedback {
                    address: address.clone(),
                    feedback,
                    detail: detail.clone(),
                    about: about.clone(),
                    ses_message_id: ses_message_id.clone(),
                },
                app.clock.now(),
            )
            .await?;
        match feedback {
            Feedback::HardBounce => summary.hard_bounces += 1,
            Feedback::SoftBounce => summary.soft_bounces += 1,
            Feedback::Complaint => summary.complaints += 1,
        }
        summary.suppressed += u64::from(recorded.suppressed);
        let (link, notice) = match &about {
            Some(MailSubject::Link { link_id, .. }) => (Some(link_id.as_str()), None),
            Some(MailSubject::Notice { notice_id, .. }) => (None, Some(notice_id.as_str())),
            None => (None, None),
        };
        tracing::info!(
            event = feedback.event().as_str(),
            detail,
            address = %address.masked(),
            profile = about.as_ref().map(|a| a.profile_id().as_str()).unwrap_or("-"),
            link = link.unwrap_or("-"),
            notice = notice.unwrap_or("-"),
            suppressed = recorded.suppressed,
            audited = recorded.audited,
            marked = recorded.marked,
            "mail feedback recorded"
        );
    }
    Ok(())
}

/// A delivery, delay or reject: recorded on the link or notice its tags name.
async fn handle_delivery(
    app: &SesEventsApp,
    event: &SesEvent,
    kind: &str,
    sns_message_id: &str,
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let mail = event.mail.as_ref();
    let (delivery, detail, recipients): (Delivery, String, Vec<&str>) =
        match (kind, &event.delivery, &event.delivery_delay, &event.reject, mail) {
            ("Delivery", Some(delivery), _, _, _) => {
                (Delivery::Delivered, "Delivery".to_owned(), delivery.recipients.iter().map(String::as_str).collect())
            }
            ("DeliveryDelay", _, Some(delay), _, _) => (
                Delivery::Delayed,
                format!("DeliveryDelay/{}", known(delay.delay_type.as_deref().unwrap_or("Undetermined"), DELAY_TYPES)),
                delay.delayed_recipients.iter().map(|r| r.email_address.as_str()).collect(),
            ),
            ("Reject", _, _, Some(reject), Some(mail)) => (
                Delivery::Rejected,
                format!("Reject/{}", known(reject.reason.as_deref().unwrap_or("Undetermined"), REJECT_REASONS)),
                mail.destination.iter().map(String::as_str).collect(),
            ),
            _ => {
                tracing::warn!(sns_message_id, kind, "SES event without its delivery, delay or reject object; dropped");
                summary.dropped += 1;
                return Ok(());
            }
        };
    let about = mail.map(|m| tags(&m.tags)).and_then(|tags| MailSubject::from_tags(&tags));
    let ses_message_id = mail.and_then(|m| m.message_id.as_deref()).map(log_safe).filter(|id| !id.is_empty());
    let (Some(about), Some(ses_message_id)) = (about, ses_message_id) else {
        tracing::warn!(sns_message_id, kind, "SES event about no email of ours (no tags or message id); dropped");
        summary.dropped += 1;
        return Ok(());
    };
    if recipients.is_empty() {
        tracing::warn!(sns_message_id, kind, "SES event names no recipient; dropped");
        summary.dropped += 1;
        return Ok(());
    }
    for recipient in recipients {
        let Some(address) = recipient_address(recipient, sns_message_id, summary) else { continue };
        let recorded = app
            .store
            .record_mail_delivery(
                &MailDelivery {
                    address: address.clone(),
                    delivery,
                    detail: detail.clone(),
                    about: about.clone(),
                    ses_message_id: ses_message_id.clone(),
                },
                app.clock.now(),
            )
            .await?;
        match (recorded, delivery) {
            (DeliveryRecorded::Recorded, Delivery::Delivered) => summary.deliveries += 1,
            (DeliveryRecorded::Recorded, Delivery::Delayed) => summary.delays += 1,
            (DeliveryRecorded::Recorded, Delivery::Rejected) => summary.rejects += 1,
            (DeliveryRecorded::AlreadyRecorded, _) => summary.duplicates += 1,
            (DeliveryRecorded::NotApplicable, _) => summary.dropped += 1,
        }
        let (link, notice) = match &about {
            MailSubject::Link { link_id, .. } => (Some(link_id.as_str()), None),
            MailSubject::Notice { notice_id, .. } => (None, Some(notice_id.as_str())),
        };
        tracing::info!(
            event = delivery.event().as_str(),
            detail,
            address = %address.masked(),
            profile = about.profile_id().as_str(),
            link = link.unwrap_or("-"),
            notice = notice.unwrap_or("-"),
            outcome = ?recorded,
            "mail delivery event"
        );
    }
    Ok(())
}

/// A recipient as an address, or counted as dropped (and logged masked).
fn recipient_address(raw: &str, sns_message_id: &str, summary: &mut Summary) -> Option<RegisteredEmail> {
    let address = RegisteredEmail::parse(raw).ok();
    if address.is_none() {
        tracing::warn!(sns_message_id, recipient = %mask_email(raw), "SES event names an unreadable recipient; dropped");
        summary.dropped += 1;
    }
    address
}

/// `mail.tags` as SES publishes it (name → list of values); anything else ignored.
fn tags(value: &Value) -> HashMap<String, Vec<String>> {
    let Value::Object(map) = value else { return HashMap::new() };
    map.iter()
        .filter_map(|(name, values)| {
            let values: Vec<String> = values.as_array()?.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
            Some((name.clone(), values))
        })
        .collect()
}

/// SES's vocabulary (its documentation's lists): only these words reach logs
/// and the audit trail; anything else is `Other`.
const BOUNCE_TYPES: &[&str] = &["Undetermined", "Permanent", "Transient"];
const BOUNCE_SUBTYPES: &[&str] = &[
    "Undetermined",
    "General",
    "NoEmail",
    "Suppressed",
    "OnAccountSuppressionList",
    "MailboxFull",
    "MessageTooLarge",
    "ContentRejected",
    "AttachmentRejected",
    "UnsubscribedRecipient",
];
const COMPLAINT_TYPES: &[&str] = &["abuse", "auth-failure", "fraud", "not-spam", "other", "virus"];
/// SES's `delayType` values.
const DELAY_TYPES: &[&str] = &[
    "InternalFailure",
    "General",
    "MailboxFull",
    "SpamDetected",
    "RecipientServerError",
    "IPFailure",
    "TransientCommunicationFailure",
    "BYOIPHostNameLookupUnavailable",
    "Undetermined",
    "SendingDeadline",
];
/// SES's reject `reason` (its documentation names one).
const REJECT_REASONS: &[&str] = &["Bad content"];
const OTHER_EVENTS: &[&str] =
    &["Send", "Open", "Click", "Rendering Failure", "Subscription", "AmazonSnsSubscriptionSucceeded"];

fn known(word: &str, vocabulary: &[&'static str]) -> &'static str {
    vocabulary.iter().find(|known| **known == word).copied().unwrap_or("Other")
}

/// Ids from the event (SNS and SES message ids) as they may appear in logs
/// and items: letters, digits and dashes only, and short.
fn log_safe(raw: &str) -> String {
    raw.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(80).collect()
}

fn short(raw: &str) -> String {
    log_safe(raw).chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_ses_words_and_plain_ids_reach_logs() {
        assert_eq!(known("Permanent", BOUNCE_TYPES), "Permanent");
        assert_eq!(known("pat@example.com", BOUNCE_SUBTYPES), "Other");
        assert_eq!(log_safe("0100-abc\n\"x\"<script>@.x"), "0100-abcxscriptx");
        assert_eq!(log_safe(&"a".repeat(500)).len(), 80);
    }

    #[test]
    fn tags_read_leniently() {
        let read = tags(&json!({ "pl-link": ["a"], "bad": "x", "mixed": [1, "b"], "ses:configuration-set": ["c"] }));
        assert_eq!(read["pl-link"], ["a"]);
        assert_eq!(read["mixed"], ["b"]);
        assert!(!read.contains_key("bad"));
        assert!(tags(&json!("nope")).is_empty());
    }
}
