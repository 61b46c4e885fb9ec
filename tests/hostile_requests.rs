//! Generated garbage at every endpoint of the real routers: query strings for
//! the GET routes, form bodies (signed in, so parsing is reached) for the POST
//! routes. Nothing may answer 5xx or drop the connection (a panic would), and
//! no POST without this session's CSRF token may write anything.

use profile_link_tests::TestApp;
use profile_link_tests::browser::Browser;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;

const CASES: usize = 150;

/// URL-ish text: key=value pairs from a tricky alphabet, sometimes malformed on purpose.
fn garbage() -> impl Strategy<Value = String> {
    let word = "[a-z_]{0,8}|%[0-9A-Fa-f]{0,2}|%00|%ff|%C3%28|[=&;+.?#/\\\\]{1,3}|token|csrf|state|code|email|action|return_to|profile_id|[\\x00-\\x7f]{0,12}|é|Ｐ";
    proptest::collection::vec(proptest::string::string_regex(word).unwrap(), 0..12).prop_map(|parts| parts.concat())
}

/// POSTs `body` as a form to `path` as `browser`: its status, which is never a 5xx.
async fn post_form_body(app: &TestApp, browser: &Browser, path: &str, body: &str) -> StatusCode {
    let response = browser
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path} {body:?}: {e}"));
    let status = response.status();
    assert!(status.as_u16() < 500, "POST {path} {body:?} answered {status}");
    status
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
        for path in [
            "/login",
            "/login/callback/dev",
            "/redeem",
            "/not-me",
            "/",
            "/me",
            "/associate",
            "/.well-known/jwks.json",
            "/authorize",
            "/end-session",
            "/userinfo",
            "/.well-known/openid-configuration",
        ] {
            let query = sample();
            let url = format!("{}{path}?{}", app.base, query.replace(['#', ' ', '\n', '\r'], ""));
            let response = pat.client.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
            assert!(response.status().as_u16() < 500, "GET {url} answered {}", response.status());
            answered += 1;
        }
        for path in ["/associate", "/redeem", "/redeem/resend", "/not-me", "/profiles/unlink", "/logout"] {
            let body = sample();
            let status = post_form_body(&app, &pat, path, &body).await;
            assert!(
                matches!(
                    status,
                    StatusCode::FORBIDDEN
                        | StatusCode::BAD_REQUEST
                        | StatusCode::PAYLOAD_TOO_LARGE
                        | StatusCode::UNSUPPORTED_MEDIA_TYPE
                        | StatusCode::UNPROCESSABLE_ENTITY
                ),
                "POST {path} {body:?} without this session's CSRF token (or a link's token) answered {status}"
            );
            answered += 1;
        }
        // The portals' provider: no CSRF token there (the portal's server, or a
        // page that asks first), but garbage changes nothing and never fails.
        for path in ["/token", "/userinfo", "/authorize", "/end-session"] {
            post_form_body(&app, &pat, path, &sample()).await;
            answered += 1;
        }
    }
    assert_eq!(answered, CASES * 22);
    let after: Vec<(String, String)> =
        app.keys().await.into_iter().filter(|(pk, _)| !pk.starts_with("LOGIN#")).collect();
    assert_eq!(before, after, "garbage wrote nothing but sign-in transactions");
    assert_eq!(pat.get(&app.url("/me")).await.status, StatusCode::OK, "and pat is still signed in");
}

/// Issue [10], 6: `GET /login` writes a sign-in transaction before the
/// provider answers, and used to do so for every request without limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_started_from_one_network_are_limited() {
    let mut options = profile_link_tests::TestOptions::default();
    options.limits.sign_ins_per_ip = 3;
    let app = TestApp::spawn_with_options(options).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for n in 1..=3 {
        let response = client.get(app.url("/login")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in {n} goes to the provider");
    }
    let refused = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "the fourth sign-in from one network");
    let retry_after: i64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "Retry-After: {retry_after}");
    let body = refused.text().await.unwrap();
    assert!(body.contains("Too many sign-ins"), "{body}");
    assert_eq!(app.count_with_prefix("LOGIN#").await, 3, "no transaction written for the refused one");
}

