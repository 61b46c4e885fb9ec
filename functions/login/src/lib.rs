//! The `login` function: OIDC sign-in (`/login`, `/login/callback`), the
//! account page (`/`), `/me`, `/logout` and the session keys (`/.well-known/jwks.json`).

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::i18n::fill;
use profile_link_core::i18n::{Locale, Text};
use profile_link_core::metrics::rate_limited;
use profile_link_core::oidc::{AuthorizeOptions, OidcClient, OidcConfig, OidcError};
use profile_link_core::pages::{self, AccountPage, HomePage, LinkedProfileView, Problem};
use profile_link_core::random;
use profile_link_core::rate_limit::{RateLimits, client_network};
use profile_link_core::session::{NewSession, SessionKeys};
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::{LoginRecorded, LoginTransaction, StoreError};
use profile_link_core::web::{self, BROWSER, Caller, Cookies, SESSION};
use profile_link_core::{Clock, Identity, ReturnTo, Store, SystemClock};
use serde::Deserialize;

/// A sign-in must complete within this many seconds (the `LOGIN#` item's TTL).
pub const DEFAULT_LOGIN_TTL_SECONDS: i64 = 600;
/// The browser-binding cookie outlives any one sign-in, so parallel tabs share it.
const BROWSER_COOKIE_SECONDS: i64 = 24 * 3600;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "login";

/// Everything the login function needs, built once per cold start.
pub struct LoginApp {
    pub site: SiteConfig,
    pub store: Store,
    pub oidc: OidcClient,
    pub sessions: Arc<SessionKeys>,
    pub clock: Arc<dyn Clock>,
    pub login_ttl_seconds: i64,
    /// `sign_ins_per_ip` and its window bound the sign-ins one network may start.
    pub limits: RateLimits,
    cookies: Cookies,
}

impl LoginApp {
    /// Reads configuration and secrets; fails naming the variable at fault.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let site = SiteConfig::from_env(env)?;
        let (sessions, mut secrets) =
            startup::session_keys_and_secrets(env, sdk, &site, &["OIDC_CLIENT_SECRET"]).await?;
        let oidc = OidcConfig::from_env(env, &site.public_base_url, secrets.remove(0))?;
        let login_ttl_seconds = env.number_in("LOGIN_TTL_SECONDS", DEFAULT_LOGIN_TTL_SECONDS, 60..=600)?;
        let limits = RateLimits::sign_ins_from_env(env)?;
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        let mut app =
            Self::new(site, store, OidcClient::new(oidc), Arc::new(sessions), Arc::new(SystemClock), login_ttl_seconds);
        app.limits = limits;
        Ok(app)
    }

    pub fn new(
        site: SiteConfig,
        store: Store,
        oidc: OidcClient,
        sessions: Arc<SessionKeys>,
        clock: Arc<dyn Clock>,
        login_ttl_seconds: i64,
    ) -> Self {
        let cookies = Cookies::new(site.public_base_url.cookie_policy());
        Self { site, store, oidc, sessions, clock, login_ttl_seconds, limits: RateLimits::default(), cookies }
    }

    /// Fetches the provider's metadata and keys during init, not on the first
    /// sign-in, and meanwhile opens the table's connection (the query the
    /// callback makes, for an identity no provider issues), so the first
    /// request finds it open.
    pub async fn warm_up(&self) {
        let nobody = Identity::new(startup::WARM_UP_KEY, startup::WARM_UP_KEY);
        let _ = tokio::join!(self.oidc.warm_up(self.clock.now()), self.store.identity_state(&nobody));
    }

    fn problem(&self, problem: Problem, locale: Locale) -> Response {
        problem.render(&self.site.branding, locale.text())
    }
}

pub fn router(app: Arc<LoginApp>) -> Router {
    let site = app.site.clone();
    let routes = Router::new()
        .route("/login", get(start_login))
        .route("/login/callback", get(callback))
        .route("/", get(account))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(app);
    web::harden(routes, &site, FUNCTION)
}

