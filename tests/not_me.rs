//! "I didn't ask for this" (issue [10], 4): whoever receives a link email
//! they never asked for can stop the request from the email itself, without
//! signing in; the page another sign-in sees offers the same. Before the fix
//! only the identity that asked could say "not me", on its confirmation page.

use profile_link_core::domain::profile::ProfileId;
use profile_link_core::metrics;
use profile_link_tests::TestApp;
use profile_link_tests::browser::{Browser, first_post_form, post_forms};
use profile_link_tests::flow::{associations, link_id, open, request_and_deliver};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The "I didn't ask for this" links in every email sent to `address`, oldest first.
async fn not_me_links(app: &TestApp, address: &str) -> Vec<String> {
    let mut links = Vec::new();
    for email in app.emails_to(address).await {
        let found: Vec<String> = email.links().into_iter().filter(|l| l.contains("/not-me?token=")).collect();
        assert_eq!(found.len(), 1, "each link email carries one \"not me\" link; saw {:?} in {}", found, email.body);
        links.extend(found);
    }
    links
}

async fn events(app: &TestApp, profile: &str) -> Vec<(String, Option<String>)> {
    let trail = app.store.audit_trail(&ProfileId::parse(profile).unwrap()).await.unwrap();
    trail.into_iter().map(|r| (r.event, r.detail)).collect()
}

fn cancelled(lines: &[Value], via: &str) -> f64 {
    lines
        .iter()
        .filter(|l| l.get("RequestsCancelled").is_some() && l["Via"] == via)
        .map(|l| l["RequestsCancelled"].as_f64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mailbox_owner_cancels_a_request_they_never_made() {
    let captured = metrics::capture("profile-link-not-me");
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery"), ("CUST-2", "pat", "Pat Doe", "Consulting")]).await;
    // sam asks for links to pat's address; pat gets two emails.
    let sam = app.signed_in("sam").await;
    let redeem_links = request_and_deliver(&app, &sam, &app.address("pat")).await;
    let cancel_links = not_me_links(&app, &app.address("pat")).await;
    assert_eq!(cancel_links.len(), 2, "one per email");

    // Opening it (as a mail scanner would, too) changes nothing.
    let before = app.snapshot().await;
    let inbox = Browser::new();
    let page = inbox.get(&cancel_links[0]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("ask for this?") && page.body.contains("Bakery"), "{}", page.body);
    assert_eq!(post_forms(&page).len(), 1, "one button: {}", page.body);
    assert_eq!(inbox.request(Method::HEAD, &cancel_links[1]).await.status(), StatusCode::OK);
    assert_eq!(app.snapshot().await, before, "GET and HEAD of the page wrote nothing");

    // One click, not signed in: every link of the request is cancelled.
    let done = inbox.submit(&first_post_form(&page).unwrap()).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Request cancelled"), "{}", done.body);
    for link in &redeem_links {
        let item = app.link_item(link_id(link)).await;
        assert_eq!(item["state"].as_s().unwrap(), "burned", "link {} after the cancel: {item:?}", link_id(link));
    }
    for profile in ["CUST-1", "CUST-2"] {
        let trail = events(&app, profile).await;
        let reported: Vec<_> = trail.iter().filter(|(e, _)| e == "reported_not_me").collect();
        assert_eq!(reported.len(), 1, "{profile}'s audit trail: {trail:?}");
        assert!(reported[0].1.as_deref().is_some_and(|d| d.contains("didn't ask")), "{reported:?}");
    }

    // The links no longer work for the one who asked.
    let refused = open(&sam, &redeem_links[0], "sam").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("cancelled"), "says the link was cancelled: {}", refused.body);
    assert_eq!(associations(&app).await, 0);

    // A second click cancels nothing more and records nothing more.
    let audit_items = app.count_with_prefix("AUDIT#").await;
    let again = inbox.submit(&first_post_form(&page).unwrap()).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("Nothing left to cancel"), "{}", again.body);
    assert_eq!(app.count_with_prefix("AUDIT#").await, audit_items);
    assert_eq!(cancelled(&captured.lines(), "mailbox"), 1.0, "one RequestsCancelled{{Via=mailbox}}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_garbled_token_cancels_nothing() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery")]).await;
    let pat = app.signed_in("pat").await;
    let link = request_and_deliver(&app, &pat, &app.address("pat")).await.remove(0);
    let token = link.split_once("token=").unwrap().1;
    let (selector, _) = token.split_once('.').unwrap();
    let before = app.snapshot().await;
    let anyone = Browser::new();
    for bad in [format!("{selector}.{}", "A".repeat(43)), "garbage".to_owned(), String::new()] {
        let page = anyone.get(&app.url(&format!("/not-me?token={bad}"))).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "GET with {bad:?}: {}", page.body);
        let posted = anyone.post_form(&app.url("/not-me"), &[("token".into(), bad.clone())]).await;
        assert_eq!(posted.status, StatusCode::BAD_REQUEST, "POST with {bad:?}: {}", posted.body);
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_account_page_offers_to_cancel_the_request() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery"), ("CUST-2", "pat", "Pat Doe", "Consulting")]).await;
    let pat = app.signed_in("pat").await;
    let links = request_and_deliver(&app, &pat, &app.address("pat")).await;

    // sam, who reads pat's mail, opens a link signed in as sam.
    let sam = Browser::new();
    let page = open(&sam, &links[0], "sam").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    let cancel = post_forms(&page)
        .into_iter()
        .find(|f| f.action.path() == "/not-me")
        .unwrap_or_else(|| panic!("no cancel button on the wrong-account page: {}", page.body));
    let done = sam.submit(&cancel).await;
    assert!(done.body.contains("Request cancelled"), "{}", done.body);
    for link in &links {
        assert_eq!(app.link_item(link_id(link)).await["state"].as_s().unwrap(), "burned");
    }
    let trail = events(&app, "CUST-2").await;
    assert!(
        trail
            .iter()
            .any(|(e, d)| e == "reported_not_me" && d.as_deref().is_some_and(|d| d.contains("another sign-in"))),
        "{trail:?}"
    );
}
