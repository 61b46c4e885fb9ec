//! `AUDIT#…`: one item per step of a link's life, kept for the audit trail.
//! Audit items expire by TTL after the retention period (default 400 days).
//!
//! Every association request is also recorded under the address it named
//! (`AUDIT#ADDRESS#<hash>`, the hash the suppressions are keyed by) and under
//! the identity that asked (`AUDIT#IDENTITY#<key>`), matched or not, refused
//! by a rate limit or not, so support can answer "why didn't I get my email?"
//! from the address the person typed. Those request records are kept for
//! [`REQUEST_RECORD_RETENTION_SECONDS`].

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::items::{Item, n, put_new, s};
use super::{Store, StoreError};
use crate::domain::email::RegisteredEmail;
use crate::domain::identity::{Identity, IdentityKey};
use crate::domain::profile::ProfileId;
use crate::random;

/// How long audit items are kept unless the store is told otherwise
/// ([`Store::with_audit_retention`]).
pub const DEFAULT_AUDIT_RETENTION_SECONDS: i64 = 400 * 24 * 3600;

/// How long request records (by address and by identity) are kept: 90 days,
/// or the audit retention if that is shorter. Long enough for a support
/// ticket about a missing email to arrive weeks later; short because most of
/// these records are about addresses no profile is registered under (typos,
/// strangers), whose owners are no customers: what is kept about them is
/// kept no longer than support needs it.
pub const REQUEST_RECORD_RETENTION_SECONDS: i64 = 90 * 24 * 3600;

/// Refusals recorded per rate counter and window: the record of a refused
/// request is bounded like the requests themselves (one per identity, limit
/// and window for an address; at most this many per counter), so a flood the
/// limits refuse cannot flood the table instead.
pub const REFUSALS_RECORDED_PER_WINDOW: u32 = 10;

/// What an audit entry records. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditEvent {
    /// A person asked for links to the profiles under an address.
    Requested,
    /// A person asked, and no profile is registered under the address.
    RequestedUnmatched,
    /// A person asked and a rate limit refused it: nothing else was written.
    RateLimited,
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
    /// The recipient's mail server accepted the email (SES delivery event).
    Delivered,
    /// The recipient's mail server has not accepted the email yet; SES retries.
    DeliveryDelayed,
    /// SES refused to send the email after accepting it (e.g. a virus).
    Rejected,
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
    pub const ALL: [AuditEvent; 27] = [
        AuditEvent::Requested,
        AuditEvent::RequestedUnmatched,
        AuditEvent::RateLimited,
        AuditEvent::SupportRequested,
        AuditEvent::Sent,
        AuditEvent::SendUnconfirmed,
        AuditEvent::SendFailed,
        AuditEvent::Suppressed,
        AuditEvent::Bounced,
        AuditEvent::Complained,
        AuditEvent::Delivered,
        AuditEvent::DeliveryDelayed,
        AuditEvent::Rejected,
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
            AuditEvent::RateLimited => "rate_limited",
            AuditEvent::SupportRequested => "support_requested",
            AuditEvent::Sent => "sent",
            AuditEvent::SendUnconfirmed => "send_unconfirmed",
            AuditEvent::SendFailed => "send_failed",
            AuditEvent::Suppressed => "suppressed",
            AuditEvent::Bounced => "bounced",
            AuditEvent::Complained => "complained",
            AuditEvent::Delivered => "delivered",
            AuditEvent::DeliveryDelayed => "delivery_delayed",
            AuditEvent::Rejected => "rejected",
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
            // A refusal follows the requests that spent the budget.
            AuditEvent::RateLimited | AuditEvent::SendFailed => 1,
            // A send, or the decision not to send to a suppressed address.
            AuditEvent::Sent | AuditEvent::SendUnconfirmed | AuditEvent::Suppressed => 2,
            // What SES said of it next; before any click.
            AuditEvent::DeliveryDelayed | AuditEvent::Delivered | AuditEvent::Rejected => 3,
            AuditEvent::RefusedExpired
            | AuditEvent::RefusedUsed
            | AuditEvent::RefusedSuperseded
            | AuditEvent::RefusedAddressChanged
            | AuditEvent::WrongIdentity
            | AuditEvent::ReportedNotMe => 4,
            AuditEvent::Linked | AuditEvent::Replaced | AuditEvent::AlreadyLinked => 5,
            AuditEvent::Unlinked => 6,
            AuditEvent::PortalLoggedOut | AuditEvent::PortalLogoutAbandoned => 7,
            AuditEvent::Bounced | AuditEvent::Complained | AuditEvent::Unsuppressed | AuditEvent::Revoked => 7,
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
    /// Requests (matched, unmatched, refused) are recorded under the identity
    /// that asked; so are back-channel logouts of no profile.
    Identity(IdentityKey),
    /// Requests, under the address they named ([`AddressHash`]).
    Address(AddressHash),
}

