//! The table is the outbox (seed step 6): a link and a "now linked" notice
//! are each an item that carries one email. Sending one is claim → render →
//! send → settle; this file is the store's half of that, written once over
//! both kinds, and send-emails drives it. The claim (a conditional write)
//! makes each email go out once under redelivery and retries.
//!
//! Every item that has not been settled is in the outbox's due index
//! (`gsi1`, partition [`MAIL_DUE_PARTITION`], sorted by the time the sweep
//! should look at it) from the moment it is written: the stream is the fast
//! path, and the scheduled sweep re-drives whatever the stream path left
//! pending (SES said "not now", a batch failed, a record was dropped).
//! Settling it (sent, unconfirmed, suppressed, refused, expired, superseded)
//! takes it out of the index.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::audit::{AuditEntry, AuditEvent, AuditSubject};
use super::conflicts::SendRetryingConflicts;
use super::items::{Item, n, s};
use super::link_record::{LinkRecord, LinkState, audit};
use super::link_record::{link_key, pending_pointer_key};
use super::notices::{NoticeRecord, notice_key};
use super::suppressions::not_suppressed;
use super::{SendOutcome, Store, StoreError};
use crate::domain::email::{RegisteredEmail, mask_email};

/// The outbox's partition of `gsi1`: links and notices not yet settled, by
/// when the sweep should look at them.
pub const MAIL_DUE_PARTITION: &str = "MAIL#DUE";
/// A new item is due for the sweep this long after it is written: the stream
/// path sends it within seconds, so the sweep only re-drives what that path
/// left pending, and rarely races it (a race sends once: the claim decides).
pub const SWEEP_GRACE_SECONDS: i64 = 120;
/// How long an unsent link stays sendable beyond its lifetime: longer than a
/// spent SES daily quota (a rolling 24 hours) keeps it waiting. Its lifetime
/// starts when its email is sent.
pub const UNSENT_LINK_HOLD_SECONDS: i64 = 48 * 3600;

/// `<due time, zero-padded>#<item key>`: the due index's sort key.
fn due_sort_key(due: i64, pk: &str) -> String {
    format!("{due:013}#{pk}")
}

/// Puts a new link or notice (its `pk` set) into the outbox's due index,
/// due for the sweep [`SWEEP_GRACE_SECONDS`] after `now`.
pub(super) fn enter_outbox(item: &mut Item, now: i64) {
    let pk =
        item.get("pk").and_then(|v| v.as_s().ok()).cloned().expect("an item's pk is set before it enters the outbox");
    item.insert("gsi1pk".into(), s(MAIL_DUE_PARTITION));
    item.insert("gsi1sk".into(), s(due_sort_key(now + SWEEP_GRACE_SECONDS, &pk)));
}

/// An item the due index holds, as the sweep reads it.
#[derive(Debug, Clone)]
pub enum DueMail {
    Link(LinkRecord),
    Notice(NoticeRecord),
}

/// An item whose email is to be sent.
#[derive(Debug, Clone, Copy)]
pub enum Outgoing<'a> {
    /// A link's email. Its claim stores the hash of the verifier the email
    /// carries, so only the email sent under this claim opens the link.
    Link { link: &'a LinkRecord, verifier_hash: &'a str },
    /// "Your profile is now linked to …", to the profile's registered address.
    Notice(&'a NoticeRecord),
}

/// What claiming an item for sending found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This invocation owns the send (for a link: its verifier hash is stored).
    Claimed,
    /// An earlier delivery already sent it (redelivery): nothing to do.
    AlreadySent,
    /// Another invocation claimed it at `claimed_at` and has not settled it:
    /// it is sending right now, or it died mid-send (the claim goes stale).
    InFlight { claimed_at: i64 },
    /// SES said "not now" to an earlier attempt: the next is due at `at`
    /// (the sweep takes it then).
    NotDue { at: i64 },
    /// A link only: a newer request for the same identity and profile replaced it.
    Superseded,
    /// A link only: past its lifetime, unsent.
    Expired,
    /// The address hard-bounced or complained before: nothing may be sent to it.
    Suppressed,
}

