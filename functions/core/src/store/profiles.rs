//! `PROFILE#<id>`: profiles imported from the customer system, indexed by
//! registered email in the GSI (`gsi1pk = EMAIL#<address>`).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::items::{Item, get_s, s};
use super::{Store, StoreError};
use crate::domain::email::RegisteredEmail;
use crate::domain::profile::{Profile, ProfileId};

/// DynamoDB's limits per batch call.
pub const BATCH_GET_MAX: usize = 100;
pub const BATCH_WRITE_MAX: usize = 25;
/// Unprocessed items are retried with backoff this many times before giving up.
const UNPROCESSED_RETRIES: u32 = 8;

pub(super) fn key(id: &ProfileId) -> Item {
    Item::from([("pk".to_owned(), s(format!("PROFILE#{id}"))), ("sk".to_owned(), s("PROFILE"))])
}

#[cfg(feature = "operator")]
pub(super) fn to_item(profile: &Profile) -> Item {
    let mut item = key(&profile.id);
    item.insert("kind".into(), s("profile"));
    item.insert("gsi1pk".into(), s(format!("EMAIL#{}", profile.email)));
    item.insert("gsi1sk".into(), s(format!("PROFILE#{}", profile.id)));
    item.insert("profile_id".into(), s(profile.id.as_str()));
    item.insert("email".into(), s(profile.email.as_str()));
    item.insert("display_name".into(), s(&profile.display_name));
    item.insert("organization".into(), s(&profile.organization));
    item
}

pub(super) fn from_item(item: &Item) -> Result<Profile, StoreError> {
    let key = get_s(item, "profile", "pk")?;
    let corrupt = |problem: &str| StoreError::Corrupt { key: key.clone(), problem: problem.to_owned() };
    Ok(Profile {
        id: ProfileId::parse(&get_s(item, &key, "profile_id")?).ok_or_else(|| corrupt("profile_id"))?,
        email: RegisteredEmail::parse(&get_s(item, &key, "email")?).map_err(|_| corrupt("email"))?,
        display_name: get_s(item, &key, "display_name")?,
        organization: get_s(item, &key, "organization").unwrap_or_default(),
    })
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(25u64 << attempt.min(6))).await;
}

impl Store {
    /// The stored versions of up to 100 profiles, by id (absent ids are left out).
    pub async fn get_profiles(&self, ids: &[ProfileId]) -> Result<HashMap<ProfileId, Profile>, StoreError> {
        assert!(ids.len() <= BATCH_GET_MAX, "BatchGetItem takes at most {BATCH_GET_MAX} keys");
        let mut found = HashMap::new();
        if ids.is_empty() {
            return Ok(found);
        }
        let mut keys =
            KeysAndAttributes::builder().set_keys(Some(ids.iter().map(key).collect())).build().expect("keys are set");
        for attempt in 0..=UNPROCESSED_RETRIES {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| StoreError::sdk("BatchGetItem(profiles)", e))?;
            for item in output.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                let profile = from_item(&item)?;
                found.insert(profile.id.clone(), profile);
            }
            match output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                Some(rest) if !rest.keys().is_empty() => {
                    keys = rest;
                    backoff(attempt).await;
                }
                _ => return Ok(found),
            }
        }
        Err(StoreError::Unavailable {
            operation: "BatchGetItem(profiles)",
            message: "keys still unprocessed after retries".into(),
        })
    }

    #[cfg(feature = "operator")]
    /// Writes up to 25 profiles in one batch, retrying unprocessed items with backoff.
    pub async fn put_profiles(&self, profiles: &[Profile]) -> Result<(), StoreError> {
        assert!(profiles.len() <= BATCH_WRITE_MAX, "BatchWriteItem takes at most {BATCH_WRITE_MAX} items");
        let requests: Vec<aws_sdk_dynamodb::types::WriteRequest> = profiles
            .iter()
            .map(|p| {
                aws_sdk_dynamodb::types::WriteRequest::builder()
                    .put_request(
                        aws_sdk_dynamodb::types::PutRequest::builder()
                            .set_item(Some(to_item(p)))
                            .build()
                            .expect("item is set"),
                    )
                    .build()
            })
            .collect();
        self.batch_write(requests, "BatchWriteItem(profiles)").await
    }

    #[cfg(feature = "operator")]
    /// One BatchWriteItem of at most 25 requests, retrying unprocessed ones with backoff.
    pub(super) async fn batch_write(
        &self,
        mut requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
        operation: &'static str,
    ) -> Result<(), StoreError> {
        for attempt in 0..=UNPROCESSED_RETRIES {
            if requests.is_empty() {
                return Ok(());
            }
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| StoreError::sdk(operation, e))?;
            requests = output.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
            if !requests.is_empty() {
                backoff(attempt).await;
            }
        }
        if requests.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Unavailable {
                operation,
                message: format!("{} items still unprocessed after retries", requests.len()),
            })
        }
    }

    /// Every profile registered under `email` (GSI query, strongly ordered by id).
    pub async fn profiles_by_email(&self, email: &RegisteredEmail) -> Result<Vec<Profile>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :email AND begins_with(gsi1sk, :profile)")
            .expression_attribute_values(":email", AttributeValue::S(format!("EMAIL#{email}")))
            .expression_attribute_values(":profile", s("PROFILE#"))
            .into_paginator()
            .items()
            .send();
        let mut profiles = Vec::new();
        while let Some(item) = pages.next().await {
            profiles.push(from_item(&item.map_err(|e| StoreError::sdk("Query(gsi1 profiles)", e))?)?);
        }
        Ok(profiles)
    }
}

/// That the profile is still registered under `email` (the address a link
/// was sent to): a link, or its renewal, proves only the address it reached.
/// Checked in the writing transaction itself, so neither an import since nor
/// the eventually consistent address index can let an old address through.
pub(crate) fn still_registered_under(
    table: &str,
    profile_id: &str,
    email: &str,
) -> aws_sdk_dynamodb::types::TransactWriteItem {
    aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .condition_check(
            aws_sdk_dynamodb::types::ConditionCheck::builder()
                .table_name(table)
                .key("pk", s(format!("PROFILE#{profile_id}")))
                .key("sk", s("PROFILE"))
                .condition_expression("email = :email")
                .expression_attribute_values(":email", s(email))
                .build()
                .expect("key and condition set"),
        )
        .build()
}
