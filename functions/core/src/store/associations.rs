//! `IDENTITY#<identity key>` / `PROFILE#<id>`: which profiles a sign-in may
//! act for, and `OWNER#<id>` / `OWNER`: the one identity a profile is linked to.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::audit::{AuditEntry, AuditEvent, AuditSubject};
use super::conflicts::{SendRetryingConflicts, condition_failed};
use super::items::{Item, get_s, n, put_new, s};
use super::logouts::{LogoutCause, logout_event_put};
use super::{Store, StoreError};
use crate::domain::identity::Identity;
use crate::domain::profile::ProfileId;

/// A profile as linked to an identity (what the account page lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedProfile {
    pub profile_id: String,
    pub display_name: String,
    pub organization: String,
    pub linked_at: i64,
}

pub(crate) fn association_key(identity: &Identity, profile_id: &str) -> Item {
    Item::from([
        ("pk".to_owned(), s(format!("IDENTITY#{}", identity.key()))),
        ("sk".to_owned(), s(format!("PROFILE#{profile_id}"))),
    ])
}

/// In a partition of its own, not the profile record's: IAM's `dynamodb:LeadingKeys`
/// sees only partition keys, and redeem-link must write owners but never profiles.
pub(crate) fn owner_key(profile_id: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("OWNER#{profile_id}"))), ("sk".to_owned(), s("OWNER"))])
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlinked {
    Done,
    /// The profile was not linked to this identity (already unlinked, or never).
    NotLinked,
}

impl Store {
    /// Every profile linked to `identity`, in id order (one query).
    pub async fn linked_profiles(&self, identity: &Identity) -> Result<Vec<LinkedProfile>, StoreError> {
        let mut profiles = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :profile)")
            .expression_attribute_values(":pk", s(format!("IDENTITY#{}", identity.key())))
            .expression_attribute_values(":profile", s("PROFILE#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::sdk("Query(associations)", e))?;
            let key = get_s(&item, "association", "sk")?;
            profiles.push(linked_profile(key.trim_start_matches("PROFILE#"), &item, &key));
        }
        Ok(profiles)
    }

    /// Every profile id linked to `identity`, in id order.
    pub async fn linked_profile_ids(&self, identity: &Identity) -> Result<Vec<String>, StoreError> {
        Ok(self.linked_profiles(identity).await?.into_iter().map(|p| p.profile_id).collect())
    }

    /// Removes `identity`'s link to a profile, revokes its pending link for
    /// that profile, and audits it (`by`: who undid it), in one transaction.
    pub async fn unlink(
        &self,
        identity: &Identity,
        profile_id: &ProfileId,
        by: &str,
        now: i64,
    ) -> Result<Unlinked, StoreError> {
        let me = s(identity.key().to_string());
        let delete = |key: Item, condition: Option<&str>| {
            let mut builder = Delete::builder().table_name(&self.table).set_key(Some(key));
            if let Some(condition) = condition {
                builder = builder.condition_expression(condition).expression_attribute_values(":me", me.clone());
            }
            TransactWriteItem::builder().delete(builder.build().expect("key set")).build()
        };
        let pending = Item::from([
            ("pk".to_owned(), s(format!("IDENTITY#{}", identity.key()))),
            ("sk".to_owned(), s(format!("PENDING#{profile_id}"))),
        ]);
        let audit = AuditEntry {
            subject: AuditSubject::Profile(profile_id.clone()),
            event: AuditEvent::Unlinked,
            identity: Some(identity.clone()),
            link_id: None,
            request_id: None,
            detail: Some(format!("by {by}")),
            at: now,
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(delete(
                association_key(identity, profile_id.as_str()),
                Some("attribute_exists(pk) AND identity_key = :me"),
            ))
            .transact_items(delete(owner_key(profile_id.as_str()), Some("identity_key = :me")))
            .transact_items(delete(pending, None))
            .transact_items(self.audit_item(&audit))
            // The portals this identity signed in to while it held the profile hear of it.
            .transact_items(logout_event_put(
                &self.table,
                identity,
                &LogoutCause::ProfileRemoved { profile_id: profile_id.to_string(), how: format!("unlinked by {by}") },
                now,
            ))
            .send_retrying_conflicts()
            .await;
        match result {
            Ok(_) => Ok(Unlinked::Done),
            // Only a failed condition means "not linked"; a conflict that outlasted the retries is an outage.
            Err(e) if condition_failed(&e) => Ok(Unlinked::NotLinked),
            Err(e) => Err(StoreError::sdk("TransactWriteItems(unlink)", e)),
        }
    }
}

impl Store {
    #[cfg(feature = "operator")]
    /// Moves owner items written before owners had their own partition
    /// (`PROFILE#<id>` / `OWNER`) to `OWNER#<id>` / `OWNER`, each in one
    /// transaction (the old item deleted, the new one written unless a
    /// redemption since wrote it); how many it moved. A scan: operator use
    /// only, once per stack, before deploying the version that reads the new key.
    pub async fn migrate_owner_items(&self) -> Result<usize, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :owner AND begins_with(pk, :profile)")
            .expression_attribute_values(":owner", s("OWNER"))
            .expression_attribute_values(":profile", s("PROFILE#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut moved = 0;
        while let Some(item) = pages.next().await {
            let mut item = item.map_err(|e| StoreError::sdk("Scan(old owners)", e))?;
            let old_pk = get_s(&item, "owner", "pk")?;
            let profile_id = old_pk.trim_start_matches("PROFILE#");
            let old_key = Item::from([("pk".to_owned(), s(&old_pk)), ("sk".to_owned(), s("OWNER"))]);
            item.extend(owner_key(profile_id));
            let put = put_new(&self.table, item);
            let delete =
                Delete::builder().table_name(&self.table).set_key(Some(old_key.clone())).build().expect("key set");
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put).build())
                .transact_items(TransactWriteItem::builder().delete(delete).build())
                .send_retrying_conflicts()
                .await;
            match result {
                Ok(_) => moved += 1,
                // A redemption since wrote the new owner: the old item is stale.
                Err(e) if condition_failed(&e) => {
                    self.client
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(old_key))
                        .send()
                        .await
                        .map_err(|e| StoreError::sdk("DeleteItem(stale owner)", e))?;
                }
                Err(e) => return Err(StoreError::sdk("TransactWriteItems(move owner)", e)),
            }
        }
        Ok(moved)
    }
}

