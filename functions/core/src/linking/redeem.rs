//! Confirming a link (seed step 9): the person who clicked it, signed in
//! again after the click, either links the profile (one conditional
//! transaction: the link is used once) or says the request was not theirs.
//! Every refusal is recorded on the profile's audit trail, once per link,
//! identity and kind of refusal.

use crate::domain::identity::Identity;
use crate::store::audit::{AuditEntry, AuditEvent};
use crate::store::redeem::{Redemption, StoredLink, audit};
use crate::store::{LinkState, Store, StoreError};

/// The table as confirming a link needs it.
pub trait RedeemStorage: Sync {
    fn redeem_link(
        &self,
        link: &StoredLink,
        identity: &Identity,
        directory: Option<(&str, &str)>,
        now: i64,
    ) -> impl Future<Output = Result<Redemption, StoreError>> + Send;
    fn burn_link(
        &self,
        link: &StoredLink,
        identity: &Identity,
        event: AuditEvent,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn burn_request(
        &self,
        link: &StoredLink,
        identity: &Identity,
        detail: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
    fn audit_once(&self, entry: &AuditEntry) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

impl RedeemStorage for Store {
    fn redeem_link(
        &self,
        link: &StoredLink,
        identity: &Identity,
        directory: Option<(&str, &str)>,
        now: i64,
    ) -> impl Future<Output = Result<Redemption, StoreError>> + Send {
        Store::redeem_link(self, link, identity, directory, now)
    }
    fn burn_link(
        &self,
        link: &StoredLink,
        identity: &Identity,
        event: AuditEvent,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        Store::burn_link(self, link, identity, event, None, now)
    }
    fn burn_request(
        &self,
        link: &StoredLink,
        identity: &Identity,
        detail: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        Store::burn_request(self, link, identity, detail, now)
    }
    fn audit_once(&self, entry: &AuditEntry) -> impl Future<Output = Result<bool, StoreError>> + Send {
        Store::audit_once(self, entry)
    }
}

/// What the person asked for on the confirmation page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// "Link this profile to my sign-in".
    Link,
    /// "I didn't ask for this": the request's unused links are cancelled.
    NotMe,
}

/// A confirmation: the link its token opened, who is signed in, and whether
/// that sign-in happened after the link was clicked (the handler knows the
/// click from its cookie).
#[derive(Debug, Clone, Copy)]
pub struct Confirmation<'a> {
    pub link: &'a StoredLink,
    pub identity: &'a Identity,
    /// The sign-in's directory (Entra's tenant and object id), recorded with the association.
    pub directory: Option<(&'a str, &'a str)>,
    pub signed_in_since_click: bool,
    pub choice: Choice,
}

/// Why a link cannot be used, whoever asks. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// It was used.
    Used,
    /// It was cancelled ("not me", another identity tried it, an operator revoked it).
    Cancelled,
    /// Past its lifetime, unused: a new one may be asked for.
    Expired,
}

/// What a confirmation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// The link could not be used; the attempt is audited.
    Unusable(Unusable),
    /// The sign-in is older than the click: sign in again first. Nothing changed.
    NeedsFreshSignIn,
    /// The request was reported as not asked for: `burned` unused links of it cancelled.
    ReportedNotMe { burned: usize },
    /// Another identity opened the link: it links nothing, is cancelled, and is audited.
    WrongIdentity,
    /// The redemption's own answer; its refusals are audited.
    Redeemed(Redemption),
}

/// Confirms a link, or refuses and says why.
pub async fn confirm(
    store: &impl RedeemStorage,
    confirmation: Confirmation<'_>,
    now: i64,
) -> Result<Confirmed, StoreError> {
    let Confirmation { link, identity, directory, signed_in_since_click, choice } = confirmation;
    // Used, cancelled or expired links say so whoever asks; only the attempt is recorded.
    let unusable = match link.state() {
        LinkState::Used => Some((Unusable::Used, AuditEvent::RefusedUsed)),
        LinkState::Burned => Some((Unusable::Cancelled, AuditEvent::RefusedUsed)),
        _ if link.record.expires_at <= now => Some((Unusable::Expired, AuditEvent::RefusedExpired)),
        _ => None,
    };
    if let Some((unusable, event)) = unusable {
        audit_refusal(store, link, identity, event, now).await;
        return Ok(Confirmed::Unusable(unusable));
    }
    // Every change below must come from a sign-in made after this link was clicked.
    if !signed_in_since_click {
        return Ok(Confirmed::NeedsFreshSignIn);
    }
    if choice == Choice::NotMe {
        let burned = store.burn_request(link, identity, None, now).await?;
        return Ok(Confirmed::ReportedNotMe { burned });
    }
    if link.record.identity() != *identity {
        store.burn_link(link, identity, AuditEvent::WrongIdentity, now).await?;
        return Ok(Confirmed::WrongIdentity);
    }
    let redemption = store.redeem_link(link, identity, directory, now).await?;
    let refused = match redemption {
        Redemption::Used => Some(AuditEvent::RefusedUsed),
        Redemption::Superseded => Some(AuditEvent::RefusedSuperseded),
        Redemption::AddressChanged => Some(AuditEvent::RefusedAddressChanged),
        Redemption::Linked { .. } | Redemption::AlreadyLinked | Redemption::Expired => None,
    };
    if let Some(event) = refused {
        audit_refusal(store, link, identity, event, now).await;
    }
    Ok(Confirmed::Redeemed(redemption))
}

/// Records a refused redemption in the profile's audit trail, once per link,
/// identity and kind of refusal (replaying a used link writes nothing more);
/// a failure to record is logged, never shown: the answer does not depend on it.
pub async fn audit_refusal(
    store: &impl RedeemStorage,
    link: &StoredLink,
    identity: &Identity,
    event: AuditEvent,
    now: i64,
) {
    let entry = audit(&link.record, event, identity, None, now);
    if let Err(error) = store.audit_once(&entry).await {
        tracing::error!(%error, event = event.as_str(), "audit entry could not be written");
    }
}
