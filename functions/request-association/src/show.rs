//! `GET /associate` (seed step 4): the form asking for the address registered
//! with the company, or to sign in first.

use super::*;

pub(crate) fn sign_in_first() -> Response {
    Redirect::to(AssociateForm::SIGN_IN).into_response()
}

/// `GET /associate`
pub(crate) async fn show_form(
    State(app): State<Arc<AssociationApp>>,
    locale: Locale,
    session: Option<SignedIn>,
) -> Response {
    match session {
        Some(SignedIn(session)) => app.form(StatusCode::OK, locale.text(), &session, "", None),
        None => sign_in_first(),
    }
}
