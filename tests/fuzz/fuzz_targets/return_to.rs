//! `return_to` after sign-in: whatever is accepted, a browser resolving it
//! against the site stays on the site (no open redirect).
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_link_core::ReturnTo;

fuzz_target!(|raw: &str| {
    let Some(path) = ReturnTo::parse(raw) else { return };
    let site = url::Url::parse("https://portal.example.com/account").unwrap();
    let resolved = site.join(path.as_str()).expect("an accepted path resolves");
    assert_eq!(resolved.origin(), site.origin(), "{raw:?} leaves the site: {resolved}");
});
