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
