//! Sessions: a short-lived ES256 JWT in a cookie. Portal endpoints verify the
//! same token with nothing but `/.well-known/jwks.json`. The same keys (and
//! an RSA key beside them) sign the portals' tokens.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

mod keys;
pub use keys::{PrivateKey, SigningAlg, generate_ec_pem, generate_rsa_pem, pem_keys};

use crate::domain::identity::{Identity, IdentityProfile};
use crate::random;

/// The session token's claims. `sub` is the identity key; `idp_iss`/`idp_sub`
/// are the identity itself; `profiles` are the customer profiles it may act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub idp_iss: String,
    pub idp_sub: String,
    /// The provider signed in with: its id in `PROVIDERS` (the forced
    /// re-sign-in goes back to it) and its name ("signed in with Microsoft").
    #[serde(default)]
    pub idp: String,
    #[serde(default)]
    pub idp_name: String,
    #[serde(flatten)]
    pub profile: IdentityProfile,
    /// When the person last actually authenticated at the identity provider,
    /// in this service's clock (the provider's reported age of the authentication
    /// subtracted from our time at sign-in), so provider clock skew cannot make it stale.
    /// Absent when the provider did not say (no `auth_time` in its ID token):
    /// such a session never counts as a fresh sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    pub iat: i64,
    pub exp: i64,
    /// Session id: distinguishes two sessions of the same identity.
    pub sid: String,
    /// Per-session CSRF token every POST form must echo.
    pub csrf: String,
    /// Profile ids linked to this identity when the session was issued.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// The identity's session generation at sign-in: "sign out everywhere"
    /// moves the identity to the next one, which ends every older session.
    #[serde(default)]
    pub generation: u64,
    /// The page the sign-in that issued this session was started for, and
    /// when (our clock): what `/authorize` takes as proof that the person
    /// signed in because this very request sent them to (`prompt=login`,
    /// `max_age`, `select_account`, `id_token_hint`), never a query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in_for: Option<SignedInFor>,
}

/// Session `auth_time` is in this service's clock (see the login function);
/// the provider's and our times are whole seconds, so allow one second of
/// rounding each and nothing more.
pub const AUTH_TIME_SKEW_SECONDS: i64 = 2;

/// How long after its sign-in a session still counts as the answer to the
/// request that sent the person to sign in (a sign-in transaction's lifetime).
pub const SIGNED_IN_FOR_SECONDS: i64 = 600;

/// Where a sign-in was started for: a hash of the page it returned to, and
/// when the person was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInFor {
    /// base64url SHA-256 of the return path.
    pub page: String,
    pub started_at: i64,
}

impl SignedInFor {
    pub fn new(return_path: &str, started_at: i64) -> Self {
        Self { page: random::sha256_b64(return_path.as_bytes()), started_at }
    }
}

impl SessionClaims {
    /// Whether the person authenticated at the provider at or after `at`
    /// (our clock). A provider that did not say when proves nothing.
    pub fn authenticated_since(&self, at: i64) -> bool {
        self.auth_time.is_some_and(|auth_time| auth_time + AUTH_TIME_SKEW_SECONDS >= at)
    }

    /// When the sign-in that issued this session was started, if it was
    /// started for `return_path` and finished less than
    /// [`SIGNED_IN_FOR_SECONDS`] before `now`.
    pub fn signed_in_for(&self, return_path: &str, now: i64) -> Option<i64> {
        let page = random::sha256_b64(return_path.as_bytes());
        self.signed_in_for
            .as_ref()
            .filter(|f| random::constant_time_eq(f.page.as_bytes(), page.as_bytes()))
            .filter(|_| now - self.iat <= SIGNED_IN_FOR_SECONDS)
            .map(|f| f.started_at)
    }

    pub fn identity(&self) -> Identity {
        Identity::new(self.idp_iss.clone(), self.idp_sub.clone())
    }

    /// How pages name the provider: its configured name, or for a session
    /// issued before sessions carried it, the issuer's host.
    pub fn provider_name(&self) -> String {
        if !self.idp_name.is_empty() {
            return self.idp_name.clone();
        }
        url::Url::parse(&self.idp_iss)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.idp_iss.clone())
    }

    /// The same session with `profiles` (read from the table) in place of the
    /// old list. Everything else is kept: `sid` (so signing out ends every
    /// copy), `iat` (the sign-in), `exp` (a re-issued session never outlives
    /// its sign-in) and the CSRF token.
    pub fn with_profiles(&self, mut profiles: Vec<String>) -> Self {
        profiles.sort();
        profiles.dedup();
        Self { profiles, ..self.clone() }
    }
}

