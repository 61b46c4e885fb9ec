//! The OpenID Connect relying party, one per configured identity provider:
//! authorization-code flow with PKCE S256, `state` and `nonce`, and complete
//! ID token validation (OIDC Core §3.1.3.7, RFC 9700 §2.1 and §4.5), each as
//! its provider's policies say (crate::upstream).

use std::time::Duration;

use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use tokio::sync::{OnceCell, RwLock};
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, PublicBaseUrl};
use crate::domain::identity::{Identity, IdentityProfile};
use crate::random;
use crate::secrets::Secret;
use crate::upstream::{
    ClientAuth, PROVIDERS, ProviderConfig, ProviderId, ReauthenticationRequest, ResponseMode, TrustedIssuer,
};

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
/// An unknown `kid` re-fetches the JWKS at most this often (key rotation
/// support without letting forged tokens hammer the provider).
const JWKS_REFRESH_MIN_INTERVAL_SECONDS: i64 = 30;

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
struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    response_modes_supported: Vec<String>,
}

/// Discovery's document, once it agreed with the configuration.
#[derive(Debug)]
struct Discovered {
    metadata: ProviderMetadata,
    issuer: TrustedIssuer,
}

/// What `/login` sends the browser to, and what it must remember.
#[derive(Debug)]
pub struct AuthorizationRequest {
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
struct IdTokenClaims {
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

struct CachedJwks {
    keys: JwkSet,
    fetched_at: i64,
}

pub struct OidcClient {
    config: OidcConfig,
    http: reqwest::Client,
    discovered: OnceCell<Discovered>,
    jwks: RwLock<Option<CachedJwks>>,
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

    async fn discovered(&self) -> Result<&Discovered, OidcError> {
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

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let response =
            self.http.get(url).send().await.map_err(|e| OidcError::Unavailable(format!("GET {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(OidcError::Unavailable(format!("GET {url}: HTTP {}", response.status())));
        }
        response.json().await.map_err(|e| OidcError::Unavailable(format!("GET {url}: {e}")))
    }

    pub async fn authorization_request(&self, options: &AuthorizeOptions) -> Result<AuthorizationRequest, OidcError> {
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
        Ok(AuthorizationRequest { url: url.into(), state, nonce, pkce_verifier })
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

    async fn refresh_jwks(&self, metadata: &ProviderMetadata, now: i64) -> Result<(), OidcError> {
        let keys: JwkSet = self.get_json(&metadata.jwks_uri).await?;
        *self.jwks.write().await = Some(CachedJwks { keys, fetched_at: now });
        Ok(())
    }

    /// The provider's key for this token, re-fetching the JWKS once if the `kid` is new.
    async fn decoding_key(
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
        let claims = jsonwebtoken::decode::<IdTokenClaims>(id_token, &key, &validation)
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

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
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
    fn each_provider_has_its_own_callback() {
        let base = PublicBaseUrl::parse("PUBLIC_BASE_URL", "https://link.example.com").unwrap();
        let id = ProviderId::parse("entra").unwrap();
        assert_eq!(callback_uri(&base, &id), "https://link.example.com/login/callback/entra");
    }

    #[test]
    fn key_algorithm_names_line_up() {
        assert!(key_algorithm_matches(KeyAlgorithm::RS256, Algorithm::RS256));
        assert!(!key_algorithm_matches(KeyAlgorithm::RS256, Algorithm::ES256));
        assert!(key_algorithm_matches(KeyAlgorithm::EdDSA, Algorithm::EdDSA));
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("ééé".into(), 3), "é");
        assert_eq!(truncate("abc".into(), 10), "abc");
    }
}
