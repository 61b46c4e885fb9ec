//! `CODE#<hash of the code>` / `CODE`: an authorization code issued to a
//! portal, and the grant the token endpoint answers for it (the downstream
//! side's `Grant`, stored as JSON: the store keeps it, it does not read it).
//! Only the code's SHA-256 is stored. The code is good until `valid_until`;
//! the item stays until `expires_at`, after every access token issued for it
//! has expired, so `/userinfo` can tell that its code was replayed.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::conflicts::{SendRetryingConflicts, condition_failed};
use super::items::{Item, get_bool, get_s, n, put_new, s};
use super::logouts::{PortalSession, portal_session_put};
use super::{Store, StoreError};
use crate::domain::identity::Identity;

/// What taking a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeTaken<G> {
    /// The first use: the grant.
    First(G),
    /// The code was used before: a replay (RFC 9700 §4.5). Its grant, so
    /// the caller can log whose it was.
    Replayed(G),
    /// No such code, or it has expired.
    Unknown,
}

fn key(code_key: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("CODE#{code_key}"))), ("sk".to_owned(), s("CODE"))])
}

fn grant_of<G: DeserializeOwned>(item: &Item, code_key: &str) -> Result<G, StoreError> {
    let item_key = format!("CODE#{}", &code_key[..code_key.len().min(8)]);
    serde_json::from_str(&get_s(item, &item_key, "grant")?)
        .map_err(|e| StoreError::Corrupt { key: item_key, problem: format!("grant: {e}") })
}

impl Store {
    /// Stores a new code's grant (a code is 256 random bits, so it never
    /// exists yet: the condition only guards against a bug). For a portal that
    /// takes logout tokens, what it is told in this session is recorded in the
    /// same transaction (`store::logouts`), so no code leaves without it.
    pub async fn put_code<G: Serialize>(
        &self,
        code_key: &str,
        grant: &G,
        valid_until: i64,
        expires_at: i64,
        portal_session: Option<(&Identity, &PortalSession, i64)>,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(grant).expect("a grant serializes");
        let mut item = key(code_key);
        item.insert("kind".into(), s("authorization_code"));
        item.insert("grant".into(), s(json));
        item.insert("valid_until".into(), n(valid_until));
        item.insert("expires_at".into(), n(expires_at));
        let collided =
            || StoreError::Corrupt { key: "CODE#".into(), problem: "a new code collided with an old one".into() };
        if let Some((identity, session, now)) = portal_session {
            let code = put_new(&self.table, item);
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(code).build())
                .transact_items(
                    TransactWriteItem::builder().put(portal_session_put(&self.table, identity, session, now)).build(),
                )
                .send_retrying_conflicts()
                .await;
            return match result {
                Ok(_) => Ok(()),
                Err(e) if condition_failed(&e) => Err(collided()),
                Err(e) => Err(StoreError::sdk("TransactWriteItems(code, portal session)", e)),
            };
        }
        if self.put_new_item(item, "PutItem(code)").await? { Ok(()) } else { Err(collided()) }
    }

    /// Uses a code, once: one conditional write marks it used if it exists,
    /// is still valid and was never used. A second use finds it used and
    /// marks it replayed, which ends the access tokens issued for it.
    pub async fn take_code<G: DeserializeOwned>(&self, code_key: &str, now: i64) -> Result<CodeTaken<G>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(code_key)))
            .update_expression("SET used_at = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(used_at) AND valid_until > :now")
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) => Ok(CodeTaken::First(grant_of(&item, code_key)?)),
                None => Ok(CodeTaken::Unknown),
            },
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => match failed.item {
                    Some(item) if item.contains_key("used_at") => {
                        let grant = grant_of(&item, code_key)?;
                        self.mark_code_replayed(code_key).await?;
                        Ok(CodeTaken::Replayed(grant))
                    }
                    // Absent, or unused but expired.
                    _ => Ok(CodeTaken::Unknown),
                },
                other => Err(StoreError::Unavailable { operation: "UpdateItem(code)", message: other.to_string() }),
            },
        }
    }

    async fn mark_code_replayed(&self, code_key: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(code_key)))
            .update_expression("SET replayed = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(StoreError::sdk("UpdateItem(code replayed)", e)),
            })
    }

    /// The grant behind an access token, unless its code was replayed
    /// (strongly consistent, so a replay is seen at once).
    pub async fn grant_for_access_token<G: DeserializeOwned>(&self, code_key: &str) -> Result<Option<G>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(code_key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem(code)", e))?;
        match output.item {
            Some(item) if !get_bool(&item, "replayed") => Ok(Some(grant_of(&item, code_key)?)),
            _ => Ok(None),
        }
    }
}