/// What a new session is made from.
pub struct NewSession<'a> {
    pub identity: &'a Identity,
    /// The provider's id and name.
    pub provider: (&'a str, &'a str),
    pub profile: IdentityProfile,
    pub auth_time: Option<i64>,
    pub profiles: Vec<String>,
    pub now: i64,
    pub ttl_seconds: i64,
    /// The identity's session generation, read with its profiles.
    pub generation: u64,
    /// Keep this CSRF token (from the browser's previous, still valid session),
    /// so forms already open in other tabs keep working across a re-sign-in.
    pub csrf: Option<String>,
    /// The page this sign-in was started for, and when.
    pub signed_in_for: Option<SignedInFor>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    #[error("it holds no PEM private key (-----BEGIN PRIVATE KEY-----)")]
    NoKeys,
    #[error("a key is neither a PKCS#8 EC P-256 key nor an RSA key of 2048 bits or more: {0}")]
    NotAKey(String),
    #[error(
        "it holds no {0} key ({1}): run `profile-link-admin keys rotate` to add one (nobody is signed out), or `keys generate` for a new set"
    )]
    Missing(SigningAlg, &'static str),
    #[error("could not derive the public key: {0}")]
    PublicKey(jsonwebtoken::errors::Error),
    #[error("not a JWKS of ES256 and RS256 public keys, each with a kid: {0}")]
    NotPublicKeys(String),
}

/// Why a session token was not accepted. Callers treat all of them as "signed out".
#[derive(Debug, thiserror::Error)]
pub enum SessionRejected {
    #[error("session token signed with an unknown key")]
    UnknownKey,
    #[error("session token invalid: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

/// A private key that signs, named by its kid.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
}

impl SigningKey {
    fn sign<T: Serialize>(&self, alg: SigningAlg, claims: &T) -> String {
        self.sign_typed(alg, None, claims)
    }

    /// With a `typ` header, for a token that must not pass for another kind (a logout token).
    fn sign_typed<T: Serialize>(&self, alg: SigningAlg, typ: Option<&str>, claims: &T) -> String {
        let mut header = Header::new(alg.algorithm());
        header.kid = Some(self.kid.clone());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signing with a validated key cannot fail")
    }
}

/// The signing keys (from a secret), and through [`SessionVerifier`] (which it
/// derefs to) the public keys published as JWKS.
pub struct SessionKeys {
    /// ES256: sessions, our own short-lived tokens, and the tokens of portals that registered ES256.
    ec: SigningKey,
    /// RS256: the tokens of every other portal.
    rsa: SigningKey,
    verifier: SessionVerifier,
}

impl std::ops::Deref for SessionKeys {
    type Target = SessionVerifier;
    fn deref(&self) -> &SessionVerifier {
        &self.verifier
    }
}

/// A published key, with the one algorithm it verifies (fixed by the key's
/// type: a token's header never chooses it).
#[derive(Clone)]
struct VerifyingKey {
    kid: String,
    alg: SigningAlg,
    key: DecodingKey,
}

/// Only the public keys: what a function that reads sessions but never
/// issues them holds, so it cannot sign anything.
#[derive(Clone)]
pub struct SessionVerifier {
    issuer: String,
    /// Every public key, as `/.well-known/jwks.json` serves them.
    public: JwkSet,
    decoding: Vec<VerifyingKey>,
    validation: Validation,
}

