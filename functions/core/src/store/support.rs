//! What support asks of the table (`profile-link-admin links …`): which
//! sign-in a profile is linked to and which links were made for it, what an
//! identity has, and undoing either. Reads go to the items the functions
//! write; nothing here needs an index of its own.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use serde::Serialize;

use super::LinkState;
use super::associations::{LinkedProfile, Unlinked};
use super::audit::AuditEvent;
use super::items::{Item, get_s, s};
use super::redeem::StoredLink;
use super::{BATCH_WRITE_MAX, Store, StoreError};
use crate::domain::identity::Identity;
use crate::domain::profile::ProfileId;

/// One link as support sees it (never its verifier).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkView {
    pub link_id: String,
    pub profile_id: String,
    /// `pending`, `sending`, `sent`, `sent (unconfirmed)` (SES did not answer),
    /// `refused` (SES will never send it), `used`, `burned`, or `expired`
    /// (past its lifetime unused, or never sent within the outbox's hold).
    pub state: String,
    pub identity_iss: String,
    pub identity_sub: String,
    /// The masked address the link was sent to.
    pub sent_to: String,
    /// What became of its email: `not sent`, `not sent yet (quota_spent,
    /// next attempt …)`, `not sent (refused by SES: MessageRejected)`, `sent`
    /// (SES accepted it), `delivered`, `delayed`, `rejected`, `bounced
    /// (Permanent/General)`, `complained (abuse)`.
    pub email: String,
    pub created_at: i64,
    /// Sent: when it stops working. Unsent: when the outbox gives up on it
    /// (its lifetime then counts from the send: `lifetime_seconds`).
    pub expires_at: i64,
    pub sent_at: Option<i64>,
    pub lifetime_seconds: i64,
    pub support_initiated: bool,
}

impl LinkView {
    fn of(link: &StoredLink, masked_address: String, now: i64) -> Self {
        let record = &link.record;
        let state = match record.state {
            state if state.is_open() && record.expires_at <= now => "expired".to_owned(),
            LinkState::Sent if record.send_unconfirmed => "sent (unconfirmed)".to_owned(),
            state => state.to_string(),
        };
        Self {
            link_id: record.link_id.to_string(),
            profile_id: record.profile_id.to_string(),
            state,
            identity_iss: record.identity_iss.clone(),
            identity_sub: record.identity_sub.clone(),
            sent_to: masked_address,
            email: mail_outcome(record),
            created_at: record.created_at,
            expires_at: record.expires_at,
            sent_at: record.sent_at,
            lifetime_seconds: record.lifetime_seconds(),
            support_initiated: record.support_initiated(),
        }
    }
}

/// What became of a link's email, most telling first: SES's feedback (a
/// bounce or complaint), else its delivery event, else whether it was sent.
fn mail_outcome(record: &super::LinkRecord) -> String {
    match (&record.mail_feedback, &record.mail_feedback_detail, &record.mail_delivery) {
        (Some(feedback), Some(detail), _) => format!("{feedback} ({detail})"),
        (Some(feedback), None, _) => feedback.clone(),
        (None, _, Some(delivery)) => delivery.clone(),
        (None, _, None) => match (record.state, record.sent_at) {
            (LinkState::Suppressed, _) => "not sent (suppressed)".to_owned(),
            (LinkState::Refused, _) => {
                format!("not sent (refused by SES: {})", record.last_refusal.as_deref().unwrap_or("unknown"))
            }
            (LinkState::Pending, None) => match (&record.last_refusal, record.next_attempt_at) {
                (Some(refusal), Some(at)) => {
                    format!("not sent yet ({refusal}, next attempt {})", crate::clock::format_utc(at))
                }
                _ => "not sent".to_owned(),
            },
            (_, None) => "not sent".to_owned(),
            _ if record.send_unconfirmed => "sent (unconfirmed)".to_owned(),
            _ => "sent".to_owned(),
        },
    }
}

/// The sign-in a profile is linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub identity_iss: String,
    pub identity_sub: String,
    /// Entra's tenant and object id, for a link made at Entra.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entra_tid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entra_oid: Option<String>,
}

/// Everything support can see about one profile's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileLinks {
    pub profile_id: String,
    pub linked_to: Option<Owner>,
    /// Links made for the profile that still exist (links expire from the
    /// table after their lifetime; the audit trail keeps their history).
    pub links: Vec<LinkView>,
}

/// Everything support can see about one sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityLinks {
    pub identity_iss: String,
    pub identity_sub: String,
    pub linked_profiles: Vec<String>,
    /// The identity's newest link per profile it asked for.
    pub links: Vec<LinkView>,
}

