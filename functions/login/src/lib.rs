//! The `login` function: OIDC sign-in (`/login`, `/login/callback`), the
//! account page (`/`), `/me`, `/logout` and the session keys (`/.well-known/jwks.json`).

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::domain::client_address::ClientAddresses;
use profile_link_core::domain::rate_limit::{Limit, RateLimits};
use profile_link_core::i18n::fill;
use profile_link_core::i18n::{Locale, Text};
use profile_link_core::metrics::rate_limited;
use profile_link_core::random;
use profile_link_core::session::{NewSession, SessionKeys, SessionVerifier, SignedInFor};
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::{LoginRecorded, LoginTransaction, StoreError};
use profile_link_core::upstream::{AuthorizeOptions, IdentityProviders, OidcClient, OidcError};
use profile_link_core::upstream::{ProviderConfig, ReauthenticationProof, ResponseMode};
use profile_link_core::web::browser::BrowserCore;
use profile_link_core::web::pages::{
    self, AccountPage, HomePage, LinkedProfileView, Problem, ProviderChoice, SignInPage,
};
use profile_link_core::web::{self, BROWSER, Caller, CsrfForm, CsrfProtected, FORM_POST_BROWSER, SESSION, SignedIn};
use profile_link_core::{Clock, Identity, ReturnTo, Store, SystemClock};
use serde::Deserialize;

mod account;
mod callback;
mod error;
mod logout;
mod start;

use account::*;
use callback::*;
use error::*;
use logout::*;
use start::*;

/// A sign-in must complete within this many seconds (the `LOGIN#` item's TTL).
pub const DEFAULT_LOGIN_TTL_SECONDS: i64 = 600;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "login";

/// Everything the login function needs, built once per cold start.
pub struct LoginApp {
    core: BrowserCore,
    /// The relying party for each configured provider.
    pub providers: IdentityProviders,
    /// Issues sessions.
    pub sessions: Arc<SessionKeys>,
    pub login_ttl_seconds: i64,
    /// `sign_ins_per_ip` and its window bound the sign-ins one network may start.
    pub limits: RateLimits,
}

profile_link_core::browser_core!(LoginApp);

impl LoginApp {
    /// Reads configuration and secrets; fails naming the variable at fault.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let site = SiteConfig::from_env(env)?;
        // The provider list comes with the session key (one SSM call), their secrets after it.
        let (sessions, mut secrets) = startup::session_keys_and_secrets(env, sdk, &site, &["PROVIDERS"]).await?;
        let providers = startup::identity_providers(env, sdk, &site, &secrets.remove(0)).await?;
        let login_ttl_seconds = env.number_in("LOGIN_TTL_SECONDS", DEFAULT_LOGIN_TTL_SECONDS, 60..=600)?;
        let limits = RateLimits::sign_ins_from_env(env)?;
        let client_addresses = ClientAddresses::from_env(env)?;
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        let mut app =
            Self::new(site, store, providers, Arc::new(sessions), Arc::new(SystemClock), login_ttl_seconds, limits);
        app.client_addresses = client_addresses;
        Ok(app)
    }

    pub fn new(
        site: SiteConfig,
        store: Store,
        providers: IdentityProviders,
        sessions: Arc<SessionKeys>,
        clock: Arc<dyn Clock>,
        login_ttl_seconds: i64,
        limits: RateLimits,
    ) -> Self {
        let verifier = Arc::new(SessionVerifier::clone(&sessions));
        Self { core: BrowserCore::new(site, store, verifier, clock), providers, sessions, login_ttl_seconds, limits }
    }

    /// Fetches the provider's metadata and keys during init, not on the first
    /// sign-in, and meanwhile opens the table's connection (the query the
    /// callback makes, for an identity no provider issues), so the first
    /// request finds it open.
    pub async fn warm_up(&self) {
        let nobody = Identity::new(startup::WARM_UP_KEY, startup::WARM_UP_KEY);
        let _ = tokio::join!(self.providers.warm_up(self.clock.now()), self.store.identity_state(&nobody));
    }
}

pub fn router(app: Arc<LoginApp>) -> Router {
    let site = app.site.clone();
    let routes = Router::new()
        .route("/login", get(start_login))
        .route("/login/callback/{provider}", get(callback).post(form_post_callback))
        .route("/", get(account))
        .route("/me", get(me))
        .route("/logout", post(logout))
        // A public document a browser-only portal may read from its own origin.
        .route("/.well-known/jwks.json", get(jwks).layer(web::cors::public_documents()))
        .with_state(app);
    web::harden(routes, &site, FUNCTION)
}
