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
use profile_link_core::domain::email::RegisteredEmail;
use profile_link_core::domain::identity::RequesterLabel;
use profile_link_core::domain::link_token::LinkToken;
use profile_link_core::domain::profile::{Profile, ProfileId};
use profile_link_core::domain::rate_limit::{RateLimits, RequestPolicy, client_network};
use profile_link_core::i18n::{Locale, Text, fill};
use profile_link_core::metrics::{Emf, rate_limited};
use profile_link_core::session::{SessionClaims, SessionKeys, SessionVerifier};
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::associations::Unlinked;
use profile_link_core::store::audit::DEFAULT_AUDIT_RETENTION_SECONDS;
use profile_link_core::store::redeem::{Redemption, StoredLink};
use profile_link_core::store::{AssociationRequest, IdentityState, LinkState, RequestOutcome, Requester, StoreError};
use profile_link_core::web::browser::BrowserCore;
use profile_link_core::web::pages::{self, OutcomePage, Problem, RedeemConfirmPage, ResendForm};
use profile_link_core::web::{self, Caller, SESSION};
use profile_link_core::{Clock, Identity, Store, SystemClock};
use serde::{Deserialize, Serialize};

mod not_me;

/// How long a clicked link waits in its cookie for the sign-in to finish.
const CLICKED_LINK_SECONDS: i64 = 15 * 60;
/// Session `auth_time` is in this service's clock (see the login function);
/// the provider's and our times are whole seconds, so allow one second of
/// rounding each and nothing more.
const AUTH_TIME_SKEW_SECONDS: i64 = 2;
const REDEEM_COOKIE: &str = "pl_redeem";
const PURPOSE: &str = "redeem";

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

/// One outcome page's content.
struct Outcome {
    t: &'static Text,
    step: u8,
    ok: bool,
    title: &'static str,
    message: String,
    action: (&'static str, &'static str),
    resend: Option<ResendForm>,
    secondary: Option<(&'static str, &'static str)>,
    /// A link token: the page offers to cancel every link of its request.
    cancel_request: Option<String>,
}

impl Outcome {
    fn problem(
        t: &'static Text,
        title: &'static str,
        message: impl Into<String>,
        action: (&'static str, &'static str),
    ) -> Self {
        Self {
            t,
            step: 0,
            ok: false,
            title,
            message: message.into(),
            action,
            resend: None,
            secondary: None,
            cancel_request: None,
        }
    }
}

fn account(t: &'static Text) -> (&'static str, &'static str) {
    ("/", t.action_account)
}

fn request_again(t: &'static Text) -> (&'static str, &'static str) {
    ("/associate", t.action_request_again)
}

const FRESH_SIGN_IN: &str = "/login?fresh=1&return_to=%2Fredeem";
/// The same for "sign in with another account": no hint, and the provider's
/// own account chooser where it has one.
const OTHER_ACCOUNT_SIGN_IN: &str = "/login?fresh=1&choose=1&return_to=%2Fredeem";

/// The forced sign-in, at the provider `session` signed in with, hinting at
/// the account: its username where it has one (Entra's UPN, which its
/// sign-in takes and work accounts' email claims often are not), else its email.
fn fresh_sign_in_at(session: &SessionClaims) -> String {
    let mut location = url::form_urlencoded::Serializer::new(String::new());
    if !session.idp.is_empty() {
        location.append_pair("provider", &session.idp);
    }
    if let Some(hint) = session.profile.preferred_username.as_deref().or(session.profile.email.as_deref()) {
        location.append_pair("login_hint", hint);
    }
    match location.finish() {
        extra if extra.is_empty() => FRESH_SIGN_IN.to_owned(),
        extra => format!("{FRESH_SIGN_IN}&{extra}"),
    }
}

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
        .route("/not-me", get(not_me::show).post(not_me::cancel))
        .route("/profiles/unlink", post(unlink))
        .with_state(app);
    web::harden(routes, &site, FUNCTION)
}

