//! The pages redeem-link answers with: one outcome page, shaped by what happened.

use super::*;

/// One outcome page's content.
pub(crate) struct Outcome {
    pub(crate) t: &'static Text,
    pub(crate) step: u8,
    pub(crate) ok: bool,
    pub(crate) title: &'static str,
    pub(crate) message: String,
    pub(crate) action: (&'static str, &'static str),
    pub(crate) resend: Option<ResendForm>,
    pub(crate) secondary: Option<(&'static str, &'static str)>,
    /// A link token: the page offers to cancel every link of its request.
    pub(crate) cancel_request: Option<String>,
}

impl Outcome {
    pub(crate) fn problem(
        t: &'static Text,
        title: &'static str,
        message: impl Into<String>,
        action: (&'static str, &'static str),
    ) -> Self {
        Self {
            t,
            step: 0,
            ok: false,
            title,
            message: message.into(),
            action,
            resend: None,
            secondary: None,
            cancel_request: None,
        }
    }
}

pub(crate) fn account(t: &'static Text) -> (&'static str, &'static str) {
    ("/", t.action_account)
}

pub(crate) fn request_again(t: &'static Text) -> (&'static str, &'static str) {
    ("/associate", t.action_request_again)
}

pub(crate) fn malformed(app: &RedeemApp, t: &'static Text) -> Response {
    app.outcome(
        StatusCode::BAD_REQUEST,
        Outcome::problem(t, t.link_incomplete_title, t.link_incomplete, request_again(t)),
    )
}

pub(crate) fn unavailable(app: &RedeemApp, t: &'static Text, error: StoreError) -> Response {
    tracing::error!(%error, "redeem-link could not reach the table");
    let problem =
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, t.redeem_unavailable_title, t.redeem_unavailable, account(t));
    app.problem(problem, t)
}

/// "Pat Doe, Doe Family Bakery": a profile as pages name it.
pub(crate) fn profile_label(link: &StoredLink) -> String {
    if link.record.organization.is_empty() {
        link.record.display_name.clone()
    } else {
        format!("{}, {}", link.record.display_name, link.record.organization)
    }
}

pub(crate) fn used_page(app: &RedeemApp, t: &'static Text, link: &StoredLink) -> Response {
    let message = if link.state() == LinkState::Burned { t.link_cancelled } else { t.link_used };
    app.outcome(StatusCode::CONFLICT, Outcome::problem(t, t.link_used_title, message, account(t)))
}

/// A session that was signed out (elsewhere, or everywhere): its cookie goes,
/// and the person signs in again.
pub(crate) fn signed_out(app: &RedeemApp, jar: &CookieJar, sign_in: &str) -> Response {
    tracing::info!("session was signed out; cookie removed");
    (jar.clone().add(app.cookies.removal(SESSION)), Redirect::to(sign_in)).into_response()
}

pub(crate) fn unreadable_form(app: &RedeemApp, t: &'static Text, rejection: FormRejection) -> Response {
    let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
    let status = if too_large { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
    app.problem(Problem::new(status, t.form_unreadable_title, t.redeem_form_unreadable, account(t)), t)
}

pub(crate) fn address_changed_page(app: &RedeemApp, t: &'static Text) -> Response {
    app.outcome(StatusCode::GONE, Outcome::problem(t, t.address_changed_title, t.address_changed, request_again(t)))
}

pub(crate) fn superseded_page(app: &RedeemApp, t: &'static Text, jar: CookieJar) -> Response {
    let page = app.outcome(StatusCode::GONE, Outcome::problem(t, t.superseded_title, t.superseded, account(t)));
    (jar, page).into_response()
}
