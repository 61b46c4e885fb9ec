//! The provider to portals: profile-link as the OpenID Provider of the
//! company's portals (the relying party to identity providers is `relying_party`).
//!
//! What lives here is the protocol, free of I/O: the registered portal
//! clients (`PORTAL_CLIENTS`), the authorization request as checked
//! (OIDC Core §3.1.2, RFC 9700), PKCE, the answers sent back to a portal, and
//! the claims of the tokens it receives. The `authorize` and `token`
//! functions are its two HTTP faces.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::ConfigError;
use crate::domain::identity::Identity;
use crate::domain::provider_id::ProviderId;
use crate::random;
use crate::secrets::SecretSource;

/// The variable (and, deployed, the SSM parameter's content) holding the clients.
pub const PORTAL_CLIENTS: &str = "PORTAL_CLIENTS";
/// An authorization code is good for this long (RFC 9700 §4.?: short; OIDC Core: single use).
pub const CODE_TTL_SECONDS: i64 = 60;
/// ID tokens are proof of one sign-in, read once by the portal.
pub const ID_TOKEN_TTL_SECONDS: i64 = 300;
/// Access tokens only reach `/userinfo`; the code item they refer to outlives them.
pub const ACCESS_TOKEN_TTL_SECONDS: i64 = 300;
/// The purpose (`aud` suffix) of access tokens: never a session, never an ID token.
pub const USERINFO_PURPOSE: &str = "userinfo";
/// The scopes profile-link answers; `openid` is required.
pub const SCOPES_SUPPORTED: [&str; 3] = ["openid", "profile", "email"];

/// A portal's client id: `[A-Za-z0-9._-]`, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("{raw:?} is not [A-Za-z0-9._-], 1 to 64 long")))
    }
}

/// How a portal authenticates at `/token` (its registered
/// `token_endpoint_auth_method`; only that one is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuth {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client (a single-page or native app): no secret, PKCE alone.
    None,
}

impl TokenEndpointAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

/// One registered portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalClient {
    pub id: ClientId,
    /// How pages name it ("Back to Contoso portal").
    pub name: String,
    /// Compared exactly, as strings (RFC 9700 §4.1.3).
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub auth: TokenEndpointAuth,
    /// `None` exactly when `auth` is `None`.
    pub secret: Option<SecretSource>,
}

impl PortalClient {
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListedClient {
    id: ClientId,
    name: String,
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: TokenEndpointAuth,
    client_secret: Option<String>,
    client_secret_parameter: Option<String>,
}

/// The registered portals, checked when parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortalClients(Vec<PortalClient>);

impl PortalClients {
    /// Parses the `PORTAL_CLIENTS` JSON array; every problem names the client and field.
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        let invalid = |problem: String| ConfigError::invalid(PORTAL_CLIENTS, problem);
        let listed: Vec<ListedClient> =
            serde_json::from_str(json).map_err(|e| invalid(format!("not a JSON list of clients: {e}")))?;
        let mut clients: Vec<PortalClient> = Vec::with_capacity(listed.len());
        for client in listed {
            let id = client.id.as_str().to_owned();
            let at = |problem: String| invalid(format!("client {id:?}: {problem}"));
            if clients.iter().any(|c| c.id == client.id) {
                return Err(at("listed twice".into()));
            }
            let name = client.name.trim().to_owned();
            if !is_displayable_portal_name(&name) {
                return Err(at("name: 1 to 80 characters, no control characters".into()));
            }
            if client.redirect_uris.is_empty() {
                return Err(at("redirect_uris: at least one".into()));
            }
            for uri in client.redirect_uris.iter().chain(&client.post_logout_redirect_uris) {
                check_registered_uri(uri).map_err(|problem| at(format!("{uri:?}: {problem}")))?;
            }
            let secret = match (client.token_endpoint_auth_method, client.client_secret, client.client_secret_parameter)
            {
                (TokenEndpointAuth::None, None, None) => None,
                (TokenEndpointAuth::None, _, _) => {
                    return Err(at("a public client (token_endpoint_auth_method \"none\") has no secret".into()));
                }
                (_, Some(secret), None) if secret.trim().len() >= 16 => Some(SecretSource::Inline(secret)),
                (_, Some(_), None) => return Err(at("client_secret: at least 16 characters".into())),
                (_, None, Some(parameter)) if parameter.starts_with('/') => Some(SecretSource::Ssm(parameter)),
                (_, None, Some(_)) => return Err(at("client_secret_parameter: an SSM parameter name, /…".into())),
                _ => return Err(at("set one of client_secret or client_secret_parameter".into())),
            };
            clients.push(PortalClient {
                id: client.id,
                name,
                redirect_uris: client.redirect_uris,
                post_logout_redirect_uris: client.post_logout_redirect_uris,
                auth: client.token_endpoint_auth_method,
                secret,
            });
        }
        Ok(Self(clients))
    }

