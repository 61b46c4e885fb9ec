//! A hostile identity provider for security tests: a real HTTP server with
//! discovery, JWKS and a token endpoint that answers whatever ID token the
//! test hands it, so each validation rule can be shown to refuse its forgery.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "fake-client";
pub const CLIENT_SECRET: &str = "fake-secret";

pub struct FakeProvider {
    pub issuer: String,
    pub kid: String,
    pub public_jwk: Jwk,
    key: EncodingKey,
    token_endpoint: TokenEndpoint,
}

/// What the token endpoint answers next, and how the last client authenticated.
#[derive(Clone, Default)]
struct TokenEndpoint {
    next_id_token: Arc<Mutex<Option<String>>>,
    last_request: Arc<Mutex<Option<TokenRequest>>>,
    /// Runs while a token request is answered: how a test makes the exchange take time.
    while_answering: Arc<Mutex<Option<Arc<dyn Fn() + Send + Sync>>>>,
}

/// How a client authenticated at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The `Authorization` header (`Basic …` for client_secret_basic).
    pub authorization: Option<String>,
    /// The form's fields.
    pub form: Vec<(String, String)>,
}

impl TokenRequest {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Its Entra-like face: `<issuer>/organizations/v2.0` publishes discovery
/// naming `<issuer>/{tenantid}/v2.0`, as Entra's multi-tenant endpoints do.
pub const ENTRA_PATH: &str = "/organizations/v2.0";

impl FakeProvider {
    pub async fn start() -> Self {
        let pem = profile_link_core::session::generate_ec_pem();
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
        let mut public_jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        let kid = public_jwk.thumbprint(ThumbprintHash::SHA256).unwrap();
        public_jwk.common.key_id = Some(kid.clone());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let token_endpoint = TokenEndpoint::default();
        let discovery = |named: String| {
            json!({
                "issuer": named,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
                "id_token_signing_alg_values_supported": ["ES256", "RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "response_modes_supported": ["query", "form_post"],
                "code_challenge_methods_supported": ["S256"],
            })
        };
        let (root, entra) = (discovery(issuer.clone()), discovery(format!("{issuer}/{{tenantid}}/v2.0")));
        let jwks = JwkSet { keys: vec![public_jwk.clone()] };
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(move || async move { Json(root) }))
            .route(&format!("{ENTRA_PATH}/.well-known/openid-configuration"), get(move || async move { Json(entra) }))
            .route("/jwks", get(move || async move { Json(jwks) }))
            .route("/token", post(token))
            .with_state(token_endpoint.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { issuer, kid, public_jwk, key, token_endpoint }
    }

    /// How the client authenticated at the last token request.
    pub fn last_token_request(&self) -> Option<TokenRequest> {
        self.token_endpoint.last_request.lock().unwrap().clone()
    }

    /// An entry for a `PROVIDERS` list naming this provider, as `id`, with
    /// `extra` fields merged over the defaults (exact issuer, client_secret_basic).
    pub fn listed(&self, id: &str, extra: Value) -> Value {
        let mut entry = json!({
            "id": id, "label": format!("Fake {id}"), "issuer": self.issuer, "issuer_policy": {"kind": "exact"},
            "client_id": CLIENT_ID, "client_auth": "client_secret_basic", "client_secret": CLIENT_SECRET,
            "reauthentication": {"request": "prompt_login", "proof": "auth_time"},
        });
        for (key, value) in extra.as_object().expect("fields").clone() {
            entry[key] = value;
        }
        entry
    }

    /// Runs `during` while answering every token request (e.g. a test moving
    /// the app's clock: the exchange took that long).
    pub fn while_answering(&self, during: impl Fn() + Send + Sync + 'static) {
        *self.token_endpoint.while_answering.lock().unwrap() = Some(Arc::new(during));
    }

    /// The next token request is answered with this ID token.
    pub fn answer_with(&self, id_token: String) {
        *self.token_endpoint.next_id_token.lock().unwrap() = Some(id_token);
    }

    /// Claims a correct ID token for `nonce` would carry; tests spoil one at a time.
    pub fn good_claims(&self, nonce: &str) -> Value {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        json!({
            "iss": self.issuer, "sub": "fake-user-1", "aud": CLIENT_ID,
            "iat": now, "exp": now + 300, "auth_time": now - 1, "nonce": nonce,
            "name": "Fake Person", "email": "fake@mail.example.net",
        })
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    pub fn sign_with_kid(&self, claims: &Value, kid: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

/// An unsigned token (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{payload}.")
}

/// HS256 with the provider's public key as the HMAC secret (the classic key-confusion forgery).
pub fn hmac_with_public_key(claims: &Value, public_jwk: &Jwk, kid: &str) -> String {
    let secret = serde_json::to_vec(public_jwk).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&secret)).unwrap()
}

async fn token(
    State(endpoint): State<TokenEndpoint>,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Json<Value> {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    *endpoint.last_request.lock().unwrap() = Some(TokenRequest { authorization, form });
    let during = endpoint.while_answering.lock().unwrap().clone();
    if let Some(during) = during {
        during();
    }
    let id_token = endpoint.next_id_token.lock().unwrap().take().unwrap_or_default();
    Json(json!({ "access_token": "fake-access", "token_type": "Bearer", "expires_in": 300, "id_token": id_token }))
}
