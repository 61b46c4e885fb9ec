//! The `authorize` function: the browser side of profile-link as the
//! portals' OpenID Provider. `GET|POST /authorize` (OIDC Core §3.1.2: code
//! flow, PKCE S256, `iss` in the answer) sends the person to sign in when
//! needed, offers to link a profile when they have none, and returns to the
//! portal with a code; `GET|POST /end-session` is RP-initiated logout.
//! The token side (`/token`, `/userinfo`, discovery) is the `token` function.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, RawForm, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::domain::identity::Identity;
use profile_link_core::downstream::Grant;
use profile_link_core::downstream::{
    self, AuthorizationRequest, AuthorizeParams, AuthorizeRefusal, OAuthErrorCode, PersonClaims, PortalClient,
    PortalClients, PortalError, ProfileClaim, ProfileSelection, Prompt, SignInNeeded,
};
use profile_link_core::i18n::{Locale, Text, fill};
use profile_link_core::random;
use profile_link_core::session::{SessionClaims, SessionVerifier};
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::IdentityState;
use profile_link_core::web::browser::BrowserCore;
use profile_link_core::web::pages::{
    self, ChooseProfilePage, EndSessionPage, LinkedProfileView, PortalLinkPage, Problem,
};
use profile_link_core::web::{self, PORTAL, SESSION};
use profile_link_core::{Clock, Store, SystemClock};
use serde::Deserialize;

mod authorize;
mod choose;
mod code;
mod end_session;

use authorize::*;
use choose::*;
use code::*;
use end_session::*;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "authorize";

/// Everything the authorize function needs, built once per cold start.
/// Its [`BrowserCore`] verifies only: this function reads sessions and ID
/// token hints, and signs nothing.
pub struct AuthorizeApp {
    core: BrowserCore,
    pub clients: Arc<PortalClients>,
}

profile_link_core::browser_core!(AuthorizeApp);

impl AuthorizeApp {
    /// The session keys and the client list in one SSM call.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let site = SiteConfig::from_env(env)?;
        let (sessions, mut others) =
            startup::session_verifier_and_secrets(env, sdk, &site, &[downstream::PORTAL_CLIENTS]).await?;
        let clients = startup::portal_clients(&others.remove(0), FUNCTION)?;
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        Ok(Self::new(site, store, Arc::new(sessions), Arc::new(clients), Arc::new(SystemClock)))
    }

    /// Opens the table's connection during init with the read every signed-in
    /// request makes: an identity's partition, here of nobody.
    pub async fn warm_up(env: &Env, sdk: &aws_config::SdkConfig) {
        let nobody = Identity::new(startup::WARM_UP_KEY, startup::WARM_UP_KEY);
        startup::open_table_connection(env, sdk, |store| async move { store.identity_state(&nobody).await }).await;
    }

    pub fn new(
        site: SiteConfig,
        store: Store,
        sessions: Arc<SessionVerifier>,
        clients: Arc<PortalClients>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { core: BrowserCore::new(site, store, sessions, clock), clients }
    }

    fn issuer(&self) -> String {
        self.site.public_base_url.origin()
    }

    /// A request that names no registered portal, or a redirect URI it never
    /// registered: a page, and nothing sent anywhere (RFC 6749 §4.1.2.1).
    fn not_redirectable(&self, reason: &str, t: &Text) -> Response {
        let message = fill(t.portal_request_invalid, &[("reason", &reason)]);
        self.problem(
            Problem::new(StatusCode::BAD_REQUEST, t.portal_request_invalid_title, message, ("/", t.action_account)),
            t,
        )
    }

    fn unavailable(&self, again: &str, t: &Text) -> Response {
        self.problem(
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                t.login_unavailable_title,
                t.unavailable,
                (again, t.action_try_again),
            ),
            t,
        )
    }
}

pub fn router(app: Arc<AuthorizeApp>) -> Router {
    let site = app.site.clone();
    let routes = Router::new()
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route("/end-session", get(end_session_get).post(end_session_post))
        .with_state(app);
    web::harden(routes, &site, FUNCTION)
}