impl Outgoing<'_> {
    fn key(&self) -> Item {
        match self {
            Outgoing::Link { link, .. } => link_key(&link.link_id),
            Outgoing::Notice(notice) => notice_key(&notice.notice_id),
        }
    }

    fn pk(&self) -> String {
        match self {
            Outgoing::Link { link, .. } => format!("LINK#{}", link.link_id),
            Outgoing::Notice(notice) => format!("NOTICE#{}", notice.notice_id),
        }
    }

    fn corrupt(&self, problem: &str) -> StoreError {
        StoreError::Corrupt { key: self.pk(), problem: problem.into() }
    }

    /// Refused sends so far, as the record that was read shows them.
    pub fn send_attempts(&self) -> u32 {
        match self {
            Outgoing::Link { link, .. } => link.send_attempts,
            Outgoing::Notice(notice) => notice.send_attempts,
        }
    }

    fn address(&self) -> Result<RegisteredEmail, StoreError> {
        let raw = match self {
            Outgoing::Link { link, .. } => &link.email,
            Outgoing::Notice(notice) => &notice.email,
        };
        RegisteredEmail::parse(raw).map_err(|_| self.corrupt("email"))
    }

    /// The claim's update: what it sets, and when it may.
    fn claim(&self, table: &str, claim_id: &str, now: i64, stale_claim_seconds: i64) -> Update {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(self.key()))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s(LinkState::Sending))
            .expression_attribute_values(":pending", s(LinkState::Pending))
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - stale_claim_seconds))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match self {
            Outgoing::Link { verifier_hash, .. } => update
                .update_expression("SET #state = :sending, verifier_hash = :hash, claim_id = :claim, claimed_at = :now")
                .condition_expression(format!("attribute_exists(pk) AND expires_at > :now AND ({CLAIMABLE})"))
                .expression_attribute_values(":hash", s(*verifier_hash)),
            Outgoing::Notice(_) => update
                .update_expression("SET #state = :sending, claim_id = :claim, claimed_at = :now")
                .condition_expression(CLAIMABLE),
        };
        update.build().expect("key and expressions set")
    }

    /// What a refused claim means, from the item as the refusal returned it.
    fn refused(&self, reason: Option<&CancellationReason>, now: i64) -> Claim {
        let old = reason.and_then(|r| r.item());
        let number =
            |name: &str| old.and_then(|o| o.get(name)).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok());
        let state = old.and_then(|o| o.get("state")).and_then(|v| v.as_s().ok()).and_then(|s| LinkState::parse(s));
        let is_link = matches!(self, Outgoing::Link { .. });
        match state {
            // Absent (TTL-deleted), or past its time: the condition's `expires_at` refused it.
            None if is_link => Claim::Expired,
            _ if is_link && number("expires_at").is_some_and(|at| at <= now) => Claim::Expired,
            Some(LinkState::Sending) => Claim::InFlight { claimed_at: number("claimed_at").unwrap_or(now) },
            Some(LinkState::Pending) => match number("next_attempt_at") {
                Some(at) if at > now => Claim::NotDue { at },
                _ if is_link => Claim::Expired,
                _ => Claim::AlreadySent,
            },
            _ => Claim::AlreadySent,
        }
    }

    fn operation(&self, step: Step) -> &'static str {
        match (self, step) {
            (Outgoing::Link { .. }, Step::Claim) => "TransactWriteItems(claim link)",
            (Outgoing::Notice(_), Step::Claim) => "TransactWriteItems(claim notice)",
            (Outgoing::Link { .. }, Step::Suppressed) => "TransactWriteItems(link suppressed)",
            (Outgoing::Notice(_), Step::Suppressed) => "TransactWriteItems(notice suppressed)",
            (Outgoing::Link { .. }, Step::Settle) => "UpdateItem(release link)",
            (Outgoing::Notice(_), Step::Settle) => "UpdateItem(settle notice)",
            (Outgoing::Link { .. }, Step::Audited) => "TransactWriteItems(settle link)",
            (Outgoing::Notice(_), Step::Audited) => "TransactWriteItems(settle notice)",
            (_, Step::Defer) => "UpdateItem(defer send)",
            (_, Step::Leave) => "UpdateItem(leave outbox)",
        }
    }

    /// The audit entry for a suppressed item: on its profile's trail.
    fn suppressed_audit(&self, now: i64) -> AuditEntry {
        match self {
            Outgoing::Link { link, .. } => {
                let detail = format!("not sent: {} bounced or complained before", mask_email(&link.email));
                audit(link, AuditEvent::Suppressed, &link.identity(), Some(detail), now)
            }
            Outgoing::Notice(notice) => AuditEntry {
                subject: AuditSubject::Profile(notice.profile_id.clone()),
                event: AuditEvent::Suppressed,
                identity: None,
                link_id: None,
                request_id: None,
                detail: Some(format!(
                    "\"now linked\" notice not sent: {} bounced or complained before",
                    mask_email(&notice.email)
                )),
                at: now,
            },
        }
    }

    /// The settlement's update, written once whether it goes alone or with an audit entry.
    fn settlement(&self, table: &str, claim_id: &str, outcome: SendOutcome<'_>, now: i64) -> Update {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(self.key()))
            .condition_expression("claim_id = :claim")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claim", s(claim_id));
        // A link's verifier goes with a claim that did not send it.
        let verifier = if matches!(self, Outgoing::Link { .. }) { ", verifier_hash" } else { "" };
        let update = match outcome {
            SendOutcome::Sent(_) | SendOutcome::Unconfirmed => {
                let (what, update) = match outcome {
                    SendOutcome::Sent(message) => {
                        ("ses_message_id = :message", update.expression_attribute_values(":message", s(message)))
                    }
                    _ => (
                        "send_unconfirmed = :yes",
                        update.expression_attribute_values(":yes", AttributeValue::Bool(true)),
                    ),
                };
                // A link's lifetime starts now, when its email goes.
                let (lifetime, update) = match self.expires_once_sent(now) {
                    Some(at) => (", expires_at = :until", update.expression_attribute_values(":until", n(at))),
                    None => ("", update),
                };
                update
                    .update_expression(format!(
                        "SET #state = :sent, {what}, sent_at = :now{lifetime} REMOVE claim_id, gsi1pk, gsi1sk, next_attempt_at"
                    ))
                    .expression_attribute_values(":sent", s(LinkState::Sent))
                    .expression_attribute_values(":now", n(now))
            }
            SendOutcome::Deferred { refusal, retry_at } => update
                .update_expression(format!(
                    "SET #state = :pending, next_attempt_at = :retry, gsi1pk = :due, gsi1sk = :due_at, last_refusal = :why \
                     ADD send_attempts :one REMOVE claim_id, claimed_at{verifier}"
                ))
                .expression_attribute_values(":pending", s(LinkState::Pending))
                .expression_attribute_values(":retry", n(retry_at))
                .expression_attribute_values(":due", s(MAIL_DUE_PARTITION))
                .expression_attribute_values(":due_at", s(due_sort_key(retry_at, &self.pk())))
                .expression_attribute_values(":why", s(refusal.as_str()))
                .expression_attribute_values(":one", n(1)),
            SendOutcome::Refused { code } => update
                .update_expression(format!(
                    "SET #state = :refused, refused_at = :now, last_refusal = :why \
                     REMOVE claim_id, claimed_at, gsi1pk, gsi1sk, next_attempt_at{verifier}"
                ))
                .expression_attribute_values(":refused", s(LinkState::Refused))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":why", s(code)),
        };
        update.build().expect("key and expressions set")
    }

    /// When a link sent at `now` stops working: its lifetime counts from the send.
    fn expires_once_sent(&self, now: i64) -> Option<i64> {
        match self {
            Outgoing::Link { link, .. } => Some(now + link.lifetime_seconds()),
            Outgoing::Notice(_) => None,
        }
    }

    /// A sent link's pointer (`IDENTITY#…`/`PENDING#…`) lives as long as the
    /// link, if it still names this link (a newer request may have moved it on).
    fn pointer_expiry(&self, table: &str, outcome: SendOutcome<'_>, now: i64) -> Option<Update> {
        let Outgoing::Link { link, .. } = self else { return None };
        if !matches!(outcome, SendOutcome::Sent(_) | SendOutcome::Unconfirmed) {
            return None;
        }
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(pending_pointer_key(&link.identity(), &link.profile_id)))
            .update_expression("SET expires_at = :until")
            .condition_expression("link_id = :id")
            .expression_attribute_values(":until", n(now + link.lifetime_seconds()))
            .expression_attribute_values(":id", s(&link.link_id))
            .build()
            .expect("key and expressions set");
        Some(update)
    }

    /// What the profile's trail records of a settlement: a link's send, and
    /// a refusal of either kind (a deferral is on the item, not the trail).
    fn settled_audit(&self, outcome: SendOutcome<'_>, now: i64) -> Option<AuditEntry> {
        let (event, detail) = match outcome {
            SendOutcome::Sent(message_id) => (AuditEvent::Sent, format!("SES message {message_id}")),
            SendOutcome::Unconfirmed => (
                AuditEvent::SendUnconfirmed,
                "SES did not answer: the email may have been sent, and is not sent again".to_owned(),
            ),
            SendOutcome::Refused { code } => {
                (AuditEvent::SendFailed, format!("not sent: SES refused it ({code}) and is not asked again"))
            }
            SendOutcome::Deferred { .. } => return None,
        };
        match self {
            Outgoing::Link { link, .. } => Some(audit(link, event, &link.identity(), Some(detail), now)),
            Outgoing::Notice(notice) if event == AuditEvent::SendFailed => Some(AuditEntry {
                subject: AuditSubject::Profile(notice.profile_id.clone()),
                event,
                identity: None,
                link_id: None,
                request_id: None,
                detail: Some(format!("\"now linked\" notice {detail}")),
                at: now,
            }),
            Outgoing::Notice(_) => None,
        }
    }
}

