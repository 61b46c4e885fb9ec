//! Link tokens from email links (`/redeem?token=…`): parse or refuse, never
//! panic; what parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_link_core::domain::link_token::LinkToken;

fuzz_target!(|raw: &str| {
    if let Ok(token) = LinkToken::parse(raw) {
        let printed = token.expose();
        let again = LinkToken::parse(&printed).expect("a printed token parses");
        assert_eq!(again.expose(), printed);
        assert_eq!(again.link_id, token.link_id);
    }
});
