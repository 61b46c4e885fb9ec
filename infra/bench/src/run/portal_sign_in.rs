//! A portal's sign-in through authorize and token, as a portal and its server make it.

use anyhow::{Context, bail};
use serde_json::Value;

use crate::gateway::{Browser, Gateway, HttpAnswer};
use crate::portal::{self, Attempt};

/// Where the portal's server calls `/token` and `/userinfo` from.
pub(super) const PORTAL_SERVER_IP: &str = "192.0.2.80";

/// A portal's sign-in for a person signed in here with a linked profile:
/// `/authorize` answers with a code at once; the portal's server exchanges
/// it at `/token` and reads `/userinfo` with the access token.
pub(super) async fn portal_sign_in(gw: &mut Gateway, browser: &mut Browser) -> anyhow::Result<()> {
    let attempt = Attempt::new();
    let code = portal_code(gw, browser, &attempt, "GET /authorize").await?;
    let access_token = portal_access_token(gw, &attempt, &code, "POST /token").await?;
    let person = portal_userinfo(gw, &access_token, "GET /userinfo").await?;
    if person["profiles"].as_array().is_none_or(Vec::is_empty) {
        bail!("GET /userinfo: no profiles for a person who just linked one: {person}");
    }
    Ok(())
}

/// `GET /authorize` for a signed-in `browser`: the code in its redirect to the portal.
pub(super) async fn portal_code(
    gw: &mut Gateway,
    browser: &mut Browser,
    attempt: &Attempt,
    endpoint: &str,
) -> anyhow::Result<String> {
    let answer = gw.http(browser, endpoint, "GET", &attempt.authorize_path(), None).await?.expect(303, endpoint)?;
    attempt.code_from(answer.location()?, &gw.base.origin().ascii_serialization())
}

/// `POST /token` from the portal's server: the access token for `code`.
pub(super) async fn portal_access_token(
    gw: &mut Gateway,
    attempt: &Attempt,
    code: &str,
    endpoint: &str,
) -> anyhow::Result<String> {
    let mut server = Browser::new(PORTAL_SERVER_IP);
    let form = attempt.token_form(code);
    let headers = portal::server_headers(&portal::basic_authorization());
    let answer = gw.http_with_headers(&mut server, endpoint, "POST", "/token", Some(&form), &headers).await?;
    let tokens = json_body(answer.expect(200, endpoint)?, endpoint)?;
    tokens["access_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{endpoint}: no access_token in {tokens}"))
}

/// `GET /userinfo` from the portal's server with `access_token`: the person.
async fn portal_userinfo(gw: &mut Gateway, access_token: &str, endpoint: &str) -> anyhow::Result<Value> {
    let mut server = Browser::new(PORTAL_SERVER_IP);
    let headers = portal::server_headers(&format!("Bearer {access_token}"));
    let answer = gw.http_with_headers(&mut server, endpoint, "GET", "/userinfo", None, &headers).await?;
    json_body(answer.expect(200, endpoint)?, endpoint)
}

fn json_body(answer: HttpAnswer, endpoint: &str) -> anyhow::Result<Value> {
    serde_json::from_str(&answer.body).with_context(|| format!("{endpoint}: the answer is not JSON: {}", answer.body))
}
