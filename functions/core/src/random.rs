//! Unguessable values from the operating system's CSPRNG, and the hashes we store instead of them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the OS, base64url without padding.
pub fn token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A 256-bit random value: state, nonce, browser binding, session id, CSRF token.
pub fn secret_256() -> String {
    token(32)
}

/// A number in `0..bound` (0 when `bound` is 0), for jitter: spread, not secrecy.
pub fn below(bound: u64) -> u64 {
    let mut buf = [0u8; 8];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    u64::from_le_bytes(buf).checked_rem(bound).unwrap_or(0)
}

/// SHA-256 of `value`, base64url without padding.
pub fn sha256_b64(value: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value))
}

/// Constant-time equality for secrets compared against attacker input.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = secret_256();
        let b = secret_256();
        assert_eq!(a.len(), 43, "32 bytes base64url without padding");
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn sha256_matches_known_vector() {
        // RFC 7636 appendix B: the S256 challenge of this verifier.
        assert_eq!(
            sha256_b64(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