    pub fn get(&self, id: &str) -> Option<&PortalClient> {
        self.0.iter().find(|c| c.id.as_str() == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &PortalClient> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A portal's name as pages show it ("Back to Contoso portal"): 1 to 80
/// characters, none of them control characters. Checked when the list is
/// parsed, and again where it comes back from the browser in a cookie.
pub fn is_displayable_portal_name(name: &str) -> bool {
    (1..=80).contains(&name.chars().count()) && !name.chars().any(char::is_control)
}

/// A redirect URI a portal may register: absolute, https (plain http only on
/// loopback), no fragment (OIDC Core §3.1.2.1), no user info.
fn check_registered_uri(raw: &str) -> Result<(), &'static str> {
    let url = Url::parse(raw).map_err(|_| "not an absolute URL")?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("plain http only on 127.0.0.1 or localhost"),
        _ => return Err("must be https"),
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err("no fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("no user info");
    }
    Ok(())
}

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
    /// Ours: the person was sent to sign in again at this time (prompt=login, max_age).
    pub pl_after: Option<String>,
    /// Ours: the person chose to continue to the portal without linking a profile.
    pub pl_skip: Option<String>,
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
    pub nonce: String,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub idp_hint: Option<ProviderId>,
    pub signed_in_after: Option<i64>,
    pub skip_linking: bool,
}

impl AuthorizationRequest {
    /// Whether the session, signed in at `auth_time` and issued at `issued_at`,
    /// is fresh enough for this request at `now`: after the sign-in this
    /// request sent the person to (`pl_after`), or within `max_age`.
    pub fn satisfied_by(&self, auth_time: Option<i64>, issued_at: i64, now: i64) -> bool {
        if self.signed_in_after.is_some_and(|after| issued_at >= after) {
            return true;
        }
        if self.prompt == Prompt::Login {
            return false;
        }
        match self.max_age {
            // An unknown sign-in time is never recent enough.
            Some(max_age) => auth_time.is_some_and(|at| now - at <= max_age),
            None => true,
        }
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
    pub error: &'static str,
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
    let refuse = |error: &'static str, description: &'static str| {
        AuthorizeRefusal::ToPortal(PortalError {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error,
            description,
        })
    };
    if params.request.is_some() {
        return Err(refuse("request_not_supported", "request objects are not supported"));
    }
    if params.request_uri.is_some() {
        return Err(refuse("request_uri_not_supported", "request_uri is not supported"));
    }
    if params.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(refuse("invalid_request", "response_mode: only query"));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is missing")),
        Some(_) => return Err(refuse("unsupported_response_type", "only the authorization code flow (code)")),
    }
    let scopes: Vec<String> =
        params.scope.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(refuse("invalid_scope", "scope must include openid"));
    }
    let scopes: Vec<String> = scopes.into_iter().filter(|s| SCOPES_SUPPORTED.contains(&s.as_str())).collect();
    let Some(state) = state.clone() else {
        return Err(refuse("invalid_request", "state is required (1 to 512 characters)"));
    };
    let Some(nonce) = bounded(&params.nonce, 256).map(str::to_owned) else {
        return Err(refuse("invalid_request", "nonce is required (1 to 256 characters)"));
    };
    match params.code_challenge_method.as_deref() {
        Some("S256") => {}
        None => return Err(refuse("invalid_request", "PKCE is required: code_challenge_method=S256")),
        Some(_) => return Err(refuse("invalid_request", "code_challenge_method: only S256")),
    }
    let code_challenge = params
        .code_challenge
        .as_deref()
        .filter(|c| c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .ok_or_else(|| refuse("invalid_request", "code_challenge: the base64url SHA-256 of the code verifier"))?
        .to_owned();
    let prompts: Vec<&str> = params.prompt.as_deref().unwrap_or("").split(' ').filter(|p| !p.is_empty()).collect();
    let prompt = if prompts.contains(&"none") {
        if prompts.len() > 1 {
            return Err(refuse("invalid_request", "prompt=none cannot be combined"));
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
        return Err(refuse("invalid_request", "prompt: none, login, select_account or consent"));
    };
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|v| (0..=10 * 365 * 86_400).contains(v))
                .ok_or_else(|| refuse("invalid_request", "max_age: a whole number of seconds"))?,
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
        signed_in_after: params.pl_after.as_deref().and_then(|v| v.parse().ok()),
        skip_linking: params.pl_skip.as_deref() == Some("1"),
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
        let mut pairs = vec![("error", self.error), ("error_description", self.description)];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", issuer));
        with_query(&self.redirect_uri, &pairs)
    }
}

