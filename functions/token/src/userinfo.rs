//! `GET/POST /userinfo`: the person's claims, profiles read fresh from the table.

use super::*;

/// `GET|POST /userinfo` (OIDC Core §5.3): the bearer token's person, with
/// the profiles as the table holds them now.
pub(crate) async fn userinfo(State(app): State<Arc<TokenApp>>, headers: HeaderMap) -> Response {
    match person(&app, &headers).await {
        Ok(person) => Json(person).into_response(),
        Err(error) => error.into_response(),
    }
}

pub(crate) async fn person(app: &TokenApp, headers: &HeaderMap) -> Result<PersonClaims, OAuthError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(OAuthError::no_token)?;
    let now = app.clock.now();
    let access: AccessTokenClaims = app
        .keys
        .verify_for(USERINFO_PURPOSE, token, now)
        .ok_or(OAuthError::invalid_token("the access token is invalid or expired"))?;
    let grant: Grant = match app.store.grant_for_access_token(&access.jti).await {
        Ok(Some(grant)) => grant,
        Ok(None) => return Err(OAuthError::invalid_token("the access token was revoked")),
        Err(error) => {
            tracing::error!(%error, "userinfo could not read the grant");
            return Err(OAuthError::unavailable());
        }
    };
    let identity: Identity = grant.identity();
    let state = match app.store.session_state(&identity, &grant.session_id).await {
        Ok(state) => state,
        Err(error) => {
            tracing::error!(%error, "userinfo could not read the identity's profiles");
            return Err(OAuthError::unavailable());
        }
    };
    if state.has_ended_session(&grant.session_id, grant.session_generation) {
        return Err(OAuthError::invalid_token("the person signed out"));
    }
    Ok(grant.person.with_profiles(state.profiles.iter().map(ProfileClaim::from).collect()))
}
