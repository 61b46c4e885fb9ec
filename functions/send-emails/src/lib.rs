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

use std::sync::Arc;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use profile_link_core::config::{ConfigError, Env, SiteConfig};
use profile_link_core::domain::identity::RequesterLabel;
use profile_link_core::domain::link_token::{LinkId, LinkToken, Verifier};
use profile_link_core::domain::mail_subject::MailSubject;
use profile_link_core::domain::profile::ProfileId;
use profile_link_core::i18n::Locale;
use profile_link_core::mail::{Email, LinkEmail, MailConfig, Mailer, NoticeEmail};
use profile_link_core::metrics::Emf;
use profile_link_core::store::{Claim, LinkRecord, NoticeRecord, Outgoing, SendOutcome, StoreError};
use profile_link_core::telemetry::ColdStart;
use profile_link_core::{Clock, Store, SystemClock, random};

/// A claim older than this belongs to a sender that died: a live one settles
/// it within two AWS calls (the send and the record), each abandoned after
/// [`profile_link_core::aws::OPERATION_TIMEOUT`].
pub const STALE_CLAIM_SECONDS: i64 = 2 * profile_link_core::aws::OPERATION_TIMEOUT.as_secs() as i64 + 2;

/// How long one invocation waits, in all, for other invocations' claims to go
/// stale. A dead sender left its claims within one invocation, so one stale
/// period covers a whole batch of them; a claim still live after that is
/// reported for retry instead of waited on, so a batch of 10 fits the
/// function's timeout (template.yaml: 30 s; `tests/faults.rs` checks it).
pub const CLAIM_WAIT_PER_INVOCATION_SECONDS: i64 = STALE_CLAIM_SECONDS + 1;

/// What is left of [`CLAIM_WAIT_PER_INVOCATION_SECONDS`] in this invocation.
pub struct ClaimWaitBudget {
    remaining_seconds: i64,
}

impl Default for ClaimWaitBudget {
    fn default() -> Self {
        Self { remaining_seconds: CLAIM_WAIT_PER_INVOCATION_SECONDS }
    }
}

pub struct SendEmailsApp {
    pub site: SiteConfig,
    pub store: Store,
    pub mailer: Mailer,
    pub clock: Arc<dyn Clock>,
}

impl SendEmailsApp {
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let site = SiteConfig::from_env(env)?;
        let mailer = Mailer::new(aws_sdk_sesv2::Client::new(sdk), MailConfig::from_env(env)?);
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        Ok(Self { site, store, mailer, clock: Arc::new(SystemClock) })
    }
}

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "send-emails";

/// What happened to one stream record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Not a new link (another item kind, a modification, a TTL deletion).
    Ignored,
    /// Already sent, superseded or expired: nothing to send.
    Skipped(&'static str),
    /// The address hard-bounced or complained before: not sent, audited.
    Suppressed,
    /// SES did not answer: it may have been sent, so it is not sent again.
    Unconfirmed,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("stream record is not a readable link: {0}")]
    Unreadable(String),
    #[error("another invocation is still sending this item")]
    InFlight,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] profile_link_core::mail::SendError),
    #[error("rendering the email: {0}")]
    Render(#[from] askama::Error),
}

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

/// "Your profile is now linked to …": through the outbox like a link email.
async fn deliver_notice(
    app: &SendEmailsApp,
    notice: NoticeRecord,
    budget: &mut ClaimWaitBudget,
) -> Result<Delivery, DeliveryError> {
    let profile_id =
        ProfileId::parse(&notice.profile_id).ok_or_else(|| DeliveryError::Unreadable("profile_id".into()))?;
    let about = MailSubject::Notice { notice_id: notice.notice_id.clone(), profile_id };
    let render = || {
        let t = Locale::from_tag(&notice.locale).text();
        NoticeEmail {
            brand: &app.site.branding,
            t,
            display_name: &notice.display_name,
            organization: &notice.organization,
            identity_label: &RequesterLabel::from_stored(&notice.identity_label, t),
            identity_provider: &notice.identity_provider,
            replaced: notice.replaced,
        }
        .render(&notice.email)
    };
    deliver_outgoing(app, Outgoing::Notice(&notice), &about, render, budget).await
}

