//! `GET /` (the account page), `GET /me` (its JSON for portal endpoints) and
//! `GET /.well-known/jwks.json` (the keys that verify sessions).

use super::*;

/// `GET /`: the account page (one query for the linked profiles), or the welcome page when signed out.
pub(crate) async fn account(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    jar: CookieJar,
    session: Option<SignedIn>,
) -> Response {
    let t = locale.text();
    let Some(SignedIn(session)) = session else {
        let jar = app.clear_stale_session(jar);
        return (jar, pages::respond(StatusCode::OK, &HomePage { brand: &app.site.branding, t })).into_response();
    };
    let provider = session.provider_name();
    // Read from the table, not the session: an unlink or a new link shows at
    // once, and so does a sign-out in another tab or on another device.
    let profiles: Vec<LinkedProfileView> = match app.store.session_state(&session.identity(), &session.sid).await {
        Ok(state) if state.has_ended(&session) => {
            let jar = jar.add(app.cookies.removal(SESSION));
            return (jar, pages::respond(StatusCode::OK, &HomePage { brand: &app.site.branding, t })).into_response();
        }
        Ok(state) => state.profiles.into_iter().map(LinkedProfileView::from).collect(),
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
pub(crate) async fn me(State(app): State<Arc<LoginApp>>, session: Option<SignedIn>) -> Response {
    let session = session.map(|SignedIn(session)| session);
    let state = match &session {
        Some(session) => Some(app.store.session_state(&session.identity(), &session.sid).await),
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

/// `GET /.well-known/jwks.json`: the public keys that verify session tokens.
pub(crate) async fn jwks(State(app): State<Arc<LoginApp>>) -> Response {
    let mut response = Json(app.sessions.jwks()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
