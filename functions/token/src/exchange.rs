//! `POST /token`: an authorization code exchanged once for an ID token and
//! an access token (a replayed code ends the tokens issued for it).

use super::*;

#[derive(Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: i64,
    pub(crate) id_token: String,
    pub(crate) scope: String,
}

/// `POST /token`
pub(crate) async fn token(
    State(app): State<Arc<TokenApp>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    match exchange(&app, &headers, form).await {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(error) => error.into_response(),
    }
}

pub(crate) async fn exchange(
    app: &TokenApp,
    headers: &HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<TokenResponse, OAuthError> {
    let Ok(Form(form)) = form else {
        return Err(OAuthError::bad(
            OAuthErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded, each parameter once",
        ));
    };
    let client = app.authenticate(headers, &form)?;
    if form.grant_type.as_deref() != Some("authorization_code") {
        return Err(OAuthError::bad(OAuthErrorCode::UnsupportedGrantType, "only authorization_code"));
    }
    let code = form
        .code
        .as_deref()
        .filter(|c| c.len() <= 128)
        .ok_or(OAuthError::bad(OAuthErrorCode::InvalidRequest, "code is missing"))?;
    let now = app.clock.now();
    let code_key = random::sha256_b64(code.as_bytes());
    let grant = match app.store.take_code::<Grant>(&code_key, now).await {
        Ok(CodeTaken::First(grant)) => grant,
        Ok(CodeTaken::Replayed(grant)) => {
            tracing::warn!(
                client_id = client.id.as_str(),
                issued_to = grant.client_id.as_str(),
                "authorization code replayed: refused, and its access tokens revoked"
            );
            return Err(OAuthError::bad(OAuthErrorCode::InvalidGrant, "the code was already used"));
        }
        Ok(CodeTaken::Unknown) => return Err(OAuthError::bad(OAuthErrorCode::InvalidGrant, "unknown or expired code")),
        Err(error) => {
            tracing::error!(%error, "token endpoint could not use the code");
            return Err(OAuthError::unavailable());
        }
    };
    // The code is used up now: whatever fails below, it cannot be tried again.
    if grant.client_id != client.id.as_str() {
        tracing::warn!(
            client_id = client.id.as_str(),
            issued_to = grant.client_id.as_str(),
            "code presented by another client"
        );
        return Err(OAuthError::bad(OAuthErrorCode::InvalidGrant, "the code was issued to another client"));
    }
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(OAuthError::bad(
            OAuthErrorCode::InvalidGrant,
            "redirect_uri differs from the authorization request's",
        ));
    }
    if !form.code_verifier.as_deref().is_some_and(|v| downstream::pkce_matches(v, &grant.code_challenge)) {
        return Err(OAuthError::bad(
            OAuthErrorCode::InvalidGrant,
            "code_verifier missing or not the one the challenge was made from",
        ));
    }
    // A code dies with the session it was issued in: signed out, alone or everywhere, since.
    match app.store.session_state(&grant.identity(), &grant.session_id).await {
        Ok(state) if state.has_ended_session(&grant.session_id, grant.session_generation) => {
            tracing::info!(client_id = client.id.as_str(), "code refused: its session has ended");
            return Err(OAuthError::bad(
                OAuthErrorCode::InvalidGrant,
                "the person signed out since the code was issued",
            ));
        }
        Ok(_) => {}
        Err(error) => {
            tracing::error!(%error, "token endpoint could not read the code's session");
            return Err(OAuthError::unavailable());
        }
    }
    let scope = grant.scopes.join(" ");
    let id_token = IdTokenClaims {
        iss: app.issuer(),
        aud: grant.client_id.clone(),
        azp: grant.client_id.clone(),
        iat: now,
        exp: now + ID_TOKEN_TTL_SECONDS,
        auth_time: grant.auth_time,
        nonce: grant.nonce.clone(),
        sid: downstream::portal_sid(&grant.session_id),
        person: grant.person.clone(),
    };
    let access = AccessTokenClaims {
        sub: grant.person.sub.clone(),
        client_id: grant.client_id.clone(),
        jti: code_key,
        scope: scope.clone(),
        iat: now,
        exp: now + ACCESS_TOKEN_TTL_SECONDS,
    };
    tracing::info!(client_id = client.id.as_str(), profiles = grant.person.profiles.len(), "tokens issued");
    Ok(TokenResponse {
        access_token: app.keys.sign_for(USERINFO_PURPOSE, &access),
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL_SECONDS,
        id_token: app.keys.sign_for_portal(client.id_token_signed_response_alg, &id_token),
        scope,
    })
}
