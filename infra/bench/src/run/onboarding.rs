//! One person's onboarding through the warm functions, and the steps the
//! fixtures share with it.

use anyhow::{Context, bail};
use axum::body::Bytes;
use serde_json::Value;

use super::portal_sign_in::portal_sign_in;
use super::profiles::bench_address;
use crate::gateway::{Browser, Gateway};
use crate::stream::{self, StreamReader};

/// One person's onboarding with one profile, as a person goes through it:
/// asked to sign in, requests the link, the email is sent, opens it later
/// on another device (so signs in afresh), confirms; the notice is sent.
/// Afterwards (not part of the costed onboarding) the account page, `/me`,
/// a portal's sign-in, and an unlink that returns the identity to where it started.
pub(super) async fn onboarding(gw: &mut Gateway, stream: &mut StreamReader, n: usize) -> anyhow::Result<()> {
    gw.onboarding = true;
    let ip = format!("198.51.100.{}", n % 250 + 1);
    let mut person = Browser::new(&ip);
    let to_login = gw.http(&mut person, "GET /associate (signed out)", "GET", "/associate", None).await?;
    let login = to_login.expect(303, "GET /associate signed out")?;
    let login_path = login.location()?.to_owned();
    sign_in(gw, &mut person, "GET /login", &login_path).await?;

    let form =
        gw.http(&mut person, "GET /associate", "GET", "/associate", None).await?.expect(200, "GET /associate")?;
    let mut fields = form_fields(&form.body)?;
    fields.retain(|(name, _)| name != "email");
    fields.push(("email".into(), bench_address(n)));
    gw.http(&mut person, "POST /associate", "POST", "/associate", Some(&fields))
        .await?
        .expect(200, "POST /associate")?;

    let records = one_record(stream, "LINK#").await?;
    let answer = gw.invoke("send-emails", "link email (stream)", stream::event(&records)).await?;
    expect_no_failures(&answer)?;
    let token = link_in_last_email(gw)?;

    let mut later = Browser::new(format!("198.51.100.{}", (n + 125) % 250 + 1));
    let click = format!("/redeem?token={token}");
    let to_redeem = gw.http(&mut later, "GET /redeem?token=…", "GET", &click, None).await?;
    let redeem_path = to_redeem.location()?.to_owned();
    let to_fresh = gw.http(&mut later, "GET /redeem (not signed in)", "GET", &redeem_path, None).await?;
    let fresh_login = to_fresh.location()?.to_owned();
    sign_in(gw, &mut later, "GET /login?fresh=1", &fresh_login).await?;
    let confirm_page =
        gw.http(&mut later, "GET /redeem (confirm page)", "GET", "/redeem", None).await?.expect(200, "GET /redeem")?;
    let mut fields = form_fields(&confirm_page.body)?;
    fields.push(("action".into(), "confirm".into()));
    gw.http(&mut later, "POST /redeem", "POST", "/redeem", Some(&fields)).await?.expect(200, "POST /redeem")?;

    let records = one_record(stream, "NOTICE#").await?;
    let answer = gw.invoke("send-emails", "notice email (stream)", stream::event(&records)).await?;
    expect_no_failures(&answer)?;

    // After the onboarding: the account page, /me, and an unlink (clean-up).
    gw.onboarding = false;
    let account = gw.http(&mut later, "GET / (account)", "GET", "/", None).await?.expect(200, "GET /")?;
    gw.http(&mut later, "GET /me", "GET", "/me", None).await?.expect(200, "GET /me")?;
    portal_sign_in(gw, &mut later).await?;
    let (_, unlink) = crate::gateway::first_post_form(&account.body).context("the account page has no unlink form")?;
    let redirect = gw.http(&mut later, "POST /profiles/unlink", "POST", "/profiles/unlink", Some(&unlink)).await?;
    redirect.location()?;
    Ok(())
}

/// `GET /login…` → the provider → `GET /login/callback…` → where it sends the person.
async fn sign_in(gw: &mut Gateway, browser: &mut Browser, endpoint: &str, login_path: &str) -> anyhow::Result<()> {
    let to_provider = gw.http(browser, endpoint, "GET", login_path, None).await?;
    let authorize = to_provider.location()?.to_owned();
    let callback = gw.sign_in(browser, &authorize, "pat").await?;
    let back = gw.http(browser, "GET /login/callback", "GET", &callback, None).await?;
    back.location().context("the callback did not sign in")?;
    Ok(())
}

pub(super) async fn request_link(
    gw: &mut Gateway,
    browser: &mut Browser,
    csrf: &str,
    address: &str,
) -> anyhow::Result<()> {
    let form = [("csrf".to_owned(), csrf.to_owned()), ("email".to_owned(), address.to_owned())];
    gw.http(browser, "fixture", "POST", "/associate", Some(&form)).await?.expect(200, "POST /associate")?;
    Ok(())
}

/// The stream records written since the last read: exactly one, of `kind`.
pub(super) async fn one_record(stream: &mut StreamReader, kind: &str) -> anyhow::Result<Vec<Value>> {
    let records = stream.read_new().await?;
    let matching = records
        .iter()
        .filter(|r| r["dynamodb"]["Keys"]["pk"]["S"].as_str().is_some_and(|pk| pk.starts_with(kind)))
        .count();
    if records.len() != 1 || matching != 1 {
        bail!(
            "expected one new {kind} item on the stream, found {} records (are the bench profiles imported?)",
            records.len()
        );
    }
    Ok(records)
}

pub(super) fn link_in_last_email(gw: &Gateway) -> anyhow::Result<String> {
    let email = gw.emails.last().context("no email was sent")?;
    let text = String::from_utf8_lossy(email);
    let start = text.find("/redeem?token=").context("the email holds no link")? + "/redeem?token=".len();
    let token: String =
        text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
    Ok(token)
}

pub(super) fn form_fields(page: &str) -> anyhow::Result<Vec<(String, String)>> {
    crate::gateway::first_post_form(page).map(|(_, fields)| fields).context("the page has no form")
}

pub(super) fn expect_no_failures(answer: &Bytes) -> anyhow::Result<()> {
    let value: Value = serde_json::from_slice(answer)?;
    if value["batchItemFailures"].as_array().is_some_and(|f| !f.is_empty()) {
        bail!("send-emails reported failed records: {value}");
    }
    Ok(())
}
