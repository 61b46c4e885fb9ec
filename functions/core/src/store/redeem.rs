//! Redemption: a link is consumed exactly once by one conditional
//! transaction that also writes the association, the profile's owner, the
//! audit entry and the notice to the registered address.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::associations::{association_key, association_puts, owner_key};
use super::audit::AuditEvent;

use super::conflicts::{SendRetryingConflicts, TransientCancellation};
use super::items::{Item, get_s, n, s};
use super::link_record::{LinkRecord, LinkState, link_key};
pub use super::link_record::{StoredLink, audit};
use super::logouts::{LogoutCause, logout_event_put};
use super::{Store, StoreError};
use crate::domain::identity::Identity;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Linked; `replaced` names the identity the profile was linked to before.
    Linked {
        replaced: Option<Identity>,
    },
    /// The profile was already linked to this identity; the link is consumed.
    AlreadyLinked,
    /// Someone (possibly this identity, a moment ago) used the link first.
    Used,
    Superseded,
    Expired,
    /// The profile is no longer registered under the address the link was sent to.
    AddressChanged,
}

/// The owner item's place in a redemption transaction (see [`Store::explain`]).
const OWNER_ITEM: usize = 4;

fn stored_link(item: Item) -> Result<StoredLink, StoreError> {
    let key = get_s(&item, "link", "pk")?;
    let siblings = match item.get("siblings") {
        Some(AttributeValue::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    };
    let record = super::link_record::link_record(&key, &item)?;
    Ok(StoredLink {
        record,
        verifier_hash: get_s(&item, &key, "verifier_hash").ok(),
        used_by: get_s(&item, &key, "used_by").ok(),
        siblings,
    })
}

/// What the notice to the registered address says (sent by send-emails from the stream).
fn notice(
    table: &str,
    link: &LinkRecord,
    identity_label: &str,
    identity_provider: &str,
    replaced: bool,
    now: i64,
) -> TransactWriteItem {
    let id = crate::random::token(16);
    let mut item = Item::from([
        ("pk".to_owned(), s(format!("NOTICE#{id}"))),
        ("sk".to_owned(), s("NOTICE")),
        ("kind".to_owned(), s("notice")),
        ("state".to_owned(), s(LinkState::Pending)),
        ("notice_id".to_owned(), s(&id)),
        ("email".to_owned(), s(&link.email)),
        ("profile_id".to_owned(), s(&link.profile_id)),
        ("display_name".to_owned(), s(&link.display_name)),
        ("organization".to_owned(), s(&link.organization)),
        ("identity_label".to_owned(), s(identity_label)),
        ("identity_provider".to_owned(), s(identity_provider)),
        ("locale".to_owned(), s(if link.locale.is_empty() { "en" } else { &link.locale })),
        ("created_at".to_owned(), n(now)),
        ("expires_at".to_owned(), n(now + 7 * 24 * 3600)),
    ]);
    item.insert("replaced".into(), AttributeValue::Bool(replaced));
    super::outbox::enter_outbox(&mut item, now);
    TransactWriteItem::builder()
        .put(Put::builder().table_name(table).set_item(Some(item)).build().expect("item set"))
        .build()
}

impl Store {
    /// The link by its id (the token's selector), read strongly consistently.
    pub async fn get_link(&self, link_id: &str) -> Result<Option<StoredLink>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(link_key(link_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem(link)", e))?;
        output.item.map(stored_link).transpose()
    }

    /// The identity a profile is linked to, if any.
    pub async fn owner_of(&self, profile_id: &str) -> Result<Option<Identity>, StoreError> {
        Ok(self.owner_record(profile_id).await?.map(|(identity, _)| identity))
    }

    /// The owner, with Entra's (tenant, object id) when the link was made at Entra.
    pub async fn owner_record(
        &self,
        profile_id: &str,
    ) -> Result<Option<(Identity, Option<(String, String)>)>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(owner_key(profile_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem(owner)", e))?;
        Ok(output.item.and_then(|item| {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            let identity = Identity::new(text("identity_iss")?, text("identity_sub")?);
            Some((identity, text("entra_tid").zip(text("entra_oid"))))
        }))
    }

    /// Consumes `link` for `identity` (already checked to be the identity that
    /// asked, with a matching verifier) and links the profile. Exactly one of
    /// any number of concurrent calls can succeed: the link's state moves from
    /// sent to used under a condition, in the same transaction as every other write.
    /// `directory`: Entra's (tenant, object id) of the sign-in, kept with the link and in the audit.
    pub async fn redeem_link(
        &self,
        link: &StoredLink,
        identity: &Identity,
        directory: Option<(&str, &str)>,
        now: i64,
    ) -> Result<Redemption, StoreError> {
        let record = &link.record;
        let verifier_hash = link.verifier_hash.clone().unwrap_or_default();
        let me = identity.key().to_string();
        let consume = |event: AuditEvent| {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(link_key(&record.link_id)))
                .update_expression("SET #state = :used, used_at = :now, used_by = :me, outcome = :event")
                .condition_expression("#state IN (:sent, :sending) AND verifier_hash = :hash AND expires_at > :now")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":used", s(LinkState::Used))
                .expression_attribute_values(":sent", s(LinkState::Sent))
                .expression_attribute_values(":sending", s(LinkState::Sending))
                .expression_attribute_values(":hash", s(&verifier_hash))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":me", s(&me))
                .expression_attribute_values(":event", s(event))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .expect("key and expressions set")
        };
        let pointer = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(format!("IDENTITY#{}", identity.key())))
            .key("sk", s(format!("PENDING#{}", record.profile_id)))
            .condition_expression("link_id = :id")
            .expression_attribute_values(":id", s(&record.link_id))
            .build()
            .expect("key set");

        // The profile's current owner decides between a new link, a replacement and "already yours".
        let mut previous: Option<Identity> = None;
        for _ in 0..3 {
            if previous.as_ref() == Some(identity) {
                let items = vec![
                    TransactWriteItem::builder().update(consume(AuditEvent::AlreadyLinked)).build(),
                    TransactWriteItem::builder().delete(pointer.clone()).build(),
                    super::profiles::still_registered_under(&self.table, &record.profile_id, &record.email),
                    self.audit_item(&audit(record, AuditEvent::AlreadyLinked, identity, None, now)),
                ];
                return match self.transact(items).await? {
                    None => Ok(Redemption::AlreadyLinked),
                    Some(reasons) => self.explain(&reasons, identity),
                };
            }
            let (condition, bound) = match &previous {
                None => ("attribute_not_exists(pk)", None),
                Some(other) => ("identity_key = :previous", Some(other.key().to_string())),
            };
            let [association, owner] = association_puts(
                &self.table,
                identity,
                &record.profile_id,
                &record.display_name,
                &record.organization,
                &record.link_id,
                now,
                (condition, bound),
                directory,
            );
            let event = if previous.is_some() { AuditEvent::Replaced } else { AuditEvent::Linked };
            let replaced = previous.as_ref().map(|p| format!("replaced the link to {} at {}", p.subject, p.issuer));
            let entra = directory.map(|(tid, oid)| format!("Entra tenant {tid}, object {oid}"));
            let detail = match (replaced, entra) {
                (Some(replaced), Some(entra)) => Some(format!("{replaced}; {entra}")),
                (replaced, entra) => replaced.or(entra),
            };
            let mut items = vec![
                TransactWriteItem::builder().update(consume(event)).build(),
                TransactWriteItem::builder().delete(pointer.clone()).build(),
                super::profiles::still_registered_under(&self.table, &record.profile_id, &record.email),
                association,
                owner,
                self.audit_item(&audit(record, event, identity, detail, now)),
                notice(&self.table, record, &record.identity_label, &record.identity_provider, previous.is_some(), now),
            ];
            if let Some(other) = &previous {
                // The portals the previous identity signed in to hear that it lost the profile.
                let taken = LogoutCause::ProfileRemoved {
                    profile_id: record.profile_id.to_string(),
                    how: "linked to another sign-in".into(),
                };
                items.push(logout_event_put(&self.table, other, &taken, now));
                items.push(
                    TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&self.table)
                                .set_key(Some(association_key(other, &record.profile_id)))
                                .build()
                                .expect("key set"),
                        )
                        .build(),
                );
            }
            match self.transact(items).await? {
                None => return Ok(Redemption::Linked { replaced: previous }),
                Some(reasons)
                    if reasons.get(OWNER_ITEM).is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed"))
                        && reasons[..OWNER_ITEM].iter().all(Option::is_none) =>
                {
                    // The owner changed under us: read who owns it now and try again.
                    previous = self.owner_of(&record.profile_id).await?;
                    continue;
                }
                Some(reasons) => return self.explain(&reasons, identity),
            }
        }
        Err(StoreError::Unavailable {
            operation: "TransactWriteItems(redeem)",
            message: "the profile's owner kept changing".into(),
        })
    }

    /// Runs a transaction; `Some(codes)` (one per item) when it was cancelled.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Option<Vec<Option<String>>>, StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send_retrying_conflicts().await {
            Ok(_) => Ok(None),
            Err(error) => match error.as_service_error() {
                // A conflict or throttling that outlasted the retries: nothing was decided, so not "used".
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if TransientCancellation::of_reasons(cancelled.cancellation_reasons()).is_none() =>
                {
                    Ok(Some(
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                            .collect(),
                    ))
                }
                _ => Err(StoreError::sdk("TransactWriteItems(redeem)", error)),
            },
        }
    }

    /// Why a redemption transaction was cancelled: by the items' order
    /// (the link, its pointer, the profile's address, the owner).
    fn explain(&self, reasons: &[Option<String>], _identity: &Identity) -> Result<Redemption, StoreError> {
        let failed = |i: usize| reasons.get(i).is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed"));
        if failed(0) {
            // The link's own condition: used (or burned) by now, or expired.
            return Ok(Redemption::Used);
        }
        if failed(1) {
            return Ok(Redemption::Superseded);
        }
        if failed(2) {
            return Ok(Redemption::AddressChanged);
        }
        Err(StoreError::Unavailable {
            operation: "TransactWriteItems(redeem)",
            message: format!("cancelled: {reasons:?}"),
        })
    }

    /// Burns one link (signed in as another identity, or "this wasn't me"),
    /// if it is still unused; audits it either way. `true` if it was burned now.
    pub async fn burn_link(
        &self,
        link: &StoredLink,
        identity: &Identity,
        event: AuditEvent,
        detail: Option<String>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(link_key(&link.record.link_id)))
            .update_expression("SET #state = :burned, burned_at = :now, outcome = :event")
            .condition_expression("#state IN (:pending, :sending, :sent)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":burned", s(LinkState::Burned))
            .expression_attribute_values(":pending", s(LinkState::Pending))
            .expression_attribute_values(":sending", s(LinkState::Sending))
            .expression_attribute_values(":sent", s(LinkState::Sent))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":event", s(event))
            .build()
            .expect("key and expressions set");
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.audit_item(&audit(&link.record, event, identity, detail, now)),
        ];
        Ok(self.transact(items).await?.is_none())
    }

    /// "This wasn't me": burns every still-unused link of the link's request;
    /// how many it burned now. `detail` says where the person said so.
    pub async fn burn_request(
        &self,
        link: &StoredLink,
        identity: &Identity,
        detail: Option<&str>,
        now: i64,
    ) -> Result<usize, StoreError> {
        let mut burned = 0;
        let mut ids = link.siblings.clone();
        if !ids.iter().any(|id| id == link.record.link_id.as_str()) {
            ids.push(link.record.link_id.to_string());
        }
        for id in ids {
            if let Some(sibling) = self.get_link(&id).await? {
                let detail = detail.map(str::to_owned);
                if self.burn_link(&sibling, identity, AuditEvent::ReportedNotMe, detail, now).await? {
                    burned += 1;
                }
            }
        }
        Ok(burned)
    }
}
