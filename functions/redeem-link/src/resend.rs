//! `POST /redeem/resend`: a new link for one that was sent and expired unused.

use super::*;

/// The "send me a new link" button on an expired link's page.
#[derive(Debug, Deserialize)]
pub(crate) struct ResendForm {
    pub(crate) token: Option<String>,
    pub(crate) csrf: Option<String>,
}

impl LinkForm for ResendForm {
    fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

link_form_refusals!(ResendForm, "/login?return_to=%2F");

/// `POST /redeem/resend`: a new link in place of one that was sent and expired
/// unused, within the rate limits, after a sign-in made since it was clicked,
/// to the address the profile is registered under now, only if that is still
/// the link's address (the transaction checks all of it again).
pub(crate) async fn resend(
    State(app): State<Arc<RedeemApp>>,
    locale: Locale,
    jar: CookieJar,
    caller: Caller,
    posted: Result<CsrfForm<ResendForm>, BrowserError>,
) -> Response {
    let t = locale.text();
    let now = app.clock.now();
    let PostedLink { session, token, link, .. } = match posted_link(&app, t, &jar, posted).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let clicked = app.clicked(&jar).filter(|c| LinkToken::parse(&c.token).is_ok_and(|t| t.link_id == token.link_id));
    let requester = Requester {
        identity: session.identity(),
        label: RequesterLabel::of_sign_in(&session.profile, t),
        provider: link.record.identity_provider.clone(),
        source_ip: caller.network.clone(),
        locale,
    };
    let allowance = Allowance { limits: &app.limits, link_ttl_seconds: app.link_ttl_seconds };
    // As confirming needs: a sign-in made after this link was clicked.
    let signed_in_since_click = clicked.as_ref().is_some_and(|c| fresh(&session, c));
    let outcome = match request::renew(&app.store, allowance, &link, &requester, signed_in_since_click, now).await {
        Ok(Renewed::Recorded(outcome)) => outcome,
        Ok(Renewed::WrongIdentity) => return wrong_identity(&app, t, &session, &link, &token, false),
        Ok(Renewed::NeedsFreshSignIn) => return Redirect::to(&fresh_sign_in_at(&session)).into_response(),
        Ok(Renewed::NotRenewable) => return not_renewable(&app, t),
        Ok(Renewed::Malformed) => return malformed(&app, t),
        Err(error) => return unavailable(&app, t, error),
    };
    match outcome {
        RequestOutcome::Accepted { .. } => {
            let message =
                fill(t.resent, &[("profile", &link.record.display_name), ("minutes", &(app.link_ttl_seconds / 60))]);
            let mut outcome = Outcome::problem(t, t.resent_title, message, account(t));
            outcome.ok = true;
            outcome.step = 3;
            app.outcome(StatusCode::OK, outcome)
        }
        RequestOutcome::RateLimited { limit, retry_after } => {
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
        RequestOutcome::NotRenewable => not_renewable(&app, t),
        RequestOutcome::AddressChanged => address_changed_page(&app, t),
    }
}

/// A link that was used, cancelled, replaced by a newer one or never sent.
pub(crate) fn not_renewable(app: &RedeemApp, t: &'static Text) -> Response {
    app.outcome(StatusCode::CONFLICT, Outcome::problem(t, t.resend_refused_title, t.resend_refused, request_again(t)))
}
