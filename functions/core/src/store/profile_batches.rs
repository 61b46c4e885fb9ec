//! The import's batch calls on `PROFILE#<id>` items, each attempted once: the
//! import paces its writes to the table's capacity and retries throttling
//! itself, so it must see every throttle rather than have the SDK absorb
//! some and give up on others. What a write costs in write units is here too,
//! next to the item layout that decides it.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::items::Item;
use super::profiles::{BATCH_GET_MAX, BATCH_WRITE_MAX, from_item, key, to_item};
use super::{Store, StoreError};
use crate::domain::profile::{Profile, ProfileId};

/// One attempt has this long: a batch of 25 writes on a busy emulator can take
/// seconds, and a retried batch write only writes the same items again.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// DynamoDB's error codes for "too much, slow down".
const THROTTLING_CODES: [&str; 3] =
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"];

/// How one attempt at a batch call ended. Any other failure (a bad request,
/// a missing table, no credentials) is a [`StoreError`]: retrying cannot help.
#[derive(Debug)]
pub enum Attempt<T> {
    /// DynamoDB answered: what it did, including what it left unprocessed.
    Answered(T),
    /// Refused by throttling: nothing of it was done.
    Throttled(String),
    /// No usable answer (a timeout, a dropped connection, a 5xx): nothing is
    /// known to be done, and sending it again is safe.
    Unanswered(String),
}

/// What a [`Store::get_profiles_once`] answered.
#[derive(Debug, Default)]
pub struct ProfilesRead {
    pub found: HashMap<ProfileId, Profile>,
    /// Keys DynamoDB did not read this time (its answer when a partition is throttled).
    pub unprocessed: Vec<ProfileId>,
}

/// DynamoDB's size of an item: each attribute's name and value in bytes
/// (numbers about one byte per two digits; lists and maps 3 bytes plus 1 per element).
fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, e)| 1 + k.len() + value_size(e)).sum::<usize>(),
        _ => 0,
    }
}

/// Write units of writing one item of `size` bytes: one per KB started.
fn units_of(size: usize) -> u32 {
    u32::try_from(size.div_ceil(1024).max(1)).unwrap_or(u32::MAX)
}

/// Write units that writing `profile` costs: the item, plus its entry in the
/// address index (`gsi1`, projecting every attribute), plus removing the old
/// entry when the address, the index key, changed.
pub fn write_units(profile: &Profile, stored: Option<&Profile>) -> u32 {
    let item = units_of(item_size(&to_item(profile)));
    let old_index_entry = match stored {
        Some(old) if old.email != profile.email => units_of(item_size(&to_item(old))),
        _ => 0,
    };
    item + item + old_index_entry
}

impl<T> Attempt<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Answered(answer) => Attempt::Answered(f(answer)),
            Attempt::Throttled(why) => Attempt::Throttled(why),
            Attempt::Unanswered(why) => Attempt::Unanswered(why),
        }
    }
}

/// A call's outcome as an [`Attempt`], or the error retrying cannot fix.
fn attempt<T, E>(operation: &'static str, sent: Result<T, SdkError<E, HttpResponse>>) -> Result<Attempt<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let error = match sent {
        Ok(answer) => return Ok(Attempt::Answered(answer)),
        Err(error) => error,
    };
    let line = crate::aws::error_line(&error);
    match &error {
        SdkError::ServiceError(service) if service.err().code().is_some_and(|c| THROTTLING_CODES.contains(&c)) => {
            Ok(Attempt::Throttled(line))
        }
        SdkError::ServiceError(service) if service.raw().status().is_server_error() => Ok(Attempt::Unanswered(line)),
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Ok(Attempt::Unanswered(line)),
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => Ok(Attempt::Unanswered(line)),
        _ => Err(StoreError::sdk(operation, error)),
    }
}

/// One attempt, no SDK retries, a generous timeout (see [`ATTEMPT_TIMEOUT`]).
fn once() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::default()
        .retry_config(RetryConfig::disabled())
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(ATTEMPT_TIMEOUT).build())
}

