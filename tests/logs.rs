//! Logs say what happened and never hold a secret: the whole seed flow runs
//! with every log line captured (as JSON, as in Lambda), and the capture is
//! searched for everything that must not be there.

use std::sync::OnceLock;

use profile_link_tests::TestApp;
use profile_link_tests::browser::first_post_form;
use profile_link_tests::log_capture::LogCapture;
use reqwest::StatusCode;

/// Every log line of this test process, as JSON (as in Lambda); one
/// subscriber for the process, whichever test starts first.
fn capture() -> LogCapture {
    static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = LogCapture::default();
            tracing::dispatcher::set_global_default(capture.dispatch()).expect("the only subscriber");
            capture
        })
        .clone()
}

fn request_lines(capture: &LogCapture) -> Vec<serde_json::Value> {
    capture.json_lines().into_iter().filter(|l| l["message"] == "request").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_flow_logs_one_line_per_request_and_no_secrets() {
    let capture = capture();

    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery")]).await;
    let pat = app.signed_in("pat").await;
    let csrf = app.csrf(&pat).await;
    pat.post_form(&app.url("/associate"), &[("email".into(), app.address("pat")), ("csrf".into(), csrf)]).await;
    app.deliver_stream().await;
    let link =
        app.emails_to(&app.address("pat")).await[0].links().into_iter().find(|l| l.contains("/redeem?token=")).unwrap();
    let page = pat.sign_in(&link, "pat", "demo").await;
    let mut form = first_post_form(&page).unwrap();
    form.set("action", "confirm");
    assert_eq!(pat.submit(&form).await.status, StatusCode::OK);
    let session = pat.cookie(&app.base, "pl_session").unwrap();
    // The "now linked" notice, then SES reports a hard bounce of the link email: both log too.
    app.deliver_stream().await;
    let link_id = link.split_once("token=").unwrap().1.split_once('.').unwrap().0;
    app.ses_event_for_link(link_id, "hard-bounce").await;

    // A portal signs pat in (and replays its code, which is logged): nothing of the exchange is.
    use profile_link_tests::portal::{Attempt, DEMO_SECRET, demo_code, demo_token, userinfo};
    let attempt = Attempt::new();
    let code = demo_code(&app, &pat, &attempt).await;
    let (status, tokens) = demo_token(&app, &code, &attempt).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &access_token).await.0, StatusCode::OK);
    assert_eq!(demo_token(&app, &code, &attempt).await.0, StatusCode::BAD_REQUEST);

    let logs = capture.text();
    assert!(logs.contains("authorization code replayed"), "a replay is logged");
    let token = link.split_once("token=").unwrap().1;
    let verifier = token.split_once('.').unwrap().1;
    let secrets = [
        ("the link's verifier", verifier.to_owned()),
        ("the session token", session.clone()),
        ("the session token's signature", session.rsplit('.').next().unwrap().to_owned()),
        ("the registered address", app.address("pat")),
        ("the sign-in's email claim", "pat.doe@mail.example.net".to_owned()),
        ("the CSRF token", app.sessions.verify(&session, app.clock_now()).unwrap().csrf),
        ("the dev client secret", "local-dev-secret".to_owned()),
        ("a portal's authorization code", code.clone()),
        ("a portal's access token", access_token.clone()),
        ("a portal's ID token signature", id_token.rsplit('.').next().unwrap().to_owned()),
        ("a portal's client secret", DEMO_SECRET.to_owned()),
        ("a portal's PKCE verifier", attempt.verifier.clone()),
        ("a portal's state", attempt.state.clone()),
        ("a portal's nonce", attempt.nonce.clone()),
    ];
    for (what, secret) in &secrets {
        assert!(!logs.contains(secret.as_str()), "the logs contain {what}");
    }

    // One structured line per request, with the route pattern and no query string.
    let requests: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "request")
        .collect();
    let routes: Vec<&str> = requests.iter().map(|r| r["route"].as_str().unwrap()).collect();
    for route in
        ["/login", "/login/callback/{provider}", "/", "/associate", "/redeem", "/authorize", "/token", "/userinfo"]
    {
        assert!(routes.contains(&route), "no request line for {route}: {routes:?}");
    }
    for line in &requests {
        assert!(line["status"].as_u64().is_some() && line["latency_ms"].as_f64().is_some(), "{line}");
        assert!(
            line["cold_start"].is_boolean() && line["request_id"].is_string() && line["method"].is_string(),
            "saw {line}"
        );
        assert!(!line.to_string().contains("token="), "no query strings in request lines");
    }
    assert_eq!(requests.iter().filter(|r| r["cold_start"] == true).count(), 1, "one cold start per process");

    // One line per invocation of the event-driven functions, with their counts.
    let invocations: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "invocation")
        .collect();
    for line in &invocations {
        assert!(
            line["cold_start"].is_boolean() && line["request_id"].is_string() && line["latency_ms"].is_f64(),
            "saw {line}"
        );
        assert!(line["records"].as_u64().is_some_and(|n| n >= 1), "{line}");
    }
    let of = |function: &str| invocations.iter().filter(|l| l["function"] == function).collect::<Vec<_>>();
    let sent: u64 = of("send-emails").iter().map(|l| l["sent"].as_u64().unwrap()).sum();
    assert_eq!(sent, 2, "the link email and the notice");
    assert!(
        of("send-emails").iter().all(|l| l["failed"] == 0 && l["suppressed"] == 0 && l["skipped"].is_u64()),
        "saw {:?}",
        of("send-emails")
    );
    assert_eq!(of("send-emails").iter().filter(|l| l["cold_start"] == true).count(), 1);
    assert_eq!(of("ses-events").len(), 1);
    assert_eq!(
        (of("ses-events")[0]["hard_bounces"].as_u64(), of("ses-events")[0]["suppressed"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(logs.contains("p***@"), "the bounced address is logged masked");
}

/// [15] A configuration error is one line that names the variable, whatever
/// RUST_BACKTRACE says: never main's Debug print or a backtrace burying it.
/// The dev server builds every function's state as their Lambda mains do,
/// and both end a failed start through `startup::exit_cannot_start`.
#[test]
fn a_configuration_error_stops_the_start_with_one_line_naming_the_variable() {
    for format in ["text", "json"] {
        let output = std::process::Command::new(profile_link_tests::built_binary("profile-link-dev-server"))
            .env_clear()
            .env("RUST_BACKTRACE", "1")
            .env("RUST_LIB_BACKTRACE", "1")
            .env("AWS_REGION", "eu-west-1")
            .env("LOG_FORMAT", format)
            .output()
            .expect("the dev server runs");
        let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let lines: Vec<&str> = printed.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(output.status.code(), Some(1), "{format}: {printed}");
        assert_eq!(lines.len(), 1, "{format}: one line, saw {}: {printed}", lines.len());
        assert!(
            lines[0].contains(
                "cannot start: login function configuration: configuration: SUPPORT_EMAIL: is required but not set"
            ),
            "{format}: {printed}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_answer_shows_a_reference_its_log_line_carries() {
    let capture = capture();
    let app = TestApp::spawn().await;
    let browser = profile_link_tests::browser::Browser::new();

    // An HTML error page: a link that is no link.
    let page = browser.get(&app.url("/redeem?token=not-a-link")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    let quoted = "please quote reference ";
    let reference: String = page
        .body
        .split_once(quoted)
        .unwrap_or_else(|| panic!("no reference on the error page: {}", page.body))
        .1
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    assert_eq!(reference.len(), 12, "a short reference: {reference:?}");
    assert!(page.body.contains("</p>\n</main>"), "inside the page's main part: {}", page.body);

    // A JSON error: a token request with no client credentials.
    let answer = reqwest::Client::new()
        .post(app.url("/token"))
        .form(&[("grant_type", "authorization_code"), ("code", "nope")])
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let json: serde_json::Value = answer.json().await.unwrap();
    assert!(status.is_client_error(), "{status} {json}");
    let json_reference = json["reference"].as_str().unwrap_or_else(|| panic!("no reference in {json}")).to_owned();
    assert_eq!(json["error"], "invalid_client", "the OAuth error is intact: {json}");

    // Each is the reference of its request's one log line, which names its request id.
    for (reference, route, status) in [(&reference, "/redeem", 400), (&json_reference, "/token", status.as_u16())] {
        let lines: Vec<serde_json::Value> =
            request_lines(&capture).into_iter().filter(|l| l["reference"] == reference.as_str()).collect();
        assert_eq!(lines.len(), 1, "one log line with reference {reference}: {lines:?}");
        assert_eq!((lines[0]["route"].as_str(), lines[0]["status"].as_u64()), (Some(route), Some(u64::from(status))));
        let request_id = lines[0]["request_id"].as_str().unwrap();
        assert!(request_id.starts_with(reference.as_str()), "{reference} begins request id {request_id}");
    }
}
