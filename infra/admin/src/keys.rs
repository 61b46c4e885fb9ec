//! `profile-link-admin keys`: the signing keys in SSM, rotated without
//! signing anyone out.
//!
//! The signing-key parameter holds up to three PEM keys, each published in the
//! JWKS and trusted by every function: the one that signs, the **next** one
//! (already known everywhere before it signs) and the **previous** one (still
//! verifying what it signed). Functions read the keys once per cold start, so
//! a function started before a rotation keeps signing with the key that was
//! current then; because every function knew the next key already, what a new
//! function signs verifies in an old one, and what an old one signs verifies
//! in a new one. A rotation drops the previous key, so rotations are at least
//! `min_interval` apart: longer than a session lives and than a function's
//! execution environment stays warm.

//!
//! Both kinds of key rotate together, each by that rule: EC P-256 (ES256:
//! sessions, and the portals that registered ES256) and RSA (RS256: every
//! other portal's ID tokens). A parameter written before RSA keys existed
//! holds only EC keys: its first rotation adds the RSA keys (one to sign,
//! its next) and rotates nothing, so it may run at any time. The RSA keys are
//! PKCS#1 PEM blocks, which a function built before them skips: adding them
//! before deploying the code that uses them stops nothing.

use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use profile_link_core::SessionKeys;
use profile_link_core::session::{PrivateKey, SigningAlg, generate_ec_pem, generate_rsa_pem, pem_keys};

/// The default rotation interval: a day, well over a session (at most 24 h) and a warm function.
pub const DEFAULT_MIN_INTERVAL_SECONDS: i64 = 24 * 3600;

/// What a rotation makes of the keys (PEM blocks; of each kind, the signing key first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub keys: Vec<String>,
    /// The keys that no longer verify (the previous one of each kind; more
    /// only if the parameter held more than three of a kind).
    pub dropped: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RotationRefused {
    #[error("the parameter holds no PEM private key")]
    NoKeys,
    #[error("the parameter holds a PEM block that is not a signing key: {0}")]
    NotAKey(String),
    #[error(
        "the keys were changed {ago} s ago; a rotation drops the previous key, which a session or a function started before then may still rely on: rotate again in {wait} s (or --force)"
    )]
    TooSoon { ago: i64, wait: i64 },
}

/// The next key set. While a kind has fewer than two keys (a new parameter
/// with one key, or one written before RSA keys existed), the rotation only
/// completes it: a missing kind gets a signing key and its next, a single key
/// its next (it goes on signing); nothing is dropped. Otherwise, for each
/// kind, the next key signs, a new next key is published, and the key that
/// signed so far becomes the previous one.
pub fn rotate(
    current: &str,
    changed_ago: Option<i64>,
    min_interval: i64,
    force: bool,
) -> Result<Rotation, RotationRefused> {
    let pems = pem_keys(current);
    if pems.is_empty() {
        return Err(RotationRefused::NoKeys);
    }
    let (mut ec, mut rsa) = (Vec::new(), Vec::new());
    for pem in pems {
        match PrivateKey::parse(&pem).map_err(|e| RotationRefused::NotAKey(e.to_string()))?.alg {
            SigningAlg::Es256 => ec.push(pem),
            SigningAlg::Rs256 => rsa.push(pem),
        }
    }
    // Each kind's keys, and how to make a fresh one.
    type Kind = (Vec<String>, fn() -> String);
    let kinds: [Kind; 2] = [(ec, generate_ec_pem), (rsa, generate_rsa_pem)];
    let complete = kinds.iter().all(|(keys, _)| keys.len() >= 2);
    if complete && let Some(ago) = changed_ago.filter(|ago| *ago < min_interval && !force) {
        return Err(RotationRefused::TooSoon { ago, wait: min_interval - ago });
    }
    let mut rotation = Rotation { keys: Vec::new(), dropped: Vec::new() };
    for (keys, fresh) in kinds {
        match keys.as_slice() {
            [] => rotation.keys.extend([fresh(), fresh()]),
            [only] => rotation.keys.extend([only.clone(), fresh()]),
            [signing, next, rest @ ..] if complete => {
                rotation.keys.extend([next.clone(), fresh(), signing.clone()]);
                rotation.dropped.extend_from_slice(rest);
            }
            _ => rotation.keys.extend(keys),
        }
    }
    Ok(rotation)
}

