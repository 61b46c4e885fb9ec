//! What the tokens a portal receives say: the ID token's and access
//! token's claims, the person's claims shared with `/userinfo`, and the
//! subject and session ids a portal sees in place of ours.

use serde::{Deserialize, Serialize};

use crate::domain::identity::Identity;
use crate::random;

/// An authorization code is good for this long (RFC 9700 §4.?: short; OIDC Core: single use).
pub const CODE_TTL_SECONDS: i64 = 60;
/// ID tokens are proof of one sign-in, read once by the portal.
pub const ID_TOKEN_TTL_SECONDS: i64 = 300;
/// Access tokens only reach `/userinfo`; the code item they refer to outlives them.
pub const ACCESS_TOKEN_TTL_SECONDS: i64 = 300;
/// The purpose (`aud` suffix) of access tokens: never a session, never an ID token.
pub const USERINFO_PURPOSE: &str = "userinfo";

/// profile-link's own subject for an identity: stable, opaque, never the
/// provider's `sub` (a hash of the identity, separated from other hashes by its prefix).
pub fn subject_of(identity: &Identity) -> String {
    random::sha256_b64(format!("profile-link subject\0{}", identity.key().as_str()).as_bytes())
}

/// The `sid` a portal sees for a session: derived, so the session's own id never leaves the site.
pub fn portal_sid(session_id: &str) -> String {
    random::sha256_b64(format!("profile-link sid\0{session_id}").as_bytes())
}

/// A customer profile the person has proven they may act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileClaim {
    pub id: String,
    pub name: String,
    pub organization: String,
}

impl From<&crate::store::associations::LinkedProfile> for ProfileClaim {
    fn from(linked: &crate::store::associations::LinkedProfile) -> Self {
        Self {
            id: linked.profile_id.clone(),
            name: linked.display_name.clone(),
            organization: linked.organization.clone(),
        }
    }
}

/// What a portal learns about the person, in the ID token and from `/userinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonClaims {
    pub sub: String,
    /// The upstream provider: its id in `PROVIDERS` and its name.
    pub idp: String,
    pub idp_name: String,
    /// As the provider sent them (`profile`, `email` scopes): display only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Always false when present: profile-link has not verified this address
    /// (the addresses it verified are the profiles', which it does not disclose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    pub profiles: Vec<ProfileClaim>,
    /// The same profiles' ids as a flat array of strings: what relying parties
    /// that pass claims on as headers or environment variables (mod_auth_openidc,
    /// oauth2-proxy, load balancers) deliver intact, where an array of objects is lost.
    #[serde(default)]
    pub profile_ids: Vec<String>,
    /// The one profile the person chose to act for, where the portal asks them
    /// to (`profile_selection: required`). Not OIDC's standard `profile` claim,
    /// which is a profile page's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
}

impl PersonClaims {
    /// The same person acting for `profiles` now: both the objects and the flat ids.
    /// The chosen profile stays chosen only while it is still linked.
    pub fn with_profiles(self, profiles: Vec<ProfileClaim>) -> Self {
        let profile_ids: Vec<String> = profiles.iter().map(|p| p.id.clone()).collect();
        let profile_id = self.profile_id.filter(|chosen| profile_ids.contains(chosen));
        Self { profiles, profile_ids, profile_id, ..self }
    }
}

/// The ID token's claims (OIDC Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub aud: String,
    pub azp: String,
    pub iat: i64,
    pub exp: i64,
    pub auth_time: i64,
    /// Only when the authorization request sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub sid: String,
    #[serde(flatten)]
    pub person: PersonClaims,
}

/// An access token's claims: it names the code it was issued for, so
/// `/userinfo` can refuse it once that code was replayed (RFC 9700 §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub sub: String,
    pub client_id: String,
    /// The code item's key.
    pub jti: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_stable_and_not_the_providers() {
        let pat = Identity::new("https://idp.example", "pat-1");
        assert_eq!(subject_of(&pat), subject_of(&Identity::new("https://idp.example", "pat-1")));
        assert_ne!(subject_of(&pat), subject_of(&Identity::new("https://other.example", "pat-1")));
        assert!(!subject_of(&pat).contains("pat-1"));
    }
}
