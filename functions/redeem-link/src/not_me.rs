//! "I didn't ask for this": every link email carries `/not-me?token=…` beside
//! the link itself. Whoever holds the email may cancel the request it belongs
//! to, without signing in: the token proves the inbox. `GET` only shows the
//! request and one button (mail scanners fetch links and must change
//! nothing); `POST` burns every still-unused link of the request, audited.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use profile_link_core::domain::identity::RequesterLabel;
use profile_link_core::domain::link_token::LinkToken;
use profile_link_core::i18n::{Locale, fill};
use profile_link_core::linking::not_me::{CancelledVia, cancel_request};
use profile_link_core::metrics::Emf;
use profile_link_core::web::pages::{self, NotMePage};
use serde::Deserialize;

use super::{
    FUNCTION, Outcome, RedeemApp, RedeemQuery, account, malformed, profile_label, read_link, unavailable,
    unreadable_form,
};

/// The `RequestsCancelled` metric: a request stopped as "not me", and from where.
pub(crate) fn counted(via: CancelledVia) {
    Emf::new(FUNCTION).dimension("Via", via.as_str()).count("RequestsCancelled", 1).emit();
}

/// `GET /not-me?token=…`: what was asked, by whom, and the one button.
pub(crate) async fn show(
    State(app): State<Arc<RedeemApp>>,
    locale: Locale,
    query: Result<Query<RedeemQuery>, QueryRejection>,
) -> Response {
    let t = locale.text();
    let Ok(Query(RedeemQuery { token: Some(raw) })) = query else { return malformed(&app, t) };
    let Ok(token) = LinkToken::parse(&raw) else { return malformed(&app, t) };
    let link = match read_link(&app, t, &token).await {
        Ok(link) => link,
        Err(response) => return response,
    };
    let intro = fill(
        t.not_me_page_intro,
        &[
            ("requester", &RequesterLabel::from_stored(&link.record.identity_label, t)),
            ("provider", &link.record.identity_provider),
            ("profile", &profile_label(&link)),
        ],
    );
    pages::respond(StatusCode::OK, &NotMePage { brand: &app.site.branding, t, intro: &intro, token: &token.expose() })
}

#[derive(Debug, Deserialize)]
pub(crate) struct CancelForm {
    token: Option<String>,
    /// Where the button was: the wrong-account page says so, the email's page does not.
    via: Option<String>,
}

/// `POST /not-me`: cancels every still-unused link of the token's request.
pub(crate) async fn cancel(
    State(app): State<Arc<RedeemApp>>,
    locale: Locale,
    form: Result<Form<CancelForm>, FormRejection>,
) -> Response {
    let t = locale.text();
    let now = app.clock.now();
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return unreadable_form(&app, t, rejection),
    };
    let Some(Ok(token)) = form.token.as_deref().map(LinkToken::parse) else { return malformed(&app, t) };
    let link = match read_link(&app, t, &token).await {
        Ok(link) => link,
        Err(response) => return response,
    };
    let via =
        if form.via.as_deref() == Some("wrong_account") { CancelledVia::WrongAccount } else { CancelledVia::Mailbox };
    match cancel_request(&app.store, &link, via, now).await {
        Ok(burned) => {
            tracing::info!(link = %link.record.link_id, burned, via = via.as_str(), "request cancelled as not asked for");
            if burned > 0 {
                counted(via);
            }
            let support = &app.site.branding.support_email;
            let (title, message) = if burned > 0 {
                (t.not_me_done_title, fill(t.not_me_done, &[("support", support)]))
            } else {
                (t.not_me_nothing_left_title, fill(t.not_me_nothing_left, &[("support", support)]))
            };
            let mut outcome = Outcome::problem(t, title, message, account(t));
            outcome.ok = burned > 0;
            app.outcome(StatusCode::OK, outcome)
        }
        Err(error) => unavailable(&app, t, error),
    }
}
