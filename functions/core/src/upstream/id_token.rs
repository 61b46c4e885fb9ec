//! Validating a provider's ID token completely (OIDC Core §3.1.3.7, RFC 9700
//! §2.1 and §4.5), as its provider's policies say: identity is (`iss`, `sub`),
//! never the email claim.

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::client::{OidcClient, OidcError, truncate};
use crate::clock::{Clock, SystemClock};
use crate::domain::identity::{Identity, IdentityProfile};
use crate::random;

/// Asymmetric algorithms only: an ID token signed with HMAC (e.g. "HS256" with
/// the provider's public key as the secret) or `none` is never accepted.
const ALLOWED_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Clock skew tolerated between us and the identity provider.
const SKEW_SECONDS: i64 = 60;
/// An ID token older than this is not accepted, however long its `exp`.
const MAX_ID_TOKEN_AGE_SECONDS: i64 = 600;

/// A validated ID token, reduced to what the service uses.
#[derive(Debug, Clone)]
pub struct VerifiedIdToken {
    pub identity: Identity,
    pub profile: IdentityProfile,
    /// How long before the token was issued the person authenticated
    /// (`iat - auth_time`: both in the provider's clock, so skew cancels out).
    /// `None` when the token has no `auth_time`: then nobody knows when the
    /// person last entered credentials, and it is never taken to be now.
    pub auth_age_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    // Listed first: untagged tries variants in order and `IgnoredAny` accepts anything.
    Many(Vec<String>),
    One(serde::de::IgnoredAny),
}

#[derive(Debug, Deserialize)]
struct ProviderIdTokenClaims {
    iss: String,
    sub: String,
    /// Entra's tenant: its issuer policy checks `iss` against it.
    #[serde(default)]
    tid: Option<String>,
    /// Entra's object id of the user, the same in every app of the tenant.
    #[serde(default)]
    oid: Option<String>,
    aud: Audience,
    iat: i64,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    auth_time: Option<i64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    /// Some providers send it as a string (`"true"`).
    #[serde(default, deserialize_with = "lenient_bool")]
    email_verified: bool,
}

fn lenient_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s == "true",
        _ => false,
    })
}

impl OidcClient {
    /// Validates an ID token completely. Identity is (`iss`, `sub`); `email` and
    /// `name` are carried for display only. Its times are the provider's, so
    /// they are checked against the real clock (as `jsonwebtoken` checks `exp`),
    /// never against the service's injectable clock.
    pub async fn validate_id_token(&self, id_token: &str, expected_nonce: &str) -> Result<VerifiedIdToken, OidcError> {
        let now = SystemClock.now();
        let discovered = self.discovered().await?;
        let metadata = &discovered.metadata;
        let client_id = self.config.provider.client_id.as_str();
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|_| OidcError::InvalidIdToken("malformed token or unsupported algorithm"))?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(OidcError::InvalidIdToken("algorithm not allowed"));
        }
        let advertised = &metadata.id_token_signing_alg_values_supported;
        if !advertised.is_empty() && !advertised.iter().any(|a| a.parse::<Algorithm>().ok() == Some(header.alg)) {
            return Err(OidcError::InvalidIdToken("algorithm not advertised by the provider"));
        }
        let key = self.decoding_key(metadata, header.kid.as_deref(), header.alg, now).await?;

        let mut validation = Validation::new(header.alg);
        // `iss` is required here and checked below by the issuer policy
        // (Entra's depends on the token's own `tid`).
        validation.set_audience(&[client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = SKEW_SECONDS as u64;
        let claims = jsonwebtoken::decode::<ProviderIdTokenClaims>(id_token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                OidcError::InvalidIdToken(match e.kind() {
                    K::InvalidSignature => "bad signature",
                    K::ExpiredSignature => "expired",
                    K::InvalidIssuer => "wrong issuer",
                    K::InvalidAudience => "wrong audience",
                    K::MissingRequiredClaim(_) => "missing required claim",
                    _ => "invalid token",
                })
            })?
            .claims;

        let issuer = discovered
            .issuer
            .check_token(&claims.iss, claims.tid.as_deref())
            .map_err(|e| OidcError::InvalidIdToken(e.reason()))?;
        if claims.iat > now + SKEW_SECONDS {
            return Err(OidcError::InvalidIdToken("issued in the future"));
        }
        if claims.iat < now - MAX_ID_TOKEN_AGE_SECONDS {
            return Err(OidcError::InvalidIdToken("issued too long ago"));
        }
        match claims.nonce.as_deref() {
            Some(nonce) if random::constant_time_eq(nonce.as_bytes(), expected_nonce.as_bytes()) => {}
            Some(_) => return Err(OidcError::InvalidIdToken("nonce mismatch")),
            None => return Err(OidcError::InvalidIdToken("nonce missing")),
        }
        let audiences = match &claims.aud {
            Audience::One(_) => 1,
            Audience::Many(list) => list.len(),
        };
        match claims.azp.as_deref() {
            Some(azp) if azp != client_id => {
                return Err(OidcError::InvalidIdToken("azp is another client"));
            }
            None if audiences > 1 => return Err(OidcError::InvalidIdToken("several audiences but no azp")),
            _ => {}
        }
        if claims.sub.is_empty() || claims.sub.len() > 255 {
            return Err(OidcError::InvalidIdToken("sub empty or too long"));
        }
        if claims.auth_time.is_some_and(|auth_time| auth_time > claims.iat + SKEW_SECONDS) {
            return Err(OidcError::InvalidIdToken("auth_time after the token was issued"));
        }
        Ok(VerifiedIdToken {
            identity: Identity::new(issuer, claims.sub),
            profile: IdentityProfile {
                name: claims.name.map(|s| truncate(s, 200)),
                email: claims.email.map(|s| truncate(s, 254)),
                preferred_username: claims.preferred_username.map(|s| truncate(s, 200)),
                email_verified: claims.email_verified,
                // Checked by the Entra policy (tid) or by shape (oid); kept for support only.
                tid: claims.tid.filter(|_| discovered.issuer.is_entra()),
                oid: claims.oid.filter(|o| discovered.issuer.is_entra() && crate::upstream::is_tenant_id(o)),
            },
            auth_age_seconds: claims.auth_time.map(|auth_time| (claims.iat - auth_time).max(0)),
        })
    }
}
