//! A portal's back-channel logout endpoint as the tests play it: a tiny HTTP
//! server on a free port that records each `logout_token` posted to it and
//! answers with the status the test chooses (or is not listening yet).

use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::StatusCode;
use serde_json::Value;

use crate::TestApp;

#[derive(Default)]
struct Received {
    tokens: Vec<String>,
    status: u16,
}

/// The portal's `backchannel_logout_uri`.
pub struct Receiver {
    pub uri: String,
    port: u16,
    received: Arc<Mutex<Received>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(serde::Deserialize)]
struct LogoutForm {
    logout_token: String,
}

async fn receive(State(received): State<Arc<Mutex<Received>>>, Form(form): Form<LogoutForm>) -> StatusCode {
    let mut received = received.lock().unwrap();
    received.tokens.push(form.logout_token);
    StatusCode::from_u16(received.status).unwrap()
}

impl Receiver {
    /// Listening on a free port, answering 200.
    pub async fn start() -> Self {
        let mut receiver = Self::not_listening().await;
        receiver.listen().await;
        receiver
    }

    /// A free port nobody listens on yet: the portal is down until [`Receiver::listen`].
    pub async fn not_listening() -> Self {
        let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        Self {
            uri: format!("http://127.0.0.1:{port}/backchannel-logout"),
            port,
            received: Arc::new(Mutex::new(Received { tokens: Vec::new(), status: 200 })),
            shutdown: None,
        }
    }

    /// Starts answering on its port.
    pub async fn listen(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let app = axum::Router::new()
            .route("/backchannel-logout", axum::routing::post(receive))
            .with_state(self.received.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        self.shutdown = Some(tx);
    }

    /// What it answers from now on (500: the portal is failing).
    pub fn answer_with(&self, status: u16) {
        self.received.lock().unwrap().status = status;
    }

    /// Every logout token posted so far, oldest first.
    pub fn tokens(&self) -> Vec<String> {
        self.received.lock().unwrap().tokens.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The test's portal list: the default clients, the demo portal taking
/// logout tokens at `demo`, and a second portal (`other-portal`) at `other`.
pub fn portals_with_backchannel(demo: &str, other: &str) -> String {
    serde_json::json!([
        {"id": "demo-portal", "name": "Demo portal", "redirect_uris": ["http://127.0.0.1:3100/callback"],
         "post_logout_redirect_uris": ["http://127.0.0.1:3100/"], "client_secret": "demo-portal-secret",
         "backchannel_logout_uri": demo},
        {"id": OTHER_PORTAL, "name": "Other portal", "redirect_uris": [OTHER_REDIRECT],
         "client_secret": "other-portal-secret-0123", "backchannel_logout_uri": other},
        {"id": "post-portal", "name": "Post portal", "redirect_uris": ["https://portal.example.com/callback"],
         "token_endpoint_auth_method": "client_secret_post", "client_secret": "post-portal-secret-0123"},
    ])
    .to_string()
}

pub const OTHER_PORTAL: &str = "other-portal";
pub const OTHER_REDIRECT: &str = "https://other.example.com/callback";

/// A logout token's header and claims, verified as a portal verifies them
/// (Back-Channel Logout 1.0 §2.6): the JWKS, this issuer, `audience`, `typ`.
pub async fn verify_logout_token(app: &TestApp, token: &str, audience: &str) -> (jsonwebtoken::Header, Value) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let claims = crate::portal::verify_id_token(app, token, audience).await;
    (header, claims)
}