impl std::fmt::Debug for SessionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.decoding.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("SessionVerifier").field("issuer", &self.issuer).field("kids", &kids).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("issuer", &self.issuer)
            .field("kid", &self.ec.kid)
            .field("rsa_kid", &self.rsa.kid)
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// `issuer` is the public base URL: it is both `iss` and `aud` of every session token.
    ///
    /// `private_keys_pem` holds PEM keys (see [`pem_keys`]) of both kinds,
    /// EC P-256 and RSA: the first of each kind signs; every one verifies and
    /// is published, so a key can be known to every function before it signs,
    /// and kept after it stopped (`profile-link-admin keys rotate`).
    pub fn from_pem(issuer: &str, private_keys_pem: &str) -> Result<Self, SessionKeyError> {
        let mut ec = None;
        let mut rsa = None;
        let mut public = Vec::new();
        let mut decoding: Vec<VerifyingKey> = Vec::new();
        for pem in pem_keys(private_keys_pem) {
            let key = PrivateKey::parse(&pem)?;
            if decoding.iter().any(|k| k.kid == key.kid) {
                continue;
            }
            let verifying = DecodingKey::from_jwk(&key.jwk).map_err(SessionKeyError::PublicKey)?;
            decoding.push(VerifyingKey { kid: key.kid.clone(), alg: key.alg, key: verifying });
            public.push(key.jwk);
            let signing = match key.alg {
                SigningAlg::Es256 => &mut ec,
                SigningAlg::Rs256 => &mut rsa,
            };
            signing.get_or_insert(SigningKey { kid: key.kid, encoding: key.encoding });
        }
        if decoding.is_empty() {
            return Err(SessionKeyError::NoKeys);
        }
        let ec = ec.ok_or(SessionKeyError::Missing(SigningAlg::Es256, "EC P-256, signs sessions"))?;
        let rsa = rsa.ok_or(SessionKeyError::Missing(SigningAlg::Rs256, "RSA, signs the portals' ID tokens"))?;
        let verifier = SessionVerifier::new(issuer, JwkSet { keys: public }, decoding);
        Ok(Self { ec, rsa, verifier })
    }

    /// A fresh key set, one key of each kind (each the one that signs), as
    /// [`SessionKeys::from_pem`] reads it: for tests and local servers.
    /// `profile-link-admin keys generate` adds the next keys.
    pub fn generate_pem() -> String {
        format!("{}{}", generate_ec_pem(), generate_rsa_pem())
    }

    /// The kid of the key that signs sessions.
    pub fn kid(&self) -> &str {
        &self.ec.kid
    }

    /// The kid of the key that signs `alg` tokens for portals.
    pub fn portal_kid(&self, alg: SigningAlg) -> &str {
        match alg {
            SigningAlg::Es256 => &self.ec.kid,
            SigningAlg::Rs256 => &self.rsa.kid,
        }
    }

    pub fn issue(&self, new: NewSession<'_>) -> (String, SessionClaims) {
        let claims = SessionClaims {
            iss: self.issuer.clone(),
            aud: self.issuer.clone(),
            sub: new.identity.key().to_string(),
            idp_iss: new.identity.issuer.clone(),
            idp_sub: new.identity.subject.clone(),
            idp: new.provider.0.to_owned(),
            idp_name: new.provider.1.to_owned(),
            profile: new.profile,
            auth_time: new.auth_time,
            iat: new.now,
            exp: new.now + new.ttl_seconds,
            sid: random::secret_256(),
            csrf: new.csrf.unwrap_or_else(random::secret_256),
            profiles: new.profiles,
            generation: new.generation,
            signed_in_for: new.signed_in_for,
        };
        let token = self.sign(&claims);
        (token, claims)
    }

    /// Signs claims as they are (re-issuing a session after its profiles change:
    /// see [`SessionClaims::with_profiles`]).
    pub fn sign(&self, claims: &SessionClaims) -> String {
        self.ec.sign(SigningAlg::Es256, claims)
    }

    /// Signs other short-lived claims (e.g. a clicked link held in a cookie)
    /// with the session key; `purpose` becomes the `aud`, so a token made for
    /// one purpose never verifies as a session or for another purpose.
    pub fn sign_for<T: Serialize>(&self, purpose: &str, claims: &T) -> String {
        #[derive(Serialize)]
        struct Envelope<'a, T> {
            iss: &'a str,
            aud: String,
            #[serde(flatten)]
            claims: &'a T,
        }
        let envelope = Envelope { iss: &self.issuer, aud: format!("{}#{purpose}", self.issuer), claims };
        self.ec.sign(SigningAlg::Es256, &envelope)
    }

    /// Signs a portal's token (an ID token, a logout token) as it is, with the
    /// algorithm the portal registered (`PortalClient::id_token_signed_response_alg`):
    /// `claims` carry their own `iss` and `aud`.
    pub fn sign_for_portal<T: Serialize>(&self, alg: SigningAlg, claims: &T) -> String {
        match alg {
            SigningAlg::Es256 => self.ec.sign(alg, claims),
            SigningAlg::Rs256 => self.rsa.sign(alg, claims),
        }
    }

    /// Signs a portal's token of another type than an ID token with the key and
    /// algorithm its ID tokens get, its `typ` header set (a logout token's `logout+jwt`).
    pub fn sign_for_portal_typed<T: Serialize>(&self, alg: SigningAlg, typ: &str, claims: &T) -> String {
        match alg {
            SigningAlg::Es256 => self.ec.sign_typed(alg, Some(typ), claims),
            SigningAlg::Rs256 => self.rsa.sign_typed(alg, Some(typ), claims),
        }
    }
}