#[derive(Debug, Deserialize)]
struct RedeemQuery {
    token: Option<String>,
}

fn malformed(app: &RedeemApp, t: &'static Text) -> Response {
    app.outcome(
        StatusCode::BAD_REQUEST,
        Outcome::problem(t, t.link_incomplete_title, t.link_incomplete, request_again(t)),
    )
}

/// Whether the session's authentication happened after the link was clicked.
fn fresh(session: &SessionClaims, clicked: &ClickedLink) -> bool {
    // A provider that did not say when the person authenticated proves nothing.
    session.auth_time.is_some_and(|auth_time| auth_time + AUTH_TIME_SKEW_SECONDS >= clicked.clicked_at)
}

/// `GET /redeem` (and `HEAD`): reads, redirects, shows; never changes a link.
async fn show(
    State(app): State<Arc<RedeemApp>>,
    locale: Locale,
    query: Result<Query<RedeemQuery>, QueryRejection>,
    jar: CookieJar,
) -> Response {
    let t = locale.text();
    let now = app.clock.now();
    if let Ok(Query(RedeemQuery { token: Some(raw) })) = &query {
        // Step 1: take the token out of the URL (history, logs, Referer) into a cookie.
        if LinkToken::parse(raw).is_err() {
            return malformed(&app, t);
        }
        let clicked = ClickedLink { token: raw.trim().to_owned(), clicked_at: now, exp: now + CLICKED_LINK_SECONDS };
        let cookie = app.clicked_cookie(app.sessions.sign_for(PURPOSE, &clicked), CLICKED_LINK_SECONDS);
        return (jar.add(cookie), Redirect::to("/redeem")).into_response();
    }
    let Some(clicked) = app.clicked(&jar) else {
        return app
            .outcome(StatusCode::BAD_REQUEST, Outcome::problem(t, t.link_reopen_title, t.link_reopen, account(t)));
    };
    let Ok(token) = LinkToken::parse(&clicked.token) else { return malformed(&app, t) };

    // Step 2: a fresh sign-in, started from this click.
    let session = app.session(&jar);
    let Some(session) = session.filter(|s| fresh(s, &clicked)) else {
        let stale = app.session(&jar);
        if stale.as_ref().is_some_and(|s| s.iat >= clicked.clicked_at) {
            // Signed in after the click, yet the provider did not authenticate again.
            return app.outcome(
                StatusCode::BAD_REQUEST,
                Outcome::problem(
                    t,
                    t.provider_no_reauth_title,
                    t.provider_no_reauth,
                    (FRESH_SIGN_IN, t.action_sign_in_again),
                ),
            );
        }
        let location = stale.as_ref().map_or_else(|| FRESH_SIGN_IN.to_owned(), fresh_sign_in_at);
        return Redirect::to(&location).into_response();
    };

    // Step 3: what the link is, checked without changing it.
    let link = match read_link(&app, t, &token).await {
        Ok(link) => link,
        Err(response) => return response,
    };
    let me = session.identity();
    if link.record.identity() != me {
        return wrong_identity(&app, t, &session, &link, &token, false);
    }
    if let Some(response) = unusable(&app, t, &session, &link, &token, now) {
        return response;
    }
    let who = session.profile.display_label().unwrap_or(&session.idp_sub);
    pages::respond(
        StatusCode::OK,
        &RedeemConfirmPage {
            brand: &app.site.branding,
            t,
            heading: fill(t.confirm_heading, &[("who", &who), ("profile", &profile_label(&link))]),
            who,
            provider: &link.record.identity_provider,
            display_name: &link.record.display_name,
            organization: &link.record.organization,
            token: &clicked.token,
            csrf: &session.csrf,
        },
    )
}

