//! The authorization request a portal sends, as checked (OIDC Core §3.1.2,
//! RFC 9700): client and redirect URI first, then PKCE, `state`, `nonce`,
//! scopes and what `prompt` and `max_age` ask; and the answers sent back.

use serde::Deserialize;
use url::Url;

use super::clients::{ClientId, PortalClients};
use super::errors::OAuthErrorCode;
use crate::domain::provider_id::ProviderId;
use crate::random;
use crate::session::SessionClaims;

/// The scopes profile-link answers; `openid` is required.
pub const SCOPES_SUPPORTED: [&str; 3] = ["openid", "profile", "email"];

/// The authorization request's parameters as they arrived (query or form).
/// Every field is untrusted; [`check`] makes an [`AuthorizationRequest`] of them.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub login_hint: Option<String>,
    /// Which upstream provider to sign in with (its id in `PROVIDERS`).
    pub idp_hint: Option<String>,
    /// An ID token profile-link issued: whom the portal expects (OIDC Core §3.1.2.1).
    pub id_token_hint: Option<String>,
    /// Ours: the person chose to continue to the portal without linking a profile.
    pub pl_skip: Option<String>,
    /// Ours: the profile the person chose to act for (the chooser's form,
    /// posted with the session's CSRF token in `csrf`).
    pub pl_profile: Option<String>,
    pub csrf: Option<String>,
}

/// What `prompt` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Whatever is needed.
    Default,
    /// No page at all: a code, or `login_required`.
    None,
    /// A fresh sign-in at the provider.
    Login,
    /// The provider's account chooser.
    SelectAccount,
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub state: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub idp_hint: Option<ProviderId>,
    pub skip_linking: bool,
    /// The profile chosen in the chooser, and the CSRF token it was posted with.
    pub chosen_profile: Option<(String, String)>,
}

/// Whether the session answers the request, or the person must sign in first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInNeeded {
    /// The session answers the request as it is.
    No,
    /// A sign-in first: fresh (`prompt=login`, `max_age`), or at the
    /// provider's account chooser (`select_account`).
    Again,
    /// The person did sign in because this request sent them, and that
    /// sign-in still does not prove what was asked (the provider reported no
    /// authentication since): sending them again would only loop.
    Unproven,
}

impl AuthorizationRequest {
    /// What `session` lacks for this request at `now`. `followed` is when the
    /// sign-in that issued the session was started, when this very request
    /// sent the person to it ([`SessionClaims::signed_in_for`]): recorded by
    /// profile-link and signed into the session, never taken from the query.
    pub fn sign_in_needed(&self, session: &SessionClaims, followed: Option<i64>, now: i64) -> SignInNeeded {
        // The sign-in this request sent the person to, proven fresh by the provider.
        let fresh_since_sent = followed.map(|started_at| session.authenticated_since(started_at));
        let answered = match (self.prompt, self.max_age) {
            (Prompt::SelectAccount, _) => followed.is_some(),
            (Prompt::Login, _) => fresh_since_sent == Some(true),
            // An unknown sign-in time is never recent enough.
            (_, Some(max_age)) => {
                session.auth_time.is_some_and(|at| now - at <= max_age) || fresh_since_sent == Some(true)
            }
            (_, None) => true,
        };
        match (answered, fresh_since_sent) {
            (true, _) => SignInNeeded::No,
            (false, Some(false)) => SignInNeeded::Unproven,
            (false, _) => SignInNeeded::Again,
        }
    }

    /// Whether a fresh sign-in is what the request asks for.
    pub fn wants_fresh_sign_in(&self) -> bool {
        self.prompt == Prompt::Login || self.max_age.is_some()
    }
}

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRefusal {
    /// The client or its redirect URI cannot be trusted: the person sees a
    /// page, and nothing is sent anywhere (RFC 6749 §4.1.2.1).
    NotRedirectable(&'static str),
    /// Sent back to the portal's redirect URI as `error`.
    ToPortal(PortalError),
}

/// An error answered to the portal at its redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalError {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: OAuthErrorCode,
    pub description: &'static str,
}

fn bounded(value: &Option<String>, max: usize) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty() && v.len() <= max && !v.chars().any(char::is_control))
}

