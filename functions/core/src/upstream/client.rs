//! The OpenID Connect relying party, one per configured identity provider:
//! the authorization-code flow with PKCE S256, `state` and `nonce`, and the
//! code exchange with the client authentication its provider requires.
//! Discovery and keys are in `discovery`, ID token validation in `id_token`.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use tokio::sync::{OnceCell, RwLock};
use url::Url;

use super::issuer::TrustedIssuer;
use super::provider::{ClientAuth, PROVIDERS, ProviderConfig, ProviderId, ReauthenticationRequest, ResponseMode};
use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, PublicBaseUrl};
use crate::random;
use crate::secrets::Secret;

/// One provider's relying-party configuration: the provider as configured,
/// our credential at its token endpoint, and our callback for it.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub provider: ProviderConfig,
    credential: Credential,
    /// `<PUBLIC_BASE_URL>/login/callback/<provider id>`: one per provider, so a
    /// response can only complete a sign-in started with the same provider
    /// (the mix-up defence for providers that send no RFC 9207 `iss`).
    pub redirect_uri: String,
}

/// How we prove who we are at the token endpoint.
#[derive(Clone)]
enum Credential {
    Secret(Secret),
    /// `private_key_jwt`: our key and the algorithm it signs with.
    Key(EncodingKey, Algorithm),
    /// Sign in with Apple: the key that signs our client secret (ES256).
    AppleKey(EncodingKey),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Secret(_) => "Secret(***)",
            Self::Key(..) | Self::AppleKey(_) => "Key(***)",
        })
    }
}

impl OidcConfig {
    /// `credential` is the client secret, or for `private_key_jwt` the
    /// PKCS#8 PEM private key (EC P-256 signs ES256, RSA signs PS256).
    pub fn new(provider: ProviderConfig, credential: Secret, base: &PublicBaseUrl) -> Result<Self, ConfigError> {
        let unusable_key = |kind: &str| {
            ConfigError::invalid(
                PROVIDERS,
                format!("provider {:?}: the private key is not a PEM {kind} key", provider.id.as_str()),
            )
        };
        let credential = match provider.client_auth {
            _ if provider.apple_team_id.is_some() => EncodingKey::from_ec_pem(credential.expose().as_bytes())
                .map(Credential::AppleKey)
                .map_err(|_| unusable_key("EC P-256 (Apple's .p8)"))?,
            ClientAuth::PrivateKeyJwt => {
                let pem = credential.expose().as_bytes();
                let key = EncodingKey::from_ec_pem(pem)
                    .map(|key| Credential::Key(key, Algorithm::ES256))
                    .or_else(|_| EncodingKey::from_rsa_pem(pem).map(|key| Credential::Key(key, Algorithm::PS256)))
                    .map_err(|_| unusable_key("EC P-256 or RSA"))?;
                key
            }
            _ => Credential::Secret(credential),
        };
        let redirect_uri = callback_uri(base, &provider.id);
        Ok(Self { provider, credential, redirect_uri })
    }
}

