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
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use profile_link_core::config::{CookiePolicy, Env, SiteConfig};
use profile_link_core::email::RegisteredEmail;
use profile_link_core::identity::mask_email;
use profile_link_core::links::LinkToken;
use profile_link_core::pages::{self, OutcomePage, Problem, RedeemConfirmPage, ResendForm};
use profile_link_core::profile::{Profile, ProfileId};
use profile_link_core::rate_limit::{RateLimits, RequestPolicy};
use profile_link_core::session::{NewSession, SessionClaims, SessionKeys};
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::associations::Unlinked;
use profile_link_core::store::audit::DEFAULT_AUDIT_RETENTION_SECONDS;
use profile_link_core::store::redeem::{Redemption, StoredLink};
use profile_link_core::store::{RequestOutcome, Requester, StoreError};
use profile_link_core::web::{self, Caller, Cookies, SESSION};
use profile_link_core::{Clock, Identity, Store, SystemClock};
use serde::{Deserialize, Serialize};

/// How long a clicked link waits in its cookie for the sign-in to finish.
const CLICKED_LINK_SECONDS: i64 = 15 * 60;
/// Session `auth_time` is in this service's clock (see the login function);
/// the provider's and our times are whole seconds, so allow one second of
/// rounding each and nothing more.
const AUTH_TIME_SKEW_SECONDS: i64 = 2;
const REDEEM_COOKIE: &str = "pl_redeem";
const PURPOSE: &str = "redeem";

pub struct RedeemApp {
    pub site: SiteConfig,
    pub store: Store,
    pub sessions: Arc<SessionKeys>,
    pub clock: Arc<dyn Clock>,
    pub limits: RateLimits,
    pub link_ttl_seconds: i64,
    cookies: Cookies,
}

