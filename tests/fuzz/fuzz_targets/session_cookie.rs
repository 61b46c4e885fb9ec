//! Session cookies of any shape: refused quietly unless genuinely signed.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use profile_link_core::SessionKeys;

fn keys() -> &'static SessionKeys {
    static KEYS: OnceLock<SessionKeys> = OnceLock::new();
    KEYS.get_or_init(|| SessionKeys::from_pem("https://portal.example.com", &SessionKeys::generate_pem()).unwrap())
}

fuzz_target!(|raw: &str| {
    // Nothing forged by the fuzzer can carry a valid ES256 signature.
    assert!(keys().verify(raw, 1_800_000_000).is_err());
});
