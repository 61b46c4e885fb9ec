//! Unlinking a profile from the account page: the identity's state is read
//! first, so a signed-out session changes nothing, and the profiles the
//! session lists afterwards are the table's, less this one.

use crate::domain::identity::Identity;
use crate::domain::profile::ProfileId;
use crate::session::SessionClaims;
use crate::store::associations::Unlinked;
use crate::store::{IdentityState, Store, StoreError};

/// The table as unlinking needs it.
pub trait UnlinkStorage: Sync {
    fn session_state(
        &self,
        identity: &Identity,
        session_id: &str,
    ) -> impl Future<Output = Result<IdentityState, StoreError>> + Send;
    fn unlink(
        &self,
        identity: &Identity,
        profile: &ProfileId,
        by: &str,
        now: i64,
    ) -> impl Future<Output = Result<Unlinked, StoreError>> + Send;
}

impl UnlinkStorage for Store {
    fn session_state(
        &self,
        identity: &Identity,
        session_id: &str,
    ) -> impl Future<Output = Result<IdentityState, StoreError>> + Send {
        Store::session_state(self, identity, session_id)
    }
    fn unlink(
        &self,
        identity: &Identity,
        profile: &ProfileId,
        by: &str,
        now: i64,
    ) -> impl Future<Output = Result<Unlinked, StoreError>> + Send {
        Store::unlink(self, identity, profile, by, now)
    }
}

/// What unlinking did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlinking {
    /// The session was signed out meanwhile: nothing changed.
    SignedOut,
    /// The profile is not linked to the identity (now, or already: a second
    /// click, another tab); `profiles` are the ones it still holds.
    Done { already_unlinked: bool, profiles: Vec<String> },
}

/// Unlinks `profile` from the identity signed in with `session`.
pub async fn unlink(
    store: &impl UnlinkStorage,
    session: &SessionClaims,
    profile: &ProfileId,
    now: i64,
) -> Result<Unlinking, StoreError> {
    let identity = session.identity();
    let state = store.session_state(&identity, &session.sid).await?;
    if state.has_ended(session) {
        return Ok(Unlinking::SignedOut);
    }
    let result = store.unlink(&identity, profile, "the linked identity", now).await?;
    let profiles = state.profile_ids().into_iter().filter(|p| p != profile.as_str()).collect();
    Ok(Unlinking::Done { already_unlinked: result == Unlinked::NotLinked, profiles })
}