/// The claim's condition on the item's state: pending and due (no next
/// attempt set, or it has come), or a stale claim of a sender that died.
const CLAIMABLE: &str = "(#state = :pending AND (attribute_not_exists(next_attempt_at) OR next_attempt_at <= :now)) \
                         OR (#state = :sending AND claimed_at < :stale)";

#[derive(Debug, Clone, Copy)]
enum Step {
    Claim,
    Suppressed,
    Settle,
    Audited,
    Defer,
    Leave,
}

impl Store {
    /// Claims an item for sending, in one transaction: it must be pending (or
    /// a stale claim of a crashed sender) and its address not suppressed; a
    /// link must also be unexpired and still its identity's newest link for
    /// the profile.
    pub async fn claim_for_sending(
        &self,
        item: &Outgoing<'_>,
        claim_id: &str,
        now: i64,
        stale_claim_seconds: i64,
    ) -> Result<Claim, StoreError> {
        if let Outgoing::Link { link, .. } = item
            && link.expires_at <= now
        {
            return Ok(Claim::Expired);
        }
        let address = item.address()?;
        let mut writes = Vec::with_capacity(3);
        if let Outgoing::Link { link, .. } = item {
            let newest = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(pending_pointer_key(&link.identity(), &link.profile_id)))
                .condition_expression("link_id = :id")
                .expression_attribute_values(":id", s(&link.link_id))
                .build()
                .expect("key and condition set");
            writes.push(TransactWriteItem::builder().condition_check(newest).build());
        }
        let claim_at = writes.len();
        writes.push(
            TransactWriteItem::builder().update(item.claim(&self.table, claim_id, now, stale_claim_seconds)).build(),
        );
        writes.push(not_suppressed(&self.table, &address));
        let result =
            self.client.transact_write_items().set_transact_items(Some(writes)).send_retrying_conflicts().await;
        let error = match result {
            Ok(_) => return Ok(Claim::Claimed),
            Err(error) => error,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() else {
            return Err(StoreError::sdk(item.operation(Step::Claim), error));
        };
        let reasons = cancelled.cancellation_reasons();
        let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if failed(claim_at) {
            return Ok(item.refused(reasons.get(claim_at), now));
        }
        if claim_at == 1 && failed(0) {
            return Ok(Claim::Superseded);
        }
        if failed(claim_at + 1) {
            return Ok(Claim::Suppressed);
        }
        Err(StoreError::sdk(item.operation(Step::Claim), error))
    }

