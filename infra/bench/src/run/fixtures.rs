//! What the cold runs need from the warm functions, and how they are made.

use profile_link_core::session::SessionKeys;
use serde_json::Value;

use super::Settings;
use super::onboarding::{expect_no_failures, form_fields, link_in_last_email, one_record, request_link};
use super::portal_sign_in::portal_code;
use super::profiles::portal_fixture_address;
use super::sessions::minted_browser;
use crate::gateway::Gateway;
use crate::portal::Attempt;
use crate::stream::{self, StreamReader};

/// The demo profile (one profile under its address) the cold-start fixtures ask for.
pub(super) const FIXTURE_ADDRESS: &str = "alex@example.net";

/// What the cold runs need from the warm functions: sent links and pending
/// ones, an identity with a profile, and the two functions that issue codes
/// and access tokens (a code is good for a minute: each cold run of token
/// gets its own, just before).
pub(super) struct Fixtures {
    /// A sent link's token, requested by `FIXTURE_SUBJECT`.
    pub(super) sent_token: String,
    /// One unsent `LINK#` stream record per cold run of send-emails.
    pub(super) pending_records: Vec<Value>,
    /// authorize and token, still warm, with recording off.
    pub(super) portal: Gateway,
}

pub(super) const FIXTURE_SUBJECT: &str = "bench-fixture";
/// The identity with a linked profile that signs in to the portal in the cold runs.
pub(super) const PORTAL_SUBJECT: &str = "bench-portal-fixture";

/// Links `PORTAL_SUBJECT` to its own bench profile as a person does (the
/// request, the email, the click, the confirmation), so that `/authorize`
/// finds a profile to put in the code. Its sessions are minted, the one that
/// confirms just before the click: redeem-link wants a sign-in after it.
pub(super) async fn link_portal_fixture(
    gw: &mut Gateway,
    settings: &Settings,
    keys: &SessionKeys,
    stream: &mut StreamReader,
) -> anyhow::Result<()> {
    let (mut requester, csrf) = minted_browser(settings, keys, PORTAL_SUBJECT, "203.0.113.11");
    request_link(gw, &mut requester, &csrf, &portal_fixture_address(settings.onboardings)).await?;
    let records = one_record(stream, "LINK#").await?;
    expect_no_failures(&gw.invoke("send-emails", "fixture", stream::event(&records)).await?)?;
    let token = link_in_last_email(gw)?;
    let (mut holder, _) = minted_browser(settings, keys, PORTAL_SUBJECT, "203.0.113.11");
    let clicked = gw.http(&mut holder, "fixture", "GET", &format!("/redeem?token={token}"), None).await?;
    let redeem_path = clicked.location()?.to_owned();
    let page =
        gw.http(&mut holder, "fixture", "GET", &redeem_path, None).await?.expect(200, "the confirmation page")?;
    let mut fields = form_fields(&page.body)?;
    fields.push(("action".into(), "confirm".into()));
    gw.http(&mut holder, "fixture", "POST", "/redeem", Some(&fields)).await?.expect(200, "POST /redeem")?;
    let records = one_record(stream, "NOTICE#").await?;
    expect_no_failures(&gw.invoke("send-emails", "fixture", stream::event(&records)).await?)?;
    Ok(())
}

/// A fresh code for `attempt`, from the warm authorize, for the portal fixture's identity.
pub(super) async fn fixture_code(
    settings: &Settings,
    keys: &SessionKeys,
    fixtures: &mut Fixtures,
    attempt: &Attempt,
) -> anyhow::Result<String> {
    let (mut browser, _) = minted_browser(settings, keys, PORTAL_SUBJECT, "203.0.113.6");
    portal_code(&mut fixtures.portal, &mut browser, attempt, "fixture").await
}
