//! The steps of the seed flow as a person takes them, shared by the tests
//! that walk it (redeem, association, faults).

use crate::TestApp;
use crate::browser::{Browser, Page, first_post_form};

/// Asks for links to the profiles registered under `address` (the form's POST, with the session's CSRF token).
pub async fn request(app: &TestApp, browser: &Browser, address: &str) -> Page {
    let csrf = app.csrf(browser).await;
    browser.post_form(&app.url("/associate"), &[("email".into(), address.into()), ("csrf".into(), csrf)]).await
}

/// `browser` asks for links to `address`, the stream delivers them: the redeem
/// links in every email sent to `address` so far, oldest first.
pub async fn request_and_deliver(app: &TestApp, browser: &Browser, address: &str) -> Vec<String> {
    let page = request(app, browser, address).await;
    assert_eq!(page.status, reqwest::StatusCode::OK, "the request for {address}: {}", page.body);
    app.deliver_stream().await;
    links_to(app, address).await
}

/// The redeem links in every email sent to `address`, oldest first.
pub async fn links_to(app: &TestApp, address: &str) -> Vec<String> {
    links_naming(app, address, "").await
}

/// The redeem links in the emails to `address` whose text mentions `needle` (a profile's organization).
pub async fn links_naming(app: &TestApp, address: &str, needle: &str) -> Vec<String> {
    let mut links = Vec::new();
    for email in app.emails_to(address).await.into_iter().filter(|e| e.body.contains(needle)) {
        links.extend(email.links().into_iter().filter(|l| l.contains("/redeem?token=")));
    }
    links
}

/// Opens a link as a person does: the forced sign-in at the provider, then the confirmation page.
pub async fn open(browser: &Browser, link: &str, user: &str) -> Page {
    browser.sign_in(link, user, "demo").await
}

/// Submits the confirmation page's form with `action` (`confirm` or `deny`).
pub async fn confirm(browser: &Browser, page: &Page, action: &str) -> Page {
    let mut form =
        first_post_form(page).unwrap_or_else(|| panic!("no confirmation form on {}: {}", page.url, page.body));
    form.set("action", action);
    browser.submit(&form).await
}

/// Identity → profile associations in the table.
pub async fn associations(app: &TestApp) -> usize {
    app.keys().await.iter().filter(|(pk, sk)| pk.starts_with("IDENTITY#") && sk.starts_with("PROFILE#")).count()
}

/// A redeem link's link id (the token's selector).
pub fn link_id(link: &str) -> &str {
    let token = link.split_once("token=").map(|(_, t)| t).expect("link has a token");
    token.split_once('.').map(|(selector, _)| selector).expect("token has a selector")
}

/// sam asks for links to pat's address, and whoever reads pat's inbox confirms
/// sam's link to the profile of `organization`: it is sam's now, not pat's. sam's browser.
pub async fn sam_takes_over(app: &TestApp, organization: &str) -> Browser {
    let sam = app.signed_in("sam").await;
    request(app, &sam, &app.address("pat")).await;
    app.deliver_stream().await;
    let for_sam: Vec<String> = app
        .emails_to(&app.address("pat"))
        .await
        .into_iter()
        .filter(|e| e.body.contains("s***@mail.example.net") && e.body.contains(organization))
        .flat_map(|e| e.links())
        .filter(|l| l.contains("/redeem?token="))
        .collect();
    assert_eq!(for_sam.len(), 1, "one link for sam to {organization}");
    let page = open(&sam, &for_sam[0], "sam").await;
    let done = confirm(&sam, &page, "confirm").await;
    assert_eq!(done.status, reqwest::StatusCode::OK, "{}", done.body);
    sam
}
