//! A clicked link waiting in a signed cookie for the person to sign in
//! again, and what makes that sign-in fresh enough to act on the link.

use super::*;

/// How long a clicked link waits in its cookie for the sign-in to finish.
pub(crate) const CLICKED_LINK_SECONDS: i64 = 15 * 60;

pub(crate) const REDEEM_COOKIE: &str = "pl_redeem";

pub(crate) const PURPOSE: &str = "redeem";

pub(crate) const FRESH_SIGN_IN: &str = "/login?fresh=1&return_to=%2Fredeem";

/// The same for "sign in with another account": no hint, and the provider's
/// own account chooser where it has one.
pub(crate) const OTHER_ACCOUNT_SIGN_IN: &str = "/login?fresh=1&choose=1&return_to=%2Fredeem";

/// The forced sign-in, at the provider `session` signed in with, hinting at
/// the account: its username where it has one (Entra's UPN, which its
/// sign-in takes and work accounts' email claims often are not), else its email.
pub(crate) fn fresh_sign_in_at(session: &SessionClaims) -> String {
    let mut location = url::form_urlencoded::Serializer::new(String::new());
    if !session.idp.is_empty() {
        location.append_pair("provider", &session.idp);
    }
    if let Some(hint) = session.profile.preferred_username.as_deref().or(session.profile.email.as_deref()) {
        location.append_pair("login_hint", hint);
    }
    match location.finish() {
        extra if extra.is_empty() => FRESH_SIGN_IN.to_owned(),
        extra => format!("{FRESH_SIGN_IN}&{extra}"),
    }
}

/// A clicked link waiting for the person to sign in (signed with the session key).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ClickedLink {
    pub(crate) token: String,
    pub(crate) clicked_at: i64,
    pub(crate) exp: i64,
}

/// Whether the session's authentication happened after the link was clicked.
pub(crate) fn fresh(session: &SessionClaims, clicked: &ClickedLink) -> bool {
    session.authenticated_since(clicked.clicked_at)
}
