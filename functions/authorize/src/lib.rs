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
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::domain::identity::Identity;
use profile_link_core::downstream::Grant;
use profile_link_core::downstream::{
    self, AuthorizationRequest, AuthorizeParams, AuthorizeRefusal, OAuthErrorCode, PersonClaims, PortalClient,
    PortalClients, PortalError, ProfileClaim, Prompt,
};
use profile_link_core::i18n::{Locale, Text, fill};
use profile_link_core::random;
use profile_link_core::session::{SessionClaims, SessionVerifier};
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::IdentityState;
use profile_link_core::web::browser::BrowserCore;
use profile_link_core::web::pages::{self, EndSessionPage, PortalLinkPage, Problem};
use profile_link_core::web::{self, PORTAL, SESSION};
use profile_link_core::{Clock, Store, SystemClock};
use serde::Deserialize;

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "authorize";
/// How long "Back to the portal" is offered while the person links a profile
/// (a link lives an hour; the portal's own sign-in attempt rarely longer).
const PORTAL_COOKIE_SECONDS: i64 = 2 * 3600;

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
        let clients = PortalClients::parse(others.remove(0).expose())?;
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

/// `GET /authorize`
async fn authorize_get(
    State(app): State<Arc<AuthorizeApp>>,
    locale: Locale,
    RawQuery(raw): RawQuery,
    jar: CookieJar,
) -> Response {
    let raw = raw.unwrap_or_default();
    authorize(&app, &raw, locale, jar).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: the same parameters, form-encoded).
/// A portal's cross-site POST carries no `SameSite=Lax` session cookie, so
/// the person may be asked to sign in; they come back by GET with the same parameters.
async fn authorize_post(
    State(app): State<Arc<AuthorizeApp>>,
    locale: Locale,
    jar: CookieJar,
    form: Result<RawForm, axum::extract::rejection::RawFormRejection>,
) -> Response {
    let raw = form.ok().and_then(|RawForm(bytes)| String::from_utf8(bytes.to_vec()).ok()).unwrap_or_default();
    authorize(&app, &raw, locale, jar).await
}

fn parse_params(raw: &str) -> Option<AuthorizeParams> {
    let uri: Uri = format!("/authorize?{raw}").parse().ok()?;
    Query::<AuthorizeParams>::try_from_uri(&uri).ok().map(|Query(params)| params)
}

fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

async fn authorize(app: &AuthorizeApp, raw: &str, locale: Locale, jar: CookieJar) -> Response {
    let t = locale.text();
    // A parameter given twice, or not text: refused before anything else (RFC 6749 §3.1).
    let Some(params) = parse_params(raw) else {
        tracing::info!("authorization request refused: unreadable parameters");
        return app.not_redirectable("a parameter is repeated or unreadable", t);
    };
    let request = match downstream::check(&params, &app.clients) {
        Ok(request) => request,
        Err(AuthorizeRefusal::NotRedirectable(reason)) => {
            tracing::info!(reason, "authorization request refused, not redirectable");
            return app.not_redirectable(reason, t);
        }
        Err(AuthorizeRefusal::ToPortal(error)) => {
            tracing::info!(error = error.error.as_str(), reason = error.description, "authorization request refused");
            return see_other(&error.location(&app.issuer()));
        }
    };
    let client = app.clients.get(request.client_id.as_str()).expect("check() found the client");
    let now = app.clock.now();
    let to_portal = |error: OAuthErrorCode, description: &'static str| {
        let error = PortalError {
            redirect_uri: request.redirect_uri.clone(),
            state: Some(request.state.clone()),
            error,
            description,
        };
        see_other(&error.location(&app.issuer()))
    };
    let signed_in = match app.signed_in(&jar).await {
        Ok(signed_in) => signed_in,
        Err(error) => {
            tracing::error!(%error, "authorize could not read the identity's state");
            return app.unavailable(&downstream::authorize_path(raw, &[]), t);
        }
    };
    let Some((session, state)) = signed_in else {
        if request.prompt == Prompt::None {
            return to_portal(OAuthErrorCode::LoginRequired, "the person is not signed in at profile-link");
        }
        let fresh = request.prompt == Prompt::Login || request.max_age.is_some();
        return see_other(&sign_in_path(&request, raw, now, None, fresh));
    };
    if !request.satisfied_by(session.auth_time, session.iat, now) {
        if request.prompt == Prompt::None {
            return to_portal(OAuthErrorCode::LoginRequired, "the portal asked for a more recent sign-in");
        }
        return see_other(&sign_in_path(&request, raw, now, Some(&session.idp), true));
    }
    if state.profiles.is_empty() && !request.skip_linking && request.prompt != Prompt::None {
        return offer_linking(app, t, client, &session, &request, raw, jar);
    }
    issue_code(app, t, &request, &session, &state, raw, jar).await
}