/// The link the token names, if the token's verifier is its own.
async fn read_link(app: &RedeemApp, t: &'static Text, token: &LinkToken) -> Result<StoredLink, Response> {
    match app.store.get_link(token.link_id.as_str()).await {
        Ok(Some(link)) if link.verifier_hash.as_deref().is_some_and(|hash| token.matches(hash)) => Ok(link),
        Ok(_) => {
            tracing::warn!(link = %token.link_id, "link token does not match any sent link");
            Err(app.outcome(
                StatusCode::BAD_REQUEST,
                Outcome::problem(t, t.link_invalid_title, t.link_invalid, request_again(t)),
            ))
        }
        Err(error) => Err(unavailable(app, t, error)),
    }
}

fn unavailable(app: &RedeemApp, t: &'static Text, error: StoreError) -> Response {
    tracing::error!(%error, "redeem-link could not reach the table");
    let problem =
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, t.redeem_unavailable_title, t.redeem_unavailable, account(t));
    app.problem(problem, t)
}

/// "Pat Doe, Doe Family Bakery": a profile as pages name it.
fn profile_label(link: &StoredLink) -> String {
    if link.record.organization.is_empty() {
        link.record.display_name.clone()
    } else {
        format!("{}, {}", link.record.display_name, link.record.organization)
    }
}

fn used_page(app: &RedeemApp, t: &'static Text, link: &StoredLink) -> Response {
    let message = if link.state() == LinkState::Burned { t.link_cancelled } else { t.link_used };
    app.outcome(StatusCode::CONFLICT, Outcome::problem(t, t.link_used_title, message, account(t)))
}

/// Checks a link that belongs to this identity: expired, used, burned or superseded links get their page.
fn unusable(
    app: &RedeemApp,
    t: &'static Text,
    session: &SessionClaims,
    link: &StoredLink,
    token: &LinkToken,
    now: i64,
) -> Option<Response> {
    if matches!(link.state(), LinkState::Used | LinkState::Burned) {
        return Some(used_page(app, t, link));
    }
    if link.record.expires_at <= now {
        let minutes = (link.record.expires_at - link.record.created_at) / 60;
        let message = fill(t.link_expired, &[("minutes", &minutes), ("profile", &link.record.display_name)]);
        let mut outcome = Outcome::problem(t, t.link_expired_title, message, account(t));
        outcome.resend = Some(ResendForm { token: token.expose(), csrf: session.csrf.clone() });
        return Some(app.outcome(StatusCode::GONE, outcome));
    }
    None
}

fn wrong_identity(
    app: &RedeemApp,
    t: &'static Text,
    session: &SessionClaims,
    link: &StoredLink,
    token: &LinkToken,
    burned: bool,
) -> Response {
    let who = session.profile.display_label().unwrap_or(&session.idp_sub);
    let template = if burned { t.wrong_account_burned } else { t.wrong_account };
    let requester = RequesterLabel::from_stored(&link.record.identity_label, t);
    let message = fill(template, &[("requester", &requester), ("who", &who)]);
    let mut outcome =
        Outcome::problem(t, t.wrong_account_title, message, (OTHER_ACCOUNT_SIGN_IN, t.action_other_account));
    // Whoever holds the email may stop the request, as its own "not me" link does.
    outcome.cancel_request = Some(token.expose());
    app.outcome(StatusCode::FORBIDDEN, outcome)
}

#[derive(Debug, Deserialize)]
struct RedeemForm {
    token: Option<String>,
    csrf: Option<String>,
    action: Option<String>,
}

fn csrf_refused(app: &RedeemApp, t: &'static Text) -> Response {
    app.problem(Problem::new(StatusCode::FORBIDDEN, t.buttons_csrf_title, t.buttons_csrf, account(t)), t)
}