/// Checks a request against the registered clients: first the client and
/// redirect URI (never redirect to an unchecked URI), then everything else.
pub fn check(params: &AuthorizeParams, clients: &PortalClients) -> Result<AuthorizationRequest, AuthorizeRefusal> {
    use AuthorizeRefusal::NotRedirectable;
    let client_id = params.client_id.as_deref().ok_or(NotRedirectable("client_id is missing"))?;
    let client = clients.get(client_id).ok_or(NotRedirectable("client_id is not a registered portal"))?;
    let redirect_uri = params.redirect_uri.as_deref().ok_or(NotRedirectable("redirect_uri is missing"))?;
    if !client.allows_redirect(redirect_uri) {
        return Err(NotRedirectable("redirect_uri is not one the portal registered"));
    }
    let state = bounded(&params.state, 512).map(str::to_owned);
    let refuse = |error: OAuthErrorCode, description: &'static str| {
        AuthorizeRefusal::ToPortal(PortalError {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error,
            description,
        })
    };
    if params.request.is_some() {
        return Err(refuse(OAuthErrorCode::RequestNotSupported, "request objects are not supported"));
    }
    if params.request_uri.is_some() {
        return Err(refuse(OAuthErrorCode::RequestUriNotSupported, "request_uri is not supported"));
    }
    if params.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(refuse(OAuthErrorCode::InvalidRequest, "response_mode: only query"));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(refuse(OAuthErrorCode::InvalidRequest, "response_type is missing")),
        Some(_) => {
            return Err(refuse(OAuthErrorCode::UnsupportedResponseType, "only the authorization code flow (code)"));
        }
    }
    let scopes: Vec<String> =
        params.scope.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(refuse(OAuthErrorCode::InvalidScope, "scope must include openid"));
    }
    let scopes: Vec<String> = scopes.into_iter().filter(|s| SCOPES_SUPPORTED.contains(&s.as_str())).collect();
    let Some(state) = state.clone() else {
        return Err(refuse(OAuthErrorCode::InvalidRequest, "state is required (1 to 512 characters)"));
    };
    // Optional in the code flow (OIDC Core §3.1.2.1); echoed in the ID token when sent.
    let nonce = match &params.nonce {
        None => None,
        Some(_) => Some(
            bounded(&params.nonce, 256)
                .ok_or_else(|| refuse(OAuthErrorCode::InvalidRequest, "nonce, when sent: 1 to 256 characters"))?
                .to_owned(),
        ),
    };
    match params.code_challenge_method.as_deref() {
        Some("S256") => {}
        None => return Err(refuse(OAuthErrorCode::InvalidRequest, "PKCE is required: code_challenge_method=S256")),
        Some(_) => return Err(refuse(OAuthErrorCode::InvalidRequest, "code_challenge_method: only S256")),
    }
    let code_challenge = params
        .code_challenge
        .as_deref()
        .filter(|c| c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .ok_or_else(|| {
            refuse(OAuthErrorCode::InvalidRequest, "code_challenge: the base64url SHA-256 of the code verifier")
        })?
        .to_owned();
    let prompts: Vec<&str> = params.prompt.as_deref().unwrap_or("").split(' ').filter(|p| !p.is_empty()).collect();
    let prompt = if prompts.contains(&"none") {
        if prompts.len() > 1 {
            return Err(refuse(OAuthErrorCode::InvalidRequest, "prompt=none cannot be combined"));
        }
        Prompt::None
    } else if prompts.contains(&"login") {
        Prompt::Login
    } else if prompts.contains(&"select_account") {
        Prompt::SelectAccount
    } else if prompts.iter().all(|p| *p == "consent") {
        // Portals are the company's own: there is no consent page to show.
        Prompt::Default
    } else {
        return Err(refuse(OAuthErrorCode::InvalidRequest, "prompt: none, login, select_account or consent"));
    };
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|v| (0..=10 * 365 * 86_400).contains(v))
                .ok_or_else(|| refuse(OAuthErrorCode::InvalidRequest, "max_age: a whole number of seconds"))?,
        ),
    };
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state,
        nonce,
        code_challenge,
        scopes,
        prompt,
        max_age,
        login_hint: bounded(&params.login_hint, 254).map(str::to_owned),
        // An unknown provider id is ignored: the person chooses.
        idp_hint: params.idp_hint.as_deref().and_then(ProviderId::parse),
        skip_linking: params.pl_skip.as_deref() == Some("1"),
        chosen_profile: bounded(&params.pl_profile, 128)
            .zip(bounded(&params.csrf, 128))
            .map(|(profile, csrf)| (profile.to_owned(), csrf.to_owned())),
    })
}

/// `uri` with `pairs` added to its query, keeping what it has (RFC 6749 §3.1.2).
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        // Registered URIs parsed at start-up; this cannot happen.
        Err(_) => uri.to_owned(),
    }
}

impl PortalError {
    /// The redirect to the portal: `error`, its description, `state`, and `iss` (RFC 9207).
    pub fn location(&self, issuer: &str) -> String {
        let mut pairs = vec![("error", self.error.as_str()), ("error_description", self.description)];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", issuer));
        with_query(&self.redirect_uri, &pairs)
    }
}

/// Parameters profile-link adds to an authorization request on its own pages.
const OUR_PARAMETERS: [&str; 4] = ["pl_after", "pl_skip", "pl_profile", "csrf"];

