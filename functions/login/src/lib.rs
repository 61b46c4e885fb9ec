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
use profile_link_core::domain::rate_limit::{RateLimits, client_network};
use profile_link_core::i18n::fill;
use profile_link_core::i18n::{Locale, Text};
use profile_link_core::metrics::rate_limited;
use profile_link_core::random;
use profile_link_core::session::{NewSession, SessionKeys, SessionVerifier};
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::{LoginRecorded, LoginTransaction, StoreError};
use profile_link_core::upstream::{AuthorizeOptions, IdentityProviders, OidcClient, OidcError};
use profile_link_core::upstream::{ProviderConfig, ReauthenticationProof, ResponseMode};
use profile_link_core::web::browser::BrowserCore;
use profile_link_core::web::pages::{
    self, AccountPage, HomePage, LinkedProfileView, Problem, ProviderChoice, SignInPage,
};
use profile_link_core::web::{self, BROWSER, Caller, FORM_POST_BROWSER, SESSION};
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
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        Ok(Self::new(site, store, providers, Arc::new(sessions), Arc::new(SystemClock), login_ttl_seconds, limits))
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
    #[error("no provider {0:?} is configured")]
    UnknownProvider(String),
    #[error("the response came back as the provider's response mode does not")]
    WrongResponseMode,
    #[error("a response for a sign-in started with provider {started:?} arrived at {arrived:?}'s callback")]
    OtherProvider { started: String, arrived: String },
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
            Self::Malformed(_) | Self::UnknownProvider(_) | Self::WrongResponseMode => {
                sign_in_again(t.login_incomplete_title, t.login_incomplete)
            }
            Self::OtherBrowser | Self::UnknownTransaction => sign_in_again(t.login_expired_title, t.login_expired),
            Self::ProviderSaidNo(error) if error == "access_denied" => {
                sign_in_again(t.login_cancelled_title, t.login_cancelled)
            }
            Self::ProviderSaidNo(_) | Self::Oidc(OidcError::CodeRejected(_)) => {
                sign_in_again(t.login_provider_failed_title, t.login_provider_failed)
            }
            Self::Oidc(OidcError::InvalidIdToken(_)) | Self::OtherProvider { .. } => {
                sign_in_again(t.login_unverified_title, t.login_unverified)
            }
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

#[derive(Debug, Default, Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    /// `1`: make the person sign in again, as the provider's re-authentication policy says.
    fresh: Option<String>,
    login_hint: Option<String>,
    /// `1`: "sign in with another account" (the provider's account chooser, no hint).
    choose: Option<String>,
    /// Which provider (its id in `PROVIDERS`); without it, the only one, or the choice.
    provider: Option<String>,
}

