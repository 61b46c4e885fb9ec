//! The code a portal receives: the grant stored under its hash, and the
//! redirect back to the portal with `code`, `state` and `iss`.

use super::*;
use profile_link_core::store::logouts::PortalSession;

/// What the tokens will say of the person: their sign-in as the scopes
/// allow, the profiles linked now, and the one they act for, if they chose.
pub(crate) fn person_claims(
    request: &AuthorizationRequest,
    session: &SessionClaims,
    state: &IdentityState,
    acting_for: Option<String>,
) -> PersonClaims {
    let wants = |scope: &str| request.scopes.iter().any(|s| s == scope);
    let email = session.profile.email.clone().filter(|_| wants("email"));
    PersonClaims {
        sub: downstream::subject_of(&session.identity()),
        idp: session.idp.clone(),
        idp_name: session.provider_name(),
        name: session.profile.name.clone().filter(|_| wants("profile")),
        email_verified: email.as_ref().map(|_| false),
        email,
        profiles: Vec::new(),
        profile_ids: Vec::new(),
        profile_id: acting_for,
    }
    .with_profiles(state.profiles.iter().map(ProfileClaim::from).collect())
}

/// A code for this request, stored with what the token endpoint will say.
pub(crate) async fn issue_code(
    app: &AuthorizeApp,
    t: &Text,
    request: &AuthorizationRequest,
    session: &SessionClaims,
    person: PersonClaims,
    raw: &str,
    jar: CookieJar,
) -> Response {
    let now = app.clock.now();
    let grant = Grant {
        client_id: request.client_id.as_str().to_owned(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        scopes: request.scopes.clone(),
        identity_issuer: session.idp_iss.clone(),
        identity_subject: session.idp_sub.clone(),
        session_id: session.sid.clone(),
        session_generation: session.generation,
        // A provider that reports no auth_time: the moment profile-link's sign-in completed.
        auth_time: session.auth_time.unwrap_or(session.iat),
        person,
        issued_at: now,
    };
    let code = random::secret_256();
    // A portal that takes logout tokens: what it is told in this session, so a change reaches it.
    let identity = session.identity();
    let takes_logouts = app.clients.get(request.client_id.as_str()).is_some_and(|c| c.backchannel_logout_uri.is_some());
    let portal_session = takes_logouts.then(|| PortalSession {
        session_id: session.sid.clone(),
        client_id: grant.client_id.clone(),
        sid: downstream::portal_sid(&session.sid),
        sub: grant.person.sub.clone(),
        profile_ids: grant.person.profile_ids.clone(),
        expires_at: session.exp,
    });
    if let Err(error) = app
        .store
        .put_code(
            &random::sha256_b64(code.as_bytes()),
            &grant,
            grant.code_valid_until(),
            grant.kept_until(),
            portal_session.as_ref().map(|p| (&identity, p, now)),
        )
        .await
    {
        tracing::error!(%error, client_id = request.client_id.as_str(), "authorization code could not be stored");
        return app.unavailable(&downstream::authorize_path(raw, &[]), t);
    }
    tracing::info!(
        client_id = request.client_id.as_str(),
        idp = session.idp.as_str(),
        profiles = grant.person.profiles.len(),
        "authorization code issued"
    );
    let location = downstream::with_query(
        &request.redirect_uri,
        &[("code", &code), ("state", &request.state), ("iss", &app.issuer())],
    );
    // Back at the portal: "Back to the portal" has done its work.
    let jar = if app.cookies.get(&jar, PORTAL).is_some() { jar.add(app.cookies.removal(PORTAL)) } else { jar };
    (jar, see_other(&location)).into_response()
}
