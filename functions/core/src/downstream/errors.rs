//! The error codes profile-link answers portals with, as the RFCs spell
//! them: at the redirect URI (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6), from
//! `/token` (RFC 6749 §5.2) and from `/userinfo` (RFC 6750 §3.1).

/// One error code; serialised as its RFC string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    InvalidToken,
    UnsupportedGrantType,
    UnsupportedResponseType,
    /// A request object (`request`) was sent: not supported (OIDC Core §6).
    RequestNotSupported,
    /// A request object by reference (`request_uri`): not supported (OIDC Core §6).
    RequestUriNotSupported,
    /// `prompt=none`, or a sign-in older than the portal allows, and nobody to ask.
    LoginRequired,
    /// `prompt=none`, but the person must choose (the profile they act for) first.
    InteractionRequired,
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::InvalidToken => "invalid_token",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::RequestNotSupported => "request_not_supported",
            OAuthErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            OAuthErrorCode::LoginRequired => "login_required",
            OAuthErrorCode::InteractionRequired => "interaction_required",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl std::fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for OAuthErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_the_rfcs_spell_them() {
        for (code, spelled) in [
            (OAuthErrorCode::InvalidRequest, "invalid_request"),
            (OAuthErrorCode::UnsupportedResponseType, "unsupported_response_type"),
            (OAuthErrorCode::LoginRequired, "login_required"),
            (OAuthErrorCode::InteractionRequired, "interaction_required"),
            (OAuthErrorCode::TemporarilyUnavailable, "temporarily_unavailable"),
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{spelled}\""), "{code:?} serialised as {json}");
        }
    }
}
