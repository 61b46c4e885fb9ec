//! The table is the outbox (seed step 6): a link and a "now linked" notice
//! are each an item that carries one email. Sending one is claim → render →
//! send → settle; this file is the store's half of that, written once over
//! both kinds, and send-emails drives it. The claim (a conditional write)
//! makes each email go out once under redelivery and retries.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::audit::{AuditEntry, AuditEvent, AuditSubject};
use super::conflicts::SendRetryingConflicts;
use super::items::{Item, n, s};
use super::link_record::{LinkRecord, LinkState, audit};
use super::notices::{NoticeRecord, notice_key};
use super::requests::{link_key, pending_pointer_key};
use super::suppressions::not_suppressed;
use super::{SendOutcome, Store, StoreError};
use crate::domain::email::{RegisteredEmail, mask_email};

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

    fn corrupt(&self, problem: &str) -> StoreError {
        let key = match self {
            Outgoing::Link { link, .. } => format!("LINK#{}", link.link_id),
            Outgoing::Notice(notice) => format!("NOTICE#{}", notice.notice_id),
        };
        StoreError::Corrupt { key, problem: problem.into() }
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
                .condition_expression(
                    "attribute_exists(pk) AND expires_at > :now AND (#state = :pending OR (#state = :sending AND claimed_at < :stale))",
                )
                .expression_attribute_values(":hash", s(*verifier_hash)),
            Outgoing::Notice(_) => update
                .update_expression("SET #state = :sending, claim_id = :claim, claimed_at = :now")
                .condition_expression("#state = :pending OR (#state = :sending AND claimed_at < :stale)"),
        };
        update.build().expect("key and expressions set")
    }

    /// What a refused claim means, from the item as the refusal returned it.
    fn refused(&self, reason: Option<&CancellationReason>, now: i64) -> Claim {
        let old = reason.and_then(|r| r.item());
        let state = old.and_then(|o| o.get("state")).and_then(|v| v.as_s().ok()).and_then(|s| LinkState::parse(s));
        let claimed_at = old.and_then(|o| o.get("claimed_at")).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
        match (self, state) {
            (_, Some(LinkState::Sending)) => Claim::InFlight { claimed_at: claimed_at.unwrap_or(now) },
            // Absent (TTL-deleted), or pending: the condition's `expires_at` refused it.
            (Outgoing::Link { .. }, None | Some(LinkState::Pending)) => Claim::Expired,
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
        let update = match (self, outcome) {
            (_, SendOutcome::Sent(message)) => update
                .update_expression("SET #state = :sent, ses_message_id = :message, sent_at = :now REMOVE claim_id")
                .expression_attribute_values(":sent", s(LinkState::Sent))
                .expression_attribute_values(":message", s(message))
                .expression_attribute_values(":now", n(now)),
            (_, SendOutcome::Unconfirmed) => update
                .update_expression("SET #state = :sent, send_unconfirmed = :yes, sent_at = :now REMOVE claim_id")
                .expression_attribute_values(":sent", s(LinkState::Sent))
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .expression_attribute_values(":now", n(now)),
            (Outgoing::Link { .. }, SendOutcome::NotSent) => update
                .update_expression("SET #state = :pending REMOVE verifier_hash, claim_id, claimed_at")
                .expression_attribute_values(":pending", s(LinkState::Pending)),
            (Outgoing::Notice(_), SendOutcome::NotSent) => update
                .update_expression("SET #state = :pending REMOVE claim_id, claimed_at")
                .expression_attribute_values(":pending", s(LinkState::Pending)),
        };
        update.build().expect("key and expressions set")
    }

    /// A link's send, as its profile's trail records it (a notice's is not audited).
    fn sent_audit(&self, outcome: SendOutcome<'_>, now: i64) -> Option<AuditEntry> {
        let Outgoing::Link { link, .. } = self else { return None };
        let (event, detail) = match outcome {
            SendOutcome::Sent(message_id) => (AuditEvent::Sent, format!("SES message {message_id}")),
            SendOutcome::Unconfirmed => (
                AuditEvent::SendUnconfirmed,
                "SES did not answer: the email may have been sent, and is not sent again".to_owned(),
            ),
            SendOutcome::NotSent => return None,
        };
        Some(audit(link, event, &link.identity(), Some(detail), now))
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Claim,
    Suppressed,
    Settle,
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
    /// did not answer, so it is never sent again), or given back for a retry
    /// (SES said it did not send it; a link's retry mints a new verifier). A
    /// link's send is audited in the same transaction; a settlement with
    /// nothing to audit is one conditional update, and losing the claim
    /// meanwhile (a takeover) is then not an error: its new holder settles.
    pub async fn settle_send(
        &self,
        item: &Outgoing<'_>,
        claim_id: &str,
        outcome: SendOutcome<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let settlement = item.settlement(&self.table, claim_id, outcome, now);
        if let Some(audit) = item.sent_audit(outcome, now) {
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(settlement).build())
                .transact_items(self.audit_item(&audit))
                .send_retrying_conflicts()
                .await
                .map_err(|e| StoreError::sdk("TransactWriteItems(link sent)", e))?;
            return Ok(());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(settlement.key))
            .update_expression(settlement.update_expression)
            .set_condition_expression(settlement.condition_expression)
            .set_expression_attribute_names(settlement.expression_attribute_names)
            .set_expression_attribute_values(settlement.expression_attribute_values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(StoreError::sdk(item.operation(Step::Settle), e)),
        }
    }
}
