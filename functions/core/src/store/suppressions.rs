//! `SUPPRESSED#<hash>`: an address that hard-bounced or complained. No email
//! is sent to it until an operator lifts the suppression. Bounces and
//! complaints (SES events, see the ses-events function) are also recorded in
//! the profile's audit trail and on the link or notice the email carried.
//!
//! The key is SHA-256 of the normalised address, so the address itself never
//! appears in a key (keys end up in logs, errors and stream records); the item
//! holds it, as profile items do, for the operator who lifts it.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};
use serde::Serialize;

use super::LinkState;
use super::audit::{AddressHash, AuditEntry, AuditEvent, AuditSubject};
use super::conflicts::{SendRetryingConflicts, condition_failed};
use super::items::{Item, n, s};
use super::{Store, StoreError};
use crate::domain::email::RegisteredEmail;
use crate::domain::mail_subject::MailSubject;

/// All suppressions share one index partition, so an operator can list them.
const INDEX_PARTITION: &str = "SUPPRESSED";

/// The same hash request records are keyed by ([`AddressHash`]).
fn hash(address: &RegisteredEmail) -> String {
    AddressHash::of(address).as_str().to_owned()
}

pub(crate) fn suppression_key(address: &RegisteredEmail) -> Item {
    Item::from([("pk".to_owned(), s(format!("SUPPRESSED#{}", hash(address)))), ("sk".to_owned(), s("SUPPRESSION"))])
}

/// One write of a claim transaction: fails if the address is suppressed.
pub(crate) fn not_suppressed(table: &str, address: &RegisteredEmail) -> TransactWriteItem {
    TransactWriteItem::builder()
        .condition_check(
            ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(suppression_key(address)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("key and condition set"),
        )
        .build()
}

/// What SES told us about one recipient of one email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// A permanent bounce: the address does not accept mail. Suppressed.
    HardBounce,
    /// A transient or undetermined bounce (mailbox full, …): recorded only.
    SoftBounce,
    /// The recipient marked the email as spam. Suppressed.
    Complaint,
}

impl Feedback {
    pub fn suppresses(self) -> bool {
        !matches!(self, Feedback::SoftBounce)
    }

    /// The audit event, and the suppression's reason.
    pub fn event(self) -> AuditEvent {
        match self {
            Feedback::HardBounce | Feedback::SoftBounce => AuditEvent::Bounced,
            Feedback::Complaint => AuditEvent::Complained,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MailFeedback {
    pub address: RegisteredEmail,
    pub feedback: Feedback,
    /// SES's classification, e.g. `Permanent/General`, `Transient/MailboxFull`, `abuse`.
    pub detail: String,
    /// What the email was about, from its message tags (absent for mail we did not tag).
    pub about: Option<MailSubject>,
    pub ses_message_id: Option<String>,
}

/// What recording a bounce or complaint wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedbackRecorded {
    pub suppressed: bool,
    pub audited: bool,
    /// The link or notice item carries the feedback (it may have expired and gone).
    pub marked: bool,
}

/// A suppressed address, as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub address: String,
    /// `bounced` or `complained`.
    pub reason: String,
    pub detail: String,
    pub at: i64,
    pub profile_id: Option<String>,
    pub link_id: Option<String>,
    pub notice_id: Option<String>,
    pub ses_message_id: Option<String>,
}

#[cfg(feature = "operator")]
fn suppression_from(item: &Item) -> Suppression {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    Suppression {
        address: text("email").unwrap_or_default(),
        reason: text("reason").unwrap_or_default(),
        detail: text("detail").unwrap_or_default(),
        at: item.get("at").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0),
        profile_id: text("profile_id"),
        link_id: text("link_id"),
        notice_id: text("notice_id"),
        ses_message_id: text("ses_message_id"),
    }
}