/// The session and form of a POST from one of our pages: signed in, readable,
/// carrying this session's CSRF token. Anything else is answered here.
fn signed_in_form<T>(
    app: &RedeemApp,
    t: &'static Text,
    jar: &CookieJar,
    form: Result<Form<T>, FormRejection>,
    csrf: impl Fn(&T) -> Option<&str>,
    sign_in: &str,
) -> Result<(SessionClaims, T), Response> {
    let Some(session) = app.session(jar) else { return Err(Redirect::to(sign_in).into_response()) };
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return Err(unreadable_form(app, t, rejection)),
    };
    if !web::csrf_matches(&session, csrf(&form)) {
        tracing::warn!(sid = &session.sid[..8], "POST refused: CSRF token missing or wrong");
        return Err(csrf_refused(app, t));
    }
    Ok((session, form))
}

/// A POST about a link (confirm, "this wasn't me", resend), from a session
/// that has not been signed out: the session, the form, its token, the link
/// that token's verifier opens, and the identity's state (read beside the
/// link, not after it).
async fn posted_link(
    app: &RedeemApp,
    t: &'static Text,
    jar: &CookieJar,
    form: Result<Form<RedeemForm>, FormRejection>,
    sign_in: &str,
) -> Result<PostedLink, Response> {
    let (session, form) = signed_in_form(app, t, jar, form, |f: &RedeemForm| f.csrf.as_deref(), sign_in)?;
    let Some(Ok(token)) = form.token.as_deref().map(LinkToken::parse) else { return Err(malformed(app, t)) };
    let identity = session.identity();
    let (link, state) = tokio::join!(read_link(app, t, &token), app.store.identity_state(&identity));
    let state = state.map_err(|error| unavailable(app, t, error))?;
    if state.has_ended(&session) {
        return Err(signed_out(app, jar, sign_in));
    }
    Ok(PostedLink { session, form, token, link: link?, state })
}

struct PostedLink {
    session: SessionClaims,
    form: RedeemForm,
    token: LinkToken,
    link: StoredLink,
    state: IdentityState,
}

/// A session that was signed out (elsewhere, or everywhere): its cookie goes,
/// and the person signs in again.
fn signed_out(app: &RedeemApp, jar: &CookieJar, sign_in: &str) -> Response {
    tracing::info!("session was signed out; cookie removed");
    (jar.clone().add(app.cookies.removal(SESSION)), Redirect::to(sign_in)).into_response()
}

