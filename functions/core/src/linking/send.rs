//! Sending the emails the table holds (seed step 6): a link's, with the
//! verifier minted here and only its hash stored, and a "now linked" notice,
//! each claim → render → send → settle through the store's outbox. One
//! email per item under redelivery; an invocation that died mid-send leaves
//! a claim that goes stale and is taken over.
//!
//! The table is the outbox, so nothing SES refuses for now is lost: a
//! throttle, a spent quota or a paused account gives the claim back and the
//! item waits in the due index for its next attempt (backing off: see
//! [`SendRefusal::backoff_seconds`]), where the stream's redelivery or the
//! scheduled sweep finds it. A refusal of the whole account (quota, paused)
//! also holds this instance's other sends until then. Only a permanent
//! refusal settles an item unsent, audited.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Env, SiteConfig};
use crate::domain::identity::RequesterLabel;
use crate::domain::link_token::{LinkToken, Verifier};
use crate::domain::mail_subject::MailSubject;
use crate::i18n::Locale;
use crate::mail::{Email, LinkEmail, MailConfig, Mailer, NoticeEmail, PaceConfig, PaceRefusal, SendPace, SendRefusal};
use crate::random;
use crate::store::{Claim, LinkRecord, NoticeRecord, Outgoing, SendOutcome, Store, StoreError};

/// A claim older than this belongs to a sender that died: a live one settles
/// it within two AWS calls (the send and the record), each abandoned after
/// [`crate::aws::OPERATION_TIMEOUT`].
pub const STALE_CLAIM_SECONDS: i64 = 2 * crate::aws::OPERATION_TIMEOUT.as_secs() as i64 + 2;

/// How long into an invocation its deliveries may still wait: for other
/// invocations' claims to go stale, and for the pace. A dead sender left its
/// claims within one invocation, so one stale period covers a whole batch of
/// them; a claim still live after that is reported for retry instead of
/// waited on, and so is a send the pace has no slot for in time, so a batch
/// fits the function's timeout (template.yaml: 30 s;
/// `tests/contention.rs` checks it).
pub const CLAIM_WAIT_PER_INVOCATION_SECONDS: i64 = STALE_CLAIM_SECONDS + 1;

/// The end of this invocation's waiting ([`CLAIM_WAIT_PER_INVOCATION_SECONDS`]
/// from its start). A deadline rather than a sum of waits: deliveries that
/// wait side by side share it, and their waits overlap.
#[derive(Debug, Clone, Copy)]
pub struct ClaimWaitBudget {
    deadline: i64,
}

impl ClaimWaitBudget {
    pub fn starting_at(now: i64) -> Self {
        Self { deadline: now + CLAIM_WAIT_PER_INVOCATION_SECONDS }
    }

    pub fn seconds_left(&self, now: i64) -> i64 {
        (self.deadline - now).max(0)
    }
}

/// What sending needs: the site (its branding and address, for the email's
/// text and links), the table (the outbox), SES, its pace and the clock.
pub struct Sender {
    pub site: SiteConfig,
    pub store: Store,
    pub mailer: Mailer,
    pub pace: SendPace,
    /// How many of a batch's emails one invocation sends at once.
    pub concurrent_sends: usize,
    pub clock: Arc<dyn Clock>,
}

/// Sends in flight per invocation unless `CONCURRENT_SENDS` says otherwise.
pub const DEFAULT_CONCURRENT_SENDS: usize = 10;

impl Sender {
    /// Reads the SES account for the pace (see [`crate::mail::pace`]).
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let site = SiteConfig::from_env(env)?;
        let mailer = Mailer::new(aws_sdk_sesv2::Client::new(sdk), MailConfig::from_env(env)?);
        let concurrent_sends = env.number_in("CONCURRENT_SENDS", DEFAULT_CONCURRENT_SENDS, 1..=100)?;
        let pace = SendPace::from_account(aws_sdk_sesv2::Client::new(sdk), PaceConfig::from_env(env)?).await;
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        Ok(Self { site, store, mailer, pace, concurrent_sends, clock: Arc::new(SystemClock) })
    }
}

