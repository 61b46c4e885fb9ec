//! `Accept-Language` headers: any value picks a supported language, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_link_core::i18n::Locale;

fuzz_target!(|raw: &str| {
    let locale = Locale::negotiate(Some(raw));
    assert_eq!(Locale::from_tag(locale.tag()), locale);
});
