//! `CODE#<hash of the code>` / `CODE`: an authorization code issued to a
//! portal, and what the token endpoint answers for it. Only the code's
//! SHA-256 is stored. The code is good for [`CODE_TTL_SECONDS`]; the item
//! stays until every access token issued for it has expired, so `/userinfo`
//! can tell that its code was replayed.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};

use super::items::{Item, get_bool, get_s, n, s};
use super::{Store, StoreError};
use crate::domain::identity::Identity;
use crate::downstream::{ACCESS_TOKEN_TTL_SECONDS, CODE_TTL_SECONDS, PersonClaims};

/// What a code was issued for: the request it answers and the person, as
/// the token endpoint will put them into the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: String,
    pub scopes: Vec<String>,
    /// The upstream identity, for `/userinfo`'s fresh read of its profiles.
    pub identity_issuer: String,
    pub identity_subject: String,
    /// The session the code was issued in: its id and generation, so a
    /// signed-out session's access tokens stop working.
    pub session_id: String,
    pub session_generation: u64,
    pub auth_time: i64,
    pub person: PersonClaims,
    pub issued_at: i64,
}

impl Grant {
    pub fn identity(&self) -> Identity {
        Identity::new(self.identity_issuer.clone(), self.identity_subject.clone())
    }
}

/// What taking a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeTaken {
    /// The first use: the grant.
    First(Grant),
    /// The code was used before: a replay (RFC 9700 §4.5). Its grant, so
    /// the caller can log whose it was.
    Replayed(Grant),
    /// No such code, or it has expired.
    Unknown,
}

fn key(code_key: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("CODE#{code_key}"))), ("sk".to_owned(), s("CODE"))])
}

fn grant_of(item: &Item, code_key: &str) -> Result<Grant, StoreError> {
    let item_key = format!("CODE#{}", &code_key[..code_key.len().min(8)]);
    serde_json::from_str(&get_s(item, &item_key, "grant")?)
        .map_err(|e| StoreError::Corrupt { key: item_key, problem: format!("grant: {e}") })
}

impl Store {
    /// Stores a new code's grant (one put; a code is 256 random bits, so it
    /// never exists yet: the condition only guards against a bug).
    pub async fn put_code(&self, code_key: &str, grant: &Grant) -> Result<(), StoreError> {
        let json = serde_json::to_string(grant).expect("a grant serializes");
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(key(code_key)))
            .item("kind", s("authorization_code"))
            .item("grant", s(json))
            .item("valid_until", n(grant.issued_at + CODE_TTL_SECONDS))
            .item("expires_at", n(grant.issued_at + CODE_TTL_SECONDS + ACCESS_TOKEN_TTL_SECONDS + 60))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Err(StoreError::Corrupt { key: "CODE#".into(), problem: "a new code collided with an old one".into() })
            }
            Err(e) => Err(StoreError::sdk("PutItem(code)", e)),
        }
    }

    /// Uses a code, once: one conditional write marks it used if it exists,
    /// is still valid and was never used. A second use finds it used and
    /// marks it replayed, which ends the access tokens issued for it.
    pub async fn take_code(&self, code_key: &str, now: i64) -> Result<CodeTaken, StoreError> {
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
    pub async fn grant_for_access_token(&self, code_key: &str) -> Result<Option<Grant>, StoreError> {
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
