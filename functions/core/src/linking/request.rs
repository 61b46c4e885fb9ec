//! Asking for links (seed steps 4–5): one pending link per profile registered
//! under the address, within the rate limits, whatever matched; and renewing
//! a link that was sent and expired unused.

use crate::domain::email::RegisteredEmail;
use crate::domain::identity::Identity;
use crate::domain::profile::Profile;
use crate::domain::rate_limit::RateLimits;
use crate::session::SessionClaims;
use crate::store::audit::AuditEvent;
use crate::store::redeem::StoredLink;
use crate::store::{AssociationRequest, IdentityState, LinkState, RequestOutcome, Requester, Store, StoreError};

use super::redeem::{RedeemStorage, audit_refusal};

/// The table as asking for links needs it.
pub trait RequestStorage: RedeemStorage {
    fn profiles_by_email(
        &self,
        email: &RegisteredEmail,
    ) -> impl Future<Output = Result<Vec<Profile>, StoreError>> + Send;
    fn session_state(
        &self,
        identity: &Identity,
        session_id: &str,
    ) -> impl Future<Output = Result<IdentityState, StoreError>> + Send;
    fn record_association_request(
        &self,
        request: &AssociationRequest<'_>,
        limits: &RateLimits,
        link_ttl_seconds: i64,
        now: i64,
    ) -> impl Future<Output = Result<RequestOutcome, StoreError>> + Send;
}

impl RequestStorage for Store {
    fn profiles_by_email(
        &self,
        email: &RegisteredEmail,
    ) -> impl Future<Output = Result<Vec<Profile>, StoreError>> + Send {
        Store::profiles_by_email(self, email)
    }
    fn session_state(
        &self,
        identity: &Identity,
        session_id: &str,
    ) -> impl Future<Output = Result<IdentityState, StoreError>> + Send {
        Store::session_state(self, identity, session_id)
    }
    fn record_association_request(
        &self,
        request: &AssociationRequest<'_>,
        limits: &RateLimits,
        link_ttl_seconds: i64,
        now: i64,
    ) -> impl Future<Output = Result<RequestOutcome, StoreError>> + Send {
        Store::record_association_request(self, request, limits, link_ttl_seconds, now)
    }
}

/// What the request policy allows: how often, and for how long a link lasts.
#[derive(Debug, Clone, Copy)]
pub struct Allowance<'a> {
    pub limits: &'a RateLimits,
    pub link_ttl_seconds: i64,
}

/// What became of a request for links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// The session was signed out meanwhile (here or everywhere): nothing recorded.
    SignedOut,
    /// The store's answer: accepted (however many profiles matched), or over a limit.
    Recorded(RequestOutcome),
}

/// Asks for a link to every profile registered under `email`, as the person
/// signed in with `session`. The answer is the same whether 0, 1 or many
/// profiles match; only the store knows.
pub async fn request_links(
    store: &impl RequestStorage,
    allowance: Allowance<'_>,
    session: &SessionClaims,
    requester: &Requester,
    email: &RegisteredEmail,
    now: i64,
) -> Result<Requested, StoreError> {
    // Side by side: the profiles under the address, and the identity's
    // state (signed out since? already holding a profile at this address?).
    let (profiles, state) =
        tokio::join!(store.profiles_by_email(email), store.session_state(&requester.identity, &session.sid));
    let (profiles, state) = (profiles?, state?);
    if state.has_ended(session) {
        return Ok(Requested::SignedOut);
    }
    let request = AssociationRequest {
        requester,
        email,
        profiles: &profiles,
        by_address_owner: owns_address(session, email, &profiles, &state),
        renews: None,
    };
    let outcome = store.record_association_request(&request, allowance.limits, allowance.link_ttl_seconds, now).await?;
    Ok(Requested::Recorded(outcome))
}

/// Whether the person already holds `email`: a profile registered under it
/// is linked to them, or their provider verified that address for them. The
/// address's daily cap then does not apply, so others cannot lock its owner out.
pub fn owns_address(
    session: &SessionClaims,
    email: &RegisteredEmail,
    profiles: &[Profile],
    state: &IdentityState,
) -> bool {
    let linked_here = profiles.iter().any(|p| state.profiles.iter().any(|l| l.profile_id == p.id.as_str()));
    let verified_here = session.profile.email_verified
        && session.profile.email.as_deref().and_then(|e| RegisteredEmail::parse(e).ok()).as_ref() == Some(email);
    linked_here || verified_here
}

/// What became of a renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewed {
    /// The link is another identity's: nothing changed.
    WrongIdentity,
    /// The sign-in is older than the click: sign in again first. Nothing changed.
    NeedsFreshSignIn,
    /// The link was not sent, or has not expired, or is used, cancelled or replaced.
    NotRenewable,
    /// The link's stored address does not parse: nothing changed.
    Malformed,
    /// The store's answer; a profile no longer registered under the link's
    /// address (`AddressChanged`) is audited.
    Recorded(RequestOutcome),
}

/// Renews `link` for the identity it was made for: a new link in its place,
/// within the rate limits, to the address it was sent to, only if the profile
/// is still registered there (the transaction checks all of it again).
pub async fn renew(
    store: &impl RequestStorage,
    allowance: Allowance<'_>,
    link: &StoredLink,
    requester: &Requester,
    signed_in_since_click: bool,
    now: i64,
) -> Result<Renewed, StoreError> {
    if link.record.identity() != requester.identity {
        return Ok(Renewed::WrongIdentity);
    }
    if !signed_in_since_click {
        return Ok(Renewed::NeedsFreshSignIn);
    }
    if link.state() != LinkState::Sent || link.record.expires_at > now {
        return Ok(Renewed::NotRenewable);
    }
    let Ok(email) = RegisteredEmail::parse(&link.record.email) else { return Ok(Renewed::Malformed) };
    let profile = Profile {
        id: link.record.profile_id.clone(),
        email: email.clone(),
        display_name: link.record.display_name.clone(),
        organization: link.record.organization.clone(),
    };
    let request = AssociationRequest {
        requester,
        email: &email,
        profiles: std::slice::from_ref(&profile),
        // Renewing one link the address already received is within its owner's day.
        by_address_owner: true,
        renews: Some(link),
    };
    let outcome = store.record_association_request(&request, allowance.limits, allowance.link_ttl_seconds, now).await?;
    if outcome == RequestOutcome::AddressChanged {
        audit_refusal(store, link, &requester.identity, AuditEvent::RefusedAddressChanged, now).await;
    }
    Ok(Renewed::Recorded(outcome))
}