/// Issue [16], 3: behind CloudFront the source address is CloudFront's, so
/// the deployment trusts `CloudFront-Viewer-Address`, but only on requests
/// carrying the proxy's secret: with it each viewer has a budget of its own;
/// without it (a client that reached the API around the proxy) a viewer
/// address the client wrote is ignored and the source address's budget spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_each_viewer_counts_under_its_own_address_only_with_the_proxys_secret() {
    use profile_link_core::domain::client_address::{ClientAddresses, ORIGIN_SECRET_HEADER, ReportedBy};
    const SECRET: &str = "5ad1e0c3a9f24b7e8c6d0f1a2b3c4d5e";
    let mut options = profile_link_tests::TestOptions::default();
    options.limits.sign_ins_per_ip = 2;
    options.client_addresses =
        ClientAddresses::trusting(ReportedBy::CloudFrontViewerAddress, profile_link_core::secrets::Secret::new(SECRET));
    let app = TestApp::spawn_with_options(options).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let sign_in = |viewer: &'static str, secret: Option<&'static str>| {
        let mut request = client.get(app.url("/login")).header("cloudfront-viewer-address", viewer);
        if let Some(secret) = secret {
            request = request.header(ORIGIN_SECRET_HEADER, secret);
        }
        async move { request.send().await.unwrap().status() }
    };
    for viewer in ["198.51.100.7:40001", "198.51.100.8:40002", "2001:db8:1:2::7:40003"] {
        for n in 1..=2 {
            assert_eq!(sign_in(viewer, Some(SECRET)).await, StatusCode::SEE_OTHER, "{viewer}'s sign-in {n}");
        }
        assert_eq!(sign_in(viewer, Some(SECRET)).await, StatusCode::TOO_MANY_REQUESTS, "{viewer}'s third");
    }
    // Around the proxy, or with a wrong secret: the viewer address is the client's own writing.
    assert_eq!(sign_in("203.0.113.1:1", None).await, StatusCode::SEE_OTHER, "counted under 127.0.0.1");
    assert_eq!(sign_in("203.0.113.2:1", Some("not-the-secret")).await, StatusCode::SEE_OTHER, "127.0.0.1 again");
    assert_eq!(
        sign_in("203.0.113.3:1", None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "a third viewer address written by the client still spends 127.0.0.1's budget"
    );
    // A malformed report with the secret: the proxy's (source) address, never a new budget.
    assert_eq!(
        sign_in("203.0.113.4", Some(SECRET)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "no port: counted under the source address, whose budget is spent"
    );
    let networks: std::collections::BTreeSet<String> =
        app.keys().await.into_iter().map(|(pk, _)| pk).filter(|pk| pk.starts_with("RATE#SIGN-IN#")).collect();
    let expected = ["127.0.0.1", "198.51.100.7", "198.51.100.8", "2001:db8:1:2::/64"];
    assert_eq!(
        networks,
        expected.iter().map(|n| format!("RATE#SIGN-IN#{n}")).collect(),
        "one counter per viewer network and one for the source address"
    );
}

/// Issue [10], 6: every replay of a used link used to add a 400-day audit entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_link_is_audited_once_per_identity_and_refusal() {
    use profile_link_tests::flow::{confirm, open, request_and_deliver};
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery")]).await;
    let pat = app.signed_in("pat").await;
    let link = request_and_deliver(&app, &pat, &app.address("pat")).await.remove(0);
    let page = open(&pat, &link, "pat").await;
    let form = profile_link_tests::browser::first_post_form(&page).unwrap();
    assert_eq!(confirm(&pat, &page, "confirm").await.status, StatusCode::OK);
    let audit_items = app.count_with_prefix("AUDIT#").await;
    for replay in 1..=5 {
        let mut again = form.clone();
        again.set("action", "confirm");
        let refused = pat.submit(&again).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "replay {replay}: {}", refused.body);
    }
    assert_eq!(app.count_with_prefix("AUDIT#").await, audit_items + 1, "one refused_used entry for five replays");
}