/// Our callback for a provider.
pub fn callback_uri(base: &PublicBaseUrl, id: &ProviderId) -> String {
    base.join(&format!("/login/callback/{id}"))
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered with a server error.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code exchange (e.g. `invalid_grant`).
    #[error("identity provider refused the code: {0}")]
    CodeRejected(String),
    /// The ID token failed validation; the reason is for logs, never for the page.
    #[error("ID token rejected: {0}")]
    InvalidIdToken(&'static str),
    /// The provider's metadata contradicts our configuration.
    #[error("identity provider misconfigured: {0}")]
    Misconfigured(String),
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct ProviderMetadata {
    pub(super) issuer: String,
    pub(super) authorization_endpoint: String,
    pub(super) token_endpoint: String,
    pub(super) jwks_uri: String,
    #[serde(default)]
    pub(super) id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub(super) token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub(super) code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub(super) response_modes_supported: Vec<String>,
}

/// Discovery's document, once it agreed with the configuration.
#[derive(Debug)]
pub(super) struct Discovered {
    pub(super) metadata: ProviderMetadata,
    pub(super) issuer: TrustedIssuer,
}

pub(super) struct CachedJwks {
    pub(super) keys: JwkSet,
    pub(super) fetched_at: i64,
}

/// What `/login` sends the browser to, and what it must remember.
#[derive(Debug)]
pub struct AuthorizationRedirect {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

#[derive(Debug, Default, Clone)]
pub struct AuthorizeOptions {
    /// Ask for a fresh sign-in, as the provider's re-authentication policy says.
    pub force_reauthentication: bool,
    /// Let the person choose another account: no `login_hint`, and
    /// `prompt=select_account` where the policy's request sends no `prompt`
    /// of its own (Google's `max_age=0`; a `prompt=login` already asks who).
    pub choose_account: bool,
    pub login_hint: Option<String>,
}

pub struct OidcClient {
    pub(super) config: OidcConfig,
    pub(super) http: reqwest::Client,
    pub(super) discovered: OnceCell<Discovered>,
    pub(super) jwks: RwLock<Option<CachedJwks>>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("provider", &self.config.provider.id)
            .field("issuer", &self.config.provider.issuer)
            .finish_non_exhaustive()
    }
}

impl OidcClient {
    pub fn new(config: OidcConfig) -> Self {
        let http = reqwest::Client::builder()
            // A redirect from the token endpoint would leak the code and secret elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(8))
            .user_agent(concat!("profile-link/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("TLS backend initialises");
        Self { config, http, discovered: OnceCell::new(), jwks: RwLock::new(None) }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    pub fn provider(&self) -> &ProviderConfig {
        &self.config.provider
    }

    /// Fetches discovery metadata and keys now, so the first sign-in of a warm
    /// container does not pay for them. Failures are left for the request to report.
    pub async fn warm_up(&self, now: i64) {
        if let Ok(discovered) = self.discovered().await {
            let _ = self.refresh_jwks(&discovered.metadata, now).await;
        }
    }

    pub async fn authorization_request(&self, options: &AuthorizeOptions) -> Result<AuthorizationRedirect, OidcError> {
        let metadata = &self.discovered().await?.metadata;
        let provider = &self.config.provider;
        let state = random::secret_256();
        let nonce = random::secret_256();
        let pkce_verifier = random::secret_256();
        let challenge = random::sha256_b64(pkce_verifier.as_bytes());
        let mut url = Url::parse(&metadata.authorization_endpoint)
            .map_err(|e| OidcError::Misconfigured(format!("authorization_endpoint: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &provider.client_id)
                .append_pair("redirect_uri", &self.config.redirect_uri)
                .append_pair("scope", &provider.scopes)
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if provider.response_mode == ResponseMode::FormPost {
                query.append_pair("response_mode", "form_post");
            }
            let request = provider.reauthentication.request;
            let mut parameters: Vec<(&str, &str)> =
                if options.force_reauthentication { request.parameters().to_vec() } else { Vec::new() };
            if options.choose_account && !parameters.iter().any(|(name, _)| *name == "prompt") {
                parameters.push(("prompt", "select_account"));
            }
            for (name, value) in &parameters {
                query.append_pair(name, value);
            }
            // An account chooser is for choosing: a hint would skip it.
            let chooses = options.choose_account
                || options.force_reauthentication && request == ReauthenticationRequest::SelectAccount;
            if let Some(hint) = options.login_hint.as_ref().filter(|_| !chooses) {
                query.append_pair("login_hint", hint);
            }
        }
        Ok(AuthorizationRedirect { url: url.into(), state, nonce, pkce_verifier })
    }

    /// RFC 9207: when the provider names itself in the authorization response,
    /// it must be the provider this sign-in was started with (mix-up defence).
    /// For Entra's multi-tenant endpoints, that is any tenant's issuer the
    /// policy allows; the ID token's own `iss` is checked in full later.
    pub async fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), OidcError> {
        let Some(iss) = iss else { return Ok(()) };
        let trusted = &self.discovered().await?.issuer;
        if trusted.names(iss) {
            Ok(())
        } else {
            Err(OidcError::InvalidIdToken("authorization response from another issuer"))
        }
    }

    /// Exchanges the authorization code for an ID token, authenticating as
    /// the provider's `client_auth` says (never guessed).
    pub async fn exchange_code(&self, code: &str, pkce_verifier: &str) -> Result<String, OidcError> {
        let metadata = &self.discovered().await?.metadata;
        let provider = &self.config.provider;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", self.config.redirect_uri.clone()),
            ("code_verifier", pkce_verifier.to_owned()),
        ];
        let mut request = self.http.post(&metadata.token_endpoint).header("accept", "application/json");
        match (&self.config.credential, provider.client_auth) {
            (Credential::Secret(secret), ClientAuth::ClientSecretBasic) => {
                // RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
                let id: String = url::form_urlencoded::byte_serialize(provider.client_id.as_bytes()).collect();
                let secret: String = url::form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect();
                request = request.basic_auth(id, Some(secret));
            }
            (Credential::Secret(secret), _) => {
                form.push(("client_id", provider.client_id.clone()));
                form.push(("client_secret", secret.expose().to_owned()));
            }
            (Credential::AppleKey(key), _) => {
                form.push(("client_id", provider.client_id.clone()));
                form.push(("client_secret", self.apple_client_secret(key)?));
            }
            (Credential::Key(key, algorithm), _) => {
                form.push(("client_id", provider.client_id.clone()));
                form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
                form.push(("client_assertion", self.client_assertion(key, *algorithm, &metadata.token_endpoint)?));
            }
        }
        let response =
            request.form(&form).send().await.map_err(|e| OidcError::Unavailable(format!("token endpoint: {e}")))?;
        let status = response.status();
        #[derive(Deserialize)]
        struct TokenResponse {
            id_token: Option<String>,
            error: Option<String>,
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|e| OidcError::Unavailable(format!("token endpoint answered HTTP {status} without JSON: {e}")))?;
        if status.is_server_error() {
            return Err(OidcError::Unavailable(format!("token endpoint: HTTP {status}")));
        }
        if !status.is_success() {
            return Err(OidcError::CodeRejected(body.error.unwrap_or_else(|| format!("HTTP {status}"))));
        }
        body.id_token.ok_or(OidcError::InvalidIdToken("token response has no id_token"))
    }

    /// Sign in with Apple's client secret: an ES256 JWT naming our team (`iss`),
    /// our Services ID (`sub`) and Apple (`aud`, its issuer), with the key's
    /// id. Apple allows six months; it is minted for each token request and
    /// lives five minutes, so a leaked one is soon useless.
    fn apple_client_secret(&self, key: &EncodingKey) -> Result<String, OidcError> {
        let provider = &self.config.provider;
        let now = SystemClock.now();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = provider.key_id.clone();
        let claims = serde_json::json!({
            "iss": provider.apple_team_id,
            "sub": provider.client_id,
            "aud": provider.issuer,
            "iat": now,
            "exp": now + 300,
        });
        jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| OidcError::Misconfigured(format!("could not sign the client secret: {e}")))
    }

    /// RFC 7523 §2.2 client assertion: one use (`jti`), two minutes, for this
    /// token endpoint only. Entra identifies a certificate by `x5t#S256`.
    fn client_assertion(&self, key: &EncodingKey, algorithm: Algorithm, audience: &str) -> Result<String, OidcError> {
        let provider = &self.config.provider;
        let now = SystemClock.now();
        let mut header = Header::new(algorithm);
        header.kid = provider.key_id.clone();
        header.x5t_s256 = provider.certificate_thumbprint.clone();
        let claims = serde_json::json!({
            "iss": provider.client_id,
            "sub": provider.client_id,
            "aud": audience,
            "jti": random::secret_256(),
            "iat": now,
            "nbf": now,
            "exp": now + 120,
        });
        jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| OidcError::Misconfigured(format!("could not sign the client assertion: {e}")))
    }
}

/// Every configured provider's relying party, in the list's order (the
/// order of the buttons on the sign-in page).
#[derive(Debug, Clone)]
pub struct IdentityProviders(Vec<std::sync::Arc<OidcClient>>);

impl IdentityProviders {
    pub fn new(clients: Vec<OidcClient>) -> Self {
        Self(clients.into_iter().map(std::sync::Arc::new).collect())
    }

    /// The provider named in a path or query, if it is one of ours.
    pub fn get(&self, id: &str) -> Option<&OidcClient> {
        self.0.iter().map(|c| c.as_ref()).find(|c| c.provider().id.as_str() == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &OidcClient> {
        self.0.iter().map(|c| c.as_ref())
    }

    /// The only provider, when there is just one: sign-in needs no choice.
    pub fn only(&self) -> Option<&OidcClient> {
        match self.0.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    /// Every provider's discovery document and keys, fetched side by side.
    pub async fn warm_up(&self, now: i64) {
        let mut warming = tokio::task::JoinSet::new();
        for client in &self.0 {
            let client = client.clone();
            warming.spawn(async move { client.warm_up(now).await });
        }
        while warming.join_next().await.is_some() {}
    }
}

pub(super) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_has_its_own_callback() {
        let base = PublicBaseUrl::parse("PUBLIC_BASE_URL", "https://link.example.com").unwrap();
        let id = ProviderId::parse("entra").unwrap();
        assert_eq!(callback_uri(&base, &id), "https://link.example.com/login/callback/entra");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("ééé".into(), 3), "é");
        assert_eq!(truncate("abc".into(), 10), "abc");
    }
}
