//! OpenID Connect Back-Channel Logout 1.0: the logout token profile-link
//! posts to a portal's `backchannel_logout_uri` when a session it was told
//! about ends, or a profile it was told about is no longer the person's.

use serde::{Deserialize, Serialize};

use crate::random;

/// A logout token is good for this long: it is posted at once, and a retry signs a new one.
pub const LOGOUT_TOKEN_TTL_SECONDS: i64 = 120;
/// The one event a logout token carries (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The JWT `typ` header of a logout token (§2.4; Back-Channel Logout 1.0 final).
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";

/// A logout token's claims (§2.4): never a `nonce`, so it cannot pass for an ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The portal's subject for the person (`downstream::subject_of`).
    pub sub: String,
    /// The portal's session id (`downstream::portal_sid`), as its ID token said.
    pub sid: String,
    pub events: serde_json::Value,
}

impl LogoutTokenClaims {
    /// A fresh token (its own `jti`) for one portal session.
    pub fn new(issuer: &str, client_id: &str, sub: &str, sid: &str, now: i64) -> Self {
        Self {
            iss: issuer.to_owned(),
            aud: client_id.to_owned(),
            iat: now,
            exp: now + LOGOUT_TOKEN_TTL_SECONDS,
            jti: random::token(16),
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            events: serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logout_token_names_the_event_and_has_no_nonce() {
        let claims = serde_json::to_value(LogoutTokenClaims::new("https://op", "portal", "s", "sid", 100)).unwrap();
        assert_eq!(claims["events"], serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }), "{claims}");
        assert_eq!((claims["exp"].as_i64(), claims["aud"].as_str()), (Some(220), Some("portal")), "{claims}");
        assert!(claims.get("nonce").is_none(), "{claims}");
    }
}
