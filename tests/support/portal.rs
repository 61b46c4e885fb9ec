//! A portal as the tests play it: an OIDC client of profile-link's provider
//! side, doing by hand what a relying-party library does, so each step can be varied.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::TestApp;
use crate::browser::Browser;
use crate::flow::{confirm, open, request_and_deliver};

pub const DEMO_PORTAL: &str = "demo-portal";
pub const DEMO_SECRET: &str = "demo-portal-secret";
pub const DEMO_REDIRECT: &str = "http://127.0.0.1:3100/callback";
pub const DEMO_AFTER_LOGOUT: &str = "http://127.0.0.1:3100/";

/// One sign-in attempt's secrets, as the portal keeps them.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl Attempt {
    pub fn new() -> Self {
        let random = profile_link_core::random::secret_256;
        Self { state: random(), nonce: random(), verifier: random() }
    }

    pub fn challenge(&self) -> String {
        profile_link_core::random::sha256_b64(self.verifier.as_bytes())
    }

    /// `/authorize` for `client` with everything a well-behaved portal sends, `extra` added or replacing.
    pub fn url(&self, app: &TestApp, client: &str, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
        let challenge = self.challenge();
        let mut pairs: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", redirect_uri),
            ("scope", "openid profile email"),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            pairs.retain(|(n, _)| n != name);
            if !value.is_empty() {
                pairs.push((name, value));
            }
        }
        let mut url = Url::parse(&app.url("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs(pairs);
        url.to_string()
    }

    pub fn demo_url(&self, app: &TestApp, extra: &[(&str, &str)]) -> String {
        self.url(app, DEMO_PORTAL, DEMO_REDIRECT, extra)
    }
}

impl Default for Attempt {
    fn default() -> Self {
        Self::new()
    }
}

/// Follows `start`'s redirects until they leave for `redirect_uri`; that answer's query.
pub async fn answer_at(browser: &Browser, start: &str, redirect_uri: &str) -> Vec<(String, String)> {
    let response = browser.request(Method::GET, start).await;
    let url = browser.follow_until(response, redirect_uri).await;
    url.query_pairs().into_owned().collect()
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The code the demo portal gets for a signed-in `browser`, checked against `attempt`'s state and the issuer.
pub async fn demo_code(app: &TestApp, browser: &Browser, attempt: &Attempt) -> String {
    let answer = answer_at(browser, &attempt.demo_url(app, &[]), DEMO_REDIRECT).await;
    assert_eq!(param(&answer, "state"), Some(attempt.state.as_str()), "state echoed: {answer:?}");
    assert_eq!(param(&answer, "iss"), Some(app.base.as_str()), "RFC 9207 iss: {answer:?}");
    param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer:?}")).to_owned()
}

/// The token endpoint's answer to `fields`, authenticated with Basic as `basic` says.
pub async fn token(app: &TestApp, basic: Option<(&str, &str)>, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(app.url("/token")).form(fields);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("/token answered {status} {body}: {e}")))
}

/// The demo portal's code exchange, as openid-client makes it.
pub async fn demo_token(app: &TestApp, code: &str, attempt: &Attempt) -> (StatusCode, Value) {
    token(
        app,
        Some((DEMO_PORTAL, DEMO_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", DEMO_REDIRECT),
            ("code_verifier", &attempt.verifier),
        ],
    )
    .await
}

/// `/userinfo` with a bearer token.
pub async fn userinfo(app: &TestApp, access_token: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(access_token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An ID token's claims, verified as a portal verifies them: the JWKS at
/// `/.well-known/jwks.json`, ES256, this issuer, `audience`.
pub async fn verify_id_token(app: &TestApp, id_token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        reqwest::get(app.url("/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken::decode_header(id_token).unwrap().kid.expect("a kid");
    let jwk = jwks.find(&kid).unwrap_or_else(|| panic!("kid {kid} not in the JWKS"));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[&app.base]);
    validation.set_audience(&[audience]);
    validation.validate_exp = false; // the test clock is not the system's
    jsonwebtoken::decode::<Value>(id_token, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap_or_else(|e| panic!("the ID token does not verify: {e}"))
        .claims
}

/// pat (CUST-1, CUST-2 under pat@…) signed in, with both profiles linked through the seed flow.
pub async fn pat_with_both_profiles(app: &TestApp) -> Browser {
    app.import_profiles(&[
        ("CUST-1", "pat", "Pat Doe", "Doe Family Bakery"),
        ("CUST-2", "pat", "Pat Doe", "Northwind Consulting"),
    ])
    .await;
    let pat = app.signed_in("pat").await;
    let links = request_and_deliver(app, &pat, &app.address("pat")).await;
    assert_eq!(links.len(), 2, "one link per profile");
    for link in &links {
        let page = open(&pat, link, "pat").await;
        let done = confirm(&pat, &page, "confirm").await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    }
    pat
}