/// Where to sign in before coming back to this request: the hinted provider
/// (or, for a fresh sign-in, the one the person used), and a return path
/// that records when the person was sent, so the fresh sign-in is recognised.
fn sign_in_path(request: &AuthorizationRequest, raw: &str, now: i64, provider: Option<&str>, fresh: bool) -> String {
    let after = now.to_string();
    let back = if fresh {
        downstream::authorize_path(raw, &[("pl_after", &after)])
    } else {
        downstream::authorize_path(raw, &[])
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("return_to", &back);
    if let Some(provider) = provider.or(request.idp_hint.as_ref().map(|p| p.as_str())) {
        query.append_pair("provider", provider);
    }
    if fresh {
        query.append_pair("fresh", "1");
    }
    if request.prompt == Prompt::SelectAccount {
        query.append_pair("choose", "1");
    } else if let Some(hint) = &request.login_hint {
        query.append_pair("login_hint", hint);
    }
    format!("/login?{}", query.finish())
}

/// The person has linked no profile yet: link one first (the portal is
/// offered again once they have), or go on to the portal without.
fn offer_linking(
    app: &AuthorizeApp,
    t: &Text,
    client: &PortalClient,
    session: &SessionClaims,
    request: &AuthorizationRequest,
    raw: &str,
    jar: CookieJar,
) -> Response {
    let provider = session.provider_name();
    let intro = fill(t.portal_intro, &[("provider", &provider), ("portal", &client.name)]);
    let after = request.signed_in_after.map(|a| a.to_string());
    let mut extra = vec![("pl_skip", "1")];
    if let Some(after) = &after {
        extra.push(("pl_after", after));
    }
    let continue_href = downstream::authorize_path(raw, &extra);
    let continue_label = fill(t.portal_continue, &[("portal", &client.name)]);
    let back = downstream::authorize_path(raw, &[]);
    let jar = jar.add(app.cookies.waiting_portal_cookie(&client.name, back, PORTAL_COOKIE_SECONDS));
    let page = PortalLinkPage {
        brand: &app.site.branding,
        t,
        intro: &intro,
        continue_href: &continue_href,
        continue_label: &continue_label,
    };
    (jar, pages::respond(StatusCode::OK, &page)).into_response()
}

/// A code for this request, stored with what the token endpoint will say.
async fn issue_code(
    app: &AuthorizeApp,
    t: &Text,
    request: &AuthorizationRequest,
    session: &SessionClaims,
    state: &IdentityState,
    raw: &str,
    jar: CookieJar,
) -> Response {
    let now = app.clock.now();
    let wants = |scope: &str| request.scopes.iter().any(|s| s == scope);
    let email = session.profile.email.clone().filter(|_| wants("email"));
    let person = PersonClaims {
        sub: downstream::subject_of(&session.identity()),
        idp: session.idp.clone(),
        idp_name: session.provider_name(),
        name: session.profile.name.clone().filter(|_| wants("profile")),
        email_verified: email.as_ref().map(|_| false),
        email,
        profiles: state.profiles.iter().map(ProfileClaim::from).collect(),
    };
    let grant = Grant {
        client_id: request.client_id.as_str().to_owned(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        scopes: request.scopes.clone(),
        identity_issuer: session.idp_iss.clone(),
        identity_subject: session.idp_sub.clone(),
        session_id: session.sid.clone(),
        session_generation: session.generation,
        // A provider that reports no auth_time: the moment profile-link's sign-in completed.
        auth_time: session.auth_time.unwrap_or(session.iat),
        person,
        issued_at: now,
    };
    let code = random::secret_256();
    if let Err(error) = app
        .store
        .put_code(&random::sha256_b64(code.as_bytes()), &grant, grant.code_valid_until(), grant.kept_until())
        .await
    {
        tracing::error!(%error, client_id = request.client_id.as_str(), "authorization code could not be stored");
        return app.unavailable(&downstream::authorize_path(raw, &[]), t);
    }
    tracing::info!(
        client_id = request.client_id.as_str(),
        idp = session.idp.as_str(),
        profiles = grant.person.profiles.len(),
        "authorization code issued"
    );
    let location = downstream::with_query(
        &request.redirect_uri,
        &[("code", &code), ("state", &request.state), ("iss", &app.issuer())],
    );
    // Back at the portal: "Back to the portal" has done its work.
    let jar = if app.cookies.get(&jar, PORTAL).is_some() { jar.add(app.cookies.removal(PORTAL)) } else { jar };
    (jar, see_other(&location)).into_response()
}

/// RP-initiated logout's parameters (OpenID Connect RP-Initiated Logout 1.0 §2).
#[derive(Debug, Default, Deserialize)]
struct EndSessionParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// The confirmation form's.
    csrf: Option<String>,
}

/// What an ID token hint tells: which portal, and which session.
#[derive(Debug, Deserialize)]
struct Hint {
    aud: String,
    sid: Option<String>,
}

/// `GET /end-session`
async fn end_session_get(
    State(app): State<Arc<AuthorizeApp>>,
    locale: Locale,
    jar: CookieJar,
    params: Result<Query<EndSessionParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    end_session(&app, locale, jar, params, false).await
}

/// `POST /end-session`: the portal's form, or our confirmation's.
async fn end_session_post(
    State(app): State<Arc<AuthorizeApp>>,
    locale: Locale,
    jar: CookieJar,
    form: Result<Form<EndSessionParams>, FormRejection>,
) -> Response {
    let params = form.map(|Form(p)| p).unwrap_or_default();
    end_session(&app, locale, jar, params, true).await
}

async fn end_session(
    app: &AuthorizeApp,
    locale: Locale,
    jar: CookieJar,
    params: EndSessionParams,
    posted: bool,
) -> Response {
    let t = locale.text();
    let hint =
        params.id_token_hint.as_deref().filter(|h| h.len() <= 4096).and_then(|h| app.verifier.id_token_hint::<Hint>(h));
    let refuse = || {
        app.problem(
            Problem::new(
                StatusCode::BAD_REQUEST,
                t.end_session_invalid_title,
                t.end_session_invalid,
                ("/", t.action_account),
            ),
            t,
        )
    };
    // The portal: named, or the hint's audience; when both are given they must agree.
    let client = match (params.client_id.as_deref(), &hint) {
        (Some(id), Some(hint)) if hint.aud != id => return refuse(),
        (Some(id), _) => app.clients.get(id),
        (None, Some(hint)) => app.clients.get(&hint.aud),
        (None, None) => None,
    };
    // Only a URI the portal registered, matched exactly: never an open redirect.
    let after = match params.post_logout_redirect_uri.as_deref() {
        Some(uri) => match client {
            Some(client) if client.allows_post_logout_redirect(uri) => {
                match params.state.as_deref().filter(|s| s.len() <= 512) {
                    Some(state) => downstream::with_query(uri, &[("state", state)]),
                    None => uri.to_owned(),
                }
            }
            _ => {
                tracing::info!("end-session refused: post_logout_redirect_uri not registered");
                return refuse();
            }
        },
        None => "/".to_owned(),
    };
    let Some(session) = app.session(&jar) else {
        return (app.clear_stale_session(jar), see_other(&after)).into_response();
    };
    let hinted = hint.as_ref().and_then(|h| h.sid.as_deref()) == Some(downstream::portal_sid(&session.sid).as_str());
    let confirmed = posted && web::csrf_matches(&session, params.csrf.as_deref());
    if !hinted && !confirmed {
        // Anyone can link here; only the person's own click (or the portal's proof of this session) signs out.
        let portal = client.map_or(app.site.branding.operator_name.as_str(), |c| c.name.as_str());
        let intro = fill(
            t.end_session_intro,
            &[
                ("portal", &portal),
                ("product", &app.site.branding.product_name),
                ("provider", &session.provider_name()),
            ],
        );
        let page = EndSessionPage {
            brand: &app.site.branding,
            t,
            intro: &intro,
            csrf: &session.csrf,
            client_id: client.map(|c| c.id.as_str()).unwrap_or(""),
            post_logout_redirect_uri: params.post_logout_redirect_uri.as_deref().filter(|_| client.is_some()),
            state: params.state.as_deref().filter(|s| s.len() <= 512),
        };
        let mut response = pages::respond(StatusCode::OK, &page);
        // The confirmation's POST ends in a redirect to the portal: the CSP's
        // form-action must allow the portal's origin too (browsers check redirects).
        if let Some(origin) = params
            .post_logout_redirect_uri
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .filter(|_| client.is_some())
        {
            let csp = web::content_security_policy(&app.site, &[&origin.origin().ascii_serialization()]);
            if let Ok(value) = HeaderValue::from_str(&csp) {
                response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
            }
        }
        return response;
    }
    let jar = jar.add(app.cookies.removal(SESSION));
    if let Err(error) = app.store.end_session(&session.identity(), &session.sid, session.exp).await {
        tracing::error!(%error, "end-session could not record the sign-out");
        return (jar, app.unavailable("/", t)).into_response();
    }
    tracing::info!(client_id = client.map(|c| c.id.as_str()).unwrap_or("-"), hinted, "signed out by the portal");
    (jar, see_other(&after)).into_response()
}