    /// A pending item whose address is suppressed: marked as never to be sent
    /// (so a redelivery skips it too), with a `suppressed` audit entry.
    pub async fn mark_outgoing_suppressed(&self, item: &Outgoing<'_>, now: i64) -> Result<(), StoreError> {
        let audit = item.suppressed_audit(now);
        self.mark_suppressed(item.key(), &audit, item.operation(Step::Suppressed)).await
    }

    /// Records what became of a claimed item's send, if this invocation still
    /// holds the claim: sent (with SES's message id), sent unconfirmed (SES
    /// did not answer, so it is never sent again), deferred (SES said "not
    /// now": pending again, due at its retry time; a link's retry mints a new
    /// verifier) or refused (never sent). A sent link's lifetime starts at
    /// `now`, on the link and on its pointer; a link's send and any refusal
    /// are audited in the same transaction. A settlement with nothing else
    /// to write is one conditional update, and losing the claim meanwhile (a
    /// takeover) is then not an error: its new holder settles.
    pub async fn settle_send(
        &self,
        item: &Outgoing<'_>,
        claim_id: &str,
        outcome: SendOutcome<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let settlement = item.settlement(&self.table, claim_id, outcome, now);
        let pointer = item.pointer_expiry(&self.table, outcome, now);
        let audit = item.settled_audit(outcome, now);
        if pointer.is_none() && audit.is_none() {
            return self.update_tolerating_condition(settlement, item.operation(Step::Settle)).await;
        }
        let writes = |with_pointer: bool| {
            let mut writes = vec![TransactWriteItem::builder().update(settlement.clone()).build()];
            writes.extend(
                pointer.clone().filter(|_| with_pointer).map(|p| TransactWriteItem::builder().update(p).build()),
            );
            writes.extend(audit.as_ref().map(|a| self.audit_item(a)));
            writes
        };
        let first =
            self.client.transact_write_items().set_transact_items(Some(writes(true))).send_retrying_conflicts().await;
        let error = match first {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        // The pointer moved on to a newer link meanwhile: it is that link's now.
        let codes = error.as_service_error().map(super::conflicts::cancellation_codes).unwrap_or_default();
        let pointer_moved = pointer.is_some()
            && codes.first().is_some_and(Option::is_none)
            && codes.get(1).is_some_and(|c| c.as_deref() == Some("ConditionalCheckFailed"));
        if !pointer_moved {
            return Err(StoreError::sdk(item.operation(Step::Audited), error));
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes(false)))
            .send_retrying_conflicts()
            .await
            .map_err(|e| StoreError::sdk(item.operation(Step::Audited), e))?;
        Ok(())
    }