impl Store {
    /// Records a bounce or complaint in one transaction: the suppression (hard
    /// bounces and complaints), an audit entry on the profile the email was
    /// about, and the feedback on its link or notice (if that item still
    /// exists and belongs to that profile: tags are not trusted further).
    pub async fn record_mail_feedback(
        &self,
        feedback: &MailFeedback,
        now: i64,
    ) -> Result<FeedbackRecorded, StoreError> {
        let suppress = feedback.feedback.suppresses();
        let mut items = Vec::new();
        if suppress {
            let mut item = suppression_key(&feedback.address);
            for (name, value) in [
                ("kind", "suppression"),
                ("email", feedback.address.as_str()),
                ("reason", feedback.feedback.event().as_str()),
                ("detail", feedback.detail.as_str()),
                ("gsi1pk", INDEX_PARTITION),
            ] {
                item.insert(name.into(), s(value));
            }
            item.insert("gsi1sk".into(), s(format!("{now:013}#{}", hash(&feedback.address))));
            item.insert("at".into(), n(now));
            if let Some(id) = &feedback.ses_message_id {
                item.insert("ses_message_id".into(), s(id));
            }
            match &feedback.about {
                Some(MailSubject::Link { link_id, profile_id }) => {
                    item.insert("link_id".into(), s(link_id.as_str()));
                    item.insert("profile_id".into(), s(profile_id.as_str()));
                }
                Some(MailSubject::Notice { notice_id, profile_id }) => {
                    item.insert("notice_id".into(), s(notice_id));
                    item.insert("profile_id".into(), s(profile_id.as_str()));
                }
                None => {}
            }
            items.push(
                TransactWriteItem::builder()
                    .put(Put::builder().table_name(&self.table).set_item(Some(item)).build().expect("item set"))
                    .build(),
            );
        }
        if let Some(about) = &feedback.about {
            let consequence = if suppress { "; no further email to it until lifted" } else { "" };
            let link_id = match about {
                MailSubject::Link { link_id, .. } => Some(link_id.to_string()),
                MailSubject::Notice { .. } => None,
            };
            let entry = AuditEntry {
                subject: AuditSubject::Profile(about.profile_id().clone()),
                event: feedback.feedback.event(),
                identity: None,
                link_id,
                request_id: None,
                detail: Some(format!("{} for {}{consequence}", feedback.detail, feedback.address.masked())),
                at: now,
            };
            items.push(self.audit_item(&entry));
        }
        if items.is_empty() {
            return Ok(FeedbackRecorded::default());
        }
        let recorded = FeedbackRecorded { suppressed: suppress, audited: feedback.about.is_some(), marked: false };
        let mark = match (&feedback.about, suppress) {
            (Some(about), true) => Some(self.mark_feedback(about, feedback, now)),
            _ => None,
        };
        if let Some(mark) = mark {
            let mut with_mark = items.clone();
            with_mark.push(mark);
            match self.client.transact_write_items().set_transact_items(Some(with_mark)).send_retrying_conflicts().await
            {
                Ok(_) => return Ok(FeedbackRecorded { marked: true, ..recorded }),
                // Only the item's own condition failed: it expired, or the tags named another profile's item.
                Err(error) if last_condition_failed(&error, items.len()) => {}
                Err(error) => return Err(StoreError::sdk("TransactWriteItems(mail feedback)", error)),
            }
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send_retrying_conflicts()
            .await
            .map_err(|e| StoreError::sdk("TransactWriteItems(mail feedback)", e))?;
        Ok(recorded)
    }

    /// Sets the feedback on the link or notice the email was about.
    fn mark_feedback(&self, about: &MailSubject, feedback: &MailFeedback, now: i64) -> TransactWriteItem {
        let (pk, sk) = match about {
            MailSubject::Link { link_id, .. } => (format!("LINK#{link_id}"), "LINK"),
            MailSubject::Notice { notice_id, .. } => (format!("NOTICE#{notice_id}"), "NOTICE"),
        };
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET mail_feedback = :event, mail_feedback_detail = :detail, mail_feedback_at = :now")
            .condition_expression("attribute_exists(pk) AND profile_id = :profile")
            .expression_attribute_values(":event", s(feedback.feedback.event()))
            .expression_attribute_values(":detail", s(&feedback.detail))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":profile", s(about.profile_id().as_str()))
            .build()
            .expect("key and expressions set");
        TransactWriteItem::builder().update(update).build()
    }

    #[cfg(feature = "operator")]
    /// The suppression of `address`, if there is one.
    pub async fn suppression(&self, address: &RegisteredEmail) -> Result<Option<Suppression>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(suppression_key(address)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem(suppression)", e))?;
        Ok(output.item.as_ref().map(suppression_from))
    }

    #[cfg(feature = "operator")]
    /// Every suppressed address, oldest first (the index is eventually consistent).
    pub async fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(INDEX_PARTITION))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            out.push(suppression_from(&item.map_err(|e| StoreError::sdk("Query(suppressions)", e))?));
        }
        Ok(out)
    }

    #[cfg(feature = "operator")]
    /// Lets mail go to `address` again (an operator's decision: the mailbox
    /// was fixed, the complaint was a mistake). The removed suppression, if
    /// there was one; its profile's audit trail records the lifting.
    pub async fn lift_suppression(
        &self,
        address: &RegisteredEmail,
        by: &str,
        now: i64,
    ) -> Result<Option<Suppression>, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(suppression_key(address)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| StoreError::sdk("DeleteItem(suppression)", e))?;
        let Some(lifted) = output.attributes.as_ref().map(suppression_from) else { return Ok(None) };
        if let Some(profile) = lifted.profile_id.as_deref().and_then(crate::domain::profile::ProfileId::parse) {
            let entry = AuditEntry {
                subject: AuditSubject::Profile(profile),
                event: AuditEvent::Unsuppressed,
                identity: None,
                link_id: None,
                request_id: None,
                detail: Some(format!("suppression of {} ({}) lifted by {by}", address.masked(), lifted.reason)),
                at: now,
            };
            self.audit(&entry).await?;
        }
        Ok(Some(lifted))
    }
}

impl Store {
    /// Marks a pending link or notice (`key`) whose address is suppressed as
    /// never to be sent, with its audit entry, in one transaction; a
    /// redelivery that finds it marked already does nothing.
    pub(crate) async fn mark_suppressed(
        &self,
        key: Item,
        audit: &AuditEntry,
        operation: &'static str,
    ) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            // Never to be sent: out of the outbox's due index too.
            .update_expression("SET #state = :suppressed REMOVE gsi1pk, gsi1sk, next_attempt_at")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":suppressed", s(LinkState::Suppressed))
            .expression_attribute_values(":pending", s(LinkState::Pending))
            .build()
            .expect("key and expressions set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(self.audit_item(audit))
            .send_retrying_conflicts()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The item's condition failed (no longer pending): nothing to mark. A conflict
            // that outlasted the retries is an error, so the audit entry is not dropped.
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(StoreError::sdk(operation, e)),
        }
    }
}

fn last_condition_failed<R>(
    error: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
    index: usize,
) -> bool {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() else {
        return false;
    };
    let reasons = cancelled.cancellation_reasons();
    reasons.get(index).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
        && reasons.iter().take(index).all(|r| matches!(r.code(), None | Some("None")))
}
