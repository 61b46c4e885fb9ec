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

use aws_sdk_ssm::types::ParameterType;
use profile_link_core::SessionKeys;
use profile_link_core::session::pem_keys;

/// The default rotation interval: a day, well over a session (at most 24 h) and a warm function.
pub const DEFAULT_MIN_INTERVAL_SECONDS: i64 = 24 * 3600;

/// What a rotation makes of the keys (PEM blocks, signing key first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub keys: Vec<String>,
    /// The keys that no longer verify (the previous one; more only if the
    /// parameter held more than three).
    pub dropped: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RotationRefused {
    #[error("the parameter holds no PEM private key")]
    NoKeys,
    #[error(
        "the keys were changed {ago} s ago; a rotation drops the previous key, which a session or a function started before then may still rely on: rotate again in {wait} s (or --force)"
    )]
    TooSoon { ago: i64, wait: i64 },
}

/// The next key set: a single key gets its next key published (it goes on
/// signing); otherwise the next key signs, a new next key is published, and
/// the key that signed so far becomes the previous one.
pub fn rotate(
    current: &str,
    changed_ago: Option<i64>,
    min_interval: i64,
    force: bool,
) -> Result<Rotation, RotationRefused> {
    let keys = pem_keys(current);
    let fresh = SessionKeys::generate_pem();
    match keys.as_slice() {
        [] => Err(RotationRefused::NoKeys),
        [only] => Ok(Rotation { keys: vec![only.clone(), fresh], dropped: Vec::new() }),
        [signing, next, rest @ ..] => {
            if let Some(ago) = changed_ago.filter(|ago| *ago < min_interval && !force) {
                return Err(RotationRefused::TooSoon { ago, wait: min_interval - ago });
            }
            Ok(Rotation { keys: vec![next.clone(), fresh, signing.clone()], dropped: rest.to_vec() })
        }
    }
}

/// The kid (RFC 7638 thumbprint, first 12 characters) of one PEM key, for messages.
pub fn short_kid(pem: &str) -> String {
    SessionKeys::from_pem("", pem).map(|k| k.kid()[..12].to_owned()).unwrap_or_else(|_| "?".into())
}

/// What `keys rotate` did.
#[derive(Debug)]
pub struct Rotated {
    pub signing: String,
    pub next: String,
    pub previous: Option<String>,
    pub dropped: Vec<String>,
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
        .overwrite(true)
        .send()
        .await
        .with_context(|| format!("writing {public_parameter}"))?;
    ssm.put_parameter()
        .name(signing_parameter)
        .value(joined)
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .with_context(|| format!("writing {signing_parameter}"))?;
    Ok(Rotated {
        signing: short_kid(&rotation.keys[0]),
        next: short_kid(&rotation.keys[1]),
        previous: rotation.keys.get(2).map(|k| short_kid(k)),
        dropped: rotation.dropped.iter().map(|k| short_kid(k)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kids(pems: &[String]) -> Vec<String> {
        pems.iter().map(|p| short_kid(p)).collect()
    }

    #[test]
    fn a_rotation_promotes_the_published_next_key_and_keeps_the_previous() {
        let (a, b) = (SessionKeys::generate_pem(), SessionKeys::generate_pem());
        let first = rotate(&a, None, 10, false).unwrap();
        assert_eq!(kids(&first.keys[..1]), kids(&[a.clone()]), "a single key goes on signing");
        assert_eq!(first.keys.len(), 2);
        let second = rotate(&format!("{a}{b}"), Some(11), 10, false).unwrap();
        assert_eq!(kids(&second.keys[..1]), kids(&[b.clone()]), "the next key signs");
        assert_eq!(kids(&second.keys[2..]), kids(&[a.clone()]), "the old one verifies on");
        assert_eq!(second.dropped, Vec::<String>::new());
        let third = rotate(&second.keys.join(""), Some(11), 10, false).unwrap();
        assert_eq!(kids(&third.keys[..1]), kids(&second.keys[1..2]));
        assert_eq!(kids(&third.dropped), kids(&[a.clone()]), "the previous one goes");
    }

    #[test]
    fn every_key_past_the_previous_one_is_named_as_dropped() {
        let four: Vec<String> = (0..4).map(|_| SessionKeys::generate_pem()).collect();
        let rotated = rotate(&four.concat(), None, 10, false).unwrap();
        assert_eq!(kids(&rotated.keys[..1]), kids(&four[1..2]), "the next key signs");
        assert_eq!(kids(&rotated.keys[2..]), kids(&four[..1]), "the signing key verifies on");
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