    /// An item this instance will not try now (SES said the account cannot
    /// send until `retry_at`): due again then, unclaimed, its attempts as they
    /// were. Nothing to do if it is no longer pending.
    pub async fn defer_send(&self, item: &Outgoing<'_>, retry_at: i64) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item.key()))
            .update_expression("SET next_attempt_at = :retry, gsi1pk = :due, gsi1sk = :due_at")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(LinkState::Pending))
            .expression_attribute_values(":retry", n(retry_at))
            .expression_attribute_values(":due", s(MAIL_DUE_PARTITION))
            .expression_attribute_values(":due_at", s(due_sort_key(retry_at, &item.pk())))
            .build()
            .expect("key and expressions set");
        self.update_tolerating_condition(update, item.operation(Step::Defer)).await
    }

    /// A link that can never be sent (expired unsent, or superseded by a
    /// newer request) leaves the due index, so the sweep stops reading it.
    pub async fn leave_outbox(&self, item: &Outgoing<'_>) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item.key()))
            .update_expression("REMOVE gsi1pk, gsi1sk, next_attempt_at")
            .condition_expression("attribute_exists(gsi1pk) AND #state IN (:pending, :sending)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(LinkState::Pending))
            .expression_attribute_values(":sending", s(LinkState::Sending))
            .build()
            .expect("key and expressions set");
        self.update_tolerating_condition(update, item.operation(Step::Leave)).await
    }

    /// Links and notices whose time in the due index has come (`now` or
    /// before), oldest first, a page of at most `limit` after `after` (the
    /// previous page's last key). An item that does not parse is returned as
    /// its error, so one bad item never stops the sweep.
    pub async fn due_mail(
        &self,
        now: i64,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<Result<DueMail, StoreError>>, Option<Item>), StoreError> {
        let (items, next) = self.due_page(MAIL_DUE_PARTITION, now, limit, after, "Query(due mail)").await?;
        let items = items.iter().map(due_mail_of).collect();
        Ok((items, next))
    }

    /// One conditional update; a failed condition means there is nothing to do.
    async fn update_tolerating_condition(&self, update: Update, operation: &'static str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(StoreError::sdk(operation, e)),
        }
    }
}

fn due_mail_of(item: &Item) -> Result<DueMail, StoreError> {
    let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    if pk.starts_with("LINK#") {
        return super::link_record::link_record(&pk, item).map(DueMail::Link);
    }
    let corrupt = |problem: String| StoreError::Corrupt { key: pk.clone(), problem };
    if pk.starts_with("NOTICE#") {
        return serde_dynamo::aws_sdk_dynamodb_1::from_item(item.clone())
            .map(DueMail::Notice)
            .map_err(|e| corrupt(e.to_string()));
    }
    Err(corrupt("not a link or notice, in the outbox's index".into()))
}