impl Store {
    /// One BatchWriteItem of up to 25 profiles, sent once: answers with the
    /// profiles DynamoDB left unprocessed, for the caller to send again.
    pub async fn put_profiles_once(&self, profiles: &[Profile]) -> Result<Attempt<Vec<Profile>>, StoreError> {
        const OPERATION: &str = "BatchWriteItem(profiles)";
        assert!(profiles.len() <= BATCH_WRITE_MAX, "BatchWriteItem takes at most {BATCH_WRITE_MAX} items");
        if profiles.is_empty() {
            return Ok(Attempt::Answered(Vec::new()));
        }
        let requests = profiles
            .iter()
            .map(|p| {
                let put = PutRequest::builder().set_item(Some(to_item(p))).build().expect("item is set");
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        let request = self.client.batch_write_item().request_items(&self.table, requests);
        let sent = attempt(OPERATION, request.customize().config_override(once()).send().await)?;
        Ok(sent.map(|output| {
            let unprocessed: Vec<String> = output
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|request| match request.put_request?.item.remove("profile_id")? {
                    AttributeValue::S(id) => Some(id),
                    _ => None,
                })
                .collect();
            profiles.iter().filter(|p| unprocessed.iter().any(|id| id == p.id.as_str())).cloned().collect()
        }))
    }

    /// One BatchGetItem of up to 100 profiles, sent once (absent ids are left out).
    pub async fn get_profiles_once(&self, ids: &[ProfileId]) -> Result<Attempt<ProfilesRead>, StoreError> {
        const OPERATION: &str = "BatchGetItem(profiles)";
        assert!(ids.len() <= BATCH_GET_MAX, "BatchGetItem takes at most {BATCH_GET_MAX} keys");
        let mut read = ProfilesRead::default();
        if ids.is_empty() {
            return Ok(Attempt::Answered(read));
        }
        let keys =
            KeysAndAttributes::builder().set_keys(Some(ids.iter().map(key).collect())).build().expect("keys are set");
        let request = self.client.batch_get_item().request_items(&self.table, keys);
        let output = match attempt(OPERATION, request.customize().config_override(once()).send().await)? {
            Attempt::Answered(output) => output,
            Attempt::Throttled(why) => return Ok(Attempt::Throttled(why)),
            Attempt::Unanswered(why) => return Ok(Attempt::Unanswered(why)),
        };
        for item in output.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
            let profile = from_item(&item)?;
            read.found.insert(profile.id.clone(), profile);
        }
        if let Some(rest) = output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
            read.unprocessed = rest
                .keys()
                .iter()
                .filter_map(|key| match key.get("pk") {
                    Some(AttributeValue::S(pk)) => pk.strip_prefix("PROFILE#").and_then(ProfileId::parse),
                    _ => None,
                })
                .collect();
        }
        Ok(Attempt::Answered(read))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::email::RegisteredEmail;

    fn profile(email: &str) -> Profile {
        Profile {
            id: ProfileId::parse("CUST-0000001").unwrap(),
            email: RegisteredEmail::parse(email).unwrap(),
            display_name: "Customer 1".into(),
            organization: "Company 1".into(),
        }
    }

    #[test]
    fn a_profile_costs_its_item_and_its_index_entry_and_an_address_change_the_old_entry_too() {
        let new = profile("customer1@example.com");
        assert_eq!(write_units(&new, None), 2, "a new profile: item + index entry");
        let renamed = Profile { display_name: "Customer One".into(), ..new.clone() };
        assert_eq!(write_units(&renamed, Some(&new)), 2, "same address: the index entry is rewritten in place");
        let moved = profile("customer1@example.org");
        assert_eq!(write_units(&moved, Some(&new)), 3, "new address: the old index entry is deleted too");
    }

    #[test]
    fn an_item_is_sized_as_dynamodb_sizes_it() {
        let item = Item::from([
            ("pk".to_owned(), AttributeValue::S("PROFILE#é".into())),
            ("n".to_owned(), AttributeValue::N("12345".into())),
            ("l".to_owned(), AttributeValue::L(vec![AttributeValue::Bool(true)])),
        ]);
        // "pk" 2 + 10 bytes (é is two), "n" 1 + 4 (5 digits: 3 + 1), "l" 1 + 3 + 1 + 1.
        assert_eq!(item_size(&item), 23, "saw {}", item_size(&item));
        assert_eq!((units_of(0), units_of(1024), units_of(1025)), (1, 1, 2));
        let big = Profile { display_name: "x".repeat(1100), ..profile("a@example.com") };
        assert_eq!(write_units(&big, None), 4, "an item over 1 KB costs 2 units, and so does its index entry");
    }
}
