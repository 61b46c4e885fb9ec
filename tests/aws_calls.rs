//! Exactly which AWS calls each step of an onboarding makes, pinned so that
//! an added round trip fails a test. The figures feed the cost model.

use profile_link_tests::TestApp;
use profile_link_tests::browser::first_post_form;
use reqwest::{Method, StatusCode};

fn ops(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Calls made side by side arrive in either order: compared as a set with counts.
fn sorted(mut calls: Vec<String>) -> Vec<String> {
    calls.sort();
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onboarding_makes_the_minimum_aws_calls() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery"), ("CUST-2", "pat", "Pat Doe", "Consulting")]).await;
    app.calls.take();

    // Sign-in: the transaction is written once (with its network's sign-in
    // counter) and taken once; the callback reads the identity's partition.
    let pat = profile_link_tests::Browser::new();
    let start = pat.request(Method::GET, &app.url("/login")).await;
    assert_eq!(app.calls.take(), ops(&["TransactWriteItems"]), "GET /login");
    let page = pat.follow(start).await;
    let mut form = first_post_form(&page).unwrap();
    form.set("login", "pat");
    form.set("password", "demo");
    let account = pat.submit(&form).await;
    assert_eq!(account.status, StatusCode::OK);
    assert_eq!(
        sorted(app.calls.take()),
        ops(&["GetItem", "Query", "Query", "UpdateItem"]),
        "callback (UpdateItem, the identity) + GET / (the identity's profiles and generation, beside whether this session ended)"
    );

    // The request: the index query beside the identity's, then one transaction, whatever matched.
    let form_page = pat.get(&app.url("/associate")).await;
    assert_eq!(app.calls.take(), ops(&[]), "GET /associate reads nothing");
    let mut request = first_post_form(&form_page).unwrap();
    request.set("email", &app.address("pat"));
    assert_eq!(pat.submit(&request).await.status, StatusCode::OK);
    let two_round_trips = ops(&["GetItem", "Query", "Query", "TransactWriteItems"]);
    assert_eq!(sorted(app.calls.take()), two_round_trips, "POST /associate, 2 profiles");
    request.set("email", &app.address("nobody"));
    pat.submit(&request).await;
    assert_eq!(sorted(app.calls.take()), two_round_trips, "POST /associate, no profile: the same calls");

    // Sending: per email, claim (with the verifier) and record; one SES call.
    app.deliver_stream().await;
    assert_eq!(
        app.calls.take(),
        ops(&["TransactWriteItems", "TransactWriteItems", "TransactWriteItems", "TransactWriteItems"])
    );
    assert_eq!(app.faults.sent(), 2);

    // Redeeming: the click reads nothing; the confirmation page reads the link; confirming reads it and writes once.
    let link =
        app.emails_to(&app.address("pat")).await[0].links().into_iter().find(|l| l.contains("/redeem?token=")).unwrap();
    app.clock.advance(10); // the click comes after the sign-in, so a fresh one is needed
    let click = pat.request(Method::GET, &link).await;
    assert_eq!(app.calls.take(), ops(&[]), "GET /redeem?token=…");
    let to_login = pat.follow_until(click, &app.issuer).await;
    app.calls.take();
    let login_page = pat.get(to_login.as_str()).await;
    let mut form = first_post_form(&login_page).unwrap();
    form.set("login", "pat");
    form.set("password", "demo");
    let confirm_page = pat.submit(&form).await;
    assert_eq!(confirm_page.status, StatusCode::OK, "{}", confirm_page.body);
    assert_eq!(app.calls.take(), ops(&["UpdateItem", "Query", "GetItem"]), "forced sign-in callback + GET /redeem");
    let mut confirm = first_post_form(&confirm_page).unwrap();
    confirm.set("action", "confirm");
    let done = pat.client.post(confirm.action.as_str()).form(&confirm.fields).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(
        sorted(app.calls.take()),
        ops(&["GetItem", "GetItem", "Query", "TransactWriteItems"]),
        "POST /redeem: the link beside the identity and its session, then the transaction: 2 sequential round trips"
    );

    // The notice to the registered address: claim (unless the address is suppressed) and record, one SES call.
    app.deliver_stream().await;
    assert_eq!(app.calls.take(), ops(&["TransactWriteItems", "UpdateItem"]));
    assert_eq!(app.faults.sent(), 3);

    pat.get(&app.url("/me")).await;
    assert_eq!(sorted(app.calls.take()), ops(&["GetItem", "Query"]), "GET /me: the identity beside its session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_sign_in_makes_at_most_two_sequential_aws_round_trips_per_endpoint() {
    use profile_link_tests::portal::{Attempt, DEMO_REDIRECT, demo_token, pat_with_both_profiles, userinfo};
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    app.calls.take();

    // /authorize: the identity's partition (profiles, generation) beside the session's, then the code.
    let answer = pat.request(Method::GET, &attempt.demo_url(&app, &[])).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let code = pat.follow_until(answer, DEMO_REDIRECT).await;
    let code = code.query_pairs().find(|(n, _)| n == "code").map(|(_, v)| v.into_owned()).unwrap();
    assert_eq!(sorted(app.calls.take()), ops(&["GetItem", "PutItem", "Query"]), "GET /authorize (signed in)");

    // /token: one conditional update uses the code, then its session is checked
    // (not signed out since: the identity beside the session); the tokens are signed from what the code held.
    let (status, tokens) = demo_token(&app, &code, &attempt).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(sorted(app.calls.take()), ops(&["GetItem", "Query", "UpdateItem"]), "POST /token");

    // /userinfo: the code's grant (not replayed?), then the identity's profiles as they are now beside its session.
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sorted(app.calls.take()), ops(&["GetItem", "GetItem", "Query"]), "GET /userinfo");

    // Discovery and a refused request read nothing.
    reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap();
    let refused = pat.request(Method::GET, &attempt.url(&app, "nobody", DEMO_REDIRECT, &[])).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.calls.take(), ops(&[]), "discovery, and an unknown client at /authorize");
}