/// The path of an authorization request on this site, from its raw query,
/// with `pl_after` and `pl_skip` replaced by `extra`: where the person comes
/// back to after signing in, and what "Back to the portal" links to.
pub fn authorize_path(raw_query: &str, extra: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        if name != "pl_after" && name != "pl_skip" {
            serializer.append_pair(&name, &value);
        }
    }
    serializer.extend_pairs(extra);
    format!("/authorize?{}", serializer.finish())
}

/// Whether a PKCE code verifier (RFC 7636 §4.1) hashes to the challenge.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && random::constant_time_eq(random::sha256_b64(verifier.as_bytes()).as_bytes(), challenge.as_bytes())
}

/// profile-link's own subject for an identity: stable, opaque, never the
/// provider's `sub` (a hash of the identity, separated from other hashes by its prefix).
pub fn subject_of(identity: &Identity) -> String {
    random::sha256_b64(format!("profile-link subject\0{}", identity.key().as_str()).as_bytes())
}

/// The `sid` a portal sees for a session: derived, so the session's own id never leaves the site.
pub fn portal_sid(session_id: &str) -> String {
    random::sha256_b64(format!("profile-link sid\0{session_id}").as_bytes())
}

/// A customer profile the person has proven they may act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileClaim {
    pub id: String,
    pub name: String,
    pub organization: String,
}

impl From<&crate::store::associations::LinkedProfile> for ProfileClaim {
    fn from(linked: &crate::store::associations::LinkedProfile) -> Self {
        Self {
            id: linked.profile_id.clone(),
            name: linked.display_name.clone(),
            organization: linked.organization.clone(),
        }
    }
}

/// What a portal learns about the person, in the ID token and from `/userinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonClaims {
    pub sub: String,
    /// The upstream provider: its id in `PROVIDERS` and its name.
    pub idp: String,
    pub idp_name: String,
    /// As the provider sent them (`profile`, `email` scopes): display only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Always false when present: profile-link has not verified this address
    /// (the addresses it verified are the profiles', which it does not disclose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    pub profiles: Vec<ProfileClaim>,
}

/// The ID token's claims (OIDC Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub aud: String,
    pub azp: String,
    pub iat: i64,
    pub exp: i64,
    pub auth_time: i64,
    pub nonce: String,
    pub sid: String,
    #[serde(flatten)]
    pub person: PersonClaims,
}

/// An access token's claims: it names the code it was issued for, so
/// `/userinfo` can refuse it once that code was replayed (RFC 9700 §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub sub: String,
    pub client_id: String,
    /// The code item's key.
    pub jti: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
}

