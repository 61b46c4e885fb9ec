//! `GET/POST /authorize` (OIDC Core §3.1.2): a portal's request checked, the
//! person signed in (or sent to sign in, or offered to link a profile first)
//! and, when all is well, a code issued.

use super::*;

/// How long "Back to the portal" is offered while the person links a profile
/// (a link lives an hour; the portal's own sign-in attempt rarely longer).
pub(crate) const PORTAL_COOKIE_SECONDS: i64 = 2 * 3600;

/// `GET /authorize`
pub(crate) async fn authorize_get(
    State(app): State<Arc<AuthorizeApp>>,
    locale: Locale,
    RawQuery(raw): RawQuery,
    jar: CookieJar,
) -> Response {
    let raw = raw.unwrap_or_default();
    authorize(&app, &raw, locale, jar).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: the same parameters, form-encoded).
/// A portal's cross-site POST carries no `SameSite=Lax` session cookie, so
/// the person may be asked to sign in; they come back by GET with the same parameters.
pub(crate) async fn authorize_post(
    State(app): State<Arc<AuthorizeApp>>,
    locale: Locale,
    jar: CookieJar,
    form: Result<RawForm, axum::extract::rejection::RawFormRejection>,
) -> Response {
    let raw = form.ok().and_then(|RawForm(bytes)| String::from_utf8(bytes.to_vec()).ok()).unwrap_or_default();
    authorize(&app, &raw, locale, jar).await
}

pub(crate) fn parse_params(raw: &str) -> Option<AuthorizeParams> {
    let uri: Uri = format!("/authorize?{raw}").parse().ok()?;
    Query::<AuthorizeParams>::try_from_uri(&uri).ok().map(|Query(params)| params)
}

pub(crate) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

pub(crate) async fn authorize(app: &AuthorizeApp, raw: &str, locale: Locale, jar: CookieJar) -> Response {
    let t = locale.text();
    // A parameter given twice, or not text: refused before anything else (RFC 6749 §3.1).
    let Some(params) = parse_params(raw) else {
        tracing::info!("authorization request refused: unreadable parameters");
        return app.not_redirectable("a parameter is repeated or unreadable", t);
    };
    let request = match downstream::check(&params, &app.clients) {
        Ok(request) => request,
        Err(AuthorizeRefusal::NotRedirectable(reason)) => {
            tracing::info!(reason, "authorization request refused, not redirectable");
            return app.not_redirectable(reason, t);
        }
        Err(AuthorizeRefusal::ToPortal(error)) => {
            tracing::info!(error = error.error.as_str(), reason = error.description, "authorization request refused");
            return see_other(&error.location(&app.issuer()));
        }
    };
    let client = app.clients.get(request.client_id.as_str()).expect("check() found the client");
    let now = app.clock.now();
    let to_portal = |error: OAuthErrorCode, description: &'static str| {
        let error = PortalError {
            redirect_uri: request.redirect_uri.clone(),
            state: Some(request.state.clone()),
            error,
            description,
        };
        see_other(&error.location(&app.issuer()))
    };
    // Whom the portal expects: an ID token we issued (signature and issuer; it may have expired).
    let hinted_subject = match params.id_token_hint.as_deref() {
        None => None,
        Some(hint) => match hint_subject(app, hint) {
            Some(sub) => Some(sub),
            None => return to_portal(OAuthErrorCode::InvalidRequest, "id_token_hint is not an ID token we issued"),
        },
    };
    let signed_in = match app.signed_in(&jar).await {
        Ok(signed_in) => signed_in,
        Err(error) => {
            tracing::error!(%error, "authorize could not read the identity's state");
            return app.unavailable(&downstream::authorize_path(raw, &[]), t);
        }
    };
    let Some((session, state)) = signed_in else {
        if request.prompt == Prompt::None {
            return to_portal(OAuthErrorCode::LoginRequired, "the person is not signed in at profile-link");
        }
        return see_other(&sign_in_path(&request, raw, None, SignIn::asked_by(&request)));
    };
    // The sign-in that issued this session, when this very request sent the person to it.
    let followed = session.signed_in_for(&downstream::authorize_path(raw, &[]), now);
    if hinted_subject.is_some_and(|sub| sub != downstream::subject_of(&session.identity())) {
        // Someone other than the portal's person: never their code.
        if request.prompt == Prompt::None || followed.is_some() {
            return to_portal(OAuthErrorCode::LoginRequired, "the person signed in is not the one id_token_hint names");
        }
        return see_other(&sign_in_path(&request, raw, None, SignIn::ANOTHER_ACCOUNT));
    }
    match request.sign_in_needed(&session, followed, now) {
        SignInNeeded::No => {}
        SignInNeeded::Again if request.prompt == Prompt::None => {
            return to_portal(OAuthErrorCode::LoginRequired, "the portal asked for a more recent sign-in");
        }
        SignInNeeded::Again => {
            let how = SignIn::asked_by(&request);
            // A fresh sign-in goes back to the provider the person used; choosing an account, to any.
            let provider = (!how.choose).then_some(session.idp.as_str());
            return see_other(&sign_in_path(&request, raw, provider, how));
        }
        SignInNeeded::Unproven => {
            tracing::info!(
                idp = session.idp.as_str(),
                "the provider did not prove the fresh sign-in the portal asked for"
            );
            return to_portal(OAuthErrorCode::LoginRequired, "the identity provider did not prove a fresh sign-in");
        }
    }
    if state.profiles.is_empty() && !request.skip_linking && request.prompt != Prompt::None {
        return offer_linking(app, t, client, &session, raw, jar);
    }
    let acting_for = match acting_for(client, &request, &session, &state) {
        Acting::ForAll => None,
        Acting::For(profile_id) => Some(profile_id),
        Acting::MustChoose if request.prompt == Prompt::None => {
            return to_portal(OAuthErrorCode::InteractionRequired, "the person must choose the profile they act for");
        }
        Acting::MustChoose => return chooser(app, t, client, &session, &state, &request, raw),
    };
    let person = person_claims(&request, &session, &state, acting_for);
    issue_code(app, t, &request, &session, person, raw, jar).await
}

