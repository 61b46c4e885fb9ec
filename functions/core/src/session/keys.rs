//! The signing keys as the `SESSION_SIGNING_KEY` secret holds them: PEM
//! private keys of two kinds, EC P-256 (ES256: sessions, our own tokens, and
//! the portals that registered ES256) and RSA (RS256: every other portal's
//! tokens; OpenID Connect Discovery §3 requires RS256 to be offered).

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};

use super::SessionKeyError;

/// How a portal's tokens (ID tokens, logout tokens) are signed: its registered
/// `id_token_signed_response_alg`. RS256 unless it registered ES256: RS256 is
/// what every relying-party library accepts without being told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlg {
    #[default]
    Rs256,
    Es256,
}

impl SigningAlg {
    /// Discovery's `id_token_signing_alg_values_supported`.
    pub const SUPPORTED: [&'static str; 2] = ["RS256", "ES256"];

    /// A registered `id_token_signed_response_alg`; `None` for anything else
    /// (`none`, HS256, …: a portal must not choose a weaker or symmetric one).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    pub(super) fn algorithm(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }

    /// The algorithm a published key verifies, from the key itself (never from
    /// a token's header, nor only from the JWK's own `alg`).
    pub(super) fn of_public_key(jwk: &Jwk) -> Option<Self> {
        let alg = match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Self::Es256,
            AlgorithmParameters::RSA(_) => Self::Rs256,
            _ => return None,
        };
        let stated = jwk.common.key_algorithm.map(|a| a.to_string());
        (stated.is_none() || stated.as_deref() == Some(alg.as_str())).then_some(alg)
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One private key from the secret, with what is published of it.
pub struct PrivateKey {
    pub alg: SigningAlg,
    /// RFC 7638 thumbprint: a kid that changes exactly when the key does.
    pub kid: String,
    /// The public part as published: `kid`, `use: sig`, `alg`.
    pub jwk: Jwk,
    pub(super) encoding: EncodingKey,
}

impl PrivateKey {
    /// One PEM block (see [`pem_keys`]): PKCS#8 EC P-256, or RSA (PKCS#1 or
    /// PKCS#8) of 2048 bits or more.
    pub fn parse(pem: &str) -> Result<Self, SessionKeyError> {
        let not_a_key = |e: jsonwebtoken::errors::Error| SessionKeyError::NotAKey(e.to_string());
        let (alg, encoding) = if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            (SigningAlg::Rs256, EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(not_a_key)?)
        } else {
            match EncodingKey::from_ec_pem(pem.as_bytes()) {
                Ok(key) => (SigningAlg::Es256, key),
                Err(_) => (SigningAlg::Rs256, EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(not_a_key)?),
            }
        };
        // Deriving the public part also checks the private key (for RSA: its size, its structure).
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.algorithm()).map_err(not_a_key)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(SessionKeyError::PublicKey)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self { alg, kid, jwk, encoding })
    }
}

/// A fresh P-256 key as PKCS#8 PEM.
pub fn generate_ec_pem() -> String {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("P-256 key generation failed");
    pem_encode("PRIVATE KEY", pkcs8.as_ref())
}

/// A fresh 2048-bit RSA key (what the large providers sign RS256 ID tokens
/// with) as PKCS#1 PEM (`RSA PRIVATE KEY`). Not PKCS#8: a function built
/// before RSA keys existed skips such a block and goes on starting, so
/// `keys rotate` can add RSA keys before the code that uses them is deployed.
pub fn generate_rsa_pem() -> String {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    let pkcs8 = KeyPair::generate(KeySize::Rsa2048).and_then(|key| key.as_der()).expect("RSA key generation failed");
    let pkcs8_pem = pem_encode("PRIVATE KEY", pkcs8.as_ref());
    // jsonwebtoken reads a PKCS#8 RSA key down to its PKCS#1 RSAPrivateKey.
    let pkcs1 = EncodingKey::from_rsa_pem(pkcs8_pem.as_bytes()).expect("a generated RSA key reads back");
    pem_encode("RSA PRIVATE KEY", pkcs1.as_bytes())
}

/// The PEM private keys in `text`, in order (blocks separated by anything,
/// e.g. newlines): PKCS#8 (`PRIVATE KEY`) and PKCS#1 RSA (`RSA PRIVATE KEY`).
pub fn pem_keys(text: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN ";
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let label = block[BEGIN.len()..].split("-----").next().unwrap_or_default();
        let end = format!("-----END {label}-----");
        let Some(end_at) = block.find(&end) else { break };
        if matches!(label, "PRIVATE KEY" | "RSA PRIVATE KEY") {
            keys.push(format!("{}\n", &block[..end_at + end.len()]));
        }
        rest = &block[end_at + end.len()..];
    }
    keys
}

pub(super) fn pem_encode(label: &str, der: &[u8]) -> String {
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