/// The algorithm and kid (RFC 7638 thumbprint, first 12 characters) of one PEM key, for messages.
pub fn short_kid(pem: &str) -> String {
    PrivateKey::parse(pem).map(|k| format!("{} {}", k.alg, &k.kid[..12])).unwrap_or_else(|_| "?".into())
}

/// What `keys rotate` did: for each kind, its keys (short kids) in their roles.
#[derive(Debug)]
pub struct Rotated {
    pub kinds: Vec<KeyRoles>,
    pub dropped: Vec<String>,
}

#[derive(Debug)]
pub struct KeyRoles {
    pub signing: String,
    pub next: String,
    pub previous: Option<String>,
}

impl Rotation {
    /// The keys of each kind in their roles (signing, next, previous), EC first.
    pub fn roles(&self) -> Vec<KeyRoles> {
        [SigningAlg::Es256, SigningAlg::Rs256]
            .into_iter()
            .map(|alg| {
                let of_kind: Vec<String> = self
                    .keys
                    .iter()
                    .filter(|pem| PrivateKey::parse(pem).is_ok_and(|k| k.alg == alg))
                    .map(|pem| short_kid(pem))
                    .collect();
                let role = |i: usize| of_kind.get(i).cloned();
                KeyRoles { signing: role(0).unwrap_or_default(), next: role(1).unwrap_or_default(), previous: role(2) }
            })
            .collect()
    }
}