/// A link's email: its verifier is minted here, only its hash is stored (by
/// the claim), and the raw token exists only in the email.
async fn deliver_link(
    app: &SendEmailsApp,
    link: LinkRecord,
    budget: &mut ClaimWaitBudget,
) -> Result<Delivery, DeliveryError> {
    let link_id = LinkId::parse(&link.link_id).ok_or_else(|| DeliveryError::Unreadable("link_id".into()))?;
    let profile_id =
        ProfileId::parse(&link.profile_id).ok_or_else(|| DeliveryError::Unreadable("profile_id".into()))?;
    let about = MailSubject::Link { link_id: link_id.clone(), profile_id };
    let verifier = Verifier::mint();
    let verifier_hash = verifier.hash();
    let render = || {
        let token = LinkToken::new(link_id, verifier);
        let url = app.site.public_base_url.join(&format!("/redeem?token={}", token.expose()));
        let not_me_url = app.site.public_base_url.join(&format!("/not-me?token={}", token.expose()));
        // The language of the person who asked, stored with the link.
        let t = Locale::from_tag(&link.locale).text();
        LinkEmail {
            brand: &app.site.branding,
            t,
            display_name: &link.display_name,
            organization: &link.organization,
            requester_label: &RequesterLabel::from_stored(&link.identity_label, t),
            requester_provider: &link.identity_provider,
            link: &url,
            not_me_link: &not_me_url,
            expires_at: link.expires_at,
            lifetime_minutes: (link.expires_at - link.created_at) / 60,
            support_initiated: link.support_initiated(),
        }
        .render(&link.email)
    };
    deliver_outgoing(app, Outgoing::Link { link: &link, verifier_hash: &verifier_hash }, &about, render, budget).await
}

/// The outbox, once for every kind of item: claim it (or take over a dead
/// sender's claim), render its email, send it, and settle the claim with
/// what SES answered.
async fn deliver_outgoing(
    app: &SendEmailsApp,
    item: Outgoing<'_>,
    about: &MailSubject,
    render: impl FnOnce() -> Result<Email, askama::Error>,
    budget: &mut ClaimWaitBudget,
) -> Result<Delivery, DeliveryError> {
    let what = match item {
        Outgoing::Link { .. } => "link email",
        Outgoing::Notice(_) => "link notice",
    };
    let link = match about {
        MailSubject::Link { link_id, .. } => Some(link_id.as_str()),
        MailSubject::Notice { .. } => None,
    };
    let profile = about.profile_id().as_str();
    let claim_id = random::token(12);
    let claim = || app.store.claim_for_sending(&item, &claim_id, app.clock.now(), STALE_CLAIM_SECONDS);
    match claim_or_take_over(app, claim, budget).await? {
        Claim::Claimed => {}
        Claim::AlreadySent => return Ok(Delivery::Skipped("already sent")),
        Claim::Superseded => return Ok(Delivery::Skipped("superseded")),
        Claim::Expired => return Ok(Delivery::Skipped("expired")),
        Claim::InFlight { .. } => return Err(DeliveryError::InFlight),
        Claim::Suppressed => {
            app.store.mark_outgoing_suppressed(&item, app.clock.now()).await?;
            tracing::info!(link, profile, "{what} not sent: the address is suppressed");
            return Ok(Delivery::Suppressed);
        }
    }
    let settle = |outcome| app.store.settle_send(&item, &claim_id, outcome, app.clock.now());
    let sent = match render() {
        Ok(email) => app.mailer.send(&email, about).await.map_err(DeliveryError::from),
        Err(error) => Err(DeliveryError::from(error)),
    };
    match sent {
        Ok(message_id) => {
            settle(SendOutcome::Sent(&message_id)).await?;
            tracing::info!(link, profile, "{what} sent");
            Ok(Delivery::Sent)
        }
        Err(DeliveryError::Send(error)) if error.unanswered => {
            // It may have gone: sending again could email the person twice.
            settle(SendOutcome::Unconfirmed).await?;
            tracing::warn!(link, profile, %error, "{what} unconfirmed: not sent again");
            Ok(Delivery::Unconfirmed)
        }
        Err(error) => {
            // Give the claim back, so a retry sends again (a link's with a new verifier).
            settle(SendOutcome::NotSent).await?;
            Err(error)
        }
    }
}

/// Claims an item; if another invocation holds it, waits until that claim
/// is stale (its holder died: see [`STALE_CLAIM_SECONDS`]) and tries once
/// more, unless the wait would overrun this invocation's budget: then the
/// claim is left as it is (`InFlight`) and the record is retried later.
async fn claim_or_take_over<F, Fut>(
    app: &SendEmailsApp,
    claim: F,
    budget: &mut ClaimWaitBudget,
) -> Result<Claim, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Claim, StoreError>>,
{
    let first = claim().await?;
    let Claim::InFlight { claimed_at } = first else { return Ok(first) };
    let wait = (claimed_at + STALE_CLAIM_SECONDS + 1 - app.clock.now()).clamp(0, STALE_CLAIM_SECONDS + 1);
    if wait > budget.remaining_seconds {
        tracing::warn!(wait_seconds = wait, "item claimed by another invocation; left for a later retry");
        return Ok(first);
    }
    tracing::warn!(wait_seconds = wait, "item claimed by another invocation; waiting for the claim to go stale");
    budget.remaining_seconds -= wait;
    app.clock.wait(wait).await;
    claim().await
}
