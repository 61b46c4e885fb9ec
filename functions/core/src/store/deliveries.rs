//! SES's delivery events on the email of a link or notice: delivered,
//! delayed, rejected (bounces and complaints are in `suppressions.rs`). Each
//! is recorded on the item the email was about (`mail_delivery`, shown by
//! `links list`) and in its profile's audit trail, once per SES message,
//! event and recipient, so a redelivered event changes nothing.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::audit::{AddressHash, AuditEntry, AuditEvent, AuditSubject};
use super::conflicts::SendRetryingConflicts;
use super::conflicts::cancellation_codes;
use super::items::{n, s};
use super::{Store, StoreError};
use crate::domain::email::RegisteredEmail;
use crate::domain::mail_subject::MailSubject;

/// What SES said became of an email it accepted, short of a bounce or complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The recipient's mail server accepted it.
    Delivered,
    /// The recipient's server has not accepted it yet; SES keeps trying.
    Delayed,
    /// SES refused to send it after accepting the call (e.g. a virus found).
    Rejected,
}

impl Delivery {
    /// As stored on the item and shown by `links list`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Delivery::Delivered => "delivered",
            Delivery::Delayed => "delayed",
            Delivery::Rejected => "rejected",
        }
    }

    pub const fn event(self) -> AuditEvent {
        match self {
            Delivery::Delivered => AuditEvent::Delivered,
            Delivery::Delayed => AuditEvent::DeliveryDelayed,
            Delivery::Rejected => AuditEvent::Rejected,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MailDelivery {
    pub address: RegisteredEmail,
    pub delivery: Delivery,
    /// SES's words only (e.g. `MailboxFull`, `Bad content`): never an address.
    pub detail: String,
    pub about: MailSubject,
    pub ses_message_id: String,
}

/// What recording a delivery event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryRecorded {
    Recorded,
    /// The same event was recorded before (SNS delivers at least once).
    AlreadyRecorded,
    /// No such link or notice (gone, or another profile's), or it already
    /// shows a later outcome (a delay after the delivery): nothing written.
    NotApplicable,
}

impl Store {
    /// Records a delivery event in one transaction: the audit entry (keyed by
    /// message, event and recipient, written once) and the outcome on the item.
    pub async fn record_mail_delivery(
        &self,
        delivery: &MailDelivery,
        now: i64,
    ) -> Result<DeliveryRecorded, StoreError> {
        let about = &delivery.about;
        let (pk, sk, link_id) = match about {
            MailSubject::Link { link_id, .. } => (format!("LINK#{link_id}"), "LINK", Some(link_id.to_string())),
            MailSubject::Notice { notice_id, .. } => (format!("NOTICE#{notice_id}"), "NOTICE", None),
        };
        let entry = AuditEntry {
            subject: AuditSubject::Profile(about.profile_id().clone()),
            event: delivery.delivery.event(),
            identity: None,
            link_id,
            request_id: None,
            detail: Some(format!("{} to {}", delivery.detail, delivery.address.masked())),
            at: now,
        };
        let recipient = AddressHash::of(&delivery.address);
        let once = format!(
            "ONCE#{}#{}#{}",
            delivery.delivery.event().as_str(),
            delivery.ses_message_id,
            &recipient.as_str()[..22]
        );
        // A delay never overwrites what came after it (events may arrive out of order).
        let condition = match delivery.delivery {
            Delivery::Delayed => {
                "attribute_exists(pk) AND profile_id = :profile AND (attribute_not_exists(mail_delivery) OR mail_delivery = :delivery)"
            }
            Delivery::Delivered | Delivery::Rejected => "attribute_exists(pk) AND profile_id = :profile",
        };
        let mark = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET mail_delivery = :delivery, mail_delivery_detail = :detail, mail_delivery_at = :now")
            .condition_expression(condition)
            .expression_attribute_values(":delivery", s(delivery.delivery.as_str()))
            .expression_attribute_values(":detail", s(&delivery.detail))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":profile", s(about.profile_id().as_str()))
            .build()
            .expect("key and expressions set");
        let writes = vec![self.audit_item_once(&entry, once), TransactWriteItem::builder().update(mark).build()];
        match self.client.transact_write_items().set_transact_items(Some(writes)).send_retrying_conflicts().await {
            Ok(_) => Ok(DeliveryRecorded::Recorded),
            Err(error) => match error.as_service_error().map(cancellation_codes).unwrap_or_default().as_slice() {
                [Some(_), _] => Ok(DeliveryRecorded::AlreadyRecorded),
                [None, Some(_)] => Ok(DeliveryRecorded::NotApplicable),
                _ => Err(StoreError::sdk("TransactWriteItems(mail delivery)", error)),
            },
        }
    }
}
