//! `GET /redeem?token=…` (seed step 7): reads, redirects, shows; never
//! changes a link, because mail scanners fetch links first.

use super::*;

#[derive(Debug, Deserialize)]
pub(crate) struct RedeemQuery {
    pub(crate) token: Option<String>,
}

/// `GET /redeem` (and `HEAD`): reads, redirects, shows; never changes a link.
pub(crate) async fn show(
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
pub(crate) async fn read_link(app: &RedeemApp, t: &'static Text, token: &LinkToken) -> Result<StoredLink, Response> {
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