impl SessionVerifier {
    fn new(issuer: &str, public: JwkSet, decoding: Vec<VerifyingKey>) -> Self {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self { issuer: issuer.to_owned(), public, decoding, validation }
    }

    /// From a JWKS as [`SessionKeys::jwks`] publishes it (`/.well-known/jwks.json`).
    /// A key with a private part (`d`) is refused: this value is meant to be public.
    pub fn from_jwks(issuer: &str, jwks_json: &str) -> Result<Self, SessionKeyError> {
        let raw: serde_json::Value =
            serde_json::from_str(jwks_json).map_err(|e| SessionKeyError::NotPublicKeys(e.to_string()))?;
        let keys = raw["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
        if keys.is_empty() {
            return Err(SessionKeyError::NotPublicKeys("no \"keys\"".into()));
        }
        if keys.iter().any(|key| key.get("d").is_some()) {
            return Err(SessionKeyError::NotPublicKeys("it holds a private key; give only the public part".into()));
        }
        let public: JwkSet = serde_json::from_value(raw).map_err(|e| SessionKeyError::NotPublicKeys(e.to_string()))?;
        let mut decoding = Vec::new();
        for jwk in &public.keys {
            let kid =
                jwk.common.key_id.clone().ok_or_else(|| SessionKeyError::NotPublicKeys("a key has no kid".into()))?;
            let alg = SigningAlg::of_public_key(jwk).ok_or_else(|| {
                SessionKeyError::NotPublicKeys(format!("key {kid} is neither an ES256 (P-256) nor an RS256 key"))
            })?;
            decoding.push(VerifyingKey {
                kid,
                alg,
                key: DecodingKey::from_jwk(jwk).map_err(SessionKeyError::PublicKey)?,
            });
        }
        Ok(Self::new(issuer, public, decoding))
    }

    /// The published key `kid` names, if it verifies `alg` (when given).
    fn key(&self, kid: Option<&str>, alg: Option<SigningAlg>) -> Option<&VerifyingKey> {
        let kid = kid?;
        self.decoding.iter().find(|k| k.kid == kid && alg.is_none_or(|alg| k.alg == alg))
    }

    /// An ID token this service issued, as `id_token_hint` returns it
    /// (RP-initiated logout): signature and issuer checked, expiry not
    /// (a hint may be an expired token), any audience. ES256 or RS256, as the
    /// key its `kid` names verifies: a header `alg` that is not that key's
    /// algorithm (HS256 keyed with the public key, `none`, …) is refused.
    pub fn id_token_hint<T: serde::de::DeserializeOwned>(&self, token: &str) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.key(header.kid.as_deref(), None)?;
        let mut validation = Validation::new(key.alg.algorithm());
        validation.set_issuer(&[&self.issuer]);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        jsonwebtoken::decode::<T>(token, &key.key, &validation).ok().map(|data| data.claims)
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.public
    }

    /// Verifies claims made by [`SessionKeys::sign_for`] for `purpose`; they must carry `exp`.
    pub fn verify_for<T: serde::de::DeserializeOwned>(&self, purpose: &str, token: &str, now: i64) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.key(header.kid.as_deref(), Some(SigningAlg::Es256))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[format!("{}#{purpose}", self.issuer)]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 0;
        #[derive(Deserialize)]
        struct Exp {
            exp: i64,
        }
        let value = jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation).ok()?.claims;
        let exp: Exp = serde_json::from_value(value.clone()).ok()?;
        if exp.exp <= now {
            return None;
        }
        serde_json::from_value(value).ok()
    }

    /// Verifies signature, `iss`, `aud`, `exp` (against the system clock, as a
    /// portal would) and that `now` is before `exp`. Sessions are ES256 only.
    pub fn verify(&self, token: &str, now: i64) -> Result<SessionClaims, SessionRejected> {
        let header = jsonwebtoken::decode_header(token)?;
        let key = self.key(header.kid.as_deref(), Some(SigningAlg::Es256)).ok_or(SessionRejected::UnknownKey)?;
        let data = jsonwebtoken::decode::<SessionClaims>(token, &key.key, &self.validation)?;
        if data.claims.exp <= now {
            return Err(SessionRejected::Invalid(jsonwebtoken::errors::ErrorKind::ExpiredSignature.into()));
        }
        Ok(data.claims)
    }
}

impl crate::store::IdentityState {
    /// Whether `session` was signed out (itself, or everywhere) since it was issued.
    pub fn has_ended(&self, session: &SessionClaims) -> bool {
        self.has_ended_session(&session.sid, session.generation)
    }
}

#[cfg(test)]
mod tests;
