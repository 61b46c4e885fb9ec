//! `GET /login` (seed steps 1–3): the provider chosen, the sign-in transaction
//! stored and bound to the browser, and the redirect to the provider.

use super::*;

/// The browser-binding cookie outlives any one sign-in, so parallel tabs share it.
pub(crate) const BROWSER_COOKIE_SECONDS: i64 = 24 * 3600;

pub(crate) fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginQuery {
    pub(crate) return_to: Option<String>,
    /// `1`: make the person sign in again, as the provider's re-authentication policy says.
    pub(crate) fresh: Option<String>,
    pub(crate) login_hint: Option<String>,
    /// `1`: "sign in with another account" (the provider's account chooser, no hint).
    pub(crate) choose: Option<String>,
    /// Which provider (its id in `PROVIDERS`); without it, the only one, or the choice.
    pub(crate) provider: Option<String>,
}

/// `GET /login`: starts the authorization-code flow with the chosen provider,
/// or shows a button per provider.
pub(crate) async fn start_login(
    State(app): State<Arc<LoginApp>>,
    locale: Locale,
    query: Result<Query<LoginQuery>, QueryRejection>,
    jar: CookieJar,
    caller: Caller,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let return_to = ReturnTo::parse_or_root(query.return_to.as_deref());
    let options = AuthorizeOptions {
        force_reauthentication: query.fresh.as_deref() == Some("1"),
        choose_account: query.choose.as_deref() == Some("1"),
        login_hint: query.login_hint.clone().filter(|h| h.len() <= 254 && !h.chars().any(char::is_control)),
    };
    let client = match query.provider.as_deref() {
        Some(id) => app.providers.get(id),
        None => app.providers.only(),
    };
    let Some(client) = client else {
        return choose_provider(&app, locale, &return_to, &options, query.provider.is_some());
    };
    match begin(&app, client, &jar, return_to.clone(), &options, &caller).await {
        Ok((jar, location)) => (jar, Redirect::to(&location)).into_response(),
        Err(error) => {
            tracing::warn!(%error, provider = %client.provider().id, "sign-in could not start");
            let mut response = app.problem(error.problem(&return_to, locale.text()), locale.text());
            if let LoginError::TooManySignIns(retry_after) = error {
                rate_limited(FUNCTION, Limit::SignInsIp);
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            response
        }
    }
}

/// The sign-in page: a button per provider, each carrying the request on.
pub(crate) fn choose_provider(
    app: &LoginApp,
    locale: Locale,
    return_to: &ReturnTo,
    options: &AuthorizeOptions,
    unknown: bool,
) -> Response {
    let choices: Vec<ProviderChoice> = app
        .providers
        .iter()
        .map(|client| {
            let provider = client.provider();
            let mut href = url::form_urlencoded::Serializer::new(String::new());
            href.append_pair("provider", provider.id.as_str()).append_pair("return_to", return_to.as_str());
            if options.force_reauthentication {
                href.append_pair("fresh", "1");
            }
            if options.choose_account {
                href.append_pair("choose", "1");
            }
            if let Some(hint) = &options.login_hint {
                href.append_pair("login_hint", hint);
            }
            ProviderChoice { label: provider.label.clone(), href: format!("/login?{}", href.finish()) }
        })
        .collect();
    let status = if unknown { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = SignInPage { brand: &app.site.branding, t: locale.text(), choices: &choices, unknown };
    pages::respond(status, &page)
}

pub(crate) async fn begin(
    app: &LoginApp,
    client: &OidcClient,
    jar: &CookieJar,
    return_to: ReturnTo,
    options: &AuthorizeOptions,
    caller: &Caller,
) -> Result<(CookieJar, String), LoginError> {
    let request = client.authorization_request(options).await?;
    let form_post = client.provider().response_mode == ResponseMode::FormPost;
    // A form_post answer is a cross-site POST: it is bound by a cookie of its own, new for each sign-in.
    let browser = match form_post {
        true => random::secret_256(),
        false => app.cookies.get(jar, BROWSER).map(str::to_owned).unwrap_or_else(random::secret_256),
    };
    let now = app.clock.now();
    let tx = LoginTransaction {
        state: request.state,
        provider: client.provider().id.clone(),
        browser_hash: random::sha256_b64(browser.as_bytes()),
        nonce: request.nonce,
        pkce_verifier: request.pkce_verifier,
        return_to,
        force_reauthentication: options.force_reauthentication,
        started_at: now,
        expires_at: now + app.login_ttl_seconds,
    };
    if let LoginRecorded::RateLimited { retry_after } =
        app.store.put_login(&tx, &caller.network, &app.limits, now).await?
    {
        return Err(LoginError::TooManySignIns(retry_after));
    }
    let binding = match form_post {
        true => app.cookies.build_cross_site(FORM_POST_BROWSER, browser, app.login_ttl_seconds),
        false => app.cookies.build(BROWSER, browser, BROWSER_COOKIE_SECONDS),
    };
    Ok((jar.clone().add(binding), request.url))
}
