//! `NOTICE#<id>`: "your profile is now linked to …", written by redemption in
//! its transaction and sent to the registered address by send-emails.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use serde::Deserialize;

use super::audit::{AuditEntry, AuditEvent, AuditSubject};
use super::conflicts::SendRetryingConflicts;
use super::items::{Item, n, s};
use super::suppressions::not_suppressed;
use super::{Claim, SendOutcome, Store, StoreError};
use crate::domain::email::RegisteredEmail;
use crate::domain::identity::mask_email;
use crate::domain::profile::ProfileId;

#[derive(Debug, Clone, Deserialize)]
pub struct NoticeRecord {
    pub notice_id: String,
    pub state: String,
    pub email: String,
    pub profile_id: String,
    pub display_name: String,
    #[serde(default)]
    pub organization: String,
    pub identity_label: String,
    pub identity_provider: String,
    #[serde(default)]
    pub replaced: bool,
    #[serde(default)]
    pub locale: String,
    pub created_at: i64,
}

fn key(id: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("NOTICE#{id}"))), ("sk".to_owned(), s("NOTICE"))])
}

impl Store {
    /// Claims a notice for sending (the same answers as claiming a link, bar
    /// superseded and expired, which notices never are), unless its address
    /// is suppressed: one transaction, as for links.
    pub async fn claim_notice(
        &self,
        notice: &NoticeRecord,
        claim_id: &str,
        now: i64,
        stale_claim_seconds: i64,
    ) -> Result<Claim, StoreError> {
        let address = RegisteredEmail::parse(&notice.email).map_err(|_| StoreError::Corrupt {
            key: format!("NOTICE#{}", notice.notice_id),
            problem: "email".into(),
        })?;
        let claim = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(&notice.notice_id)))
            .update_expression("SET #state = :sending, claim_id = :claim, claimed_at = :now")
            .condition_expression("#state = :pending OR (#state = :sending AND claimed_at < :stale)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - stale_claim_seconds))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .expect("key and expressions set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(claim).build())
            .transact_items(not_suppressed(&self.table, &address))
            .send_retrying_conflicts()
            .await;
        let error = match result {
            Ok(_) => return Ok(Claim::Claimed),
            Err(error) => error,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() else {
            return Err(StoreError::sdk("TransactWriteItems(claim notice)", error));
        };
        let reasons = cancelled.cancellation_reasons();
        let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if failed(0) {
            let (state, claimed_at) = super::link_delivery::refused_claim(reasons.first());
            return Ok(match state.as_deref() {
                Some("sending") => Claim::InFlight { claimed_at: claimed_at.unwrap_or(now) },
                _ => Claim::AlreadySent,
            });
        }
        if failed(1) {
            return Ok(Claim::Suppressed);
        }
        Err(StoreError::sdk("TransactWriteItems(claim notice)", error))
    }

    /// A pending notice whose address is suppressed: never to be sent, audited on its profile.
    pub async fn mark_notice_suppressed(&self, notice: &NoticeRecord, now: i64) -> Result<(), StoreError> {
        let profile = ProfileId::parse(&notice.profile_id).ok_or_else(|| StoreError::Corrupt {
            key: format!("NOTICE#{}", notice.notice_id),
            problem: "profile_id".into(),
        })?;
        let audit = AuditEntry {
            subject: AuditSubject::Profile(profile),
            event: AuditEvent::Suppressed,
            identity: None,
            link_id: None,
            request_id: None,
            detail: Some(format!(
                "\"now linked\" notice not sent: {} bounced or complained before",
                mask_email(&notice.email)
            )),
            at: now,
        };
        self.mark_suppressed(key(&notice.notice_id), &audit, "TransactWriteItems(notice suppressed)").await
    }

    /// Records the outcome of a claimed notice: sent (with SES's id), sent
    /// unconfirmed (SES did not answer, so it is never sent again), or
    /// released for a retry (SES said it did not send it).
    pub async fn settle_notice(
        &self,
        id: &str,
        claim_id: &str,
        outcome: SendOutcome<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .condition_expression("claim_id = :claim")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claim", s(claim_id));
        let request = match outcome {
            SendOutcome::Sent(message) => request
                .update_expression("SET #state = :sent, ses_message_id = :message, sent_at = :now REMOVE claim_id")
                .expression_attribute_values(":sent", s("sent"))
                .expression_attribute_values(":message", s(message))
                .expression_attribute_values(":now", n(now)),
            SendOutcome::Unconfirmed => request
                .update_expression("SET #state = :sent, send_unconfirmed = :yes, sent_at = :now REMOVE claim_id")
                .expression_attribute_values(":sent", s("sent"))
                .expression_attribute_values(":yes", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
                .expression_attribute_values(":now", n(now)),
            SendOutcome::NotSent => request
                .update_expression("SET #state = :pending REMOVE claim_id, claimed_at")
                .expression_attribute_values(":pending", s("pending")),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(StoreError::sdk("UpdateItem(settle notice)", e)),
        }
    }
}
