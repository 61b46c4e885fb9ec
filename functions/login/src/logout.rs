//! `POST /logout`: this session, or every session of the identity, ends.

use super::*;

#[derive(Debug, Deserialize)]
pub(crate) struct LogoutForm {
    pub(crate) csrf: Option<String>,
    /// `1`: end every session of this identity, not just this one.
    pub(crate) everywhere: Option<String>,
}

impl CsrfProtected for LogoutForm {
    /// No session: nothing to end, and the browser is where signing out leads.
    const SIGN_IN: &'static str = "/";

    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    /// An unreadable form carries no token this session could have issued.
    fn unreadable(t: &'static Text, _too_large: bool) -> Problem {
        Self::forged(t)
    }

    fn forged(t: &'static Text) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, t.logout_csrf_title, t.logout_csrf, ("/", t.action_account))
    }
}

/// `POST /logout`: ends the session for every copy of its cookie, or with
/// `everywhere=1` every session of the identity (CSRF-protected so other
/// sites cannot sign people out).
pub(crate) async fn logout(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    jar: CookieJar,
    CsrfForm { session, form }: CsrfForm<LogoutForm>,
) -> Response {
    let everywhere = form.everywhere.as_deref() == Some("1");
    // Each writes a logout event in the same transaction: the portals hear of it (notify-portals).
    let now = app.clock.now();
    let ended = if everywhere {
        app.store.end_every_session(&session.identity(), now).await
    } else {
        app.store.end_session(&session.identity(), &session.sid, session.exp, now).await
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