impl RedeemApp {
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let site = SiteConfig::from_env(env)?;
        let (sessions, _) = startup::session_keys_and_secrets(env, sdk, &site, &[]).await?;
        let policy = RequestPolicy::from_env(env)?;
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        Ok(Self::new(site, store, Arc::new(sessions), Arc::new(SystemClock), policy.limits, policy.link_ttl_seconds))
    }

    pub fn new(
        site: SiteConfig,
        store: Store,
        sessions: Arc<SessionKeys>,
        clock: Arc<dyn Clock>,
        limits: RateLimits,
        link_ttl_seconds: i64,
    ) -> Self {
        let cookies = Cookies::new(site.public_base_url.cookie_policy());
        Self { site, store, sessions, clock, limits, link_ttl_seconds, cookies }
    }

    fn session(&self, jar: &CookieJar) -> Option<SessionClaims> {
        self.cookies.session(jar, &self.sessions, self.clock.now())
    }

    fn outcome(&self, status: StatusCode, page: Outcome) -> Response {
        pages::respond(
            status,
            &OutcomePage {
                brand: &self.site.branding,
                step: page.step,
                ok: page.ok,
                title: page.title,
                message: &page.message,
                action_href: page.action.0,
                action_label: page.action.1,
                resend: page.resend,
                secondary: page.secondary,
            },
        )
    }

    fn problem(&self, problem: Problem) -> Response {
        problem.render(&self.site.branding)
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

/// One outcome page's content.
struct Outcome {
    step: u8,
    ok: bool,
    title: &'static str,
    message: String,
    action: (&'static str, &'static str),
    resend: Option<ResendForm>,
    secondary: Option<(&'static str, &'static str)>,
}

impl Outcome {
    fn problem(title: &'static str, message: impl Into<String>, action: (&'static str, &'static str)) -> Self {
        Self { step: 0, ok: false, title, message: message.into(), action, resend: None, secondary: None }
    }
}

const ACCOUNT: (&str, &str) = ("/", "Go to your account");
const REQUEST_AGAIN: (&str, &str) = ("/associate", "Request a new link");

/// A clicked link waiting for the person to sign in (signed with the session key).
#[derive(Debug, Serialize, Deserialize)]
struct ClickedLink {
    token: String,
    clicked_at: i64,
    exp: i64,
}

pub fn router(app: Arc<RedeemApp>) -> Router {
    let site = app.site.clone();
    let routes = Router::new()
        .route("/redeem", get(show).post(confirm))
        .route("/redeem/resend", post(resend))
        .route("/profiles/unlink", post(unlink))
        .with_state(app);
    web::harden(routes, &site)
}

#[derive(Debug, Deserialize)]
struct RedeemQuery {
    token: Option<String>,
}

fn malformed(app: &RedeemApp) -> Response {
    app.outcome(
        StatusCode::BAD_REQUEST,
        Outcome::problem(
            "This link is not complete",
            "The link could not be read. It may have been cut off or changed: open it straight from the email, or copy the whole address into your browser.",
            REQUEST_AGAIN,
        ),
    )
}

/// Whether the session's authentication happened after the link was clicked.
fn fresh(session: &SessionClaims, clicked: &ClickedLink) -> bool {
    session.auth_time + AUTH_TIME_SKEW_SECONDS >= clicked.clicked_at
}

/// `GET /redeem` (and `HEAD`): reads, redirects, shows; never changes a link.
async fn show(
    State(app): State<Arc<RedeemApp>>,
    query: Result<Query<RedeemQuery>, QueryRejection>,
    jar: CookieJar,
) -> Response {
    let now = app.clock.now();
    if let Ok(Query(RedeemQuery { token: Some(raw) })) = &query {
        // Step 1: take the token out of the URL (history, logs, Referer) into a cookie.
        if LinkToken::parse(raw).is_err() {
            return malformed(&app);
        }
        let clicked = ClickedLink { token: raw.trim().to_owned(), clicked_at: now, exp: now + CLICKED_LINK_SECONDS };
        let cookie = app.clicked_cookie(app.sessions.sign_for(PURPOSE, &clicked), CLICKED_LINK_SECONDS);
        return (jar.add(cookie), Redirect::to("/redeem")).into_response();
    }
    let Some(clicked) = app.clicked(&jar) else {
        return app.outcome(
            StatusCode::BAD_REQUEST,
            Outcome::problem(
                "Please open the link from your email again",
                "We could not find the link you clicked, or it was clicked more than 15 minutes ago. Open it from the email again.",
                ACCOUNT,
            ),
        );
    };
    let Ok(token) = LinkToken::parse(&clicked.token) else { return malformed(&app) };

    // Step 2: a fresh sign-in, started from this click.
    let session = app.session(&jar);
    let Some(session) = session.filter(|s| fresh(s, &clicked)) else {
        let stale = app.session(&jar);
        if stale.as_ref().is_some_and(|s| s.iat >= clicked.clicked_at) {
            // Signed in after the click, yet the provider did not authenticate again.
            return app.outcome(
                StatusCode::BAD_REQUEST,
                Outcome::problem(
                    "Your identity provider did not ask you to sign in again",
                    "To confirm a link you must enter your password (or equivalent) again at your identity provider. Please try once more; if this keeps happening, contact support.",
                    ("/login?fresh=1&return_to=%2Fredeem", "Sign in again"),
                ),
            );
        }
        let mut location = String::from("/login?fresh=1&return_to=%2Fredeem");
        if let Some(hint) = stale.and_then(|s| s.profile.email) {
            location.push_str("&login_hint=");
            location.extend(url::form_urlencoded::byte_serialize(hint.as_bytes()));
        }
        return Redirect::to(&location).into_response();
    };

    // Step 3: what the link is, checked without changing it.
    let link = match read_link(&app, &token).await {
        Ok(link) => link,
        Err(response) => return response,
    };
    let me = session.identity();
    if link.record.identity() != me {
        return wrong_identity(&app, &session, &link, false);
    }
    if let Some(response) = unusable(&app, &session, &link, &token, now) {
        return response;
    }
    pages::respond(
        StatusCode::OK,
        &RedeemConfirmPage {
            brand: &app.site.branding,
            who: session.profile.display_label().unwrap_or(&session.idp_sub),
            provider: &link.record.identity_provider,
            display_name: &link.record.display_name,
            organization: &link.record.organization,
            token: &clicked.token,
            csrf: &session.csrf,
        },
    )
}

/// The link the token names, if the token's verifier is its own.
async fn read_link(app: &RedeemApp, token: &LinkToken) -> Result<StoredLink, Response> {
    match app.store.get_link(token.link_id.as_str()).await {
        Ok(Some(link)) if link.verifier_hash.as_deref().is_some_and(|hash| token.matches(hash)) => Ok(link),
        Ok(_) => {
            tracing::warn!(link = %token.link_id, "link token does not match any sent link");
            Err(app.outcome(
                StatusCode::BAD_REQUEST,
                Outcome::problem(
                    "This link is not valid",
                    "This link does not match one we sent. It may have been changed or cut off, or it has expired and been removed. Open it straight from the email, or request a new one.",
                    REQUEST_AGAIN,
                ),
            ))
        }
        Err(error) => Err(unavailable(app, error)),
    }
}

fn unavailable(app: &RedeemApp, error: StoreError) -> Response {
    tracing::error!(%error, "redeem-link could not reach the table");
    app.problem(Problem {
        status: StatusCode::SERVICE_UNAVAILABLE,
        title: "We could not confirm the link right now",
        message: "A service we depend on did not answer. Nothing was changed; please open the link again in a minute."
            .into(),
        action_href: "/".into(),
        action_label: "Go to your account",
    })
}

fn used_page(app: &RedeemApp, link: &StoredLink) -> Response {
    let message = if link.state() == "burned" {
        "This link was cancelled (someone said it wasn't them, or it was opened while signed in with another account). Nothing was linked with it. Request a new link if you still want to link this profile."
    } else {
        "Each link works once, and this one has been used. If you used it, the profile is linked: your account page shows it."
    };
    app.outcome(StatusCode::CONFLICT, Outcome::problem("This link has already been used", message, ACCOUNT))
}

/// Checks a link that belongs to this identity: expired, used, burned or superseded links get their page.
fn unusable(
    app: &RedeemApp,
    session: &SessionClaims,
    link: &StoredLink,
    token: &LinkToken,
    now: i64,
) -> Option<Response> {
    if matches!(link.state(), "used" | "burned") {
        return Some(used_page(app, link));
    }
    if link.record.expires_at <= now {
        let mut outcome = Outcome::problem(
            "This link has expired",
            format!(
                "Links work for {} minutes and this one has run out. We can send you a new one for {}.",
                (link.record.expires_at - link.record.created_at) / 60,
                link.record.display_name
            ),
            ACCOUNT,
        );
        outcome.resend = Some(ResendForm { token: token.expose(), csrf: session.csrf.clone() });
        return Some(app.outcome(StatusCode::GONE, outcome));
    }
    None
}

fn wrong_identity(app: &RedeemApp, session: &SessionClaims, link: &StoredLink, burned: bool) -> Response {
    let who = session.profile.display_label().unwrap_or("this account");
    let message = if burned {
        format!(
            "This link was requested by another sign-in ({}), not {who}. For safety it no longer works and nothing was linked. Sign in with the account you used to request it and request a new link.",
            link.record.identity_label
        )
    } else {
        format!(
            "This link was requested by another sign-in ({}), but you are signed in as {who}. Sign in with the account you used to request it. Confirming from this account would cancel the link.",
            link.record.identity_label
        )
    };
    app.outcome(
        StatusCode::FORBIDDEN,
        Outcome::problem(
            "You are signed in with a different account",
            message,
            ("/login?fresh=1&return_to=%2Fredeem", "Sign in with another account"),
        ),
    )
}

#[derive(Debug, Deserialize)]
struct RedeemForm {
    token: Option<String>,
    csrf: Option<String>,
    action: Option<String>,
}

fn csrf_refused(app: &RedeemApp) -> Response {
    app.problem(Problem {
        status: StatusCode::FORBIDDEN,
        title: "Please use the buttons on our page",
        message: "This request did not come from our confirmation page. Nothing was changed.".into(),
        action_href: "/".into(),
        action_label: "Go to your account",
    })
}

/// The session and form of a POST from one of our pages: signed in, readable,
/// carrying this session's CSRF token. Anything else is answered here.
fn signed_in_form<T>(
    app: &RedeemApp,
    jar: &CookieJar,
    form: Result<Form<T>, FormRejection>,
    csrf: impl Fn(&T) -> Option<&str>,
    sign_in: &str,
) -> Result<(SessionClaims, T), Response> {
    let Some(session) = app.session(jar) else { return Err(Redirect::to(sign_in).into_response()) };
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return Err(unreadable_form(app, rejection)),
    };
    if !web::csrf_matches(&session, csrf(&form)) {
        tracing::warn!(sid = &session.sid[..8], "POST refused: CSRF token missing or wrong");
        return Err(csrf_refused(app));
    }
    Ok((session, form))
}

