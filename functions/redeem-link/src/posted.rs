//! What every POST about a link starts with, past the session and CSRF
//! checks that `CsrfForm` made: the link its token opens and the identity's
//! state, read side by side; the forms' refusal pages; and the re-issued
//! session after a change.

use super::*;

/// A form that names a link by its token.
pub(crate) trait LinkForm {
    fn token(&self) -> Option<&str>;
}

/// The pages every form about links answers a refusal with.
macro_rules! link_form_refusals {
    ($form:ty, $sign_in:expr) => {
        impl CsrfProtected for $form {
            const SIGN_IN: &'static str = $sign_in;

            fn csrf(&self) -> Option<&str> {
                self.csrf.as_deref()
            }

            fn unreadable(t: &'static Text, too_large: bool) -> Problem {
                let status = if too_large { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
                Problem::new(status, t.form_unreadable_title, t.redeem_form_unreadable, account(t))
            }

            fn forged(t: &'static Text) -> Problem {
                Problem::new(StatusCode::FORBIDDEN, t.buttons_csrf_title, t.buttons_csrf, account(t))
            }
        }
    };
}
pub(crate) use link_form_refusals;

/// A POST about a link (confirm, "this wasn't me", resend), from a session
/// that has not been signed out: the session, the form, its token, the link
/// that token's verifier opens, and the identity's state (read beside the
/// link, not after it).
pub(crate) async fn posted_link<F: CsrfProtected + LinkForm>(
    app: &RedeemApp,
    t: &'static Text,
    jar: &CookieJar,
    posted: Result<CsrfForm<F>, BrowserError>,
) -> Result<PostedLink<F>, Response> {
    let CsrfForm { session, form } = posted.map_err(IntoResponse::into_response)?;
    let Some(Ok(token)) = form.token().map(LinkToken::parse) else { return Err(malformed(app, t)) };
    let identity = session.identity();
    let (link, state) = tokio::join!(read_link(app, t, &token), app.store.session_state(&identity, &session.sid));
    let state = state.map_err(|error| unavailable(app, t, error))?;
    if state.has_ended(&session) {
        return Err(signed_out(app, jar, F::SIGN_IN));
    }
    Ok(PostedLink { session, form, token, link: link?, state })
}

pub(crate) struct PostedLink<F> {
    pub(crate) session: SessionClaims,
    pub(crate) form: F,
    pub(crate) token: LinkToken,
    pub(crate) link: StoredLink,
    pub(crate) state: IdentityState,
}

/// The same session with `profiles` (read from the table in this request and
/// changed by its own write): same sign-in, same end, never longer.
pub(crate) fn reissue_session(
    app: &RedeemApp,
    session: &SessionClaims,
    profiles: Vec<String>,
    now: i64,
) -> Cookie<'static> {
    let token = app.sessions.sign(&session.with_profiles(profiles));
    app.cookies.build(SESSION, token, (session.exp - now).max(0))
}