fn unreadable_form(app: &RedeemApp, t: &'static Text, rejection: FormRejection) -> Response {
    let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
    let status = if too_large { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
    app.problem(Problem::new(status, t.form_unreadable_title, t.redeem_form_unreadable, account(t)), t)
}

/// `POST /redeem`: confirm (one transaction) or "this wasn't me".
async fn confirm(
    State(app): State<Arc<RedeemApp>>,
    locale: Locale,
    jar: CookieJar,
    form: Result<Form<RedeemForm>, FormRejection>,
) -> Response {
    let t = locale.text();
    let now = app.clock.now();
    let PostedLink { session, form, token, link, state } = match posted_link(&app, t, &jar, form, FRESH_SIGN_IN).await {
        Ok(posted) => posted,
        Err(response) => {
            // A malformed token, or one whose verifier opens no link.
            if response.status() == StatusCode::BAD_REQUEST {
                redeemed("invalid");
            }
            return response;
        }
    };
    let me = session.identity();
    // Used, cancelled or expired links say so whoever asks; only the attempt is recorded.
    if let Some(response) = unusable(&app, t, &session, &link, &token, now) {
        let expired = link.record.expires_at <= now && link.state() != LinkState::Used;
        redeemed(if expired { "expired" } else { "used" });
        audit_refusal(&app, &link, &me, if expired { "refused_expired" } else { "refused_used" }, now).await;
        return response;
    }
    // Every change below must come from a sign-in made after this link was clicked.
    let clicked = app.clicked(&jar).filter(|c| LinkToken::parse(&c.token).is_ok_and(|t| t.link_id == token.link_id));
    if !clicked.as_ref().is_some_and(|c| fresh(&session, c)) {
        return Redirect::to(&fresh_sign_in_at(&session)).into_response();
    }

    if form.action.as_deref() == Some("reject") {
        return match app.store.burn_request(&link, &me, None, DEFAULT_AUDIT_RETENTION_SECONDS, now).await {
            Ok(burned) => {
                redeemed("not_me");
                not_me::counted("requester");
                tracing::info!(link = %link.record.link_id, burned, "request reported as not me");
                let mut outcome = Outcome::problem(t, t.not_me_title, t.not_me, account(t));
                outcome.ok = true;
                app.outcome(StatusCode::OK, outcome)
            }
            Err(error) => unavailable(&app, t, error),
        };
    }

    if link.record.identity() != me {
        // Links nothing, burns the link, and is audited.
        return match app.store.burn_link(&link, &me, "wrong_identity", None, DEFAULT_AUDIT_RETENTION_SECONDS, now).await
        {
            Ok(_) => {
                redeemed("wrong_identity");
                tracing::warn!(link = %link.record.link_id, "link opened by another identity; burned");
                wrong_identity(&app, t, &session, &link, &token, true)
            }
            Err(error) => unavailable(&app, t, error),
        };
    }
    let redemption = match app
        .store
        .redeem_link(&link, &me, session.profile.directory(), DEFAULT_AUDIT_RETENTION_SECONDS, now)
        .await
    {
        Ok(redemption) => redemption,
        Err(error) => return unavailable(&app, t, error),
    };
    tracing::info!(link = %link.record.link_id, profile = %link.record.profile_id, ?redemption, "link redeemed");
    redeemed(match redemption {
        Redemption::Linked { .. } => "linked",
        Redemption::AlreadyLinked => "already_linked",
        Redemption::Used => "used",
        Redemption::Expired => "expired",
        Redemption::Superseded => "superseded",
        Redemption::AddressChanged => "address_changed",
    });
    let jar = jar.add(app.clicked_cookie(String::new(), 0));
    match redemption {
        Redemption::Linked { .. } | Redemption::AlreadyLinked => {
            // The profiles read beside the link, and the one this transaction linked.
            let mut profiles = state.profile_ids();
            profiles.push(link.record.profile_id.clone());
            let jar = jar.add(reissue_session(&app, &session, profiles, now));
            let already = redemption == Redemption::AlreadyLinked;
            {
                let page = linked_page(&app, t, &link, already, &jar);
                (jar, page).into_response()
            }
        }
        Redemption::Used => {
            audit_refusal(&app, &link, &me, "refused_used", now).await;
            (jar, used_page(&app, t, &link)).into_response()
        }
        Redemption::Expired => {
            (jar, unusable(&app, t, &session, &link, &token, i64::MAX).unwrap_or_else(|| used_page(&app, t, &link)))
                .into_response()
        }
        Redemption::Superseded => {
            audit_refusal(&app, &link, &me, "refused_superseded", now).await;
            superseded_page(&app, t, jar)
        }
        Redemption::AddressChanged => {
            audit_refusal(&app, &link, &me, "refused_address_changed", now).await;
            (jar, address_changed_page(&app, t)).into_response()
        }
    }
}

fn address_changed_page(app: &RedeemApp, t: &'static Text) -> Response {
    app.outcome(StatusCode::GONE, Outcome::problem(t, t.address_changed_title, t.address_changed, request_again(t)))
}

/// The `LinksRedeemed` metric: one confirmation attempt and how it ended.
fn redeemed(outcome: &'static str) {
    Emf::new(FUNCTION).dimension("Outcome", outcome).count("LinksRedeemed", 1).emit();
}

fn superseded_page(app: &RedeemApp, t: &'static Text, jar: CookieJar) -> Response {
    let page = app.outcome(StatusCode::GONE, Outcome::problem(t, t.superseded_title, t.superseded, account(t)));
    (jar, page).into_response()
}

/// Records a refused redemption in the profile's audit trail, once per link,
/// identity and kind of refusal (replaying a used link writes nothing more);
/// a failure to record is logged, never shown: the answer does not depend on it.
async fn audit_refusal(app: &RedeemApp, link: &StoredLink, identity: &Identity, event: &'static str, now: i64) {
    let entry = match profile_link_core::store::redeem::audit(&link.record, event, identity, None, now) {
        Ok(entry) => entry,
        Err(error) => return tracing::error!(%error, "audit entry could not be built"),
    };
    if let Err(error) = app.store.audit_once(&entry, DEFAULT_AUDIT_RETENTION_SECONDS).await {
        tracing::error!(%error, event, "audit entry could not be written");
    }
}

/// Seed step 9: the success page, with the way to the portal when one is configured.
/// A portal's sign-in waiting for the person (the authorize function's
/// cookie) comes first: "Back to <portal>" returns to it with a fresh code.
fn linked_page(app: &RedeemApp, t: &'static Text, link: &StoredLink, already: bool, jar: &CookieJar) -> Response {
    let message = fill(if already { t.already_linked } else { t.linked }, &[("profile", &profile_label(link))]);
    let portal = app.cookies.portal_button(jar, &app.site, t);
    let (action_href, action_label, secondary) = match &portal {
        Some((href, label)) => (href.as_str(), label.as_str(), Some(account(t))),
        None => ("/", t.action_account, None),
    };
    pages::respond(
        StatusCode::OK,
        &OutcomePage {
            brand: &app.site.branding,
            t,
            step: 5,
            ok: true,
            title: if already { t.already_linked_title } else { t.linked_title },
            message: &message,
            action_href,
            action_label,
            resend: None,
            secondary,
            cancel_request: None,
        },
    )
}

/// The same session with `profiles` (read from the table in this request and
/// changed by its own write): same sign-in, same end, never longer.
fn reissue_session(app: &RedeemApp, session: &SessionClaims, profiles: Vec<String>, now: i64) -> Cookie<'static> {
    let token = app.sessions.sign(&session.with_profiles(profiles));
    app.cookies.build(SESSION, token, (session.exp - now).max(0))
}

