//! `POST /profiles/unlink`: a profile unlinked from the account page.

use super::*;

#[derive(Debug, Deserialize)]
pub(crate) struct UnlinkForm {
    pub(crate) profile_id: Option<String>,
    pub(crate) csrf: Option<String>,
}

link_form_refusals!(UnlinkForm, "/login");

/// `POST /profiles/unlink`: removes a link from the account page. The
/// identity's state is read first (this endpoint reads nothing else): a
/// signed-out session changes nothing, and the re-issued session lists the
/// profiles the table holds, less this one.
pub(crate) async fn unlink(
    State(app): State<Arc<RedeemApp>>,
    locale: Locale,
    jar: CookieJar,
    CsrfForm { session, form }: CsrfForm<UnlinkForm>,
) -> Response {
    let t = locale.text();
    let now = app.clock.now();
    let Some(profile_id) = form.profile_id.as_deref().and_then(ProfileId::parse) else {
        let problem = Problem::new(StatusCode::BAD_REQUEST, t.unlink_unknown_title, t.unlink_unknown, account(t));
        return app.problem(problem, t);
    };
    match linking::unlink::unlink(&app.store, &session, &profile_id, now).await {
        Ok(Unlinking::SignedOut) => signed_out(&app, &jar, "/login"),
        Ok(Unlinking::Done { already_unlinked, profiles }) => {
            // Unlinking what is not linked (a second click, another tab) is not an error.
            tracing::info!(profile = %profile_id, already_unlinked, "unlink");
            let cookie = reissue_session(&app, &session, profiles, now);
            (jar.add(cookie), Redirect::to("/")).into_response()
        }
        Err(error) => unavailable(&app, t, error),
    }
}