/// The association and owner items a successful redemption writes.
pub(crate) fn association_puts(
    table: &str,
    identity: &Identity,
    profile_id: &str,
    display_name: &str,
    organization: &str,
    link_id: &str,
    now: i64,
    owner_condition: (&str, Option<String>),
    directory: Option<(&str, &str)>,
) -> [TransactWriteItem; 2] {
    let mut association = association_key(identity, profile_id);
    for (name, value) in [
        ("kind", "association"),
        ("profile_id", profile_id),
        ("display_name", display_name),
        ("organization", organization),
        ("link_id", link_id),
        ("identity_iss", identity.issuer.as_str()),
        ("identity_sub", identity.subject.as_str()),
    ] {
        association.insert(name.to_owned(), s(value));
    }
    association.insert("identity_key".into(), s(identity.key().to_string()));
    association.insert("linked_at".into(), n(now));

    let mut owner = owner_key(profile_id);
    owner.insert("kind".into(), s("owner"));
    owner.insert("identity_key".into(), s(identity.key().to_string()));
    owner.insert("identity_iss".into(), s(&identity.issuer));
    owner.insert("identity_sub".into(), s(&identity.subject));
    owner.insert("linked_at".into(), n(now));
    if let Some((tid, oid)) = directory {
        for item in [&mut association, &mut owner] {
            item.insert("entra_tid".into(), s(tid));
            item.insert("entra_oid".into(), s(oid));
        }
    }
    let (condition, previous) = owner_condition;
    let mut owner_put = Put::builder().table_name(table).set_item(Some(owner)).condition_expression(condition);
    if let Some(previous) = previous {
        owner_put = owner_put.expression_attribute_values(":previous", AttributeValue::S(previous));
    }
    [
        TransactWriteItem::builder()
            .put(Put::builder().table_name(table).set_item(Some(association)).build().expect("item set"))
            .build(),
        TransactWriteItem::builder().put(owner_put.build().expect("item set")).build(),
    ]
}

/// An association item as the account page lists it.
pub(crate) fn linked_profile(profile_id: &str, item: &Item, key: &str) -> LinkedProfile {
    LinkedProfile {
        profile_id: profile_id.to_owned(),
        display_name: get_s(item, key, "display_name").unwrap_or_default(),
        organization: get_s(item, key, "organization").unwrap_or_default(),
        linked_at: item.get("linked_at").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0),
    }
}
