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
    match app.store.record_association_request(&request, &app.limits, app.link_ttl_seconds, now).await {
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
            redeem::audit_refusal(&app.store, &link, &requester.identity, AuditEvent::RefusedAddressChanged, now).await;
            address_changed_page(&app, t)
        }
        Err(error) => unavailable(&app, t, error),
    }
}

/// A link that was used, cancelled, replaced by a newer one or never sent.
pub(crate) fn not_renewable(app: &RedeemApp, t: &'static Text) -> Response {
    app.outcome(StatusCode::CONFLICT, Outcome::problem(t, t.resend_refused_title, t.resend_refused, request_again(t)))
}
