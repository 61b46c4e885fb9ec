//! The `token` function: the server-to-server side of profile-link as the
//! portals' OpenID Provider. `GET /.well-known/openid-configuration`
//! (discovery), `POST /token` (a code for an ID token and an access token:
//! client authenticated, the code used once, bound to client, redirect URI
//! and PKCE) and `GET|POST /userinfo` (the person, with their profiles read
//! fresh from the table). Its callers are portals' servers, not browsers:
//! every answer is JSON.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::domain::identity::Identity;
use profile_link_core::downstream::{
    self, ACCESS_TOKEN_TTL_SECONDS, AccessTokenClaims, ClientId, Grant, ID_TOKEN_TTL_SECONDS, IdTokenClaims,
    OAuthErrorCode, OpenIdConfiguration, PersonClaims, PortalClient, PortalClients, ProfileClaim, TokenEndpointAuth,
    USERINFO_PURPOSE,
};
use profile_link_core::random;
use profile_link_core::secrets::Secret;
use profile_link_core::session::SessionKeys;
pub use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::codes::CodeTaken;
use profile_link_core::web;
use profile_link_core::{Clock, Store, SystemClock};
use serde::{Deserialize, Serialize};

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "token";

/// Everything the token function needs, built once per cold start.
pub struct TokenApp {
    pub site: SiteConfig,
    pub store: Store,
    /// Signs ID tokens and access tokens.
    pub keys: Arc<SessionKeys>,
    pub clients: Arc<PortalClients>,
    /// Each confidential client's secret.
    secrets: HashMap<ClientId, Secret>,
    pub clock: Arc<dyn Clock>,
}

impl TokenApp {
    /// The signing key and client list in one SSM call, the clients' secrets in a second.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let site = SiteConfig::from_env(env)?;
        let (keys, mut others) =
            startup::session_keys_and_secrets(env, sdk, &site, &[downstream::PORTAL_CLIENTS]).await?;
        let clients = PortalClients::parse(others.remove(0).expose())?;
        let secrets = startup::portal_client_secrets(env, sdk, &clients).await?;
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        Ok(Self::new(site, store, Arc::new(keys), Arc::new(clients), secrets, Arc::new(SystemClock)))
    }

    /// Opens the table's connection during init with a read `/userinfo`
    /// makes: a code nobody has.
    pub async fn warm_up(env: &Env, sdk: &aws_config::SdkConfig) {
        startup::open_table_connection(env, sdk, |store| async move {
            store.grant_for_access_token::<Grant>(startup::WARM_UP_KEY).await
        })
        .await;
    }

    pub fn new(
        site: SiteConfig,
        store: Store,
        keys: Arc<SessionKeys>,
        clients: Arc<PortalClients>,
        secrets: HashMap<ClientId, Secret>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { site, store, keys, clients, secrets, clock }
    }

    fn issuer(&self) -> String {
        self.site.public_base_url.origin()
    }
}

pub fn router(app: Arc<TokenApp>) -> Router {
    let site = app.site.clone();
    let routes = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/token", axum::routing::post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .with_state(app);
    web::harden(routes, &site, FUNCTION)
}

/// `GET /.well-known/openid-configuration`: the same for everyone, cacheable.
async fn discovery(State(app): State<Arc<TokenApp>>) -> Response {
    let mut response = Json(OpenIdConfiguration::for_issuer(&app.issuer())).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// An OAuth error answer (RFC 6749 §5.2), never cached.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: OAuthErrorCode,
    description: &'static str,
    /// `WWW-Authenticate` for a 401.
    challenge: Option<&'static str>,
}

impl OAuthError {
    fn bad(error: OAuthErrorCode, description: &'static str) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error, description, challenge: None }
    }

