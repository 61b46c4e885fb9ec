//! Reading and writing attribute maps without repeating the same match arms.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put};

use super::{Store, StoreError};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn get_s(item: &Item, key: &str, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Corrupt { key: key.to_owned(), problem: format!("{name} is not a string") }),
    }
}

pub(crate) fn get_n(item: &Item, key: &str, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt { key: key.to_owned(), problem: format!("{name} is not an integer") }),
        _ => Err(StoreError::Corrupt { key: key.to_owned(), problem: format!("{name} is not a number") }),
    }
}

pub(crate) fn get_bool(item: &Item, name: &str) -> bool {
    matches!(item.get(name), Some(AttributeValue::Bool(true)))
}

/// A write of an item that must not exist yet: its key taken refuses it
/// (a collision, or a record kept once), never overwrites.
pub(crate) fn put_new(table: &str, item: Item) -> Put {
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .expect("item set")
}

impl Store {
    /// [`put_new`] on its own: `Ok(true)` written, `Ok(false)` its key was taken.
    pub(crate) async fn put_new_item(&self, item: Item, operation: &'static str) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(StoreError::sdk(operation, e)),
        }
    }
}
