//! `POST /associate` (seed steps 4–5): one pending link per profile under the
//! address, within the rate limits, and the same answer whatever matched.

use super::*;

#[derive(Debug, Deserialize)]
pub(crate) struct AssociateForm {
    #[serde(default)]
    pub(crate) email: String,
    pub(crate) csrf: Option<String>,
}

impl CsrfProtected for AssociateForm {
    const SIGN_IN: &'static str = "/login?return_to=%2Fassociate";

    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    fn unreadable(t: &'static Text, too_large: bool) -> Problem {
        let (status, title) = if too_large {
            (StatusCode::PAYLOAD_TOO_LARGE, t.form_too_large_title)
        } else {
            (StatusCode::BAD_REQUEST, t.form_unreadable_title)
        };
        Problem::new(status, title, t.form_unreadable, ("/associate", t.action_back_to_form))
    }

    fn forged(t: &'static Text) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, t.form_csrf_title, t.form_csrf, ("/associate", t.action_open_form))
    }
}

/// `POST /associate`
pub(crate) async fn request(
    State(app): State<Arc<AssociationApp>>,
    locale: Locale,
    jar: CookieJar,
    caller: Caller,
    CsrfForm { session, form }: CsrfForm<AssociateForm>,
) -> Response {
    let t = locale.text();
    let brand = &app.site.branding;
    let typed: String = form.email.chars().take(254).collect();
    let email = match RegisteredEmail::parse(&form.email) {
        Ok(email) => email,
        Err(error) => {
            return app.form(StatusCode::BAD_REQUEST, t, &session, typed.trim(), Some(error.message(t).to_owned()));
        }
    };

    let now = app.clock.now();
    let identity = session.identity();
    let requester = Requester {
        label: RequesterLabel::of_sign_in(&session.profile, t),
        // The operator's name for it ("Microsoft"), from the signed session.
        provider: session.provider_name(),
        identity,
        source_ip: caller.network.clone(),
        locale,
    };
    let allowance = Allowance { limits: &app.limits, link_ttl_seconds: app.link_ttl_seconds };
    let outcome = match request_links(&app.store, allowance, &session, &requester, &email, now).await {
        Ok(Requested::Recorded(outcome)) => Ok(outcome),
        Ok(Requested::SignedOut) => {
            tracing::info!(sid = &session.sid[..8], "association request from a signed-out session");
            return (jar.add(app.cookies.removal(SESSION)), sign_in_first()).into_response();
        }
        Err(error) => Err(error),
    };
    match &outcome {
        Ok(RequestOutcome::Accepted { links }) => {
            tracing::info!(sid = &session.sid[..8], address = %email.masked(), links, "association requested");
            pages::respond(StatusCode::OK, &AssociateSentPage { brand, t, lifetime_minutes: app.link_ttl_seconds / 60 })
        }
        Ok(RequestOutcome::RateLimited { limit, retry_after }) => {
            let (limit, retry_after) = (*limit, *retry_after);
            tracing::warn!(sid = &session.sid[..8], limit = limit.as_str(), "association request rate-limited");
            rate_limited(FUNCTION, limit);
            let minutes = (retry_after + 59) / 60;
            let message = fill(t.rate_limited, &[("minutes", &minutes)]);
            let mut response =
                Problem::new(StatusCode::TOO_MANY_REQUESTS, t.rate_limited_title, message, ("/", t.action_account))
                    .render(brand, t);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        // A new request renews no link, so it cannot be refused for one.
        Ok(RequestOutcome::NotRenewable | RequestOutcome::AddressChanged) | Err(_) => {
            if let Err(error) = &outcome {
                tracing::error!(%error, "association request failed");
            }
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                t.request_unavailable_title,
                t.request_unavailable,
                ("/associate", t.action_try_again),
            )
            .render(brand, t)
        }
    }
}
