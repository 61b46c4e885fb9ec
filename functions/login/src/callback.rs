//! `/login/callback/<provider>` (seed step 3; `POST` for `form_post`
//! providers): the transaction consumed once, the code exchanged, the ID
//! token validated, and the session issued.

use super::*;

/// The authorization response, in the query (`GET`) or, for `form_post`, the body.
#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    pub(crate) code: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) iss: Option<String>,
    pub(crate) error: Option<String>,
}

/// `GET /login/callback/{provider}`: consumes the transaction once, validates the ID token, issues the session.
pub(crate) async fn callback(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    Path(provider): Path<String>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
    jar: CookieJar,
    caller: Caller,
) -> Response {
    let result = match query {
        Ok(Query(query)) => complete(&app, &jar, &provider, query, ResponseMode::Query).await,
        Err(rejection) => Err(LoginError::Malformed(rejection.body_text())),
    };
    finish(&app, locale, &caller, result)
}

/// `POST /login/callback/{provider}`: the same for a provider that answers with `response_mode=form_post`.
pub(crate) async fn form_post_callback(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    Path(provider): Path<String>,
    jar: CookieJar,
    caller: Caller,
    form: Result<Form<CallbackQuery>, FormRejection>,
) -> Response {
    let result = match form {
        Ok(Form(form)) => complete(&app, &jar, &provider, form, ResponseMode::FormPost).await,
        Err(rejection) => Err(LoginError::Malformed(rejection.body_text())),
    };
    finish(&app, locale, &caller, result)
}

pub(crate) fn finish(
    app: &LoginApp,
    locale: Locale,
    caller: &Caller,
    result: Result<(CookieJar, ReturnTo), LoginError>,
) -> Response {
    match result {
        // 303: after a form_post the browser must GET where it goes next.
        Ok((jar, return_to)) => (jar, Redirect::to(return_to.as_str())).into_response(),
        Err(error) => {
            tracing::warn!(%error, request_id = caller.request_id.as_deref(), "sign-in callback refused");
            app.problem(error.problem(&ReturnTo::root(), locale.text()), locale.text())
        }
    }
}

pub(crate) async fn complete(
    app: &LoginApp,
    jar: &CookieJar,
    provider: &str,
    query: CallbackQuery,
    arrived_as: ResponseMode,
) -> Result<(CookieJar, ReturnTo), LoginError> {
    let client =
        app.providers.get(provider).ok_or_else(|| LoginError::UnknownProvider(provider.chars().take(32).collect()))?;
    // A provider answers one way only: a code sent the other way is not its answer.
    if client.provider().response_mode != arrived_as {
        return Err(LoginError::WrongResponseMode);
    }
    let state = query.state.filter(|s| !s.is_empty() && s.len() <= 128).ok_or(LoginError::Malformed("state".into()))?;
    let binding = if arrived_as == ResponseMode::FormPost { FORM_POST_BROWSER } else { BROWSER };
    let browser = app.cookies.get(jar, binding).ok_or(LoginError::OtherBrowser)?;
    let now = app.clock.now();
    // Consumed before anything else: an error answer or a failed exchange burns it too.
    let tx = app
        .store
        .take_login(&state, &random::sha256_b64(browser.as_bytes()), now)
        .await?
        .ok_or(LoginError::UnknownTransaction)?;
    let provider = client.provider();
    if tx.provider != provider.id {
        return Err(LoginError::OtherProvider { started: tx.provider.to_string(), arrived: provider.id.to_string() });
    }
    if let Some(error) = query.error {
        return Err(LoginError::ProviderSaidNo(error.chars().take(64).collect()));
    }
    client.check_response_issuer(query.iss.as_deref()).await?;
    let code = query.code.filter(|c| !c.is_empty() && c.len() <= 2048).ok_or(LoginError::Malformed("code".into()))?;
    let id_token = client.exchange_code(&code, &tx.pkce_verifier).await?;
    let verified = client.validate_id_token(&id_token, &tx.nonce).await?;
    // The token's age (`iat - auth_time`) counts from when the provider
    // minted it, during the exchange: subtracted from a time read before the
    // exchange, a slow one would make a fresh sign-in look older than it is.
    let signed_in_at = app.clock.now();
    let state = app.store.identity_state(&verified.identity).await?;
    // A CSRF token belongs to one identity: kept across a re-sign-in of the
    // same person (forms open in other tabs keep working), never handed on.
    let csrf =
        app.session(jar).filter(|previous| previous.identity() == verified.identity).map(|previous| previous.csrf);
    let (token, claims) = app.sessions.issue(NewSession {
        identity: &verified.identity,
        provider: (provider.id.as_str(), provider.label.as_str()),
        profile: verified.profile,
        auth_time: auth_time(verified.auth_age_seconds, provider, &tx, signed_in_at),
        profiles: state.profile_ids(),
        now: signed_in_at,
        ttl_seconds: app.site.session_ttl_seconds,
        generation: state.generation,
        csrf,
        signed_in_for: Some(SignedInFor::new(tx.return_to.as_str(), tx.started_at)),
    });
    tracing::info!(
        sid = &claims.sid[..8],
        idp = %provider.id,
        profiles = claims.profiles.len(),
        fresh = tx.force_reauthentication,
        "signed in"
    );
    let mut jar = jar.clone().add(app.cookies.build(SESSION, token, app.site.session_ttl_seconds));
    if arrived_as == ResponseMode::FormPost {
        jar = jar.add(app.cookies.removal(FORM_POST_BROWSER));
    }
    Ok((jar, tx.return_to))
}

/// When the person last authenticated, in our clock: the provider's clock may
/// differ from ours, its reported age may not. Unknown when the provider did
/// not say, and then never taken to be now, unless the operator chose the
/// documented weaker rule for this provider and this was a forced sign-in:
/// then completing it is the proof.
pub(crate) fn auth_time(
    auth_age: Option<i64>,
    provider: &ProviderConfig,
    tx: &LoginTransaction,
    now: i64,
) -> Option<i64> {
    match auth_age {
        Some(age) => Some(now - age),
        None if tx.force_reauthentication
            && provider.reauthentication.proof == ReauthenticationProof::CompletedSignIn =>
        {
            Some(now)
        }
        None => None,
    }
}
