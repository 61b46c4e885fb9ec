//! Issue 23, items 6 and 7: the portals' list is configuration that cannot
//! break the other portals (a bad entry, or a missing secret, is refused
//! alone: logged, counted, alarmed), and a browser-only portal (a public
//! client) can read discovery, JWKS, `/token` and `/userinfo` from its own
//! origin, while no other origin can.

use profile_link_core::config::Env;
use profile_link_core::metrics;
use profile_link_tests::TestApp;
use profile_link_tests::log_capture::LogCapture;
use reqwest::{Method, StatusCode};

/// The public client of the test app's list (`spa`, redirect URI https://spa.example.com/cb).
const SPA_ORIGIN: &str = "https://spa.example.com";
const OTHER_ORIGIN: &str = "https://elsewhere.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_client_or_a_missing_secret_is_refused_alone_and_the_others_start() {
    let sdk = profile_link_tests::sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let path = format!("/test-{}/portals/", profile_link_core::random::token(6).replace(['-', '_'], "x"));
    let stored = format!("{path}stored");
    profile_link_tests::put_secure_string(&ssm, &stored, "stored-secret-0123456789").await;
    let clients = format!(
        r#"[
        {{"id": "good", "name": "Good", "redirect_uris": ["https://good.example/cb"], "client_secret": "good-secret-0123456789"}},
        {{"id": "bad-uri", "name": "Bad", "redirect_uris": ["http://bad.example/cb"], "client_secret": "bad-secret-0123456789"}},
        42,
        {{"id": "in-ssm", "name": "In SSM", "redirect_uris": ["https://ssm.example/cb"], "client_secret_parameter": "{stored}"}},
        {{"id": "lost", "name": "Lost", "redirect_uris": ["https://lost.example/cb"], "client_secret_parameter": "{path}nobody-wrote-this"}},
        {{"id": "spa", "name": "SPA", "redirect_uris": ["https://spa.example/cb"], "token_endpoint_auth_method": "none"}}
    ]"#
    );
    let env = |clients: &str| {
        Env::from_pairs([
            ("TABLE_NAME", "unused"),
            ("PUBLIC_BASE_URL", "https://link.example.com"),
            ("SUPPORT_EMAIL", "support@example.com"),
            ("OPERATOR_NAME", "Example Ltd"),
            ("MAIL_FROM", "no-reply@example.com"),
            ("SESSION_SIGNING_KEY", &profile_link_core::SessionKeys::generate_pem()),
            ("PORTAL_CLIENTS", clients),
            ("PORTAL_SECRETS_PATH", &path),
        ])
    };
    let captured = metrics::capture("profile-link-test");
    let logs = LogCapture::default();
    let app = {
        let _logging = tracing::dispatcher::set_default(&logs.dispatch());
        profile_link_token::TokenApp::from_env(&env(&clients), &sdk).await
    };
    let app = app.unwrap_or_else(|e| panic!("one bad entry stopped the function: {e}"));
    let kept: Vec<&str> = app.clients.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(kept, ["good", "in-ssm", "spa"], "the well-formed clients with their secrets are kept");

    // One structured line per refusal, naming the client and the problem.
    let refusals: Vec<serde_json::Value> = logs
        .json_lines()
        .into_iter()
        .filter(|l| l["message"].as_str().is_some_and(|m| m.starts_with("portal client refused")))
        .collect();
    let named: Vec<(&str, &str)> =
        refusals.iter().map(|l| (l["client"].as_str().unwrap(), l["problem"].as_str().unwrap())).collect();
    assert_eq!(named.len(), 3, "{}", logs.text());
    assert_eq!(named[0].0, "bad-uri");
    assert!(named[0].1.contains("plain http only on 127.0.0.1"), "{named:?}");
    assert_eq!(named[1].0, "(no readable id)");
    assert!(named[1].1.contains("invalid type"), "{named:?}");
    assert_eq!(named[2].0, "lost");
    assert!(named[2].1.contains("nobody-wrote-this") && named[2].1.contains("not in SSM"), "{named:?}");
    assert!(!logs.text().contains("secret-0123456789"), "no secret is logged: {}", logs.text());

    // Counted under the function's name, for the alarm.
    let counted: Vec<serde_json::Value> =
        captured.take().into_iter().filter(|l| l.get("PortalClientRefused").is_some()).collect();
    assert_eq!(counted.len(), 3, "{counted:?}");
    assert!(counted.iter().all(|l| l["Function"] == "token" && l["PortalClientRefused"] == 1), "{counted:?}");

    // A value that is no list at all is a configuration error naming the variable.
    let error = profile_link_token::TokenApp::from_env(&env("{not json"), &sdk).await.err().expect("refused");
    assert!(error.to_string().contains("PORTAL_CLIENTS") && error.to_string().contains("not a JSON list"), "{error}");
}

