//! What every browser-facing function holds and does the same way: the
//! site, the table, the clock, the cookie policy and the keys that verify
//! its session cookie. Each function's app derefs to it and adds its own.

use std::sync::Arc;

use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use crate::clock::Clock;
use crate::config::SiteConfig;
use crate::domain::client_address::ClientAddresses;
use crate::i18n::Text;
use crate::session::{SessionClaims, SessionVerifier};
use crate::store::{IdentityState, Store, StoreError};
use crate::web::pages::Problem;
use crate::web::{Cookies, SESSION};

pub struct BrowserCore {
    pub site: SiteConfig,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub cookies: Cookies,
    /// Verifies session cookies: the published keys (a function that also
    /// signs holds its own keys' public part).
    pub verifier: Arc<SessionVerifier>,
    /// Which address a request is counted under by the per-network limits:
    /// API Gateway's source address unless the functions that count them are
    /// told to trust a proxy's report ([`ClientAddresses::from_env`]).
    pub client_addresses: ClientAddresses,
}

impl BrowserCore {
    pub fn new(site: SiteConfig, store: Store, verifier: Arc<SessionVerifier>, clock: Arc<dyn Clock>) -> Self {
        let cookies = Cookies::new(site.public_base_url.cookie_policy());
        Self { site, store, clock, cookies, verifier, client_addresses: ClientAddresses::default() }
    }

    /// The session the cookie holds, verified; anything else is "signed out".
    pub fn session(&self, jar: &CookieJar) -> Option<SessionClaims> {
        self.cookies.session(jar, &self.verifier, self.clock.now())
    }

    /// The session and its identity's state (profiles, sign-outs, in one
    /// query), unless it was signed out meanwhile.
    pub async fn signed_in(&self, jar: &CookieJar) -> Result<Option<(SessionClaims, IdentityState)>, StoreError> {
        let Some(session) = self.session(jar) else { return Ok(None) };
        let state = self.store.session_state(&session.identity(), &session.sid).await?;
        Ok((!state.has_ended(&session)).then_some((session, state)))
    }

    /// A problem page in this site's branding.
    pub fn problem(&self, problem: Problem, t: &Text) -> Response {
        problem.render(&self.site.branding, t)
    }

    /// Removes a session cookie that no longer verifies (expired, rotated key, tampered).
    pub fn clear_stale_session(&self, jar: CookieJar) -> CookieJar {
        if self.cookies.get(&jar, SESSION).is_some() { jar.add(self.cookies.removal(SESSION)) } else { jar }
    }
}

/// `Deref`/`DerefMut` from a function's app to its [`BrowserCore`].
#[macro_export]
macro_rules! browser_core {
    ($app:ty) => {
        impl std::ops::Deref for $app {
            type Target = $crate::web::browser::BrowserCore;
            fn deref(&self) -> &$crate::web::browser::BrowserCore {
                &self.core
            }
        }
        impl std::ops::DerefMut for $app {
            fn deref_mut(&mut self) -> &mut $crate::web::browser::BrowserCore {
                &mut self.core
            }
        }
    };
}
