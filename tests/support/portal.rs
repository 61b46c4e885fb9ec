//! A portal as the tests play it: an OIDC client of profile-link's provider
//! side, doing by hand what a relying-party library does, so each step can be varied.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::TestApp;
use crate::browser::Browser;
use crate::flow::{confirm, open, request_and_deliver};

/// The portal's sign-in attempt and the demo portal's registration are the shared harness's.
pub use profile_link_harness::portal::{Attempt, DEMO_AFTER_LOGOUT, DEMO_PORTAL, DEMO_REDIRECT, DEMO_SECRET};

impl profile_link_harness::portal::Site for TestApp {
    fn base(&self) -> &str {
        &self.base
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
    let form = attempt.token_form(code, DEMO_REDIRECT);
    let fields: Vec<(&str, &str)> = form.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    token(app, Some((DEMO_PORTAL, DEMO_SECRET)), &fields).await
}

/// `/userinfo` with a bearer token.
pub async fn userinfo(app: &TestApp, access_token: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(access_token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An ID token's claims, verified as a portal verifies them: the key its `kid`
/// names in `/.well-known/jwks.json`, with that key's published `alg` (the
/// header must state the same), this issuer, `audience`.
pub async fn verify_id_token(app: &TestApp, id_token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        reqwest::get(app.url("/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let kid = header.kid.expect("a kid");
    let jwk = jwks.find(&kid).unwrap_or_else(|| panic!("kid {kid} not in the JWKS"));
    let alg: jsonwebtoken::Algorithm =
        jwk.common.key_algorithm.expect("every published key states its alg").to_string().parse().unwrap();
    assert_eq!(header.alg, alg, "the header's alg is the one its key is published for");
    let mut validation = jsonwebtoken::Validation::new(alg);
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