/// The portal's own parameters of an authorization request, from its raw
/// query or form, without the ones profile-link's pages add.
pub fn portal_parameters(raw_query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(name, _)| !OUR_PARAMETERS.contains(&name.as_ref()))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// The path of an authorization request on this site, from its raw query,
/// with profile-link's own parameters replaced by `extra` (the retired
/// `pl_after` dropped): where the person comes back to after signing in, what
/// "Back to the portal" links to, and what a session's `signed_in_for` names.
pub fn authorize_path(raw_query: &str, extra: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    serializer.extend_pairs(portal_parameters(raw_query));
    serializer.extend_pairs(extra);
    format!("/authorize?{}", serializer.finish())
}

/// Whether a PKCE code verifier (RFC 7636 §4.1) hashes to the challenge.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && random::constant_time_eq(random::sha256_b64(verifier.as_bytes()).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::downstream::TokenEndpointAuth;

    const PORTAL: &str = r#"[{"id": "demo-portal", "name": "Demo portal",
        "redirect_uris": ["https://portal.example.com/callback", "http://127.0.0.1:3100/callback"],
        "post_logout_redirect_uris": ["https://portal.example.com/"],
        "client_secret": "demo-portal-secret"}]"#;

    fn clients() -> PortalClients {
        PortalClients::parse(PORTAL).unwrap()
    }

    fn params() -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some("demo-portal".into()),
            redirect_uri: Some("https://portal.example.com/callback".into()),
            scope: Some("openid profile email".into()),
            state: Some("st".into()),
            nonce: Some("n-1".into()),
            code_challenge: Some(random::sha256_b64(b"a-verifier-of-forty-three-characters-or-more")),
            code_challenge_method: Some("S256".into()),
            ..AuthorizeParams::default()
        }
    }

    fn error_of(params: &AuthorizeParams) -> &'static str {
        match check(params, &clients()) {
            Err(AuthorizeRefusal::ToPortal(e)) => e.error.as_str(),
            other => panic!("expected an error for the portal, got {other:?}"),
        }
    }

    #[test]
    fn a_well_formed_request_is_accepted() {
        let request = check(&params(), &clients()).unwrap();
        assert_eq!(request.client_id.as_str(), "demo-portal");
        assert_eq!(request.scopes, vec!["openid", "profile", "email"]);
        assert_eq!(request.prompt, Prompt::Default);
        assert_eq!(clients().get("demo-portal").unwrap().auth, TokenEndpointAuth::ClientSecretBasic);
    }

    #[test]
    fn an_unknown_client_or_unregistered_redirect_is_never_redirected_to() {
        for (client, uri) in [
            ("other", "https://portal.example.com/callback"),
            ("demo-portal", "https://portal.example.com/callback/"),
            ("demo-portal", "https://portal.example.com/callback?x=1"),
            ("demo-portal", "https://PORTAL.example.com/callback"),
            ("demo-portal", "https://portal.example.com.evil.test/callback"),
            ("demo-portal", "http://portal.example.com/callback"),
            ("demo-portal", "https://portal.example.com/callback#frag"),
        ] {
            let p = AuthorizeParams { client_id: Some(client.into()), redirect_uri: Some(uri.into()), ..params() };
            assert!(
                matches!(check(&p, &clients()), Err(AuthorizeRefusal::NotRedirectable(_))),
                "{client} {uri}: {:?}",
                check(&p, &clients())
            );
        }
    }

    #[test]
    fn pkce_state_nonce_and_the_code_flow_are_required() {
        assert_eq!(error_of(&AuthorizeParams { code_challenge_method: None, ..params() }), "invalid_request");
        assert_eq!(
            error_of(&AuthorizeParams { code_challenge_method: Some("plain".into()), ..params() }),
            "invalid_request"
        );
        assert_eq!(error_of(&AuthorizeParams { code_challenge: Some("short".into()), ..params() }), "invalid_request");
        assert_eq!(error_of(&AuthorizeParams { state: None, ..params() }), "invalid_request");
        assert_eq!(error_of(&AuthorizeParams { nonce: Some(String::new()), ..params() }), "invalid_request");
        assert_eq!(error_of(&AuthorizeParams { nonce: Some("n".repeat(257)), ..params() }), "invalid_request");
        let without = check(&AuthorizeParams { nonce: None, ..params() }, &clients()).unwrap();
        assert_eq!(without.nonce, None, "nonce is optional in the code flow");
        assert_eq!(
            error_of(&AuthorizeParams { response_type: Some("code id_token".into()), ..params() }),
            "unsupported_response_type"
        );
        assert_eq!(
            error_of(&AuthorizeParams { response_type: Some("token".into()), ..params() }),
            "unsupported_response_type"
        );
        assert_eq!(error_of(&AuthorizeParams { scope: Some("profile".into()), ..params() }), "invalid_scope");
        assert_eq!(
            error_of(&AuthorizeParams { response_mode: Some("fragment".into()), ..params() }),
            "invalid_request"
        );
        assert_eq!(error_of(&AuthorizeParams { request: Some("eyJ".into()), ..params() }), "request_not_supported");
        assert_eq!(error_of(&AuthorizeParams { prompt: Some("none login".into()), ..params() }), "invalid_request");
        assert_eq!(error_of(&AuthorizeParams { max_age: Some("-1".into()), ..params() }), "invalid_request");
    }

    #[test]
    fn an_error_redirect_keeps_the_registered_query_and_names_the_issuer() {
        let error = PortalError {
            redirect_uri: "https://portal.example.com/cb?tenant=a".into(),
            state: Some("s&t".into()),
            error: OAuthErrorCode::LoginRequired,
            description: "sign in first",
        };
        let location = Url::parse(&error.location("https://link.example.com")).unwrap();
        let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("tenant", "a"),
                ("error", "login_required"),
                ("error_description", "sign in first"),
                ("state", "s&t"),
                ("iss", "https://link.example.com")
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    fn session(auth_time: Option<i64>, iat: i64) -> SessionClaims {
        let keys =
            crate::SessionKeys::from_pem("https://link.example.com", &crate::SessionKeys::generate_pem()).unwrap();
        let (_, claims) = keys.issue(crate::session::NewSession {
            identity: &crate::Identity::new("https://idp.example", "pat-1"),
            provider: ("dev", "Dev provider"),
            profile: Default::default(),
            auth_time,
            profiles: vec![],
            now: iat,
            ttl_seconds: 3600,
            generation: 0,
            csrf: None,
            signed_in_for: None,
        });
        claims
    }

    #[test]
    fn freshness_is_the_providers_auth_time_against_when_we_sent_the_person() {
        use SignInNeeded::*;
        let request = check(&params(), &clients()).unwrap();
        assert_eq!(request.sign_in_needed(&session(None, 10), None, 1000), No, "no requirement");
        let login = check(&AuthorizeParams { prompt: Some("login".into()), ..params() }, &clients()).unwrap();
        assert_eq!(login.sign_in_needed(&session(Some(999), 999), None, 1000), Again, "only a sign-in it sent them to");
        assert_eq!(login.sign_in_needed(&session(Some(905), 906), Some(900), 1000), No, "authenticated after");
        assert_eq!(
            login.sign_in_needed(&session(Some(500), 906), Some(900), 1000),
            Unproven,
            "the provider reported an old authentication: asking again would loop"
        );
        assert_eq!(login.sign_in_needed(&session(None, 906), Some(900), 1000), Unproven, "no auth_time, no proof");
        let max_age = check(&AuthorizeParams { max_age: Some("60".into()), ..params() }, &clients()).unwrap();
        assert_eq!(max_age.sign_in_needed(&session(Some(950), 950), None, 1000), No);
        assert_eq!(max_age.sign_in_needed(&session(Some(900), 999), None, 1000), Again, "auth_time, not iat");
        assert_eq!(max_age.sign_in_needed(&session(None, 999), None, 1000), Again, "unknown is never recent");
        let zero = check(&AuthorizeParams { max_age: Some("0".into()), ..params() }, &clients()).unwrap();
        assert_eq!(zero.sign_in_needed(&session(Some(997), 997), None, 1000), Again);
        assert_eq!(zero.sign_in_needed(&session(Some(901), 902), Some(900), 1000), No, "max_age=0 is prompt=login");
        let choose = check(&AuthorizeParams { prompt: Some("select_account".into()), ..params() }, &clients()).unwrap();
        assert_eq!(choose.sign_in_needed(&session(Some(999), 999), None, 1000), Again, "the chooser first");
        assert_eq!(choose.sign_in_needed(&session(Some(10), 999), Some(990), 1000), No, "whoever was chosen");
    }

    #[test]
    fn the_return_path_replaces_our_own_parameters_only() {
        let path = authorize_path("client_id=a&pl_after=1&state=x%26y&pl_skip=1", &[("pl_skip", "1")]);
        assert_eq!(path, "/authorize?client_id=a&state=x%26y&pl_skip=1");
        assert!(crate::ReturnTo::parse(&path).is_some(), "a path login accepts");
    }

    #[test]
    fn pkce_takes_only_the_verifier_that_hashes_to_the_challenge() {
        let verifier = "a-verifier-of-forty-three-characters-or-more";
        let challenge = random::sha256_b64(verifier.as_bytes());
        assert!(pkce_matches(verifier, &challenge));
        assert!(!pkce_matches("a-verifier-of-forty-three-characters-or-mord", &challenge));
        assert!(!pkce_matches(&challenge, &challenge), "the challenge itself is not the verifier");
        assert!(!pkce_matches("short", &random::sha256_b64(b"short")), "too short for RFC 7636");
    }
}