/// Why a sign-in did not complete. Each maps to one clear page.
#[derive(Debug, thiserror::Error)]
enum LoginError {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("callback without the browser-binding cookie")]
    OtherBrowser,
    #[error("unknown, expired, reused or foreign state")]
    UnknownTransaction,
    #[error("identity provider returned error {0:?}")]
    ProviderSaidNo(String),
    #[error("too many sign-ins started from this network; retry in {0} s")]
    TooManySignIns(i64),
    #[error(transparent)]
    Oidc(#[from] OidcError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LoginError {
    fn problem(&self, retry: &ReturnTo, t: &Text) -> Problem {
        let again = format!("/login?return_to={}", urlencode(retry.as_str()));
        let sign_in_again = |title: &str, message: &str| {
            Problem::new(StatusCode::BAD_REQUEST, title, message, (&again, t.action_sign_in_again))
        };
        match self {
            Self::Malformed(_) => sign_in_again(t.login_incomplete_title, t.login_incomplete),
            Self::OtherBrowser | Self::UnknownTransaction => sign_in_again(t.login_expired_title, t.login_expired),
            Self::ProviderSaidNo(error) if error == "access_denied" => {
                sign_in_again(t.login_cancelled_title, t.login_cancelled)
            }
            Self::ProviderSaidNo(_) | Self::Oidc(OidcError::CodeRejected(_)) => {
                sign_in_again(t.login_provider_failed_title, t.login_provider_failed)
            }
            Self::Oidc(OidcError::InvalidIdToken(_)) => sign_in_again(t.login_unverified_title, t.login_unverified),
            Self::TooManySignIns(retry_after) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                t.login_limited_title,
                fill(t.login_limited, &[("minutes", &((retry_after + 59) / 60))]),
                (&again, t.action_try_again),
            ),
            Self::Oidc(OidcError::Unavailable(_) | OidcError::Misconfigured(_)) | Self::Store(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                t.login_unavailable_title,
                t.unavailable,
                (&again, t.action_try_again),
            ),
        }
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    /// `1`: make the person enter credentials again (`prompt=login`, `max_age=0`).
    fresh: Option<String>,
    login_hint: Option<String>,
}