fn unreadable_form(app: &RedeemApp, rejection: FormRejection) -> Response {
    let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
    app.problem(Problem {
        status: if too_large { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST },
        title: "We could not read that form",
        message: "Nothing was changed. Please open the link from your email again.".into(),
        action_href: "/".into(),
        action_label: "Go to your account",
    })
}

/// `POST /redeem`: confirm (one transaction) or "this wasn't me".
async fn confirm(
    State(app): State<Arc<RedeemApp>>,
    jar: CookieJar,
    form: Result<Form<RedeemForm>, FormRejection>,
) -> Response {
    let now = app.clock.now();
    let Some(session) = app.session(&jar) else {
        return Redirect::to("/login?fresh=1&return_to=%2Fredeem").into_response();
    };
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&app, rejection),
    };
    if !web::csrf_matches(&session, form.csrf.as_deref()) {
        tracing::warn!(sid = &session.sid[..8], "redeem refused: CSRF token missing or wrong");
        return csrf_refused(&app);
    }
    let Some(Ok(token)) = form.token.as_deref().map(LinkToken::parse) else { return malformed(&app) };
    let link = match read_link(&app, &token).await {
        Ok(link) => link,
        Err(response) => return response,
    };
    let me = session.identity();
    // Used, cancelled or expired links say so whoever asks; only the attempt is recorded.
    if let Some(response) = unusable(&app, &session, &link, &token, now) {
        let event =
            if link.record.expires_at <= now && link.state() != "used" { "refused_expired" } else { "refused_used" };
        audit_refusal(&app, &link, &me, event, now).await;
        return response;
    }
    // Every change below must come from a sign-in made after this link was clicked.
    let clicked = app.clicked(&jar).filter(|c| LinkToken::parse(&c.token).is_ok_and(|t| t.link_id == token.link_id));
    if !clicked.as_ref().is_some_and(|c| fresh(&session, c)) {
        return Redirect::to("/login?fresh=1&return_to=%2Fredeem").into_response();
    }

    if form.action.as_deref() == Some("reject") {
        return match app.store.burn_request(&link, &me, DEFAULT_AUDIT_RETENTION_SECONDS, now).await {
            Ok(burned) => {
                tracing::info!(link = %link.record.link_id, burned, "request reported as not me");
                let mut outcome = Outcome::problem(
                    "Thank you: nothing was linked",
                    "We have cancelled the links from that request, so none of them can be used. If you think someone is trying to use your profile, contact support.",
                    ACCOUNT,
                );
                outcome.ok = true;
                app.outcome(StatusCode::OK, outcome)
            }
            Err(error) => unavailable(&app, error),
        };
    }

    if link.record.identity() != me {
        // Links nothing, burns the link, and is audited.
        return match app.store.burn_link(&link, &me, "wrong_identity", DEFAULT_AUDIT_RETENTION_SECONDS, now).await {
            Ok(_) => {
                tracing::warn!(link = %link.record.link_id, "link opened by another identity; burned");
                wrong_identity(&app, &session, &link, true)
            }
            Err(error) => unavailable(&app, error),
        };
    }
    let redemption = match app.store.redeem_link(&link, &me, DEFAULT_AUDIT_RETENTION_SECONDS, now).await {
        Ok(redemption) => redemption,
        Err(error) => return unavailable(&app, error),
    };
    tracing::info!(link = %link.record.link_id, profile = %link.record.profile_id, ?redemption, "link redeemed");
    let jar = jar.add(app.clicked_cookie(String::new(), 0));
    match redemption {
        Redemption::Linked { .. } | Redemption::AlreadyLinked => {
            let jar = jar.add(reissue_session(&app, &session, now, ProfileChange::Added(&link.record.profile_id)));
            let already = redemption == Redemption::AlreadyLinked;
            (jar, linked_page(&app, &link, already)).into_response()
        }
        Redemption::Used => {
            audit_refusal(&app, &link, &me, "refused_used", now).await;
            (jar, used_page(&app, &link)).into_response()
        }
        Redemption::Expired => {
            (jar, unusable(&app, &session, &link, &token, i64::MAX).unwrap_or_else(|| used_page(&app, &link)))
                .into_response()
        }
        Redemption::Superseded => {
            audit_refusal(&app, &link, &me, "refused_superseded", now).await;
            superseded_page(&app, jar)
        }
    }
}