/// The `sub` of an ID token profile-link issued, as `id_token_hint` carries it.
pub(crate) fn hint_subject(app: &AuthorizeApp, hint: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Subject {
        sub: String,
    }
    (hint.len() <= 4096).then(|| app.verifier.id_token_hint::<Subject>(hint)).flatten().map(|s| s.sub)
}

/// What the sign-in must be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignIn {
    /// A fresh authentication at the provider (`prompt=login`, `max_age`).
    pub(crate) fresh: bool,
    /// The provider's account chooser, no hint (`select_account`, another person than signed in).
    pub(crate) choose: bool,
}

impl SignIn {
    /// Someone else than the person signed in: asked who, at any provider
    /// (the shared computer; a `prompt=login` is how most providers ask).
    pub(crate) const ANOTHER_ACCOUNT: Self = Self { fresh: true, choose: true };

    pub(crate) fn asked_by(request: &AuthorizationRequest) -> Self {
        match request.prompt {
            Prompt::SelectAccount => Self::ANOTHER_ACCOUNT,
            _ => Self { fresh: request.wants_fresh_sign_in(), choose: false },
        }
    }
}

/// Where to sign in before coming back to this request: the hinted provider
/// (or, for a fresh sign-in, the one the person used). The return path is
/// the request itself; the session login issues records it (signed), which
/// is how the sign-in that followed is recognised.
pub(crate) fn sign_in_path(request: &AuthorizationRequest, raw: &str, provider: Option<&str>, how: SignIn) -> String {
    let back = downstream::authorize_path(raw, &[]);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("return_to", &back);
    if let Some(provider) = provider.or(request.idp_hint.as_ref().map(|p| p.as_str())) {
        query.append_pair("provider", provider);
    }
    if how.fresh {
        query.append_pair("fresh", "1");
    }
    if how.choose {
        query.append_pair("choose", "1");
    } else if let Some(hint) = &request.login_hint {
        query.append_pair("login_hint", hint);
    }
    format!("/login?{}", query.finish())
}

/// The person has linked no profile yet: link one first (the portal is
/// offered again once they have), or go on to the portal without.
pub(crate) fn offer_linking(
    app: &AuthorizeApp,
    t: &Text,
    client: &PortalClient,
    session: &SessionClaims,
    raw: &str,
    jar: CookieJar,
) -> Response {
    let provider = session.provider_name();
    let intro = fill(t.portal_intro, &[("provider", &provider), ("portal", &client.name)]);
    let continue_href = downstream::authorize_path(raw, &[("pl_skip", "1")]);
    let continue_label = fill(t.portal_continue, &[("portal", &client.name)]);
    let back = downstream::authorize_path(raw, &[]);
    let jar = jar.add(app.cookies.waiting_portal_cookie(&client.name, back, PORTAL_COOKIE_SECONDS));
    let page = PortalLinkPage {
        brand: &app.site.branding,
        t,
        intro: &intro,
        continue_href: &continue_href,
        continue_label: &continue_label,
    };
    (jar, pages::respond(StatusCode::OK, &page)).into_response()
}