/// `GET /login`: starts the authorization-code flow.
async fn start_login(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    query: Result<Query<LoginQuery>, QueryRejection>,
    jar: CookieJar,
    caller: Caller,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or(LoginQuery { return_to: None, fresh: None, login_hint: None });
    let return_to = ReturnTo::parse_or_root(query.return_to.as_deref());
    let options = AuthorizeOptions {
        force_reauthentication: query.fresh.as_deref() == Some("1"),
        login_hint: query.login_hint.filter(|h| h.len() <= 254 && !h.chars().any(char::is_control)),
    };
    match begin(&app, &jar, return_to.clone(), &options, &caller).await {
        Ok((jar, location)) => (jar, Redirect::to(&location)).into_response(),
        Err(error) => {
            tracing::warn!(%error, "sign-in could not start");
            let mut response = app.problem(error.problem(&return_to, locale.text()), locale);
            if let LoginError::TooManySignIns(retry_after) = error {
                rate_limited(FUNCTION, "sign_ins_ip");
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            response
        }
    }
}

async fn begin(
    app: &LoginApp,
    jar: &CookieJar,
    return_to: ReturnTo,
    options: &AuthorizeOptions,
    caller: &Caller,
) -> Result<(CookieJar, String), LoginError> {
    let request = app.oidc.authorization_request(options).await?;
    let browser = app.cookies.get(jar, BROWSER).map(str::to_owned).unwrap_or_else(random::secret_256);
    let now = app.clock.now();
    let tx = LoginTransaction {
        state: request.state,
        browser_hash: random::sha256_b64(browser.as_bytes()),
        nonce: request.nonce,
        pkce_verifier: request.pkce_verifier,
        return_to,
        force_reauthentication: options.force_reauthentication,
        expires_at: now + app.login_ttl_seconds,
    };
    let network = client_network(caller.source_ip.as_deref());
    if let LoginRecorded::RateLimited { retry_after } = app.store.put_login(&tx, &network, &app.limits, now).await? {
        return Err(LoginError::TooManySignIns(retry_after));
    }
    let jar = jar.clone().add(app.cookies.build(BROWSER, browser, BROWSER_COOKIE_SECONDS));
    Ok((jar, request.url))
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET /login/callback`: consumes the transaction once, validates the ID token, issues the session.
async fn callback(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    query: Result<Query<CallbackQuery>, QueryRejection>,
    jar: CookieJar,
    caller: Caller,
) -> Response {
    let result = match query {
        Ok(Query(query)) => complete(&app, &jar, query).await,
        Err(rejection) => Err(LoginError::Malformed(rejection.body_text())),
    };
    match result {
        Ok((jar, return_to)) => (jar, Redirect::to(return_to.as_str())).into_response(),
        Err(error) => {
            tracing::warn!(%error, request_id = caller.request_id.as_deref(), "sign-in callback refused");
            app.problem(error.problem(&ReturnTo::root(), locale.text()), locale)
        }
    }
}

async fn complete(app: &LoginApp, jar: &CookieJar, query: CallbackQuery) -> Result<(CookieJar, ReturnTo), LoginError> {
    let state = query.state.filter(|s| !s.is_empty() && s.len() <= 128).ok_or(LoginError::Malformed("state".into()))?;
    let browser = app.cookies.get(jar, BROWSER).ok_or(LoginError::OtherBrowser)?;
    let now = app.clock.now();
    // Consumed before anything else: an error answer or a failed exchange burns it too.
    let tx = app
        .store
        .take_login(&state, &random::sha256_b64(browser.as_bytes()), now)
        .await?
        .ok_or(LoginError::UnknownTransaction)?;
    if let Some(error) = query.error {
        return Err(LoginError::ProviderSaidNo(error.chars().take(64).collect()));
    }
    app.oidc.check_response_issuer(query.iss.as_deref())?;
    let code = query.code.filter(|c| !c.is_empty() && c.len() <= 2048).ok_or(LoginError::Malformed("code".into()))?;
    let id_token = app.oidc.exchange_code(&code, &tx.pkce_verifier).await?;
    let verified = app.oidc.validate_id_token(&id_token, &tx.nonce).await?;
    let state = app.store.identity_state(&verified.identity).await?;
    // A CSRF token belongs to one identity: kept across a re-sign-in of the
    // same person (forms open in other tabs keep working), never handed on.
    let csrf = app
        .cookies
        .session(jar, &app.sessions, now)
        .filter(|previous| previous.identity() == verified.identity)
        .map(|previous| previous.csrf);
    let (token, claims) = app.sessions.issue(NewSession {
        identity: &verified.identity,
        profile: verified.profile,
        // In our clock: the provider's clock may differ from ours, its age may
        // not. Unknown when the provider did not say: never taken to be now.
        auth_time: verified.auth_age_seconds.map(|age| now - age),
        profiles: state.profile_ids(),
        now,
        ttl_seconds: app.site.session_ttl_seconds,
        generation: state.generation,
        csrf,
    });
    tracing::info!(
        sid = &claims.sid[..8],
        idp = %verified.identity.issuer,
        profiles = claims.profiles.len(),
        fresh = tx.force_reauthentication,
        "signed in"
    );
    let jar = jar.clone().add(app.cookies.build(SESSION, token, app.site.session_ttl_seconds));
    Ok((jar, tx.return_to))
}

/// `GET /`: the account page (one query for the linked profiles), or the welcome page when signed out.
async fn account(State(app): State<Arc<LoginApp>>, locale: Locale, jar: CookieJar) -> Response {
    let t = locale.text();
    let Some(session) = app.cookies.session(&jar, &app.sessions, app.clock.now()) else {
        let jar = clear_stale_session(&app, jar);
        return (jar, pages::respond(StatusCode::OK, &HomePage { brand: &app.site.branding, t })).into_response();
    };
    let provider = url::Url::parse(&session.idp_iss)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| session.idp_iss.clone());
    // Read from the table, not the session: an unlink or a new link shows at
    // once, and so does a sign-out in another tab or on another device.
    let profiles: Vec<LinkedProfileView> = match app.store.identity_state(&session.identity()).await {
        Ok(state) if state.has_ended(&session) => {
            let jar = jar.add(app.cookies.removal(SESSION));
            return (jar, pages::respond(StatusCode::OK, &HomePage { brand: &app.site.branding, t })).into_response();
        }
        Ok(state) => state
            .profiles
            .into_iter()
            .map(|p| LinkedProfileView {
                profile_id: p.profile_id,
                display_name: p.display_name,
                organization: p.organization,
            })
            .collect(),
        Err(error) => {
            tracing::error!(%error, "account page could not read linked profiles");
            return app.problem(LoginError::Store(error).problem(&ReturnTo::root(), t), locale);
        }
    };
    let who = session.profile.display_label().unwrap_or(&session.idp_sub);
    pages::respond(
        StatusCode::OK,
        &AccountPage {
            brand: &app.site.branding,
            t,
            who,
            email: session.profile.email.as_deref(),
            provider: &provider,
            profiles: &profiles,
            csrf: &session.csrf,
        },
    )
}

/// Removes a session cookie that no longer verifies (expired, rotated key, tampered).
fn clear_stale_session(app: &LoginApp, jar: CookieJar) -> CookieJar {
    if app.cookies.get(&jar, SESSION).is_some() { jar.add(app.cookies.removal(SESSION)) } else { jar }
}

/// `GET /me`: the signed-in identity and its profiles, as JSON for portal code.
async fn me(State(app): State<Arc<LoginApp>>, jar: CookieJar) -> Response {
    let session = app.cookies.session(&jar, &app.sessions, app.clock.now());
    let state = match &session {
        Some(session) => Some(app.store.identity_state(&session.identity()).await),
        None => None,
    };
    let signed_out = match (&session, &state) {
        (Some(session), Some(Ok(state))) => state.has_ended(session),
        _ => session.is_none(),
    };
    let (Some(session), false) = (session, signed_out) else {
        let body = serde_json::json!({
            "error": "not_signed_in",
            "message": "No valid session. Sign in at /login, then call /me again.",
            "login_url": "/login",
        });
        let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Cookie realm=\"profile-link\""));
        return response;
    };
    let profiles = match state.expect("read for a session") {
        Ok(state) => state.profiles,
        Err(error) => {
            tracing::error!(%error, "/me could not read linked profiles");
            let body = serde_json::json!({
                "error": "unavailable",
                "message": "Linked profiles could not be read right now. Retry in a few seconds.",
            });
            return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], Json(body)).into_response();
        }
    };
    Json(serde_json::json!({
        "identity": {
            "iss": session.idp_iss,
            "sub": session.idp_sub,
            "name": session.profile.name,
            "email": session.profile.email,
            "preferred_username": session.profile.preferred_username,
        },
        "profiles": profiles
            .iter()
            .map(|p| serde_json::json!({
                "profile_id": p.profile_id,
                "display_name": p.display_name,
                "organization": p.organization,
                "linked_at": p.linked_at,
            }))
            .collect::<Vec<_>>(),
        "auth_time": session.auth_time,
        "expires_at": session.exp,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct LogoutForm {
    csrf: Option<String>,
    /// `1`: end every session of this identity, not just this one.
    everywhere: Option<String>,
}

/// `POST /logout`: ends the session for every copy of its cookie, or with
/// `everywhere=1` every session of the identity (CSRF-protected so other
/// sites cannot sign people out).
async fn logout(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    jar: CookieJar,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let Some(session) = app.cookies.session(&jar, &app.sessions, app.clock.now()) else {
        return (clear_stale_session(&app, jar), Redirect::to("/")).into_response();
    };
    let form = form.ok().map(|Form(f)| f);
    let everywhere = form.as_ref().and_then(|f| f.everywhere.as_deref()) == Some("1");
    if !web::csrf_matches(&session, form.as_ref().and_then(|f| f.csrf.as_deref())) {
        tracing::warn!(sid = &session.sid[..8], "logout refused: CSRF token missing or wrong");
        let t = locale.text();
        let problem = Problem::new(StatusCode::FORBIDDEN, t.logout_csrf_title, t.logout_csrf, ("/", t.action_account));
        return app.problem(problem, locale);
    }
    let ended = if everywhere {
        app.store.end_every_session(&session.identity()).await.map(|_| ())
    } else {
        app.store.end_session(&session).await
    };
    // The cookie goes either way: this browser is signed out.
    let jar = jar.add(app.cookies.removal(SESSION));
    if let Err(error) = ended {
        tracing::error!(%error, sid = &session.sid[..8], everywhere, "sign-out could not be recorded");
        let t = locale.text();
        let problem = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            t.logout_unavailable_title,
            t.logout_unavailable,
            ("/login", t.action_sign_in_again),
        );
        return (jar, app.problem(problem, locale)).into_response();
    }
    tracing::info!(sid = &session.sid[..8], everywhere, "signed out");
    (jar, Redirect::to("/")).into_response()
}

/// `GET /.well-known/jwks.json`: the public keys that verify session tokens.
async fn jwks(State(app): State<Arc<LoginApp>>) -> Response {
    let mut response = Json(app.sessions.jwks()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
