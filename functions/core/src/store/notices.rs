//! `NOTICE#<id>`: "your profile is now linked to …", written by redemption in
//! its transaction and sent to the registered address by send-emails.

use aws_sdk_dynamodb::types::ReturnValue;
use serde::Deserialize;

use super::items::{Item, n, s};
use super::{Store, StoreError};

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
    /// Claims a notice for sending; `false` if it is sent or being sent already.
    pub async fn claim_notice(
        &self,
        id: &str,
        claim_id: &str,
        now: i64,
        stale_claim_seconds: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression("SET #state = :sending, claim_id = :claim, claimed_at = :now")
            .condition_expression("#state = :pending OR (#state = :sending AND claimed_at < :stale)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - stale_claim_seconds))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(StoreError::sdk("UpdateItem(claim notice)", e)),
        }
    }

    /// Records the outcome of a claimed notice: sent (with SES's id) or released for a retry.
    pub async fn settle_notice(
        &self,
        id: &str,
        claim_id: &str,
        ses_message_id: Option<&str>,
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
        let request = match ses_message_id {
            Some(message) => request
                .update_expression("SET #state = :sent, ses_message_id = :message, sent_at = :now REMOVE claim_id")
                .expression_attribute_values(":sent", s("sent"))
                .expression_attribute_values(":message", s(message))
                .expression_attribute_values(":now", n(now)),
            None => request
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
