//! What an authorization code was issued for, as the token endpoint turns it
//! into tokens; kept in the table by `store::codes` until the code and its
//! access tokens have expired.

use serde::{Deserialize, Serialize};

use super::tokens::{ACCESS_TOKEN_TTL_SECONDS, CODE_TTL_SECONDS, PersonClaims};
use crate::domain::identity::Identity;

/// What a code was issued for: the request it answers and the person, as
/// the token endpoint will put them into the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    /// The request's `nonce`, when it sent one (optional in the code flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub scopes: Vec<String>,
    /// The upstream identity, for `/userinfo`'s fresh read of its profiles.
    pub identity_issuer: String,
    pub identity_subject: String,
    /// The session the code was issued in: its id and generation, so a
    /// signed-out session's access tokens stop working.
    pub session_id: String,
    pub session_generation: u64,
    pub auth_time: i64,
    pub person: PersonClaims,
    pub issued_at: i64,
}

impl Grant {
    pub fn identity(&self) -> Identity {
        Identity::new(self.identity_issuer.clone(), self.identity_subject.clone())
    }

    /// Until when the code itself can be exchanged.
    pub fn code_valid_until(&self) -> i64 {
        self.issued_at + CODE_TTL_SECONDS
    }

    /// Until when the code's item must stay: its access tokens' lifetime past
    /// the code's, and a minute, so a replay is still seen at `/userinfo`.
    pub fn kept_until(&self) -> i64 {
        self.code_valid_until() + ACCESS_TOKEN_TTL_SECONDS + 60
    }
}
