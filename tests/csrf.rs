//! Every state-changing POST needs this session's CSRF token: missing, wrong
//! or another session's token gets 403 and changes nothing.

use profile_link_tests::TestApp;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_refuses_a_missing_wrong_or_foreign_csrf_token() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery")]).await;
    let pat = app.signed_in("pat").await;
    let sam = app.signed_in("sam").await;
    let sams_token = app.csrf(&sam).await;
    let token = format!("{}.{}", "A".repeat(22), "B".repeat(43));

    let posts: [(&str, Vec<(&str, String)>); 5] = [
        ("/logout", vec![]),
        ("/associate", vec![("email", app.address("pat"))]),
        ("/redeem", vec![("token", token.clone()), ("action", "confirm".into())]),
        ("/redeem/resend", vec![("token", token.clone())]),
        ("/profiles/unlink", vec![("profile_id", "CUST-1".into())]),
    ];
    let before = app.keys().await;
    for (path, fields) in &posts {
        for csrf in [None, Some("x".repeat(43)), Some(sams_token.clone())] {
            let mut form: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
            if let Some(csrf) = &csrf {
                form.push(("csrf".into(), csrf.clone()));
            }
            let response = pat.client.post(app.url(path)).form(&form).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} with csrf {csrf:?}");
        }
    }
    assert_eq!(app.keys().await, before, "nothing written by any refused POST");
    assert_eq!(pat.get(&app.url("/me")).await.status, StatusCode::OK, "still signed in");
}

/// Issue [10], 7: a new sign-in used to keep the browser's previous CSRF
/// token whoever signed in, so a token seen by one person stayed valid for
/// the next person's session in that browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csrf_token_belongs_to_one_identitys_session() {
    let app = TestApp::spawn().await;
    let shared = app.signed_in("pat").await;
    let pats = app.csrf(&shared).await;

    // pat signing in again keeps the token (forms open in other tabs keep working).
    let again = shared.sign_in(&app.url("/login?fresh=1"), "pat", "demo").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(app.csrf(&shared).await, pats, "pat's re-sign-in keeps pat's token");

    // sam signing in in the same browser gets a token of sam's own.
    let sam = shared.sign_in(&app.url("/login?fresh=1"), "sam", "demo").await;
    assert_eq!(sam.status, StatusCode::OK, "{}", sam.body);
    let me = shared.get(&app.url("/me")).await.json();
    assert_eq!(me["identity"]["name"], "Sam Roe", "sam is signed in now: {me}");
    let sams = app.csrf(&shared).await;
    assert_ne!(sams, pats, "sam's session must not carry pat's CSRF token");
    let form = [("csrf".to_owned(), pats.clone()), ("profile_id".to_owned(), "CUST-1".to_owned())];
    let response = shared.client.post(app.url("/profiles/unlink")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "pat's old token in sam's session");
}
