//! Generated garbage at every endpoint of the real routers: query strings for
//! the GET routes, form bodies (signed in, so parsing is reached) for the POST
//! routes. Nothing may answer 5xx or drop the connection (a panic would), and
//! no POST without this session's CSRF token may write anything.

use profile_link_tests::TestApp;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;

const CASES: usize = 150;

/// URL-ish text: key=value pairs from a tricky alphabet, sometimes malformed on purpose.
fn garbage() -> impl Strategy<Value = String> {
    let word = "[a-z_]{0,8}|%[0-9A-Fa-f]{0,2}|%00|%ff|%C3%28|[=&;+.?#/\\\\]{1,3}|token|csrf|state|code|email|action|return_to|profile_id|[\\x00-\\x7f]{0,12}|é|Ｐ";
    proptest::collection::vec(proptest::string::string_regex(word).unwrap(), 0..12).prop_map(|parts| parts.concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_gets_a_server_error_and_writes_nothing_unauthorised() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery")]).await;
    let pat = app.signed_in("pat").await;
    let mut runner = TestRunner::deterministic();
    let strategy = garbage();
    let mut sample = || strategy.new_tree(&mut runner).unwrap().current();

    let before: Vec<(String, String)> =
        app.keys().await.into_iter().filter(|(pk, _)| !pk.starts_with("LOGIN#")).collect();
    let mut answered = 0;
    for _ in 0..CASES {
        for path in ["/login", "/login/callback", "/redeem", "/", "/me", "/associate", "/.well-known/jwks.json"] {
            let query = sample();
            let url = format!("{}{path}?{}", app.base, query.replace(['#', ' ', '\n', '\r'], ""));
            let response = pat.client.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
            assert!(response.status().as_u16() < 500, "GET {url} answered {}", response.status());
            answered += 1;
        }
        for path in ["/associate", "/redeem", "/redeem/resend", "/profiles/unlink", "/logout"] {
            let body = sample();
            let response = pat
                .client
                .post(app.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {path} {body:?}: {e}"));
            let status = response.status();
            assert!(status.as_u16() < 500, "POST {path} {body:?} answered {status}");
            assert!(
                matches!(
                    status,
                    StatusCode::FORBIDDEN
                        | StatusCode::BAD_REQUEST
                        | StatusCode::PAYLOAD_TOO_LARGE
                        | StatusCode::UNSUPPORTED_MEDIA_TYPE
                        | StatusCode::UNPROCESSABLE_ENTITY
                ),
                "POST {path} {body:?} without this session's CSRF token answered {status}"
            );
            answered += 1;
        }
    }
    assert_eq!(answered, CASES * 12);
    let after: Vec<(String, String)> =
        app.keys().await.into_iter().filter(|(pk, _)| !pk.starts_with("LOGIN#")).collect();
    assert_eq!(before, after, "garbage wrote nothing but sign-in transactions");
    assert_eq!(pat.get(&app.url("/me")).await.status, StatusCode::OK, "and pat is still signed in");
}