/// Rotates the keys in `signing_parameter` (a SecureString) and writes the
/// public keys of the result to `public_parameter` (a String, for the functions
/// that only verify), the public ones first so no verifier lags a signer.
pub async fn rotate_in_ssm(
    ssm: &aws_sdk_ssm::Client,
    signing_parameter: &str,
    public_parameter: &str,
    min_interval: i64,
    force: bool,
    now: i64,
) -> anyhow::Result<Rotated> {
    use anyhow::Context;
    let current = ssm
        .get_parameter()
        .name(signing_parameter)
        .with_decryption(true)
        .send()
        .await
        .with_context(|| format!("reading {signing_parameter}"))?;
    let parameter = current.parameter.context("SSM returned no parameter")?;
    let value = parameter.value.context("the parameter has no value")?;
    let changed_ago = parameter.last_modified_date.map(|d| now - d.secs());
    let rotation = rotate(&value, changed_ago, min_interval, force)?;
    let joined = rotation.keys.join("");
    let keys = SessionKeys::from_pem("", &joined).context("the rotated keys")?;
    ssm.put_parameter()
        .name(public_parameter)
        .value(serde_json::to_string(keys.jwks())?)
        .r#type(ParameterType::String)
        // Six keys pass Standard's 4 KB (the private PEMs take ~5.7 KB): Advanced only when needed.
        .tier(ParameterTier::IntelligentTiering)
        .overwrite(true)
        .send()
        .await
        .with_context(|| format!("writing {public_parameter}"))?;
    ssm.put_parameter()
        .name(signing_parameter)
        .value(joined)
        .r#type(ParameterType::SecureString)
        .tier(ParameterTier::IntelligentTiering)
        .overwrite(true)
        .send()
        .await
        .with_context(|| format!("writing {signing_parameter}"))?;
    Ok(Rotated { kinds: rotation.roles(), dropped: rotation.dropped.iter().map(|k| short_kid(k)).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kids(pems: &[String]) -> Vec<String> {
        pems.iter().map(|p| short_kid(p)).collect()
    }

    /// The keys of one kind in `pems` (one or several PEM blocks each), in order.
    fn of(alg: SigningAlg, pems: &[String]) -> Vec<String> {
        let keys = pem_keys(&pems.concat());
        keys.iter().filter(|p| PrivateKey::parse(p).unwrap().alg == alg).map(|p| short_kid(p)).collect()
    }

    #[test]
    fn a_rotation_promotes_the_published_next_keys_and_keeps_the_previous() {
        let (a, b) = (SessionKeys::generate_pem(), SessionKeys::generate_pem());
        let first = rotate(&a, None, 10, false).unwrap();
        assert_eq!(first.keys.len(), 4, "a single key of each kind gets its next");
        for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
            assert_eq!(
                of(alg, &first.keys)[..1],
                of(alg, std::slice::from_ref(&a))[..],
                "{alg}: a single key goes on signing"
            );
        }
        let ab = format!("{a}{b}");
        let second = rotate(&ab, Some(11), 10, false).unwrap();
        let third = rotate(&second.keys.join(""), Some(11), 10, false).unwrap();
        for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
            let (before, after) = (of(alg, std::slice::from_ref(&ab)), of(alg, &second.keys));
            assert_eq!(after.len(), 3, "{alg}: signing, next, previous");
            assert_eq!(after[0], before[1], "{alg}: the next key signs");
            assert_eq!(after[2], before[0], "{alg}: the old one verifies on");
            assert_eq!(of(alg, &third.keys)[0], after[1], "{alg}: the next one signs next");
            assert_eq!(of(alg, &third.dropped), before[..1], "{alg}: the previous one goes");
        }
        assert_eq!(second.dropped, Vec::<String>::new());
        assert_eq!(second.roles().len(), 2, "{:?}", second.roles());
    }

    #[test]
    fn a_set_written_before_rsa_keys_gets_them_added_and_nothing_rotated() {
        let ec: Vec<String> = (0..3).map(|_| generate_ec_pem()).collect();
        // Just changed, not forced: adding keys drops nothing, so it is never too soon.
        let added = rotate(&ec.concat(), Some(1), 10, false).unwrap();
        assert_eq!(of(SigningAlg::Es256, &added.keys), kids(&ec), "the EC keys are kept as they were");
        assert_eq!(of(SigningAlg::Rs256, &added.keys).len(), 2, "an RSA key to sign, and its next");
        assert!(added.dropped.is_empty());
        assert!(added.keys.iter().any(|k| k.starts_with("-----BEGIN RSA PRIVATE KEY-----")), "PKCS#1");
        assert!(SessionKeys::from_pem("", &added.keys.concat()).is_ok(), "a set that starts");
        // Then rotations go on as for any complete set.
        assert!(matches!(rotate(&added.keys.concat(), Some(1), 10, false), Err(RotationRefused::TooSoon { .. })));
    }

    #[test]
    fn every_key_past_the_previous_one_is_named_as_dropped() {
        let four: Vec<String> = (0..4).map(|_| generate_ec_pem()).collect();
        let rsa = [generate_rsa_pem(), generate_rsa_pem()];
        let rotated = rotate(&format!("{}{}", four.concat(), rsa.concat()), None, 10, false).unwrap();
        let ec = of(SigningAlg::Es256, &rotated.keys);
        assert_eq!(ec[..1], kids(&four[1..2]), "the next key signs");
        assert_eq!(ec[2..], kids(&four[..1]), "the signing key verifies on");
        assert_eq!(kids(&rotated.dropped), kids(&four[2..]), "both keys past the previous one are dropped and named");
    }

    #[test]
    fn rotations_too_close_together_are_refused_unless_forced() {
        let keys = format!("{}{}", SessionKeys::generate_pem(), SessionKeys::generate_pem());
        assert_eq!(rotate(&keys, Some(5), 10, false), Err(RotationRefused::TooSoon { ago: 5, wait: 5 }));
        assert!(rotate(&keys, Some(5), 10, true).is_ok());
        assert_eq!(rotate("not a key", None, 10, true), Err(RotationRefused::NoKeys));
    }
}
