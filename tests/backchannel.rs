//! OpenID Connect Back-Channel Logout 1.0: a portal that registered a
//! `backchannel_logout_uri` is posted a logout token when pat signs out,
//! signs out everywhere, or loses a profile the portal was told about
//! (unlinked, revoked by support, taken over by another sign-in), through
//! the table (the outbox) and notify-portals, retried while it is down.

use profile_link_core::domain::profile::ProfileId;
use profile_link_tests::backchannel::{
    OTHER_PORTAL, OTHER_REDIRECT, Receiver, portals_with_backchannel, verify_logout_token,
};
use profile_link_tests::browser::Browser;
use profile_link_tests::flow::sam_takes_over;
use profile_link_tests::portal::{
    Attempt, DEMO_PORTAL, answer_at, demo_code, demo_token, param, pat_with_both_profiles, token, verify_id_token,
};
use profile_link_tests::{TestApp, TestOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

async fn app_with(demo: &Receiver, other: &Receiver) -> TestApp {
    let portals = portals_with_backchannel(&demo.uri, &other.uri);
    TestApp::spawn_with_options(TestOptions { portals: Some(portals), ..TestOptions::default() }).await
}

/// The demo portal signs `browser` in: the ID token's claims.
async fn demo_signs_in(app: &TestApp, browser: &Browser) -> Value {
    let attempt = Attempt::new();
    let code = demo_code(app, browser, &attempt).await;
    let (status, tokens) = demo_token(app, &code, &attempt).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    verify_id_token(app, tokens["id_token"].as_str().unwrap(), DEMO_PORTAL).await
}

/// The other portal signs `browser` in: the ID token's claims.
async fn other_signs_in(app: &TestApp, browser: &Browser) -> Value {
    let attempt = Attempt::new();
    let answer = answer_at(browser, &attempt.url(app, OTHER_PORTAL, OTHER_REDIRECT, &[]), OTHER_REDIRECT).await;
    let code = param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer:?}")).to_owned();
    let form = attempt.token_form(&code, OTHER_REDIRECT);
    let fields: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let (status, tokens) = token(app, Some((OTHER_PORTAL, "other-portal-secret-0123")), &fields).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    verify_id_token(app, tokens["id_token"].as_str().unwrap(), OTHER_PORTAL).await
}