/// `POST /redeem/resend`: a new link in place of one that was sent and expired
/// unused, within the rate limits, after a sign-in made since it was clicked,
/// to the address the profile is registered under now, only if that is still
/// the link's address (the transaction checks all of it again).
async fn resend(
    State(app): State<Arc<RedeemApp>>,
    locale: Locale,
    jar: CookieJar,
    caller: Caller,
    form: Result<Form<RedeemForm>, FormRejection>,
) -> Response {
    let t = locale.text();
    let now = app.clock.now();
    let PostedLink { session, token, link, .. } = match posted_link(&app, t, &jar, form, "/login?return_to=%2F").await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let me = session.identity();
    if link.record.identity() != me {
        return wrong_identity(&app, t, &session, &link, &token, false);
    }
    // As confirming needs: a sign-in made after this link was clicked.
    let clicked = app.clicked(&jar).filter(|c| LinkToken::parse(&c.token).is_ok_and(|t| t.link_id == token.link_id));
    if !clicked.as_ref().is_some_and(|c| fresh(&session, c)) {
        return Redirect::to(&fresh_sign_in_at(&session)).into_response();
    }
    if link.state() != LinkState::Sent || link.record.expires_at > now {
        return not_renewable(&app, t);
    }
    let (Some(id), Ok(email)) = (ProfileId::parse(&link.record.profile_id), RegisteredEmail::parse(&link.record.email))
    else {
        return malformed(&app, t);
    };
    let profile = Profile {
        id,
        email: email.clone(),
        display_name: link.record.display_name.clone(),
        organization: link.record.organization.clone(),
    };
    let requester = Requester {
        identity: me,
        label: RequesterLabel::of_sign_in(&session.profile, t),
        provider: link.record.identity_provider.clone(),
        source_ip: client_network(caller.source_ip.as_deref()),
        locale,
    };
    let request = AssociationRequest {
        requester: &requester,
        email: &email,
        profiles: std::slice::from_ref(&profile),
        // Renewing one link the address already received is within its owner's day.
        by_address_owner: true,
        renews: Some(&link),
    };
    match app
        .store
        .record_association_request(&request, &app.limits, app.link_ttl_seconds, DEFAULT_AUDIT_RETENTION_SECONDS, now)
        .await
    {
        Ok(RequestOutcome::Accepted { .. }) => {
            let message =
                fill(t.resent, &[("profile", &link.record.display_name), ("minutes", &(app.link_ttl_seconds / 60))]);
            let mut outcome = Outcome::problem(t, t.resent_title, message, account(t));
            outcome.ok = true;
            outcome.step = 3;
            app.outcome(StatusCode::OK, outcome)
        }
        Ok(RequestOutcome::RateLimited { limit, retry_after }) => {
            rate_limited(FUNCTION, limit);
            let mut response = app.outcome(
                StatusCode::TOO_MANY_REQUESTS,
                Outcome::problem(
                    t,
                    t.resend_limited_title,
                    fill(t.resend_limited, &[("minutes", &((retry_after + 59) / 60))]),
                    account(t),
                ),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        Ok(RequestOutcome::NotRenewable) => not_renewable(&app, t),
        Ok(RequestOutcome::AddressChanged) => {
            audit_refusal(&app, &link, &requester.identity, "refused_address_changed", now).await;
            address_changed_page(&app, t)
        }
        Err(error) => unavailable(&app, t, error),
    }
}

/// A link that was used, cancelled, replaced by a newer one or never sent.
fn not_renewable(app: &RedeemApp, t: &'static Text) -> Response {
    app.outcome(StatusCode::CONFLICT, Outcome::problem(t, t.resend_refused_title, t.resend_refused, request_again(t)))
}

#[derive(Debug, Deserialize)]
struct UnlinkForm {
    profile_id: Option<String>,
    csrf: Option<String>,
}

/// `POST /profiles/unlink`: removes a link from the account page. The
/// identity's state is read first (this endpoint reads nothing else): a
/// signed-out session changes nothing, and the re-issued session lists the
/// profiles the table holds, less this one.
async fn unlink(
    State(app): State<Arc<RedeemApp>>,
    locale: Locale,
    jar: CookieJar,
    form: Result<Form<UnlinkForm>, FormRejection>,
) -> Response {
    let t = locale.text();
    let now = app.clock.now();
    let (session, form) = match signed_in_form(&app, t, &jar, form, |f: &UnlinkForm| f.csrf.as_deref(), "/login") {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let Some(profile_id) = form.profile_id.as_deref().and_then(ProfileId::parse) else {
        let problem = Problem::new(StatusCode::BAD_REQUEST, t.unlink_unknown_title, t.unlink_unknown, account(t));
        return app.problem(problem, t);
    };
    let identity = session.identity();
    let state = match app.store.identity_state(&identity).await {
        Ok(state) if state.has_ended(&session) => return signed_out(&app, &jar, "/login"),
        Ok(state) => state,
        Err(error) => return unavailable(&app, t, error),
    };
    match app.store.unlink(&identity, &profile_id, "the linked identity", DEFAULT_AUDIT_RETENTION_SECONDS, now).await {
        Ok(result) => {
            // Unlinking what is not linked (a second click, another tab) is not an error.
            tracing::info!(profile = %profile_id, already_unlinked = result == Unlinked::NotLinked, "unlink");
            let profiles = state.profile_ids().into_iter().filter(|p| p != profile_id.as_str()).collect();
            let cookie = reissue_session(&app, &session, profiles, now);
            (jar.add(cookie), Redirect::to("/")).into_response()
        }
        Err(error) => unavailable(&app, t, error),
    }
}
