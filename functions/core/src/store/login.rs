//! `LOGIN#<state>`: an OIDC sign-in in progress, bound to one browser, used once.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};

use super::conflicts::SendRetryingConflicts;
use super::items::{Item, get_bool, get_n, get_s, n, put_new, s};
use super::requests::rate_counter;
use super::{Store, StoreError};
use crate::domain::provider_id::ProviderId;
use crate::domain::rate_limit::RateLimits;
use crate::domain::return_to::ReturnTo;
use crate::random;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginTransaction {
    pub state: String,
    /// The provider the sign-in was started with: only its callback may complete it.
    pub provider: ProviderId,
    /// SHA-256 of the browser-binding cookie: the callback must come from the
    /// browser that started the sign-in.
    pub browser_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: ReturnTo,
    pub force_reauthentication: bool,
    /// When the person was sent to the provider (our clock): a fresh sign-in
    /// is one the provider reports at or after this.
    pub started_at: i64,
    pub expires_at: i64,
}

fn key(state: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("LOGIN#{state}"))), ("sk".to_owned(), s("LOGIN"))])
}

/// Whether a sign-in could start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRecorded {
    Recorded,
    /// The client's network started too many sign-ins in this window: nothing
    /// was written; try again after `retry_after` seconds.
    RateLimited {
        retry_after: i64,
    },
}

impl Store {
    /// Stores a sign-in transaction, counted against `client_network`'s
    /// sign-ins this window in the same transaction: the item is written
    /// before the provider answers, so an unlimited client could grow the table.
    pub async fn put_login(
        &self,
        tx: &LoginTransaction,
        client_network: &str,
        limits: &RateLimits,
        now: i64,
    ) -> Result<LoginRecorded, StoreError> {
        let mut item = key(&tx.state);
        item.insert("kind".into(), s("login"));
        item.insert("provider".into(), s(tx.provider.as_str()));
        item.insert("browser_hash".into(), s(&tx.browser_hash));
        item.insert("nonce".into(), s(&tx.nonce));
        item.insert("pkce_verifier".into(), s(&tx.pkce_verifier));
        item.insert("return_to".into(), s(tx.return_to.as_str()));
        item.insert("force_reauthentication".into(), AttributeValue::Bool(tx.force_reauthentication));
        item.insert("started_at".into(), n(tx.started_at));
        item.insert("expires_at".into(), n(tx.expires_at));
        let (window_start, window_end) = limits.window(now);
        let counter = rate_counter(
            &self.table,
            format!("RATE#SIGN-IN#{client_network}"),
            window_start,
            window_end,
            limits.sign_ins_per_ip,
        );
        // A 256-bit state never collides; if it ever did, refuse rather than overwrite.
        let put = put_new(&self.table, item);
        let result = self
            .client
            .transact_write_items()
            .transact_items(counter)
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send_retrying_conflicts()
            .await;
        match result {
            Ok(_) => Ok(LoginRecorded::Recorded),
            Err(error) => {
                let over = match error.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
                        .cancellation_reasons()
                        .first()
                        .and_then(|r| r.code())
                        .is_some_and(|c| c == "ConditionalCheckFailed"),
                    _ => false,
                };
                if over {
                    Ok(LoginRecorded::RateLimited { retry_after: (window_end - now).max(1) })
                } else {
                    Err(StoreError::sdk("TransactWriteItems(login)", error))
                }
            }
        }
    }

    /// Takes the transaction in one conditional update: it exists, belongs to
    /// this browser, has not expired and was not taken by another call. `None`
    /// when any of that fails; a failed condition changes nothing, so a foreign
    /// browser cannot burn it.
    ///
    /// Not a delete: when DynamoDB takes it but answers after the attempt
    /// timeout, the SDK sends the same request again, which would then find
    /// nothing and refuse a genuine person. The update marks it taken by a
    /// taker id minted for this call, which every retry of the call carries, so
    /// a retry is answered like the first attempt and any other call is refused.
    /// The item then expires by TTL (`expires_at`).
    pub async fn take_login(
        &self,
        state: &str,
        browser_hash: &str,
        now: i64,
    ) -> Result<Option<LoginTransaction>, StoreError> {
        let taker = random::token(16);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(state)))
            .update_expression("SET taken_by = :taker")
            .condition_expression(
                "attribute_exists(pk) AND browser_hash = :browser AND expires_at > :now \
                 AND (attribute_not_exists(taken_by) OR taken_by = :taker)",
            )
            .expression_attribute_values(":browser", s(browser_hash))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":taker", s(&taker))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let taken = match result {
            Ok(output) => output.attributes,
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(StoreError::sdk("UpdateItem(take login)", e)),
        };
        let Some(item) = taken else { return Ok(None) };
        let item_key = format!("LOGIN#{}", &state[..state.len().min(8)]);
        let return_to = get_s(&item, &item_key, "return_to")?;
        Ok(Some(LoginTransaction {
            state: state.to_owned(),
            provider: ProviderId::parse(&get_s(&item, &item_key, "provider")?).ok_or_else(|| StoreError::Corrupt {
                key: item_key.clone(),
                problem: "provider is not a provider id".into(),
            })?,
            browser_hash: get_s(&item, &item_key, "browser_hash")?,
            nonce: get_s(&item, &item_key, "nonce")?,
            pkce_verifier: get_s(&item, &item_key, "pkce_verifier")?,
            return_to: ReturnTo::parse_or_root(Some(&return_to)),
            force_reauthentication: get_bool(&item, "force_reauthentication"),
            // A transaction stored before `started_at` was: its expiry, the strictest reading.
            started_at: get_n(&item, &item_key, "started_at").or_else(|_| get_n(&item, &item_key, "expires_at"))?,
            expires_at: get_n(&item, &item_key, "expires_at")?,
        }))
    }
}
