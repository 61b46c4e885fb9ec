//! The `redeem-link` function (seed steps 7–9) and unlinking.
//!
//! `GET /redeem?token=…` changes nothing (mail scanners fetch links first): it
//! moves the token out of the URL into a short-lived signed cookie and, unless
//! the person signed in after clicking, sends them through a forced fresh
//! sign-in. Then it shows "Link <identity> to <profile>?" with a POST form.
//! `POST /redeem` consumes the link exactly once in one transaction.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use profile_link_core::config::{CookiePolicy, Env, SiteConfig};
use profile_link_core::domain::client_address::ClientAddresses;
use profile_link_core::domain::identity::RequesterLabel;
use profile_link_core::domain::link_token::LinkToken;
use profile_link_core::domain::profile::ProfileId;
use profile_link_core::domain::rate_limit::{RateLimits, RequestPolicy};
use profile_link_core::i18n::{Locale, Text, fill};
use profile_link_core::linking;
use profile_link_core::linking::not_me::CancelledVia;
use profile_link_core::linking::redeem::{self, Choice, Confirmation, Confirmed, Unusable};
use profile_link_core::linking::request::{self, Allowance, Renewed};
use profile_link_core::linking::unlink::Unlinking;
use profile_link_core::metrics::{Emf, rate_limited};
use profile_link_core::session::{SessionClaims, SessionKeys, SessionVerifier};
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::redeem::{Redemption, StoredLink};
use profile_link_core::store::{IdentityState, LinkState, RequestOutcome, Requester, StoreError};
use profile_link_core::web::browser::BrowserCore;
use profile_link_core::web::pages::{self, OutcomePage, Problem, RedeemConfirmPage, ResendForm};
use profile_link_core::web::{self, BrowserError, Caller, CsrfForm, CsrfProtected, SESSION};
use profile_link_core::{Clock, Store, SystemClock};
use serde::{Deserialize, Serialize};

mod clicked;
mod confirm;
mod not_me;
mod outcomes;
mod posted;
mod resend;
mod show;
mod unlink;

use clicked::*;
use confirm::*;
use outcomes::*;
use posted::*;
use resend::*;
use show::*;
use unlink::*;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "redeem-link";

pub struct RedeemApp {
    core: BrowserCore,
    /// Re-issues sessions and signs the clicked-link cookie.
    pub sessions: Arc<SessionKeys>,
    pub limits: RateLimits,
    pub link_ttl_seconds: i64,
}

profile_link_core::browser_core!(RedeemApp);

impl RedeemApp {
    /// Opens the table's connection during init (`main` runs this while
    /// `from_env` waits for SSM) with the read every request about a link
    /// starts with, here of a link that does not exist.
    pub async fn warm_up(env: &Env, sdk: &aws_config::SdkConfig) {
        startup::open_table_connection(env, sdk, |store| async move { store.get_link(startup::WARM_UP_KEY).await })
            .await;
    }

    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let site = SiteConfig::from_env(env)?;
        let (sessions, _) = startup::session_keys_and_secrets(env, sdk, &site, &[]).await?;
        let policy = RequestPolicy::from_env(env)?;
        let client_addresses = ClientAddresses::from_env(env)?;
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        let mut app =
            Self::new(site, store, Arc::new(sessions), Arc::new(SystemClock), policy.limits, policy.link_ttl_seconds);
        app.client_addresses = client_addresses;
        Ok(app)
    }

    pub fn new(
        site: SiteConfig,
        store: Store,
        sessions: Arc<SessionKeys>,
        clock: Arc<dyn Clock>,
        limits: RateLimits,
        link_ttl_seconds: i64,
    ) -> Self {
        let verifier = Arc::new(SessionVerifier::clone(&sessions));
        Self { core: BrowserCore::new(site, store, verifier, clock), sessions, limits, link_ttl_seconds }
    }

    fn outcome(&self, status: StatusCode, page: Outcome) -> Response {
        pages::respond(
            status,
            &OutcomePage {
                brand: &self.site.branding,
                t: page.t,
                step: page.step,
                ok: page.ok,
                title: page.title,
                message: &page.message,
                action_href: page.action.0,
                action_label: page.action.1,
                resend: page.resend,
                secondary: page.secondary,
                cancel_request: page.cancel_request.as_deref(),
            },
        )
    }

    fn redeem_cookie_name(&self) -> String {
        match self.site.public_base_url.cookie_policy() {
            CookiePolicy::Secure => format!("__Secure-{REDEEM_COOKIE}"),
            CookiePolicy::LocalPlainHttp => REDEEM_COOKIE.to_owned(),
        }
    }

    /// The clicked link, held for the sign-in round trip (path-scoped to /redeem).
    fn clicked_cookie(&self, value: String, max_age: i64) -> Cookie<'static> {
        Cookie::build((self.redeem_cookie_name(), value))
            .path("/redeem")
            .http_only(true)
            .secure(self.site.public_base_url.cookie_policy() == CookiePolicy::Secure)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build()
    }

    fn clicked(&self, jar: &CookieJar) -> Option<ClickedLink> {
        let value = jar.get(&self.redeem_cookie_name())?.value();
        self.sessions.verify_for(PURPOSE, value, self.clock.now())
    }
}

pub fn router(app: Arc<RedeemApp>) -> Router {
    let site = app.site.clone();
    let routes = Router::new()
        .route("/redeem", get(show).post(confirm))
        .route("/redeem/resend", post(resend))
        .route("/not-me", get(not_me::show).post(not_me::cancel))
        .route("/profiles/unlink", post(unlink))
        .with_state(app);
    web::harden(routes, &site, FUNCTION)
}