/// `GET /login`: starts the authorization-code flow with the chosen provider,
/// or shows a button per provider.
async fn start_login(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    query: Result<Query<LoginQuery>, QueryRejection>,
    jar: CookieJar,
    caller: Caller,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let return_to = ReturnTo::parse_or_root(query.return_to.as_deref());
    let options = AuthorizeOptions {
        force_reauthentication: query.fresh.as_deref() == Some("1"),
        choose_account: query.choose.as_deref() == Some("1"),
        login_hint: query.login_hint.clone().filter(|h| h.len() <= 254 && !h.chars().any(char::is_control)),
    };
    let client = match query.provider.as_deref() {
        Some(id) => app.providers.get(id),
        None => app.providers.only(),
    };
    let Some(client) = client else {
        return choose_provider(&app, locale, &return_to, &options, query.provider.is_some());
    };
    match begin(&app, client, &jar, return_to.clone(), &options, &caller).await {
        Ok((jar, location)) => (jar, Redirect::to(&location)).into_response(),
        Err(error) => {
            tracing::warn!(%error, provider = %client.provider().id, "sign-in could not start");
            let mut response = app.problem(error.problem(&return_to, locale.text()), locale.text());
            if let LoginError::TooManySignIns(retry_after) = error {
                rate_limited(FUNCTION, "sign_ins_ip");
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            response
        }
    }
}

/// The sign-in page: a button per provider, each carrying the request on.
fn choose_provider(
    app: &LoginApp,
    locale: Locale,
    return_to: &ReturnTo,
    options: &AuthorizeOptions,
    unknown: bool,
) -> Response {
    let choices: Vec<ProviderChoice> = app
        .providers
        .iter()
        .map(|client| {
            let provider = client.provider();
            let mut href = url::form_urlencoded::Serializer::new(String::new());
            href.append_pair("provider", provider.id.as_str()).append_pair("return_to", return_to.as_str());
            if options.force_reauthentication {
                href.append_pair("fresh", "1");
            }
            if options.choose_account {
                href.append_pair("choose", "1");
            }
            if let Some(hint) = &options.login_hint {
                href.append_pair("login_hint", hint);
            }
            ProviderChoice { label: provider.label.clone(), href: format!("/login?{}", href.finish()) }
        })
        .collect();
    let status = if unknown { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = SignInPage { brand: &app.site.branding, t: locale.text(), choices: &choices, unknown };
    pages::respond(status, &page)
}

async fn begin(
    app: &LoginApp,
    client: &OidcClient,
    jar: &CookieJar,
    return_to: ReturnTo,
    options: &AuthorizeOptions,
    caller: &Caller,
) -> Result<(CookieJar, String), LoginError> {
    let request = client.authorization_request(options).await?;
    let form_post = client.provider().response_mode == ResponseMode::FormPost;
    // A form_post answer is a cross-site POST: it is bound by a cookie of its own, new for each sign-in.
    let browser = match form_post {
        true => random::secret_256(),
        false => app.cookies.get(jar, BROWSER).map(str::to_owned).unwrap_or_else(random::secret_256),
    };
    let now = app.clock.now();
    let tx = LoginTransaction {
        state: request.state,
        provider: client.provider().id.clone(),
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
    let binding = match form_post {
        true => app.cookies.build_cross_site(FORM_POST_BROWSER, browser, app.login_ttl_seconds),
        false => app.cookies.build(BROWSER, browser, BROWSER_COOKIE_SECONDS),
    };
    Ok((jar.clone().add(binding), request.url))
}

/// The authorization response, in the query (`GET`) or, for `form_post`, the body.
#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET /login/callback/{provider}`: consumes the transaction once, validates the ID token, issues the session.
async fn callback(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    Path(provider): Path<String>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
    jar: CookieJar,
    caller: Caller,
) -> Response {
    let result = match query {
        Ok(Query(query)) => complete(&app, &jar, &provider, query, ResponseMode::Query).await,
        Err(rejection) => Err(LoginError::Malformed(rejection.body_text())),
    };
    finish(&app, locale, &caller, result)
}

/// `POST /login/callback/{provider}`: the same for a provider that answers with `response_mode=form_post`.
async fn form_post_callback(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    Path(provider): Path<String>,
    jar: CookieJar,
    caller: Caller,
    form: Result<Form<CallbackQuery>, FormRejection>,
) -> Response {
    let result = match form {
        Ok(Form(form)) => complete(&app, &jar, &provider, form, ResponseMode::FormPost).await,
        Err(rejection) => Err(LoginError::Malformed(rejection.body_text())),
    };
    finish(&app, locale, &caller, result)
}

fn finish(
    app: &LoginApp,
    locale: Locale,
    caller: &Caller,
    result: Result<(CookieJar, ReturnTo), LoginError>,
) -> Response {
    match result {
        // 303: after a form_post the browser must GET where it goes next.
        Ok((jar, return_to)) => (jar, Redirect::to(return_to.as_str())).into_response(),
        Err(error) => {
            tracing::warn!(%error, request_id = caller.request_id.as_deref(), "sign-in callback refused");
            app.problem(error.problem(&ReturnTo::root(), locale.text()), locale.text())
        }
    }
}

async fn complete(
    app: &LoginApp,
    jar: &CookieJar,
    provider: &str,
    query: CallbackQuery,
    arrived_as: ResponseMode,
) -> Result<(CookieJar, ReturnTo), LoginError> {
    let client =
        app.providers.get(provider).ok_or_else(|| LoginError::UnknownProvider(provider.chars().take(32).collect()))?;
    // A provider answers one way only: a code sent the other way is not its answer.
    if client.provider().response_mode != arrived_as {
        return Err(LoginError::WrongResponseMode);
    }
    let state = query.state.filter(|s| !s.is_empty() && s.len() <= 128).ok_or(LoginError::Malformed("state".into()))?;
    let binding = if arrived_as == ResponseMode::FormPost { FORM_POST_BROWSER } else { BROWSER };
    let browser = app.cookies.get(jar, binding).ok_or(LoginError::OtherBrowser)?;
    let now = app.clock.now();
    // Consumed before anything else: an error answer or a failed exchange burns it too.
    let tx = app
        .store
        .take_login(&state, &random::sha256_b64(browser.as_bytes()), now)
        .await?
        .ok_or(LoginError::UnknownTransaction)?;
    let provider = client.provider();
    if tx.provider != provider.id {
        return Err(LoginError::OtherProvider { started: tx.provider.to_string(), arrived: provider.id.to_string() });
    }
    if let Some(error) = query.error {
        return Err(LoginError::ProviderSaidNo(error.chars().take(64).collect()));
    }
    client.check_response_issuer(query.iss.as_deref()).await?;
    let code = query.code.filter(|c| !c.is_empty() && c.len() <= 2048).ok_or(LoginError::Malformed("code".into()))?;
    let id_token = client.exchange_code(&code, &tx.pkce_verifier).await?;
    let verified = client.validate_id_token(&id_token, &tx.nonce).await?;
    // The token's age (`iat - auth_time`) counts from when the provider
    // minted it, during the exchange: subtracted from a time read before the
    // exchange, a slow one would make a fresh sign-in look older than it is.
    let signed_in_at = app.clock.now();
    let state = app.store.identity_state(&verified.identity).await?;
    // A CSRF token belongs to one identity: kept across a re-sign-in of the
    // same person (forms open in other tabs keep working), never handed on.
    let csrf =
        app.session(jar).filter(|previous| previous.identity() == verified.identity).map(|previous| previous.csrf);
    let (token, claims) = app.sessions.issue(NewSession {
        identity: &verified.identity,
        provider: (provider.id.as_str(), provider.label.as_str()),
        profile: verified.profile,
        auth_time: auth_time(verified.auth_age_seconds, provider, &tx, signed_in_at),
        profiles: state.profile_ids(),
        now: signed_in_at,
        ttl_seconds: app.site.session_ttl_seconds,
        generation: state.generation,
        csrf,
    });
    tracing::info!(
        sid = &claims.sid[..8],
        idp = %provider.id,
        profiles = claims.profiles.len(),
        fresh = tx.force_reauthentication,
        "signed in"
    );
    let mut jar = jar.clone().add(app.cookies.build(SESSION, token, app.site.session_ttl_seconds));
    if arrived_as == ResponseMode::FormPost {
        jar = jar.add(app.cookies.removal(FORM_POST_BROWSER));
    }
    Ok((jar, tx.return_to))
}

/// When the person last authenticated, in our clock: the provider's clock may
/// differ from ours, its reported age may not. Unknown when the provider did
/// not say, and then never taken to be now, unless the operator chose the
/// documented weaker rule for this provider and this was a forced sign-in:
/// then completing it is the proof.
fn auth_time(auth_age: Option<i64>, provider: &ProviderConfig, tx: &LoginTransaction, now: i64) -> Option<i64> {
    match auth_age {
        Some(age) => Some(now - age),
        None if tx.force_reauthentication
            && provider.reauthentication.proof == ReauthenticationProof::CompletedSignIn =>
        {
            Some(now)
        }
        None => None,
    }
}

/// `GET /`: the account page (one query for the linked profiles), or the welcome page when signed out.
async fn account(State(app): State<Arc<LoginApp>>, locale: Locale, jar: CookieJar) -> Response {
    let t = locale.text();
    let Some(session) = app.session(&jar) else {
        let jar = app.clear_stale_session(jar);
        return (jar, pages::respond(StatusCode::OK, &HomePage { brand: &app.site.branding, t })).into_response();
    };
    let provider = session.provider_name();
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
            return app.problem(LoginError::Store(error).problem(&ReturnTo::root(), t), locale.text());
        }
    };
    let who = session.profile.display_label().unwrap_or(&session.idp_sub);
    let portal = app.cookies.portal_button(&jar, &app.site, t);
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
            portal: portal.as_ref().map(|(href, label)| (href.as_str(), label.as_str())),
        },
    )
}

/// `GET /me`: the signed-in identity and its profiles, as JSON for portal code.
async fn me(State(app): State<Arc<LoginApp>>, jar: CookieJar) -> Response {
    let session = app.session(&jar);
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
            "provider": session.idp,
            "provider_name": session.provider_name(),
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
    let Some(session) = app.session(&jar) else {
        return (app.clear_stale_session(jar), Redirect::to("/")).into_response();
    };
    let form = form.ok().map(|Form(f)| f);
    let everywhere = form.as_ref().and_then(|f| f.everywhere.as_deref()) == Some("1");
    if !web::csrf_matches(&session, form.as_ref().and_then(|f| f.csrf.as_deref())) {
        tracing::warn!(sid = &session.sid[..8], "logout refused: CSRF token missing or wrong");
        let t = locale.text();
        let problem = Problem::new(StatusCode::FORBIDDEN, t.logout_csrf_title, t.logout_csrf, ("/", t.action_account));
        return app.problem(problem, locale.text());
    }
    let ended = if everywhere {
        app.store.end_every_session(&session.identity()).await.map(|_| ())
    } else {
        app.store.end_session(&session.identity(), &session.sid, session.exp).await
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
        return (jar, app.problem(problem, locale.text())).into_response();
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
