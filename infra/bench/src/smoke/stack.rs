//! What every function is started with: a session key made for this run, an
//! identity provider and AWS endpoints that refuse connections.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use anyhow::Context;
use profile_link_core::session::SessionKeys;
use url::Url;

/// The endpoint variables the functions' SDK reads (functions/core/src/aws.rs).
const ENDPOINT_VARIABLES: [&str; 4] = [
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
    "AWS_ENDPOINT_URL_SESV2",
    "AWS_ENDPOINT_URL_SSM",
];

/// What every function is given: a session key made for this run, an
/// identity provider and AWS endpoints nobody listens at (unless this
/// process names the local stack's).
pub(super) struct Stack {
    pub(super) keys: Arc<SessionKeys>,
    key_pem: String,
    pub(super) base: Url,
    /// A loopback origin that refuses connections.
    closed: String,
}

impl Stack {
    pub(super) fn new() -> anyhow::Result<Self> {
        let closed = format!("http://{}", closed_port()?);
        // The origin pages and cookies name; the smoke delivers events itself, so nothing serves it.
        let base = Url::parse(&closed)?;
        let key_pem = SessionKeys::generate_pem();
        let keys = SessionKeys::from_pem(&base.origin().ascii_serialization(), &key_pem)
            .context("the generated session key does not load")?;
        Ok(Self { keys: Arc::new(keys), key_pem, base, closed })
    }

    /// The variables template.yaml sets (secrets inline instead of in SSM), and Lambda's AWS ones.
    pub(super) fn function_env(&self) -> Vec<(String, String)> {
        let origin = self.base.origin().ascii_serialization();
        let public_keys = serde_json::to_string(self.keys.jwks()).expect("a JWKS serialises");
        let providers = serde_json::json!([{
            "id": "smoke", "label": "Smoke", "issuer": self.closed, "issuer_policy": {"kind": "exact"},
            "client_id": "profile-link-smoke", "client_auth": "client_secret_basic", "client_secret": "smoke-client-secret",
            "reauthentication": {"request": "prompt_login", "proof": "auth_time"},
        }])
        .to_string();
        let portal_clients = serde_json::json!([{
            "id": "smoke-portal", "name": "Smoke portal", "redirect_uris": [SMOKE_PORTAL_REDIRECT],
            "client_secret": "smoke-portal-client-secret",
        }])
        .to_string();
        let mut env: Vec<(String, String)> = [
            ("TABLE_NAME", "profile-link-smoke"),
            ("PUBLIC_BASE_URL", origin.as_str()),
            ("SUPPORT_EMAIL", "support@example.com"),
            ("SESSION_SIGNING_KEY", &self.key_pem),
            ("SESSION_PUBLIC_KEYS", &public_keys),
            ("PROVIDERS", &providers),
            ("PORTAL_CLIENTS", &portal_clients),
            ("MAIL_FROM", "Example Ltd <no-reply@example.com>"),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
            // Dummy credentials: nothing here may sign a request real AWS would accept.
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-west-1".into());
        env.push(("AWS_REGION".into(), region));
        for name in ENDPOINT_VARIABLES {
            let endpoint = std::env::var(name).unwrap_or_else(|_| self.closed.clone());
            env.push((name.into(), endpoint));
        }
        env
    }
}

/// The one redirect URI the smoke's portal registered.
pub(super) const SMOKE_PORTAL_REDIRECT: &str = "https://portal.example.com/callback";

/// A loopback port that was free a moment ago and now refuses connections:
/// a call to it fails at once instead of waiting for a timeout.
fn closed_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    Ok(listener.local_addr()?)
}
