//! `POST /logout`: this session, or every session of the identity, ends.

use super::*;

#[derive(Debug, Deserialize)]
pub(crate) struct LogoutForm {
    pub(crate) csrf: Option<String>,
    /// `1`: end every session of this identity, not just this one.
    pub(crate) everywhere: Option<String>,
}

/// `POST /logout`: ends the session for every copy of its cookie, or with
/// `everywhere=1` every session of the identity (CSRF-protected so other
/// sites cannot sign people out).
pub(crate) async fn logout(
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
