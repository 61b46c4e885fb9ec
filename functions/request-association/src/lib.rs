//! The `request-association` function: `GET /associate` asks for the email
//! address registered with the company; `POST /associate` writes one pending
//! link per profile under it and answers the same page whatever matched.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::domain::client_address::ClientAddresses;
use profile_link_core::domain::email::RegisteredEmail;
use profile_link_core::domain::identity::RequesterLabel;
use profile_link_core::domain::rate_limit::{RateLimits, RequestPolicy};
use profile_link_core::i18n::{Locale, Text, fill};
use profile_link_core::linking::request::{Allowance, Requested, request_links};
use profile_link_core::metrics::rate_limited;
use profile_link_core::session::{SessionClaims, SessionVerifier};
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::{RequestOutcome, Requester};
use profile_link_core::web::browser::BrowserCore;
use profile_link_core::web::pages::{self, AssociatePage, AssociateSentPage, Problem};
use profile_link_core::web::{self, Caller, CsrfForm, CsrfProtected, SESSION, SignedIn};
use profile_link_core::{Clock, Store, SystemClock};
use serde::Deserialize;

mod request;
mod show;

use request::*;
use show::*;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "request-association";

/// Its [`BrowserCore`] verifies only: this function reads sessions but never issues them.
pub struct AssociationApp {
    core: BrowserCore,
    pub limits: RateLimits,
    pub link_ttl_seconds: i64,
}

profile_link_core::browser_core!(AssociationApp);

impl AssociationApp {
    /// Opens the table's connection during init (`main` runs this while
    /// `from_env` waits for SSM) with the one read this function makes: an
    /// index query, here for an address nobody has.
    pub async fn warm_up(env: &Env, sdk: &aws_config::SdkConfig) {
        let Ok(nobody) = RegisteredEmail::parse(&format!("{}@{}.invalid", startup::WARM_UP_KEY, startup::WARM_UP_KEY))
        else {
            return;
        };
        startup::open_table_connection(env, sdk, |store| async move { store.profiles_by_email(&nobody).await }).await;
    }

    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let site = SiteConfig::from_env(env)?;
        let sessions = startup::session_verifier(env, sdk, &site).await?;
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
        sessions: Arc<SessionVerifier>,
        clock: Arc<dyn Clock>,
        limits: RateLimits,
        link_ttl_seconds: i64,
    ) -> Self {
        Self { core: BrowserCore::new(site, store, sessions, clock), limits, link_ttl_seconds }
    }

    fn form(
        &self,
        status: StatusCode,
        t: &Text,
        session: &SessionClaims,
        email: &str,
        error: Option<String>,
    ) -> Response {
        pages::respond(status, &AssociatePage { brand: &self.site.branding, t, csrf: &session.csrf, email, error })
    }
}

pub fn router(app: Arc<AssociationApp>) -> Router {
    let site = app.site.clone();
    let routes = Router::new().route("/associate", get(show_form).post(request)).with_state(app);
    web::harden(routes, &site, FUNCTION)
}
