//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3):
//! what profile-link tells portals it supports.

use serde::Serialize;

use super::authorize::SCOPES_SUPPORTED;
use crate::session::SigningAlg;

/// `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3).
#[derive(Debug, Clone, Serialize)]
pub struct OpenIdConfiguration {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub end_session_endpoint: String,
    pub jwks_uri: String,
    pub response_types_supported: [&'static str; 1],
    pub response_modes_supported: [&'static str; 1],
    pub grant_types_supported: [&'static str; 1],
    pub subject_types_supported: [&'static str; 1],
    pub id_token_signing_alg_values_supported: [&'static str; 2],
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    pub code_challenge_methods_supported: [&'static str; 1],
    pub scopes_supported: [&'static str; 3],
    pub claims_supported: [&'static str; 16],
    pub prompt_values_supported: [&'static str; 4],
    pub authorization_response_iss_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub claims_parameter_supported: bool,
    /// OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens carry `sid`.
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
}

impl OpenIdConfiguration {
    pub fn for_issuer(issuer: &str) -> Self {
        let at = |path: &str| format!("{issuer}{path}");
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: at("/authorize"),
            token_endpoint: at("/token"),
            userinfo_endpoint: at("/userinfo"),
            end_session_endpoint: at("/end-session"),
            jwks_uri: at("/.well-known/jwks.json"),
            response_types_supported: ["code"],
            response_modes_supported: ["query"],
            grant_types_supported: ["authorization_code"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: SigningAlg::SUPPORTED,
            token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
            code_challenge_methods_supported: ["S256"],
            scopes_supported: SCOPES_SUPPORTED,
            claims_supported: [
                "iss",
                "aud",
                "sub",
                "iat",
                "exp",
                "auth_time",
                "nonce",
                "sid",
                "idp",
                "idp_name",
                "name",
                "email",
                "email_verified",
                "profiles",
                "profile_ids",
                "profile_id",
            ],
            prompt_values_supported: ["none", "login", "select_account", "consent"],
            authorization_response_iss_parameter_supported: true,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            claims_parameter_supported: false,
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
        }
    }
}