    fn invalid_client(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: OAuthErrorCode::InvalidClient,
            description,
            challenge: Some("Basic realm=\"profile-link\""),
        }
    }

    fn invalid_token(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: OAuthErrorCode::InvalidToken,
            description,
            challenge: Some("Bearer error=\"invalid_token\""),
        }
    }

    fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: OAuthErrorCode::TemporarilyUnavailable,
            description: "the table did not answer; try again",
            challenge: None,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers
                .insert(header::RETRY_AFTER, HeaderValue::from(profile_link_core::web::pages::RETRY_UNAVAILABLE_AFTER));
        }
        response
    }
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `Authorization: Basic` with the id and secret form-encoded first (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| ());
    let pair = decoded.and_then(|bytes| String::from_utf8(bytes).map_err(|_| ())).and_then(|text| {
        let (id, secret) = text.split_once(':').ok_or(())?;
        let decode =
            |s: &str| url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        Ok((decode(id).ok_or(())?, decode(secret).ok_or(())?))
    });
    Some(pair)
}

impl TokenApp {
    /// The client, authenticated the one way it registered.
    fn authenticate(&self, headers: &HeaderMap, form: &TokenForm) -> Result<&PortalClient, OAuthError> {
        let (id, secret, method) = match (basic_credentials(headers), &form.client_secret) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::bad(OAuthErrorCode::InvalidRequest, "use one client authentication method"));
            }
            (Some(Err(())), _) => return Err(OAuthError::invalid_client("malformed Basic credentials")),
            (Some(Ok((id, secret))), None) => {
                if form.client_id.as_deref().is_some_and(|form_id| form_id != id) {
                    return Err(OAuthError::invalid_client("client_id differs from the authenticated client"));
                }
                (id, Some(secret), TokenEndpointAuth::ClientSecretBasic)
            }
            (None, Some(secret)) => {
                let id = form.client_id.clone().ok_or(OAuthError::invalid_client("client_id is missing"))?;
                (id, Some(secret.clone()), TokenEndpointAuth::ClientSecretPost)
            }
            (None, None) => {
                let id =
                    form.client_id.clone().ok_or(OAuthError::invalid_client("client authentication is missing"))?;
                (id, None, TokenEndpointAuth::None)
            }
        };
        let client = self.clients.get(&id).ok_or(OAuthError::invalid_client("unknown client"))?;
        if client.auth != method {
            tracing::warn!(
                client_id = client.id.as_str(),
                used = method.as_str(),
                "token request with another authentication method than registered"
            );
            return Err(OAuthError::invalid_client("not the client's registered authentication method"));
        }
        if let Some(secret) = secret {
            let expected = self.secrets.get(&client.id).expect("every confidential client has its secret");
            if !random::constant_time_eq(secret.as_bytes(), expected.expose().as_bytes()) {
                tracing::warn!(client_id = client.id.as_str(), "token request with a wrong client secret");
                return Err(OAuthError::invalid_client("wrong client secret"));
            }
        }
        Ok(client)
    }
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    id_token: String,
    scope: String,
}

/// `POST /token`
async fn token(
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

async fn exchange(
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
        id_token: app.keys.sign_token(&id_token),
        scope,
    })
}

/// `GET|POST /userinfo` (OIDC Core §5.3): the bearer token's person, with
/// the profiles as the table holds them now.
async fn userinfo(State(app): State<Arc<TokenApp>>, headers: HeaderMap) -> Response {
    match person(&app, &headers).await {
        Ok(person) => Json(person).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn person(app: &TokenApp, headers: &HeaderMap) -> Result<PersonClaims, OAuthError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(OAuthError::invalid_token("send the access token as Authorization: Bearer"))?;
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
    let state = match app.store.identity_state(&identity).await {
        Ok(state) => state,
        Err(error) => {
            tracing::error!(%error, "userinfo could not read the identity's profiles");
            return Err(OAuthError::unavailable());
        }
    };
    if state.has_ended_session(&grant.session_id, grant.session_generation) {
        return Err(OAuthError::invalid_token("the person signed out"));
    }
    Ok(PersonClaims { profiles: state.profiles.iter().map(ProfileClaim::from).collect(), ..grant.person })
}
