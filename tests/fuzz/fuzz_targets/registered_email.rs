//! Typed email addresses: parse or refuse with a reason, never panic. An
//! accepted address is stable under parsing again, its mask keeps only the
//! first character of the local part, and every spelling of it shares one
//! rate-limit key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_link_core::domain::email::RegisteredEmail;
use profile_link_core::domain::rate_limit::address_rate_key;

fuzz_target!(|raw: &str| {
    let Ok(email) = RegisteredEmail::parse(raw) else { return };
    let again = RegisteredEmail::parse(email.as_str()).expect("a normalised address parses");
    assert_eq!(again.as_str(), email.as_str());
    assert_eq!(address_rate_key(&again), address_rate_key(&email));
    let (local, domain) = email.as_str().rsplit_once('@').expect("an address has an @");
    let first = local.chars().next().expect("a local part is never empty");
    assert_eq!(email.masked(), format!("{first}***@{domain}"), "the mask shows one character of {local:?}");
});
