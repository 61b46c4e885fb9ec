//! Sessions: a short-lived ES256 JWT in a cookie. Portal endpoints verify the
//! same token with nothing but `/.well-known/jwks.json`.

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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
}

impl SessionClaims {
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
}

#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    #[error("the session signing key is not a PKCS#8 PEM EC P-256 private key: {0}")]
    NotAnEcKey(jsonwebtoken::errors::Error),
    #[error("could not derive the public key: {0}")]
    PublicKey(jsonwebtoken::errors::Error),
    #[error("not a JWKS of ES256 public keys, each with a kid: {0}")]
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

/// The signing key (from a secret), and through [`SessionVerifier`] (which it
/// derefs to) the public keys published as JWKS.
pub struct SessionKeys {
    kid: String,
    encoding: EncodingKey,
    verifier: SessionVerifier,
}

impl std::ops::Deref for SessionKeys {
    type Target = SessionVerifier;
    fn deref(&self) -> &SessionVerifier {
        &self.verifier
    }
}

/// Only the public keys: what a function that reads sessions but never
/// issues them holds, so it cannot sign anything.
#[derive(Clone)]
pub struct SessionVerifier {
    issuer: String,
    /// The current public key first, then any still-trusted previous keys.
    public: JwkSet,
    decoding: Vec<(String, DecodingKey)>,
    validation: Validation,
}

impl std::fmt::Debug for SessionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.decoding.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("SessionVerifier").field("issuer", &self.issuer).field("kids", &kids).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys").field("issuer", &self.issuer).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// `issuer` is the public base URL: it is both `iss` and `aud` of every session token.
    ///
    /// `private_keys_pem` holds one or more PEM keys (see [`pem_keys`]): the
    /// first signs; every one verifies and is published, so a key can be known
    /// to every function before it signs, and kept after it stopped
    /// (`profile-link-admin keys rotate`).
    pub fn from_pem(issuer: &str, private_keys_pem: &str) -> Result<Self, SessionKeyError> {
        let pems = pem_keys(private_keys_pem);
        let mut signing = None;
        let mut public = Vec::new();
        let mut decoding: Vec<(String, DecodingKey)> = Vec::new();
        for pem in &pems {
            let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(SessionKeyError::NotAnEcKey)?;
            let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(SessionKeyError::PublicKey)?;
            // RFC 7638 thumbprint: a kid that changes exactly when the key does.
            let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(SessionKeyError::PublicKey)?;
            jwk.common.key_id = Some(kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            if decoding.iter().any(|(k, _)| *k == kid) {
                continue;
            }
            decoding.push((kid.clone(), DecodingKey::from_jwk(&jwk).map_err(SessionKeyError::PublicKey)?));
            public.push(jwk);
            signing.get_or_insert((kid, encoding));
        }
        let Some((kid, encoding)) = signing else {
            return Err(SessionKeyError::NotAnEcKey(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into()));
        };
        let verifier = SessionVerifier::new(issuer, JwkSet { keys: public }, decoding);
        Ok(Self { kid, encoding, verifier })
    }

    /// A fresh P-256 key as PKCS#8 PEM, for `profile-link-admin keys generate` and tests.
    pub fn generate_pem() -> String {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("P-256 key generation failed");
        pem_encode("PRIVATE KEY", pkcs8.as_ref())
    }

    pub fn kid(&self) -> &str {
        &self.kid
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
        };
        let token = self.sign(&claims);
        (token, claims)
    }

    /// Signs claims as they are (re-issuing a session after its profiles change:
    /// see [`SessionClaims::with_profiles`]).
    pub fn sign(&self, claims: &SessionClaims) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("ES256 signing with a validated key cannot fail")
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
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let envelope = Envelope { iss: &self.issuer, aud: format!("{}#{purpose}", self.issuer), claims };
        jsonwebtoken::encode(&header, &envelope, &self.encoding)
            .expect("ES256 signing with a validated key cannot fail")
    }

    /// Signs a portal's token (an ID token) as it is: `claims` carry their own `iss` and `aud`.
    pub fn sign_token<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("ES256 signing with a validated key cannot fail")
    }
}

impl SessionVerifier {
    fn new(issuer: &str, public: JwkSet, decoding: Vec<(String, DecodingKey)>) -> Self {
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
            decoding.push((kid, DecodingKey::from_jwk(jwk).map_err(SessionKeyError::PublicKey)?));
        }
        Ok(Self::new(issuer, public, decoding))
    }

    /// An ID token this service issued, as `id_token_hint` returns it
    /// (RP-initiated logout): signature and issuer checked, expiry not
    /// (a hint may be an expired token), any audience.
    pub fn id_token_hint<T: serde::de::DeserializeOwned>(&self, token: &str) -> Option<T> {
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        let key = self.decoding.iter().find(|(k, _)| *k == kid).map(|(_, key)| key)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        jsonwebtoken::decode::<T>(token, key, &validation).ok().map(|data| data.claims)
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.public
    }

    /// Verifies claims made by [`SessionKeys::sign_for`] for `purpose`; they must carry `exp`.
    pub fn verify_for<T: serde::de::DeserializeOwned>(&self, purpose: &str, token: &str, now: i64) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let kid = header.kid?;
        let key = self.decoding.iter().find(|(k, _)| *k == kid).map(|(_, key)| key)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[format!("{}#{purpose}", self.issuer)]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 0;
        #[derive(Deserialize)]
        struct Exp {
            exp: i64,
        }
        let value = jsonwebtoken::decode::<serde_json::Value>(token, key, &validation).ok()?.claims;
        let exp: Exp = serde_json::from_value(value.clone()).ok()?;
        if exp.exp <= now {
            return None;
        }
        serde_json::from_value(value).ok()
    }

    /// Verifies signature, `iss`, `aud`, `exp` (against the system clock, as a
    /// portal would) and that `now` is before `exp`.
    pub fn verify(&self, token: &str, now: i64) -> Result<SessionClaims, SessionRejected> {
        let header = jsonwebtoken::decode_header(token)?;
        let kid = header.kid.ok_or(SessionRejected::UnknownKey)?;
        let key =
            self.decoding.iter().find(|(k, _)| *k == kid).map(|(_, key)| key).ok_or(SessionRejected::UnknownKey)?;
        let data = jsonwebtoken::decode::<SessionClaims>(token, key, &self.validation)?;
        if data.claims.exp <= now {
            return Err(SessionRejected::Invalid(jsonwebtoken::errors::ErrorKind::ExpiredSignature.into()));
        }
        Ok(data.claims)
    }
}

/// The PEM private keys in `text`, in order (blocks separated by anything, e.g. newlines).
pub fn pem_keys(text: &str) -> Vec<String> {
    const END: &str = "-----END PRIVATE KEY-----";
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find(END) {
        let block = &rest[..end + END.len()];
        if let Some(start) = block.find("-----BEGIN PRIVATE KEY-----") {
            keys.push(format!("{}\n", &block[start..]));
        }
        rest = &rest[end + END.len()..];
    }
    keys
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl crate::store::IdentityState {
    /// Whether `session` was signed out (itself, or everywhere) since it was issued.
    pub fn has_ended(&self, session: &SessionClaims) -> bool {
        self.has_ended_session(&session.sid, session.generation)
    }
}

#[cfg(test)]
mod tests;
