//! Property tests: the parsers that meet untrusted input (link tokens, email
//! addresses, return paths, session cookies) never panic on anything, and what
//! they accept keeps the invariants the rest of the code relies on.

use profile_link_core::domain::email::RegisteredEmail;
use profile_link_core::domain::link_token::{LinkId, LinkToken, Verifier};
use profile_link_core::domain::rate_limit::address_rate_key;
use profile_link_core::{ReturnTo, SessionKeys};
use proptest::prelude::*;

/// Characters that matter to the parsers, so generated inputs hit their edges often.
fn tricky(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('/'),
            Just('\\'),
            Just('%'),
            Just('.'),
            Just('@'),
            Just(':'),
            Just('#'),
            Just('?'),
            Just(' '),
            Just('\t'),
            Just('\n'),
            Just('"'),
            Just('+'),
            Just('-'),
            Just('_'),
            Just('2'),
            Just('F'),
            Just('f'),
            Just('5'),
            Just('C'),
            Just('A'),
            Just('é'),
            Just('Ｐ'),
            Just('İ'),
            Just('\u{0}'),
            Just('<'),
            Just('>'),
            proptest::char::any(),
        ],
        0..max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn link_tokens_parse_or_refuse_without_panicking(raw in prop_oneof![tricky(80), ".*", "[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}"]) {
        if let Ok(token) = LinkToken::parse(&raw) {
            let exposed = token.expose();
            prop_assert_eq!(exposed.len(), 22 + 1 + 43);
            prop_assert_eq!(exposed.as_str(), raw.trim());
            prop_assert_eq!(LinkToken::parse(&exposed).unwrap().link_id, token.link_id);
        }
    }

    #[test]
    fn a_token_matches_only_its_own_verifier(flip in 0usize..66) {
        let verifier = Verifier::mint();
        let hash = verifier.hash();
        let token = LinkToken::new(LinkId::mint(), verifier).expose();
        let mut bytes = token.into_bytes();
        let i = flip % bytes.len();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        if let Ok(parsed) = LinkToken::parse(&tampered) {
            // A flip in the selector keeps the verifier (it then names another link); one in the verifier must not match.
            if i > 22 {
                prop_assert!(!parsed.matches(&hash));
            }
        }
    }

    #[test]
    fn registered_emails_are_normalised_and_stable(raw in prop_oneof![tricky(60), ".*", "[A-Za-z0-9.+_-]{1,20}@[A-Za-z0-9-]{1,10}\\.[a-z]{2,5}"]) {
        if let Ok(email) = RegisteredEmail::parse(&raw) {
            let value = email.as_str();
            prop_assert!(value.len() <= 254);
            prop_assert_eq!(value, value.trim());
            prop_assert_eq!(value.to_lowercase(), value);
            prop_assert_eq!(value.matches('@').count(), 1);
            prop_assert!(!value.chars().any(|c| c.is_whitespace() || c.is_control()));
            // Normalising twice changes nothing: one mailbox, one key.
            prop_assert_eq!(RegisteredEmail::parse(value).unwrap(), email.clone());
            let key = address_rate_key(&email);
            prop_assert!(key.contains('@') && !key.split('@').next().unwrap().contains('+'));
        }
    }

    #[test]
    fn return_paths_never_leave_the_site(raw in prop_oneof![tricky(40), ".*", "/[a-z/%?=&.\\\\:]{0,30}"]) {
        if let Some(path) = ReturnTo::parse(&raw) {
            let base = url::Url::parse("https://link.example.com/").unwrap();
            let resolved = base.join(path.as_str()).unwrap();
            prop_assert_eq!(resolved.origin(), base.origin(), "{:?} resolved to {}", raw, resolved);
            prop_assert!(path.as_str().starts_with('/') && !path.as_str().starts_with("//"));
            prop_assert!(!path.as_str().contains('\\'));
        }
        prop_assert!(ReturnTo::parse_or_root(Some(&raw)).as_str().starts_with('/'));
    }

    #[test]
    fn session_cookies_of_any_shape_are_refused_quietly(raw in prop_oneof![tricky(200), ".*", "[A-Za-z0-9_-]{10,40}\\.[A-Za-z0-9_-]{10,80}\\.[A-Za-z0-9_-]{0,90}"]) {
        let keys = session_keys();
        prop_assert!(keys.verify(&raw, 0).is_err());
        prop_assert!(keys.verify_for::<serde_json::Value>("redeem", &raw, 0).is_none());
    }
}

fn session_keys() -> &'static SessionKeys {
    static KEYS: std::sync::OnceLock<SessionKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| SessionKeys::from_pem("https://link.example.com", &SessionKeys::generate_pem()).unwrap())
}
