//! `AUDIT#…`: one item per step of a link's life, kept for the audit trail.
//! Audit items expire by TTL after the retention period (default 400 days).

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::items::{Item, n, s};
use super::{Store, StoreError};
use crate::domain::identity::{Identity, IdentityKey};
use crate::domain::profile::ProfileId;
use crate::random;

/// How long audit items are kept unless the store is told otherwise
/// ([`Store::with_audit_retention`]).
pub const DEFAULT_AUDIT_RETENTION_SECONDS: i64 = 400 * 24 * 3600;

/// What an audit entry records. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditEvent {
    /// A person asked for links to the profiles under an address.
    Requested,
    /// A person asked, and no profile is registered under the address.
    RequestedUnmatched,
    /// An operator sent a link on the person's behalf.
    SupportRequested,
    /// SES accepted a link's email.
    Sent,
    /// SES did not answer a send: the email may or may not have arrived.
    SendUnconfirmed,
    /// Written by earlier versions when a send failed; still read in old trails.
    SendFailed,
    /// Not sent: the address is suppressed after a bounce or complaint.
    Suppressed,
    /// The address bounced (SES feedback).
    Bounced,
    /// The address's owner marked an email as spam (SES feedback).
    Complained,
    /// An operator lifted an address's suppression.
    Unsuppressed,
    /// A redemption refused: the link had expired.
    RefusedExpired,
    /// A redemption refused: the link was used or cancelled.
    RefusedUsed,
    /// A redemption refused: a newer link replaced it.
    RefusedSuperseded,
    /// A redemption refused: the profile is no longer registered under the link's address.
    RefusedAddressChanged,
    /// Another identity tried to redeem the link: it links nothing and is burned.
    WrongIdentity,
    /// The inbox's owner said "this wasn't me": the request's links are burned.
    ReportedNotMe,
    /// An operator revoked the link.
    Revoked,
    /// The profile was linked to the identity.
    Linked,
    /// The profile was linked to the identity in place of another.
    Replaced,
    /// The profile was already linked to the identity.
    AlreadyLinked,
    /// The link between the profile and an identity was removed.
    Unlinked,
    /// A portal accepted a logout token (back-channel logout).
    PortalLoggedOut,
    /// A portal never accepted a logout token: retries gave up.
    PortalLogoutAbandoned,
}

impl AuditEvent {
    pub const ALL: [AuditEvent; 23] = [
        AuditEvent::Requested,
        AuditEvent::RequestedUnmatched,
        AuditEvent::SupportRequested,
        AuditEvent::Sent,
        AuditEvent::SendUnconfirmed,
        AuditEvent::SendFailed,
        AuditEvent::Suppressed,
        AuditEvent::Bounced,
        AuditEvent::Complained,
        AuditEvent::Unsuppressed,
        AuditEvent::RefusedExpired,
        AuditEvent::RefusedUsed,
        AuditEvent::RefusedSuperseded,
        AuditEvent::RefusedAddressChanged,
        AuditEvent::WrongIdentity,
        AuditEvent::ReportedNotMe,
        AuditEvent::Revoked,
        AuditEvent::Linked,
        AuditEvent::Replaced,
        AuditEvent::AlreadyLinked,
        AuditEvent::Unlinked,
        AuditEvent::PortalLoggedOut,
        AuditEvent::PortalLogoutAbandoned,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AuditEvent::Requested => "requested",
            AuditEvent::RequestedUnmatched => "requested_unmatched",
            AuditEvent::SupportRequested => "support_requested",
            AuditEvent::Sent => "sent",
            AuditEvent::SendUnconfirmed => "send_unconfirmed",
            AuditEvent::SendFailed => "send_failed",
            AuditEvent::Suppressed => "suppressed",
            AuditEvent::Bounced => "bounced",
            AuditEvent::Complained => "complained",
            AuditEvent::Unsuppressed => "unsuppressed",
            AuditEvent::RefusedExpired => "refused_expired",
            AuditEvent::RefusedUsed => "refused_used",
            AuditEvent::RefusedSuperseded => "refused_superseded",
            AuditEvent::RefusedAddressChanged => "refused_address_changed",
            AuditEvent::WrongIdentity => "wrong_identity",
            AuditEvent::ReportedNotMe => "reported_not_me",
            AuditEvent::Revoked => "revoked",
            AuditEvent::Linked => "linked",
            AuditEvent::Replaced => "replaced",
            AuditEvent::AlreadyLinked => "already_linked",
            AuditEvent::Unlinked => "unlinked",
            AuditEvent::PortalLoggedOut => "portal_logged_out",
            AuditEvent::PortalLogoutAbandoned => "portal_logout_abandoned",
        }
    }

    /// The event an item's `event` attribute names, if it is one.
    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == stored)
    }

    #[cfg(feature = "operator")]
    /// Where the event falls in a link's life, to order a trail's events of
    /// the same second: asked, sent (or not), refused, linked, unlinked.
    fn lifecycle_step(self) -> u8 {
        match self {
            AuditEvent::Requested | AuditEvent::RequestedUnmatched | AuditEvent::SupportRequested => 0,
            AuditEvent::SendFailed => 1,
            // A send, or the decision not to send to a suppressed address.
            AuditEvent::Sent | AuditEvent::SendUnconfirmed | AuditEvent::Suppressed => 2,
            AuditEvent::RefusedExpired
            | AuditEvent::RefusedUsed
            | AuditEvent::RefusedSuperseded
            | AuditEvent::RefusedAddressChanged
            | AuditEvent::WrongIdentity
            | AuditEvent::ReportedNotMe => 3,
            AuditEvent::Linked | AuditEvent::Replaced | AuditEvent::AlreadyLinked => 4,
            AuditEvent::Unlinked => 5,
            AuditEvent::PortalLoggedOut | AuditEvent::PortalLogoutAbandoned => 6,
            AuditEvent::Bounced | AuditEvent::Complained | AuditEvent::Unsuppressed | AuditEvent::Revoked => 6,
        }
    }
}

