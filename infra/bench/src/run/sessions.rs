//! Browsers signed in by a session minted with the bench's key, without a sign-in.

use profile_link_core::config::CookiePolicy;
use profile_link_core::domain::identity::{Identity, IdentityProfile};
use profile_link_core::session::{NewSession, SessionKeys};
use profile_link_core::web::{Cookies, SESSION};
use url::Url;

use super::Settings;
use crate::gateway::Browser;

fn mint_session(keys: &SessionKeys, issuer: &str, subject: &str) -> (String, String) {
    let now = now();
    let (token, claims) = keys.issue(NewSession {
        identity: &Identity::new(issuer, subject),
        provider: ("dev", "Dev provider"),
        profile: IdentityProfile {
            name: Some("Bench Person".into()),
            email: Some(format!("{subject}@mail.example.net")),
            preferred_username: None,
            email_verified: false,
            ..IdentityProfile::default()
        },
        auth_time: Some(now),
        profiles: Vec::new(),
        now,
        ttl_seconds: 3600,
        generation: 0,
        csrf: None,
        signed_in_for: None,
    });
    (token, claims.csrf)
}

pub(super) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn session_cookie_name(base: &Url) -> String {
    let policy = if base.scheme() == "https" { CookiePolicy::Secure } else { CookiePolicy::LocalPlainHttp };
    Cookies::new(policy).name(SESSION)
}

/// A browser signed in (by a minted session) as `subject`; its CSRF token.
pub(super) fn minted_browser(settings: &Settings, keys: &SessionKeys, subject: &str, ip: &str) -> (Browser, String) {
    let (token, csrf) = mint_session(keys, &settings.issuer, subject);
    let mut browser = Browser::new(ip);
    browser.set_cookie(&session_cookie_name(&settings.base), &token);
    (browser, csrf)
}
