//! `IDENTITY#<identity key>` / `PROFILE#<id>`: which profiles a sign-in may act for.

use aws_sdk_dynamodb::types::AttributeValue;

use super::items::s;
use super::{Store, StoreError};
use crate::identity::Identity;

impl Store {
    /// Every profile id linked to `identity`, in id order.
    pub async fn linked_profile_ids(&self, identity: &Identity) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :profile)")
            .expression_attribute_values(":pk", s(format!("IDENTITY#{}", identity.key())))
            .expression_attribute_values(":profile", s("PROFILE#"))
            .projection_expression("sk")
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::sdk("Query(associations)", e))?;
            if let Some(AttributeValue::S(sk)) = item.get("sk") {
                if let Some(id) = sk.strip_prefix("PROFILE#") {
                    ids.push(id.to_owned());
                }
            }
        }
        Ok(ids)
    }
}
