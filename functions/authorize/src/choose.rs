//! Whom the person acts for, where a portal asks (`profile_selection:
//! required`): with more than one linked profile, a chooser posted back to
//! `/authorize`; the code then names the chosen profile.

use super::*;

/// What the request and the person's linked profiles say about the profile acted for.
pub(crate) enum Acting {
    /// The portal does not ask, or there is nothing to choose from.
    ForAll,
    /// The one linked profile, or the one chosen in the chooser.
    For(String),
    /// The person must choose first.
    MustChoose,
}

/// A choice counts only if it came from the chooser's form (the session's
/// CSRF token) and names a profile linked now: a portal cannot choose for the person.
pub(crate) fn acting_for(
    client: &PortalClient,
    request: &AuthorizationRequest,
    session: &SessionClaims,
    state: &IdentityState,
) -> Acting {
    if client.profile_selection != ProfileSelection::Required {
        return Acting::ForAll;
    }
    match state.profiles.as_slice() {
        [] => Acting::ForAll,
        [only] => Acting::For(only.profile_id.clone()),
        linked => match &request.chosen_profile {
            Some((chosen, csrf))
                if web::csrf_matches(session, Some(csrf)) && linked.iter().any(|p| p.profile_id == *chosen) =>
            {
                Acting::For(chosen.clone())
            }
            _ => Acting::MustChoose,
        },
    }
}

/// The chooser: the linked profiles, the portal's own parameters kept, and a
/// CSP whose `form-action` lets the POST's redirect reach the portal.
pub(crate) fn chooser(
    app: &AuthorizeApp,
    t: &Text,
    client: &PortalClient,
    session: &SessionClaims,
    state: &IdentityState,
    request: &AuthorizationRequest,
    raw: &str,
) -> Response {
    let intro = fill(t.choose_intro, &[("portal", &client.name)]);
    let continue_label = fill(t.choose_continue, &[("portal", &client.name)]);
    let profiles: Vec<LinkedProfileView> = state.profiles.iter().cloned().map(LinkedProfileView::from).collect();
    let portal_parameters = downstream::portal_parameters(raw);
    let page = ChooseProfilePage {
        brand: &app.site.branding,
        t,
        intro: &intro,
        continue_label: &continue_label,
        portal_parameters: &portal_parameters,
        csrf: &session.csrf,
        profiles: &profiles,
    };
    let mut response = pages::respond(StatusCode::OK, &page);
    web::allow_form_redirect_to(&mut response, &app.site, &request.redirect_uri);
    response
}