/// An address as request records are keyed: SHA-256 of the normalised
/// address, as suppressions are, so the address never appears in a key and
/// support finds the records from the address the person typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressHash(String);

impl AddressHash {
    pub fn of(address: &RegisteredEmail) -> Self {
        Self(random::sha256_b64(address.as_str().as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AuditSubject {
    fn partition(&self) -> String {
        match self {
            AuditSubject::Profile(id) => format!("AUDIT#PROFILE#{id}"),
            AuditSubject::Identity(key) => format!("AUDIT#IDENTITY#{key}"),
            AuditSubject::Address(hash) => format!("AUDIT#ADDRESS#{}", hash.as_str()),
        }
    }
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
    /// A request record (by address or identity), kept for the shorter retention.
    fn is_request_record(&self) -> bool {
        !matches!(self.subject, AuditSubject::Profile(_))
            && matches!(self.event, AuditEvent::Requested | AuditEvent::RequestedUnmatched | AuditEvent::RateLimited)
    }

    fn attributes(&self, retention_seconds: i64) -> Item {
        let retention_seconds = if self.is_request_record() {
            retention_seconds.min(REQUEST_RECORD_RETENTION_SECONDS)
        } else {
            retention_seconds
        };
        let mut item = Item::from([
            ("pk".to_owned(), s(self.subject.partition())),
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

    /// An entry as one write of a transaction under a key of the caller's
    /// choosing (`sk`), written only if none is there yet: the transaction is
    /// refused when it is (a refusal recorded once per window).
    pub(crate) fn audit_item_once(&self, entry: &AuditEntry, sk: String) -> TransactWriteItem {
        let mut item = entry.attributes(self.audit_retention_seconds);
        item.insert("sk".into(), s(sk));
        TransactWriteItem::builder().put(put_new(&self.table, item)).build()
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
        self.put_new_item(item, "PutItem(audit once)").await
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
        self.timeline(&AuditSubject::Profile(profile.clone())).await
    }

    #[cfg(feature = "operator")]
    /// Every request recorded for an address (matched, unmatched or refused), oldest first.
    pub async fn audit_by_address(&self, address: &RegisteredEmail) -> Result<Vec<AuditRecord>, StoreError> {
        self.timeline(&AuditSubject::Address(AddressHash::of(address))).await
    }

    #[cfg(feature = "operator")]
    /// Every request an identity made, and what else is recorded under it, oldest first.
    pub async fn audit_by_identity(&self, identity: &Identity) -> Result<Vec<AuditRecord>, StoreError> {
        self.timeline(&AuditSubject::Identity(identity.key())).await
    }

    #[cfg(feature = "operator")]
    async fn timeline(&self, subject: &AuditSubject) -> Result<Vec<AuditRecord>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(subject.partition()))
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
    AuditEvent::parse(event).map_or(7, AuditEvent::lifecycle_step)
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