impl Store {
    /// The profile's owner and every link its audit trail names that still exists.
    pub async fn links_for_profile(&self, profile: &ProfileId, now: i64) -> Result<ProfileLinks, StoreError> {
        let owner = self.owner_record(profile.as_str()).await?;
        let ids: BTreeSet<String> =
            self.audit_trail(profile).await?.into_iter().filter_map(|record| record.link_id).collect();
        let mut links = Vec::new();
        for id in ids {
            if let Some(link) = self.get_link(&id).await? {
                links.push(LinkView::of(&link, crate::domain::identity::mask_email(&link.record.email), now));
            }
        }
        links.sort_by_key(|l| (l.created_at, l.link_id.clone()));
        Ok(ProfileLinks {
            profile_id: profile.to_string(),
            linked_to: owner.map(|(i, directory)| Owner {
                identity_iss: i.issuer,
                identity_sub: i.subject,
                entra_tid: directory.as_ref().map(|(tid, _)| tid.clone()),
                entra_oid: directory.map(|(_, oid)| oid),
            }),
            links,
        })
    }

    /// The profiles an identity is linked to and its newest link per profile it asked for.
    pub async fn links_for_identity(&self, identity: &Identity, now: i64) -> Result<IdentityLinks, StoreError> {
        let linked: Vec<LinkedProfile> = self.linked_profiles(identity).await?;
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :pending)")
            .expression_attribute_values(":pk", s(format!("IDENTITY#{}", identity.key())))
            .expression_attribute_values(":pending", s("PENDING#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut links = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::sdk("Query(pending links)", e))?;
            let id = get_s(&item, "pending pointer", "link_id")?;
            if let Some(link) = self.get_link(&id).await? {
                links.push(LinkView::of(&link, crate::domain::identity::mask_email(&link.record.email), now));
            }
        }
        Ok(IdentityLinks {
            identity_iss: identity.issuer.clone(),
            identity_sub: identity.subject.clone(),
            linked_profiles: linked.into_iter().map(|p| p.profile_id).collect(),
            links,
        })
    }

    /// Burns one unused link on support's word; `false` if it was already used, burned or gone.
    pub async fn revoke_link(&self, link_id: &str, operator: &str, now: i64) -> Result<bool, StoreError> {
        let Some(link) = self.get_link(link_id).await? else { return Ok(false) };
        let identity = link.record.identity();
        self.burn_link(&link, &identity, AuditEvent::Revoked, Some(format!("by {operator}")), now).await
    }

    /// Burns every still-unused link of a profile (those its audit trail
    /// names), each audited as `revoked` with `reason`; how many it burned.
    /// An import calls it when a profile's address changes: a link proves only
    /// the address it was sent to.
    pub async fn revoke_unused_links(&self, profile: &ProfileId, reason: &str, now: i64) -> Result<usize, StoreError> {
        let ids: BTreeSet<String> =
            self.audit_trail(profile).await?.into_iter().filter_map(|record| record.link_id).collect();
        let mut revoked = 0;
        for id in ids {
            let Some(link) = self.get_link(&id).await? else { continue };
            if !link.state().is_open() {
                continue;
            }
            let identity = link.record.identity();
            if self.burn_link(&link, &identity, AuditEvent::Revoked, Some(reason.to_owned()), now).await? {
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// Undoes a profile's link to its sign-in on support's word; the identity it was linked to, if any.
    pub async fn revoke_owner(
        &self,
        profile: &ProfileId,
        operator: &str,
        now: i64,
    ) -> Result<Option<Identity>, StoreError> {
        let Some(owner) = self.owner_of(profile.as_str()).await? else { return Ok(None) };
        match self.unlink(&owner, profile, operator, now).await? {
            Unlinked::Done => Ok(Some(owner)),
            // Unlinked by someone else between the read and the write.
            Unlinked::NotLinked => Ok(None),
        }
    }

    /// Every imported profile's id, page by page (a scan: operator use only).
    pub async fn all_profile_ids(&self) -> Result<BTreeSet<ProfileId>, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :profile AND begins_with(pk, :prefix)")
            .expression_attribute_values(":profile", s("PROFILE"))
            .expression_attribute_values(":prefix", s("PROFILE#"))
            .projection_expression("profile_id")
            .into_paginator()
            .items()
            .send();
        let mut ids = BTreeSet::new();
        while let Some(item) = pages.next().await {
            let item: Item = item.map_err(|e| StoreError::sdk("Scan(profiles)", e))?;
            if let Some(id) = item.get("profile_id").and_then(|v| v.as_s().ok()).and_then(|v| ProfileId::parse(v)) {
                ids.insert(id);
            }
        }
        Ok(ids)
    }

    /// Deletes up to 25 profiles (their `PROFILE` items; links to them stay
    /// until revoked, and the audit trail keeps their history).
    pub async fn delete_profiles(&self, ids: &[ProfileId]) -> Result<(), StoreError> {
        assert!(ids.len() <= BATCH_WRITE_MAX, "BatchWriteItem takes at most {BATCH_WRITE_MAX} items");
        let requests: Vec<WriteRequest> = ids
            .iter()
            .map(|id| {
                let key = Item::from([
                    ("pk".to_owned(), AttributeValue::S(format!("PROFILE#{id}"))),
                    ("sk".to_owned(), s("PROFILE")),
                ]);
                WriteRequest::builder()
                    .delete_request(DeleteRequest::builder().set_key(Some(key)).build().expect("key is set"))
                    .build()
            })
            .collect();
        self.batch_write(requests, "BatchWriteItem(delete profiles)").await
    }
}