impl From<AuditEvent> for String {
    fn from(event: AuditEvent) -> Self {
        event.as_str().to_owned()
    }
}

impl std::fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose timeline an audit entry belongs to.
#[derive(Debug, Clone)]
pub enum AuditSubject {
    Profile(ProfileId),
    /// Requests that matched no profile are recorded under the identity that asked.
    Identity(IdentityKey),
}

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub subject: AuditSubject,
    pub event: AuditEvent,
    pub identity: Option<Identity>,
    pub link_id: Option<String>,
    pub request_id: Option<String>,
    /// A short, log-safe detail (never a token or full email address).
    pub detail: Option<String>,
    pub at: i64,
}

impl AuditEntry {
    fn attributes(&self, retention_seconds: i64) -> Item {
        let pk = match &self.subject {
            AuditSubject::Profile(id) => format!("AUDIT#PROFILE#{id}"),
            AuditSubject::Identity(key) => format!("AUDIT#IDENTITY#{key}"),
        };
        let mut item = Item::from([
            ("pk".to_owned(), s(pk)),
            // Time-ordered, unique even for two events in the same millisecond.
            ("sk".to_owned(), s(format!("{:013}#{}#{}", self.at * 1000, self.event.as_str(), random::token(6)))),
            ("kind".to_owned(), s("audit")),
            ("event".to_owned(), s(self.event.as_str())),
            ("at".to_owned(), n(self.at)),
            ("expires_at".to_owned(), n(self.at + retention_seconds)),
        ]);
        if let Some(identity) = &self.identity {
            item.insert("identity_iss".into(), s(&identity.issuer));
            item.insert("identity_sub".into(), s(&identity.subject));
        }
        for (name, value) in [("link_id", &self.link_id), ("request_id", &self.request_id), ("detail", &self.detail)] {
            if let Some(value) = value {
                item.insert(name.into(), s(value));
            }
        }
        item
    }
}

impl Store {
    /// An audit entry as one write of a transaction, kept for the store's retention.
    pub(crate) fn audit_item(&self, entry: &AuditEntry) -> TransactWriteItem {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(entry.attributes(self.audit_retention_seconds)))
                    .build()
                    .expect("item set"),
            )
            .build()
    }

    /// Records one audit entry on its own (outcomes that change nothing else).
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(entry.attributes(self.audit_retention_seconds)))
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem(audit)", e))?;
        Ok(())
    }
}

impl Store {
    /// Records an entry only if none of its kind exists yet for its link and
    /// identity (refusals: a replayed link adds nothing); `false` if one did.
    pub async fn audit_once(&self, entry: &AuditEntry) -> Result<bool, StoreError> {
        let mut item = entry.attributes(self.audit_retention_seconds);
        let identity = entry.identity.as_ref().map(|i| random::sha256_b64(i.key().as_str().as_bytes()));
        let once = format!(
            "ONCE#{}#{}#{}",
            entry.event.as_str(),
            entry.link_id.as_deref().unwrap_or("-"),
            identity.as_deref().map(|h| &h[..22]).unwrap_or("-")
        );
        item.insert("sk".into(), s(once));
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
            Err(e) => Err(StoreError::sdk("PutItem(audit once)", e)),
        }
    }
}

/// One entry of a timeline, as read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub at: i64,
    pub event: String,
    pub identity_iss: Option<String>,
    pub identity_sub: Option<String>,
    pub link_id: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

impl Store {
    #[cfg(feature = "operator")]
    /// A profile's audit timeline, oldest first.
    pub async fn audit_trail(&self, profile: &ProfileId) -> Result<Vec<AuditRecord>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("AUDIT#PROFILE#{profile}")))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::sdk("Query(audit)", e))?;
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            out.push(AuditRecord {
                at: item.get("at").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0),
                event: text("event").unwrap_or_default(),
                identity_iss: text("identity_iss"),
                identity_sub: text("identity_sub"),
                link_id: text("link_id"),
                request_id: text("request_id"),
                detail: text("detail"),
            });
        }
        // The key orders by second; within one second, follow the link's lifecycle.
        out.sort_by_key(|r| (r.at, lifecycle_step(&r.event)));
        Ok(out)
    }
}

#[cfg(feature = "operator")]
/// A stored event's place in a link's life; events this version does not know go last.
fn lifecycle_step(event: &str) -> u8 {
    AuditEvent::parse(event).map_or(6, AuditEvent::lifecycle_step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_is_stored_as_its_own_name_and_read_back() {
        let mut names = std::collections::BTreeSet::new();
        for event in AuditEvent::ALL {
            assert!(names.insert(event.as_str()), "{event:?}'s name {:?} is used twice", event.as_str());
            assert_eq!(AuditEvent::parse(event.as_str()), Some(event), "{:?} read back", event.as_str());
        }
        assert_eq!(AuditEvent::parse("superseded"), None, "not an audit event");
    }

    #[cfg(feature = "operator")]
    #[test]
    fn a_trail_of_one_second_follows_a_links_life_and_unknown_events_go_last() {
        let order = ["requested", "sent", "refused_used", "linked", "unlinked", "from_a_newer_version"];
        let steps: Vec<u8> = order.iter().map(|e| lifecycle_step(e)).collect();
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "{order:?} gave steps {steps:?}");
    }
}
