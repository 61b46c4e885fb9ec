//! A provider's discovery document and signing keys: fetched once per cold
//! start, checked against the configured issuer policy, and the JWKS
//! re-fetched when a token names a key we have not seen (key rotation).

use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::client::{CachedJwks, Discovered, OidcClient, OidcError, ProviderMetadata};
use super::provider::{ClientAuth, ResponseMode};

/// An unknown `kid` re-fetches the JWKS at most this often (key rotation
/// support without letting forged tokens hammer the provider).
const JWKS_REFRESH_MIN_INTERVAL_SECONDS: i64 = 30;

impl OidcClient {
    pub(super) async fn discovered(&self) -> Result<&Discovered, OidcError> {
        self.discovered
            .get_or_try_init(|| async {
                let provider = &self.config.provider;
                let url = format!("{}/.well-known/openid-configuration", provider.issuer.trim_end_matches('/'));
                let metadata: ProviderMetadata = self.get_json(&url).await?;
                // OIDC Discovery §4.3, as the provider's issuer policy reads it.
                let issuer = provider
                    .issuer_policy
                    .check_discovery(&provider.issuer, &metadata.issuer)
                    .map_err(OidcError::Misconfigured)?;
                if !metadata.code_challenge_methods_supported.is_empty()
                    && !metadata.code_challenge_methods_supported.iter().any(|m| m == "S256")
                {
                    return Err(OidcError::Misconfigured("provider does not support PKCE S256".into()));
                }
                // Discovery's defaults when a list is absent: client_secret_basic; query and fragment.
                let methods = &metadata.token_endpoint_auth_methods_supported;
                let method = provider.client_auth.as_str();
                if !(methods.iter().any(|m| m == method) || methods.is_empty() && provider.client_auth == ClientAuth::ClientSecretBasic) {
                    return Err(OidcError::Misconfigured(format!(
                        "client_auth {method} is not among the provider's token_endpoint_auth_methods_supported {methods:?}"
                    )));
                }
                if provider.response_mode == ResponseMode::FormPost
                    && !metadata.response_modes_supported.iter().any(|m| m == "form_post")
                {
                    return Err(OidcError::Misconfigured("the provider does not list form_post in response_modes_supported".into()));
                }
                Ok(Discovered { metadata, issuer })
            })
            .await
    }

    /// What a cold start's first sign-in would meet, fetched now: the
    /// discovery document checked against this provider's configuration, as
    /// above, and its JWKS; the number of keys it publishes.
    /// For `profile-link-admin doctor`.
    pub async fn check_discovery(&self) -> Result<usize, OidcError> {
        let metadata = &self.discovered().await?.metadata;
        let keys: JwkSet = self.get_json(&metadata.jwks_uri).await?;
        if keys.keys.is_empty() {
            return Err(OidcError::Misconfigured(format!("its JWKS at {} holds no keys", metadata.jwks_uri)));
        }
        Ok(keys.keys.len())
    }

    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let response =
            self.http.get(url).send().await.map_err(|e| OidcError::Unavailable(format!("GET {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(OidcError::Unavailable(format!("GET {url}: HTTP {}", response.status())));
        }
        response.json().await.map_err(|e| OidcError::Unavailable(format!("GET {url}: {e}")))
    }

    pub(super) async fn refresh_jwks(&self, metadata: &ProviderMetadata, now: i64) -> Result<(), OidcError> {
        let keys: JwkSet = self.get_json(&metadata.jwks_uri).await?;
        *self.jwks.write().await = Some(CachedJwks { keys, fetched_at: now });
        Ok(())
    }

    /// The provider's key for this token, re-fetching the JWKS once if the `kid` is new.
    pub(super) async fn decoding_key(
        &self,
        metadata: &ProviderMetadata,
        kid: Option<&str>,
        alg: Algorithm,
        now: i64,
    ) -> Result<DecodingKey, OidcError> {
        for attempt in 0..2 {
            let stale = {
                let cache = self.jwks.read().await;
                match cache.as_ref() {
                    Some(cached) => {
                        if let Some(key) = select_key(&cached.keys, kid, alg)? {
                            return Ok(key);
                        }
                        now - cached.fetched_at >= JWKS_REFRESH_MIN_INTERVAL_SECONDS
                    }
                    None => true,
                }
            };
            if attempt == 0 && stale {
                self.refresh_jwks(metadata, now).await?;
            } else {
                break;
            }
        }
        Err(OidcError::InvalidIdToken("no provider key matches the token's kid"))
    }
}

/// Picks the signing key for `kid` (or the only signing key of the right type
/// when the token names none), refusing keys meant for another algorithm or use.
fn select_key(keys: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Result<Option<DecodingKey>, OidcError> {
    let usable = |jwk: &&jsonwebtoken::jwk::Jwk| {
        let use_ok = matches!(jwk.common.public_key_use, None | Some(PublicKeyUse::Signature));
        let alg_ok = match jwk.common.key_algorithm {
            None => true,
            Some(key_alg) => key_algorithm_matches(key_alg, alg),
        };
        use_ok && alg_ok
    };
    let jwk = match kid {
        Some(kid) => keys.keys.iter().filter(usable).find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => {
            let mut candidates = keys
                .keys
                .iter()
                .filter(usable)
                .filter(|k| DecodingKey::from_jwk(k).map(|d| d.family() == alg.family()).unwrap_or(false));
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    };
    let Some(jwk) = jwk else { return Ok(None) };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| OidcError::InvalidIdToken("provider key unusable"))?;
    if key.family() != alg.family() {
        return Err(OidcError::InvalidIdToken("key type does not match the algorithm"));
    }
    Ok(Some(key))
}

fn key_algorithm_matches(key_alg: KeyAlgorithm, alg: Algorithm) -> bool {
    format!("{key_alg:?}") == format!("{alg:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_algorithm_names_line_up() {
        assert!(key_algorithm_matches(KeyAlgorithm::RS256, Algorithm::RS256));
        assert!(!key_algorithm_matches(KeyAlgorithm::RS256, Algorithm::ES256));
        assert!(key_algorithm_matches(KeyAlgorithm::EdDSA, Algorithm::EdDSA));
    }
}
