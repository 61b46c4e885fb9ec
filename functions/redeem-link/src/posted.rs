//! What every POST about a link starts with: a signed-in session that was
//! not signed out, the form with this session's CSRF token, the link its
//! token opens, and the identity's state; and the re-issued session after it.

use super::*;

/// The session and form of a POST from one of our pages: signed in, readable,
/// carrying this session's CSRF token. Anything else is answered here.
pub(crate) fn signed_in_form<T>(
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
pub(crate) async fn posted_link(
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

pub(crate) struct PostedLink {
    pub(crate) session: SessionClaims,
    pub(crate) form: RedeemForm,
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