/// The one logout token `receiver` got, checked as Back-Channel Logout 1.0
/// §2.6 says a portal checks it, for the session `id_token` started.
async fn assert_logged_out(app: &TestApp, receiver: &Receiver, audience: &str, id_token: &Value) {
    let tokens = receiver.tokens();
    assert_eq!(tokens.len(), 1, "one logout token for {audience}, got {}", tokens.len());
    let (header, claims) = verify_logout_token(app, &tokens[0], audience).await;
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"), "{header:?}");
    assert_eq!(claims["iss"], json!(app.base), "{claims}");
    assert_eq!((&claims["sub"], &claims["sid"]), (&id_token["sub"], &id_token["sid"]), "{claims}");
    assert_eq!(claims["events"], json!({ EVENT: {} }), "{claims}");
    assert!(claims.get("nonce").is_none(), "a logout token never carries a nonce: {claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16), "{claims}");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120, "{claims}");
}

async fn sign_out(app: &TestApp, browser: &Browser, everywhere: bool) {
    let mut form = vec![("csrf".to_owned(), app.csrf(browser).await)];
    if everywhere {
        form.push(("everywhere".into(), "1".into()));
    }
    let out = browser.post_form(&app.url("/logout"), &form).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_posts_a_logout_token_to_the_portals_of_that_session_only() {
    let (demo, other) = (Receiver::start().await, Receiver::start().await);
    let app = app_with(&demo, &other).await;
    let pat = pat_with_both_profiles(&app).await;
    let id_token = demo_signs_in(&app, &pat).await;
    // pat's phone: another session, in which only the other portal got a code.
    let phone = app.signed_in("pat").await;
    other_signs_in(&app, &phone).await;
    app.notify_portals().await;
    assert_eq!((demo.tokens().len(), other.tokens().len()), (0, 0), "nothing before a change");

    sign_out(&app, &pat, false).await;
    app.notify_portals().await;
    assert_logged_out(&app, &demo, DEMO_PORTAL, &id_token).await;
    assert!(other.tokens().is_empty(), "the other portal never got a code in that session");

    // Redelivered (Lambda retrying a batch): nothing is posted twice.
    assert!(app.replay_logout_events().await >= 1, "the replay saw the event");
    assert_eq!(demo.tokens().len(), 1, "delivered once per portal session under redelivery");
    let trail = app.keys().await;
    assert!(
        trail.iter().any(|(pk, sk)| pk.starts_with("AUDIT#IDENTITY#") && sk.contains("#portal_logged_out#")),
        "the delivery is audited: {trail:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_reaches_every_portal_session() {
    let (demo, other) = (Receiver::start().await, Receiver::start().await);
    let app = app_with(&demo, &other).await;
    let pat = pat_with_both_profiles(&app).await;
    let demo_id = demo_signs_in(&app, &pat).await;
    let phone = app.signed_in("pat").await;
    let other_id = other_signs_in(&app, &phone).await;

    sign_out(&app, &pat, true).await;
    app.notify_portals().await;
    assert_logged_out(&app, &demo, DEMO_PORTAL, &demo_id).await;
    assert_logged_out(&app, &other, OTHER_PORTAL, &other_id).await;
    assert_ne!(demo_id["sid"], other_id["sid"], "two sessions, two sids");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinking_a_profile_tells_the_portals_that_were_told_about_it() {
    let (demo, other) = (Receiver::start().await, Receiver::start().await);
    let app = app_with(&demo, &other).await;
    let pat = pat_with_both_profiles(&app).await;
    let id_token = demo_signs_in(&app, &pat).await;
    assert_eq!(id_token["profile_ids"], json!(["CUST-1", "CUST-2"]), "{id_token}");

    let csrf = app.csrf(&pat).await;
    let done = pat
        .post_form(&app.url("/profiles/unlink"), &[("csrf".into(), csrf), ("profile_id".into(), "CUST-1".into())])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    app.notify_portals().await;
    assert_logged_out(&app, &demo, DEMO_PORTAL, &id_token).await;
    let trail = app.keys().await;
    assert!(
        trail.iter().any(|(pk, sk)| pk == "AUDIT#PROFILE#CUST-1" && sk.contains("#portal_logged_out#")),
        "on the profile's trail: {trail:?}"
    );

    assert!(other.tokens().is_empty(), "the other portal never got a code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_revoke_tells_the_portal() {
    let (demo, other) = (Receiver::start().await, Receiver::start().await);
    let app = app_with(&demo, &other).await;
    let pat = pat_with_both_profiles(&app).await;
    let id_token = demo_signs_in(&app, &pat).await;

    // What `profile-link-admin links revoke --profile CUST-2 --yes` calls.
    let owner =
        app.store.revoke_owner(&ProfileId::parse("CUST-2").unwrap(), "alice@support", app.clock_now()).await.unwrap();
    assert!(owner.is_some(), "CUST-2 was pat's");
    app.notify_portals().await;
    assert_logged_out(&app, &demo, DEMO_PORTAL, &id_token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_by_another_sign_in_tells_the_previous_identitys_portals() {
    let (demo, other) = (Receiver::start().await, Receiver::start().await);
    let app = app_with(&demo, &other).await;
    let pat = pat_with_both_profiles(&app).await;
    let id_token = demo_signs_in(&app, &pat).await;

    // sam asks for pat's address; whoever reads pat's inbox confirms as sam.
    sam_takes_over(&app, "Doe Family Bakery").await;

    app.notify_portals().await;
    assert_logged_out(&app, &demo, DEMO_PORTAL, &id_token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_that_is_down_gets_the_token_once_it_is_back() {
    let mut demo = Receiver::not_listening().await;
    let other = Receiver::start().await;
    let app = app_with(&demo, &other).await;
    let pat = pat_with_both_profiles(&app).await;
    let id_token = demo_signs_in(&app, &pat).await;

    sign_out(&app, &pat, false).await;
    app.notify_portals().await;
    assert!(demo.tokens().is_empty(), "not listening");
    // Not due yet: the sweep waits for the backoff.
    assert_eq!(app.sweep_logouts().await.failed, 0, "not retried before its time");

    // Back, but failing.
    demo.listen().await;
    demo.answer_with(500);
    app.clock.advance(10);
    assert_eq!(app.sweep_logouts().await.failed, 1, "retried after 10 s");
    assert_eq!(demo.tokens().len(), 1, "the failing portal was posted to");
    app.clock.advance(10);
    assert_eq!(app.sweep_logouts().await.failed, 0, "the next retry waits 20 s");

    demo.answer_with(200);
    app.clock.advance(10);
    assert_eq!(app.sweep_logouts().await.delivered, 1);
    let tokens = demo.tokens();
    assert_eq!(tokens.len(), 2, "one more token, accepted");
    let (_, claims) = verify_logout_token(&app, &tokens[1], DEMO_PORTAL).await;
    assert_eq!((&claims["sub"], &claims["sid"]), (&id_token["sub"], &id_token["sid"]), "{claims}");
    app.clock.advance(3600);
    assert_eq!(app.sweep_logouts().await, Default::default(), "delivered: never posted again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_down_for_a_day_is_given_up_on_and_audited() {
    let demo = Receiver::not_listening().await;
    let other = Receiver::start().await;
    let app = app_with(&demo, &other).await;
    let pat = pat_with_both_profiles(&app).await;
    demo_signs_in(&app, &pat).await;
    sign_out(&app, &pat, true).await;
    app.notify_portals().await;

    let mut abandoned = 0;
    for _ in 0..40 {
        app.clock.advance(3600);
        abandoned += app.sweep_logouts().await.abandoned;
    }
    assert_eq!(abandoned, 1, "given up once");
    let trail = app.keys().await;
    assert!(
        trail.iter().any(|(pk, sk)| pk.starts_with("AUDIT#IDENTITY#") && sk.contains("#portal_logout_abandoned#")),
        "the give-up is audited: {trail:?}"
    );
    app.clock.advance(3600);
    assert_eq!(app.sweep_logouts().await, Default::default(), "nothing left to retry");
}