fn superseded_page(app: &RedeemApp, jar: CookieJar) -> Response {
    let page = app.outcome(
        StatusCode::GONE,
        Outcome::problem(
            "A newer link replaced this one",
            "You asked again after this email was sent, so only the newest email's link works. Open the most recent email for this profile.",
            ACCOUNT,
        ),
    );
    (jar, page).into_response()
}

/// Records a refused redemption in the profile's audit trail; a failure to
/// record is logged, never shown: the person's answer does not depend on it.
async fn audit_refusal(app: &RedeemApp, link: &StoredLink, identity: &Identity, event: &'static str, now: i64) {
    let entry = match profile_link_core::store::redeem::audit(&link.record, event, identity, None, now) {
        Ok(entry) => entry,
        Err(error) => return tracing::error!(%error, "audit entry could not be built"),
    };
    if let Err(error) = app.store.audit(&entry, DEFAULT_AUDIT_RETENTION_SECONDS).await {
        tracing::error!(%error, event, "audit entry could not be written");
    }
}

/// Seed step 9: the success page, with the way to the portal when one is configured.
fn linked_page(app: &RedeemApp, link: &StoredLink, already: bool) -> Response {
    let profile = if link.record.organization.is_empty() {
        link.record.display_name.clone()
    } else {
        format!("{} ({})", link.record.display_name, link.record.organization)
    };
    let message = format!(
        "{profile} {} linked to your sign-in. From now on, sign in with this account to act for it.",
        if already { "was already" } else { "is now" },
    );
    let (action_href, action_label, secondary) = match &app.site.branding.portal_url {
        Some(portal) => (portal.as_str(), "Go to the portal", Some(ACCOUNT)),
        None => (ACCOUNT.0, ACCOUNT.1, None),
    };
    pages::respond(
        StatusCode::OK,
        &OutcomePage {
            brand: &app.site.branding,
            step: 5,
            ok: true,
            title: if already { "This profile was already linked to you" } else { "Your profile is linked" },
            message: &message,
            action_href,
            action_label,
            resend: None,
            secondary,
        },
    )
}

