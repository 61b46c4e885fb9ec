//! `GET/POST /end-session` (OpenID Connect RP-Initiated Logout 1.0): the
//! portal's sign-out request, confirmed by the person unless the portal
//! proved it with the session's ID token.

use super::*;

/// RP-initiated logout's parameters (OpenID Connect RP-Initiated Logout 1.0 §2).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EndSessionParams {
    pub(crate) id_token_hint: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) post_logout_redirect_uri: Option<String>,
    pub(crate) state: Option<String>,
    /// The confirmation form's.
    pub(crate) csrf: Option<String>,
}

/// What an ID token hint tells: which portal, and which session.
#[derive(Debug, Deserialize)]
pub(crate) struct Hint {
    pub(crate) aud: String,
    pub(crate) sid: Option<String>,
}

/// `GET /end-session`
pub(crate) async fn end_session_get(
    State(app): State<Arc<AuthorizeApp>>,
    locale: Locale,
    jar: CookieJar,
    params: Result<Query<EndSessionParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    end_session(&app, locale, jar, params, false).await
}

/// `POST /end-session`: the portal's form, or our confirmation's.
pub(crate) async fn end_session_post(
    State(app): State<Arc<AuthorizeApp>>,
    locale: Locale,
    jar: CookieJar,
    form: Result<Form<EndSessionParams>, FormRejection>,
) -> Response {
    let params = form.map(|Form(p)| p).unwrap_or_default();
    end_session(&app, locale, jar, params, true).await
}

pub(crate) async fn end_session(
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
    let portal = client.map_or(app.site.branding.operator_name.as_str(), |c| c.name.as_str());
    let product = app.site.branding.product_name.as_str();
    let page = |intro: &str, csrf: Option<&str>| {
        let page = EndSessionPage {
            brand: &app.site.branding,
            t,
            intro,
            csrf,
            id_token_hint: params.id_token_hint.as_deref().filter(|_| hint.is_some()),
            client_id: client.map(|c| c.id.as_str()).unwrap_or(""),
            post_logout_redirect_uri: params.post_logout_redirect_uri.as_deref().filter(|_| client.is_some()),
            state: params.state.as_deref().filter(|s| s.len() <= 512),
        };
        let mut response = pages::respond(StatusCode::OK, &page);
        // The button's request ends in a redirect to the portal.
        if let Some(target) = params.post_logout_redirect_uri.as_deref().filter(|_| client.is_some()) {
            web::allow_form_redirect_to(&mut response, &app.site, target);
        }
        response
    };
    let Some(session) = app.session(&jar) else {
        if posted && params.csrf.is_none() {
            // A portal's cross-site POST carries no SameSite=Lax cookie: whether
            // the person is signed in is unknown here. Never answer "signed out"
            // for a session that lives on: the button asks again from this site.
            let intro = fill(t.end_session_cookie_missing, &[("portal", &portal), ("product", &product)]);
            return (app.clear_stale_session(jar), page(&intro, None)).into_response();
        }
        return (app.clear_stale_session(jar), see_other(&after)).into_response();
    };
    let hinted = hint.as_ref().and_then(|h| h.sid.as_deref()) == Some(downstream::portal_sid(&session.sid).as_str());
    let confirmed = posted && web::csrf_matches(&session, params.csrf.as_deref());
    if !hinted && !confirmed {
        // Anyone can link here; only the person's own click (or the portal's proof of this session) signs out.
        let intro = fill(
            t.end_session_intro,
            &[("portal", &portal), ("product", &product), ("provider", &session.provider_name())],
        );
        return page(&intro, Some(&session.csrf));
    }
    let jar = jar.add(app.cookies.removal(SESSION));
    if let Err(error) = app.store.end_session(&session.identity(), &session.sid, session.exp, app.clock.now()).await {
        tracing::error!(%error, "end-session could not record the sign-out");
        return (jar, app.unavailable("/", t)).into_response();
    }
    tracing::info!(client_id = client.map(|c| c.id.as_str()).unwrap_or("-"), hinted, "signed out by the portal");
    (jar, see_other(&after)).into_response()
}
