//! Sending a link's email (seed step 6), as send-emails drives it: the link
//! claimed (pending, unexpired, still the newest, address not suppressed),
//! then marked sent with its SES message id, suppressed, or released for a
//! retry. The claim makes the email go out once under redelivery.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::audit::{AuditEntry, AuditEvent, AuditSubject};
use super::conflicts::SendRetryingConflicts;
use super::items::{n, s};
use super::link_record::{LinkRecord, LinkState, audit};
use super::requests::{link_key, pending_pointer_key};
use super::suppressions::not_suppressed;
use super::{Store, StoreError};
use crate::domain::email::RegisteredEmail;

/// What claiming a link for sending found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This invocation owns the send; its verifier hash is stored.
    Claimed,
    /// An earlier delivery already sent it (redelivery): nothing to do.
    AlreadySent,
    /// Another invocation claimed it at `claimed_at` and has not settled it:
    /// it is sending right now, or it died mid-send (the claim goes stale).
    InFlight {
        claimed_at: i64,
    },
    /// A newer request for the same identity and profile replaced it.
    Superseded,
    Expired,
    /// The address hard-bounced or complained before: nothing may be sent to it.
    Suppressed,
}

/// The state and claim time of the item whose condition refused a claim
/// (returned with the cancellation: `ReturnValuesOnConditionCheckFailure`).
pub(super) fn refused_claim(
    reason: Option<&aws_sdk_dynamodb::types::CancellationReason>,
) -> (Option<String>, Option<i64>) {
    let old = reason.and_then(|r| r.item());
    let state = old.and_then(|o| o.get("state")).and_then(|v| v.as_s().ok()).cloned();
    let claimed_at = old.and_then(|o| o.get("claimed_at")).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
    (state, claimed_at)
}

impl Store {
    /// Claims a link for sending: it must be pending (or a stale claim of a
    /// crashed sender), unexpired, still the identity's newest link for its
    /// profile, and its address must not be suppressed. The verifier hash is
    /// stored in the same write.
    pub async fn claim_link_for_sending(
        &self,
        link: &LinkRecord,
        verifier_hash: &str,
        claim_id: &str,
        now: i64,
        stale_claim_seconds: i64,
    ) -> Result<Claim, StoreError> {
        if link.expires_at <= now {
            return Ok(Claim::Expired);
        }
        let address = RegisteredEmail::parse(&link.email)
            .map_err(|_| StoreError::Corrupt { key: format!("LINK#{}", link.link_id), problem: "email".into() })?;
        let pointer = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(pending_pointer_key(&link.identity(), &link.profile_id)))
            .condition_expression("link_id = :id")
            .expression_attribute_values(":id", s(&link.link_id))
            .build()
            .expect("key and condition set");
        let claim = Update::builder()
            .table_name(&self.table)
            .set_key(Some(link_key(&link.link_id)))
            .update_expression("SET #state = :sending, verifier_hash = :hash, claim_id = :claim, claimed_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND expires_at > :now AND (#state = :pending OR (#state = :sending AND claimed_at < :stale))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s(LinkState::Sending))
            .expression_attribute_values(":pending", s(LinkState::Pending))
            .expression_attribute_values(":hash", s(verifier_hash))
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - stale_claim_seconds))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .expect("key and expressions set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(pointer).build())
            .transact_items(TransactWriteItem::builder().update(claim).build())
            .transact_items(not_suppressed(&self.table, &address))
            .send_retrying_conflicts()
            .await;
        let error = match result {
            Ok(_) => return Ok(Claim::Claimed),
            Err(error) => error,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() else {
            return Err(StoreError::sdk("TransactWriteItems(claim link)", error));
        };
        let reasons = cancelled.cancellation_reasons();
        let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if failed(1) {
            let (state, claimed_at) = refused_claim(reasons.get(1));
            return Ok(match state.as_deref() {
                Some("sending") => Claim::InFlight { claimed_at: claimed_at.unwrap_or(now) },
                None => Claim::Expired,
                Some("pending") => Claim::Expired,
                Some(_) => Claim::AlreadySent,
            });
        }
        if failed(0) {
            return Ok(Claim::Superseded);
        }
        if failed(2) {
            return Ok(Claim::Suppressed);
        }
        Err(StoreError::sdk("TransactWriteItems(claim link)", error))
    }

    /// A pending link whose address is suppressed: marked as never to be sent
    /// (so a redelivery skips it too), with a `suppressed` audit entry.
    pub async fn mark_link_suppressed(&self, link: &LinkRecord, now: i64) -> Result<(), StoreError> {
        let detail =
            format!("not sent: {} bounced or complained before", crate::domain::identity::mask_email(&link.email));
        let audit = audit(link, AuditEvent::Suppressed, &link.identity(), Some(detail), now)?;
        self.mark_suppressed(link_key(&link.link_id), &audit, "TransactWriteItems(link suppressed)").await
    }

    /// Records a successful send (SES message id) and its audit entry, if this
    /// invocation still holds the claim.
    /// Records a link's email as sent: with SES's message id, or unconfirmed
    /// (`None`: SES did not answer, so the email may or may not have gone;
    /// it is never sent again).
    pub async fn mark_link_sent(
        &self,
        link: &LinkRecord,
        claim_id: &str,
        ses_message_id: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(link_key(&link.link_id)))
            .condition_expression("claim_id = :claim")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sent", s(LinkState::Sent))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":claim", s(claim_id));
        let update = match ses_message_id {
            Some(message_id) => update
                .update_expression("SET #state = :sent, ses_message_id = :message, sent_at = :now REMOVE claim_id")
                .expression_attribute_values(":message", s(message_id)),
            None => update
                .update_expression("SET #state = :sent, send_unconfirmed = :yes, sent_at = :now REMOVE claim_id")
                .expression_attribute_values(":yes", aws_sdk_dynamodb::types::AttributeValue::Bool(true)),
        };
        let update = update.build().expect("key and expressions set");
        let audit = AuditEntry {
            subject: AuditSubject::Profile(crate::domain::profile::ProfileId::parse(&link.profile_id).ok_or_else(
                || StoreError::Corrupt { key: format!("LINK#{}", link.link_id), problem: "profile_id".into() },
            )?),
            event: if ses_message_id.is_some() { AuditEvent::Sent } else { AuditEvent::SendUnconfirmed },
            identity: Some(link.identity()),
            link_id: Some(link.link_id.clone()),
            request_id: Some(link.request_id.clone()),
            detail: Some(match ses_message_id {
                Some(message_id) => format!("SES message {message_id}"),
                None => "SES did not answer: the email may have been sent, and is not sent again".to_owned(),
            }),
            at: now,
        };
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(self.audit_item(&audit))
            .send_retrying_conflicts()
            .await
            .map_err(|e| StoreError::sdk("TransactWriteItems(link sent)", e))?;
        Ok(())
    }

    /// Gives a claim back after a failed send, so a retry mints a new verifier.
    pub async fn release_link_claim(&self, link_id: &str, claim_id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(link_key(link_id)))
            .update_expression("SET #state = :pending REMOVE verifier_hash, claim_id, claimed_at")
            .condition_expression("claim_id = :claim")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(LinkState::Pending))
            .expression_attribute_values(":claim", s(claim_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(StoreError::sdk("UpdateItem(release link)", e)),
        }
    }
}