/// A new session cookie whose profile list is the old one changed by `change`
/// (the table was just written in this request, so no read is needed).
fn reissue_session(app: &RedeemApp, session: &SessionClaims, now: i64, change: ProfileChange<'_>) -> Cookie<'static> {
    let mut profiles = session.profiles.clone();
    match change {
        ProfileChange::Added(id) if !profiles.iter().any(|p| p == id) => profiles.push(id.to_owned()),
        ProfileChange::Removed(id) => profiles.retain(|p| p != id),
        ProfileChange::Added(_) => {}
    }
    profiles.sort();
    let identity = session.identity();
    let (token, _) = app.sessions.issue(NewSession {
        identity: &identity,
        profile: session.profile.clone(),
        auth_time: session.auth_time,
        profiles,
        now,
        ttl_seconds: app.site.session_ttl_seconds,
        csrf: Some(session.csrf.clone()),
    });
    app.cookies.build(SESSION, token, app.site.session_ttl_seconds)
}

enum ProfileChange<'a> {
    Added(&'a str),
    Removed(&'a str),
}

/// `POST /redeem/resend`: a new link for an expired one, within the rate limits.
async fn resend(
    State(app): State<Arc<RedeemApp>>,
    jar: CookieJar,
    caller: Caller,
    form: Result<Form<RedeemForm>, FormRejection>,
) -> Response {
    let now = app.clock.now();
    let (session, form) =
        match signed_in_form(&app, &jar, form, |f: &RedeemForm| f.csrf.as_deref(), "/login?return_to=%2F") {
            Ok(ok) => ok,
            Err(response) => return response,
        };
    let Some(Ok(token)) = form.token.as_deref().map(LinkToken::parse) else { return malformed(&app) };
    let link = match read_link(&app, &token).await {
        Ok(link) => link,
        Err(response) => return response,
    };
    let me = session.identity();
    if link.record.identity() != me {
        return wrong_identity(&app, &session, &link, false);
    }
    let (Some(id), Ok(email)) = (ProfileId::parse(&link.record.profile_id), RegisteredEmail::parse(&link.record.email))
    else {
        return malformed(&app);
    };
    let profile = Profile {
        id,
        email: email.clone(),
        display_name: link.record.display_name.clone(),
        organization: link.record.organization.clone(),
    };
    let requester = Requester {
        identity: me,
        label: session
            .profile
            .email
            .as_deref()
            .map(mask_email)
            .or_else(|| session.profile.name.clone())
            .unwrap_or_else(|| "your account".into()),
        provider: link.record.identity_provider.clone(),
        source_ip: caller.source_ip.unwrap_or_else(|| "unknown".into()),
    };
    match app
        .store
        .record_association_request(
            &requester,
            &email,
            &[profile],
            &app.limits,
            app.link_ttl_seconds,
            DEFAULT_AUDIT_RETENTION_SECONDS,
            now,
        )
        .await
    {
        Ok(RequestOutcome::Accepted { .. }) => {
            let mut outcome = Outcome::problem(
                "We have sent you a new link",
                format!(
                    "Check the inbox of the address registered for {}. The new link works for {} minutes.",
                    link.record.display_name,
                    app.link_ttl_seconds / 60
                ),
                ACCOUNT,
            );
            outcome.ok = true;
            outcome.step = 3;
            app.outcome(StatusCode::OK, outcome)
        }
        Ok(RequestOutcome::RateLimited { retry_after, .. }) => {
            let mut response = app.outcome(
                StatusCode::TOO_MANY_REQUESTS,
                Outcome::problem(
                    "Please wait before asking again",
                    format!(
                        "There have been too many requests recently. Nothing was sent. Please try again in {} minutes.",
                        (retry_after + 59) / 60
                    ),
                    ACCOUNT,
                ),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        Err(error) => unavailable(&app, error),
    }
}

#[derive(Debug, Deserialize)]
struct UnlinkForm {
    profile_id: Option<String>,
    csrf: Option<String>,
}

/// `POST /profiles/unlink`: removes a link from the account page.
async fn unlink(
    State(app): State<Arc<RedeemApp>>,
    jar: CookieJar,
    form: Result<Form<UnlinkForm>, FormRejection>,
) -> Response {
    let now = app.clock.now();
    let (session, form) = match signed_in_form(&app, &jar, form, |f: &UnlinkForm| f.csrf.as_deref(), "/login") {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let Some(profile_id) = form.profile_id.as_deref().and_then(ProfileId::parse) else {
        return app.problem(Problem {
            status: StatusCode::BAD_REQUEST,
            title: "We could not tell which profile to unlink",
            message: "Nothing was changed. Use the Unlink button next to the profile on your account page.".into(),
            action_href: "/".into(),
            action_label: "Go to your account",
        });
    };
    match app.store.unlink(&session.identity(), &profile_id, DEFAULT_AUDIT_RETENTION_SECONDS, now).await {
        Ok(result) => {
            // Unlinking what is not linked (a second click, another tab) is not an error.
            tracing::info!(profile = %profile_id, already_unlinked = result == Unlinked::NotLinked, "unlink");
            let cookie = reissue_session(&app, &session, now, ProfileChange::Removed(profile_id.as_str()));
            (jar.add(cookie), Redirect::to("/")).into_response()
        }
        Err(error) => unavailable(&app, error),
    }
}