async fn send(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut request = client.request(method.clone(), app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if method == Method::POST && path == "/token" {
        request = request.form(&[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", "https://spa.example.com/cb"),
            ("client_id", "spa"),
            ("code_verifier", &"v".repeat(43)),
        ]);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_clients_origin_may_read_token_and_userinfo_and_no_other_origin_may() {
    let app = TestApp::spawn().await;
    for path in ["/token", "/userinfo"] {
        // The preflight a fetch() with a bearer token makes.
        let preflight = send(
            &app,
            Method::OPTIONS,
            path,
            &[
                ("origin", SPA_ORIGIN),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "authorization,content-type"),
            ],
        )
        .await;
        assert!(preflight.status().is_success(), "{path}: preflight answered {}", preflight.status());
        assert_eq!(header(&preflight, "access-control-allow-origin"), Some(SPA_ORIGIN), "{path}: {preflight:?}");
        let allowed = header(&preflight, "access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{path}: {allowed}");
        let methods = header(&preflight, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains("GET") && methods.contains("POST"), "{path}: {methods}");
        assert_eq!(header(&preflight, "access-control-allow-credentials"), None, "{path}: never credentials");

        let elsewhere =
            send(&app, Method::OPTIONS, path, &[("origin", OTHER_ORIGIN), ("access-control-request-method", "POST")])
                .await;
        assert_eq!(header(&elsewhere, "access-control-allow-origin"), None, "{path}: {elsewhere:?}");
    }

    // The real requests: an error answer the page can read, from its origin only.
    let token = send(&app, Method::POST, "/token", &[("origin", SPA_ORIGIN)]).await;
    assert_eq!(token.status(), StatusCode::BAD_REQUEST);
    assert_eq!(header(&token, "access-control-allow-origin"), Some(SPA_ORIGIN), "{token:?}");
    let vary: Vec<String> =
        token.headers().get_all("vary").iter().map(|v| v.to_str().unwrap().to_ascii_lowercase()).collect();
    assert!(vary.iter().any(|v| v.contains("origin")), "caches must key on Origin: {vary:?}");
    assert!(vary.iter().any(|v| v.contains("accept-language")), "and still on the language: {vary:?}");
    assert_eq!(token.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
    let userinfo = send(&app, Method::GET, "/userinfo", &[("origin", SPA_ORIGIN), ("authorization", "Bearer x")]).await;
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&userinfo, "access-control-allow-origin"), Some(SPA_ORIGIN), "{userinfo:?}");
    // A confidential client's origin is no public client's: it calls /token from its server.
    for origin in [OTHER_ORIGIN, "https://portal.example.com", "http://127.0.0.1:3100"] {
        let token = send(&app, Method::POST, "/token", &[("origin", origin)]).await;
        assert_eq!(header(&token, "access-control-allow-origin"), None, "{origin}: {token:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_jwks_are_public_documents_any_origin_may_read() {
    let app = TestApp::spawn().await;
    for path in ["/.well-known/openid-configuration", "/.well-known/jwks.json"] {
        for origin in [SPA_ORIGIN, OTHER_ORIGIN] {
            let got = send(&app, Method::GET, path, &[("origin", origin)]).await;
            assert_eq!(got.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&got, "access-control-allow-origin"), Some("*"), "{path} from {origin}: {got:?}");
            assert_eq!(header(&got, "access-control-allow-credentials"), None, "{path}: never credentials");
        }
        let preflight =
            send(&app, Method::OPTIONS, path, &[("origin", OTHER_ORIGIN), ("access-control-request-method", "GET")])
                .await;
        assert!(preflight.status().is_success(), "{path}: preflight answered {}", preflight.status());
        assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"), "{path}: {preflight:?}");
    }
    // Pages are not documents: the account page allows no other origin.
    let page = send(&app, Method::GET, "/", &[("origin", OTHER_ORIGIN)]).await;
    assert_eq!(header(&page, "access-control-allow-origin"), None, "{page:?}");
}