/// `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3).
#[derive(Debug, Clone, Serialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub end_session_endpoint: String,
    pub jwks_uri: String,
    pub response_types_supported: [&'static str; 1],
    pub response_modes_supported: [&'static str; 1],
    pub grant_types_supported: [&'static str; 1],
    pub subject_types_supported: [&'static str; 1],
    pub id_token_signing_alg_values_supported: [&'static str; 1],
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    pub code_challenge_methods_supported: [&'static str; 1],
    pub scopes_supported: [&'static str; 3],
    pub claims_supported: [&'static str; 14],
    pub prompt_values_supported: [&'static str; 4],
    pub authorization_response_iss_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub claims_parameter_supported: bool,
}

impl ProviderMetadata {
    pub fn for_issuer(issuer: &str) -> Self {
        let at = |path: &str| format!("{issuer}{path}");
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: at("/authorize"),
            token_endpoint: at("/token"),
            userinfo_endpoint: at("/userinfo"),
            end_session_endpoint: at("/end-session"),
            jwks_uri: at("/.well-known/jwks.json"),
            response_types_supported: ["code"],
            response_modes_supported: ["query"],
            grant_types_supported: ["authorization_code"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: ["ES256"],
            token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
            code_challenge_methods_supported: ["S256"],
            scopes_supported: SCOPES_SUPPORTED,
            claims_supported: [
                "iss",
                "aud",
                "sub",
                "iat",
                "exp",
                "auth_time",
                "nonce",
                "sid",
                "idp",
                "idp_name",
                "name",
                "email",
                "email_verified",
                "profiles",
            ],
            prompt_values_supported: ["none", "login", "select_account", "consent"],
            authorization_response_iss_parameter_supported: true,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            claims_parameter_supported: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Err(AuthorizeRefusal::ToPortal(e)) => e.error,
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
        assert_eq!(error_of(&AuthorizeParams { nonce: None, ..params() }), "invalid_request");
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
            error: "login_required",
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

    #[test]
    fn freshness_follows_prompt_and_max_age() {
        let request = check(&params(), &clients()).unwrap();
        assert!(request.satisfied_by(None, 10, 1000), "no requirement");
        let login = check(&AuthorizeParams { prompt: Some("login".into()), ..params() }, &clients()).unwrap();
        assert!(!login.satisfied_by(Some(999), 999, 1000), "prompt=login needs a sign-in it sent the person to");
        let after = AuthorizationRequest { signed_in_after: Some(900), ..login };
        assert!(after.satisfied_by(None, 900, 1000));
        assert!(!after.satisfied_by(None, 899, 1000), "a session from before the redirect");
        let max_age = check(&AuthorizeParams { max_age: Some("60".into()), ..params() }, &clients()).unwrap();
        assert!(max_age.satisfied_by(Some(950), 950, 1000));
        assert!(!max_age.satisfied_by(Some(900), 950, 1000));
        assert!(!max_age.satisfied_by(None, 990, 1000), "an unknown sign-in time is never recent");
    }

    #[test]
    fn the_return_path_replaces_our_own_parameters_only() {
        let path = authorize_path("client_id=a&pl_after=1&state=x%26y&pl_skip=1", &[("pl_after", "42")]);
        assert_eq!(path, "/authorize?client_id=a&state=x%26y&pl_after=42");
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

    #[test]
    fn the_subject_is_stable_and_not_the_providers() {
        let pat = Identity::new("https://idp.example", "pat-1");
        assert_eq!(subject_of(&pat), subject_of(&Identity::new("https://idp.example", "pat-1")));
        assert_ne!(subject_of(&pat), subject_of(&Identity::new("https://other.example", "pat-1")));
        assert!(!subject_of(&pat).contains("pat-1"));
    }

    #[test]
    fn client_lists_are_checked() {
        for (json, problem) in [
            (r#"[{"id":"a","name":"A","redirect_uris":[]}]"#, "at least one"),
            (
                r#"[{"id":"a","name":"A","redirect_uris":["http://portal.example.com/cb"],"client_secret":"0123456789abcdef"}]"#,
                "plain http",
            ),
            (
                r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb#x"],"client_secret":"0123456789abcdef"}]"#,
                "fragment",
            ),
            (r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb"],"client_secret":"short"}]"#, "16"),
            (r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb"]}]"#, "client_secret"),
            (
                r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none","client_secret":"0123456789abcdef"}]"#,
                "public",
            ),
            (r#"[{"id":"a b","name":"A","redirect_uris":["https://p.example/cb"]}]"#, "A-Za-z0-9"),
            (
                r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none"},{"id":"a","name":"B","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none"}]"#,
                "twice",
            ),
        ] {
            let error = PortalClients::parse(json).unwrap_err().to_string();
            assert!(error.contains(problem), "{json}: {error}");
        }
        let public = PortalClients::parse(
            r#"[{"id":"spa","name":"SPA","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none"}]"#,
        )
        .unwrap();
        assert_eq!(public.get("spa").unwrap().secret, None);
    }
}