/// What became of one item's email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Not a new link or notice (another item kind, a modification, a TTL deletion).
    Ignored,
    /// Already sent, superseded or expired: nothing to send.
    Skipped(&'static str),
    /// The address hard-bounced or complained before: not sent, audited.
    Suppressed,
    /// SES did not answer: it may have been sent, so it is not sent again.
    Unconfirmed,
    /// Not sent now, still pending in the outbox with its next attempt time:
    /// SES refused it for now, this instance is holding sends, an earlier
    /// refusal's wait has not passed, or another sender holds its claim.
    Deferred,
    /// SES will never send it (e.g. `MessageRejected`): settled unsent, audited.
    Refused,
    /// Not sent now: the pace to the SES account's rate has no slot for it in
    /// this invocation (or the account cannot send); pending in the outbox,
    /// unclaimed, until its next attempt.
    Paced,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("stream record is not a readable link: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] crate::mail::SendError),
    #[error("rendering the email: {0}")]
    Render(#[from] askama::Error),
}

/// "Your profile is now linked to …": through the outbox like a link email.
pub async fn deliver_notice(
    sender: &Sender,
    notice: NoticeRecord,
    budget: &ClaimWaitBudget,
) -> Result<Delivery, DeliveryError> {
    let about = MailSubject::Notice { notice_id: notice.notice_id.clone(), profile_id: notice.profile_id.clone() };
    let render = |_sent_at| {
        let t = Locale::from_tag(&notice.locale).text();
        NoticeEmail {
            brand: &sender.site.branding,
            t,
            display_name: &notice.display_name,
            organization: &notice.organization,
            identity_label: &RequesterLabel::from_stored(&notice.identity_label, t),
            identity_provider: &notice.identity_provider,
            replaced: notice.replaced,
        }
        .render(&notice.email)
    };
    deliver_outgoing(sender, Outgoing::Notice(&notice), &about, render, budget).await
}

/// A link's email: its verifier is minted here, only its hash is stored (by
/// the claim), and the raw token exists only in the email.
pub async fn deliver_link(
    sender: &Sender,
    link: LinkRecord,
    budget: &ClaimWaitBudget,
) -> Result<Delivery, DeliveryError> {
    let link_id = link.link_id.clone();
    let about = MailSubject::Link { link_id: link_id.clone(), profile_id: link.profile_id.clone() };
    let verifier = Verifier::mint();
    let verifier_hash = verifier.hash();
    // The email states the lifetime the settlement gives the link: from its sending.
    let lifetime = link.lifetime_seconds();
    let render = |sent_at: i64| {
        let token = LinkToken::new(link_id, verifier);
        let url = sender.site.public_base_url.join(&format!("/redeem?token={}", token.expose()));
        let not_me_url = sender.site.public_base_url.join(&format!("/not-me?token={}", token.expose()));
        // The language of the person who asked, stored with the link.
        let t = Locale::from_tag(&link.locale).text();
        LinkEmail {
            brand: &sender.site.branding,
            t,
            display_name: &link.display_name,
            organization: &link.organization,
            requester_label: &RequesterLabel::from_stored(&link.identity_label, t),
            requester_provider: &link.identity_provider,
            link: &url,
            not_me_link: &not_me_url,
            expires_at: sent_at + lifetime,
            lifetime_minutes: lifetime / 60,
            support_initiated: link.support_initiated(),
        }
        .render(&link.email)
    };
    deliver_outgoing(sender, Outgoing::Link { link: &link, verifier_hash: &verifier_hash }, &about, render, budget)
        .await
}

/// The outbox, once for every kind of item: claim it (or take over a dead
/// sender's claim), render its email, send it, and settle the claim with
/// what SES answered. `render` gets the time the email goes, which starts a
/// link's lifetime.
async fn deliver_outgoing(
    sender: &Sender,
    item: Outgoing<'_>,
    about: &MailSubject,
    render: impl FnOnce(i64) -> Result<Email, askama::Error>,
    budget: &ClaimWaitBudget,
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
    if let Some(retry_at) = sender.mailer.held_until(sender.clock.now()) {
        // SES said the account cannot send until then: not asked again before.
        sender.store.defer_send(&item, retry_at).await?;
        tracing::info!(link, profile, retry_at, "{what} held: SES cannot send until then");
        return Ok(Delivery::Deferred);
    }
    let claim_id = random::token(12);
    // Paced before the claim: a claim is held only for the send and its
    // record (STALE_CLAIM_SECONDS), and a send refused here changes nothing.
    let max_wait = std::time::Duration::from_secs(budget.seconds_left(sender.clock.now()) as u64);
    if let Err(refusal) = sender.pace.ready(max_wait).await {
        // Unclaimed and unchanged: due again after a refusal's wait, in the outbox.
        let (for_now, reason) = match refusal {
            PaceRefusal::Backlog { .. } => (SendRefusal::Throttled, "the pace has no slot for it now"),
            PaceRefusal::QuotaSpent { .. } => (SendRefusal::QuotaSpent, "the SES account's quota is spent"),
            PaceRefusal::SendingPaused => (SendRefusal::SendingPaused, "sending is paused for the SES account"),
        };
        let retry_at = sender.clock.now() + for_now.backoff_seconds(item.send_attempts() + 1);
        sender.store.defer_send(&item, retry_at).await?;
        tracing::info!(link, profile, retry_at, "{what} paced: {reason}; pending until then");
        return Ok(Delivery::Paced);
    }
    let claim = || sender.store.claim_for_sending(&item, &claim_id, sender.clock.now(), STALE_CLAIM_SECONDS);
    match claim_or_take_over(sender, claim, budget).await? {
        Claim::Claimed => {}
        Claim::AlreadySent => return Ok(Delivery::Skipped("already sent")),
        Claim::NotDue { .. } => return Ok(Delivery::Deferred),
        // Its holder settles it, or the sweep takes it over once the claim is stale.
        Claim::InFlight { .. } => return Ok(Delivery::Deferred),
        Claim::Superseded => {
            sender.store.leave_outbox(&item).await?;
            return Ok(Delivery::Skipped("superseded"));
        }
        Claim::Expired => {
            sender.store.leave_outbox(&item).await?;
            return Ok(Delivery::Skipped("expired"));
        }
        Claim::Suppressed => {
            sender.store.mark_outgoing_suppressed(&item, sender.clock.now()).await?;
            tracing::info!(link, profile, "{what} not sent: the address is suppressed");
            return Ok(Delivery::Suppressed);
        }
    }
    let settle = |outcome, at| sender.store.settle_send(&item, &claim_id, outcome, at);
    let sent_at = sender.clock.now();
    let sent = match render(sent_at) {
        Ok(email) => sender.mailer.send(&email, about).await,
        Err(error) => {
            // Give the claim back, so a retry renders again (a link's with a new verifier).
            let retry_at = sender.clock.now() + SendRefusal::Unavailable.backoff_seconds(item.send_attempts() + 1);
            settle(SendOutcome::Deferred { refusal: SendRefusal::Unavailable, retry_at }, sender.clock.now()).await?;
            return Err(error.into());
        }
    };
    let error = match sent {
        Ok(message_id) => {
            settle(SendOutcome::Sent(&message_id), sent_at).await?;
            tracing::info!(link, profile, "{what} sent");
            return Ok(Delivery::Sent);
        }
        Err(error) => error,
    };
    let (refusal, code) = (error.refusal, error.detail.as_str());
    if refusal == SendRefusal::Throttled {
        sender.pace.throttled();
    }
    if refusal == SendRefusal::Unanswered {
        // It may have gone: sending again could email the person twice.
        settle(SendOutcome::Unconfirmed, sent_at).await?;
        tracing::warn!(link, profile, %error, "{what} unconfirmed: not sent again");
        return Ok(Delivery::Unconfirmed);
    }
    let now = sender.clock.now();
    if !refusal.is_for_now() {
        settle(SendOutcome::Refused { code }, now).await?;
        tracing::error!(link, profile, %refusal, code, "{what} refused by SES: not sent, and not asked again");
        return Ok(Delivery::Refused);
    }
    let retry_at = now + refusal.backoff_seconds(item.send_attempts() + 1);
    settle(SendOutcome::Deferred { refusal, retry_at }, now).await?;
    if refusal.stops_sending() {
        sender.mailer.hold_until(retry_at);
    }
    tracing::warn!(link, profile, %refusal, code, retry_at, "{what} not sent for now: pending until its next attempt");
    Ok(Delivery::Deferred)
}

/// Claims an item; if another invocation holds it, waits until that claim
/// is stale (its holder died: see [`STALE_CLAIM_SECONDS`]) and tries once
/// more, unless the wait would overrun this invocation's budget: then the
/// claim is left as it is (`InFlight`), and the item to the sweep.
async fn claim_or_take_over<F, Fut>(sender: &Sender, claim: F, budget: &ClaimWaitBudget) -> Result<Claim, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Claim, StoreError>>,
{
    let first = claim().await?;
    let Claim::InFlight { claimed_at } = first else { return Ok(first) };
    let wait = (claimed_at + STALE_CLAIM_SECONDS + 1 - sender.clock.now()).clamp(0, STALE_CLAIM_SECONDS + 1);
    if wait > budget.seconds_left(sender.clock.now()) {
        tracing::warn!(wait_seconds = wait, "item claimed by another invocation; left for a later retry");
        return Ok(first);
    }
    tracing::warn!(wait_seconds = wait, "item claimed by another invocation; waiting for the claim to go stale");
    sender.clock.wait(wait).await;
    claim().await
}
