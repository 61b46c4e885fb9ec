//! Sign-in through the real dev identity provider (oidc-provider) and, for
//! forged ID tokens, through a hostile provider; every refusal is a clear 4xx
//! page that leaves no session and writes nothing.

use profile_link_tests::browser::{Browser, redirect_target};
use profile_link_tests::fake_provider::{self, CLIENT_ID, CLIENT_SECRET, FakeProvider};
use profile_link_tests::{ProviderSettings, TestApp, behind_fault_proxy};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn assert_signed_out(browser: &Browser, app: &TestApp) {
    let me = browser.get(&app.url("/me")).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "expected no session, /me said {}", me.body);
    assert_eq!(me.json()["error"], "not_signed_in");
}

/// Sign-in transactions not yet taken by a callback (a taken one stays until its TTL).
async fn untaken_logins(app: &TestApp) -> usize {
    app.items_with_prefix("LOGIN#", "attribute_not_exists(taken_by)").await.len()
}

/// Signs pat in at the provider but stops before the app's callback; returns its URL.
async fn callback_url_for(browser: &Browser, app: &TestApp, start_path: &str) -> Url {
    let page = browser.get(&app.url(start_path)).await;
    let mut form = profile_link_tests::browser::first_post_form(&page).expect("the provider's login form");
    form.set("login", "pat");
    form.set("password", "demo");
    let response = browser.client.post(form.action.as_str()).form(&form.fields).send().await.unwrap();
    browser.follow_until(response, &app.url("/login/callback/dev")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pat_signs_in_and_lands_on_the_account_page_naming_the_identity() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();

    let page = browser.sign_in(&app.url("/login"), "pat", "demo").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.url.as_str(), app.url("/"));
    assert!(page.body.contains("You are signed in"), "{}", page.body);
    assert!(page.body.contains("Pat Doe"), "saw {:?}", page.body);
    assert!(page.body.contains("pat.doe@mail.example.net"), "saw {:?}", page.body);
    assert!(page.body.contains("No customer profiles are linked"), "saw {:?}", page.body);

    let me = browser.get(&app.url("/me")).await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(me["identity"]["iss"], app.issuer);
    assert_eq!(me["identity"]["sub"], "pat-7f3c9a");
    assert_eq!(me["identity"]["email"], "pat.doe@mail.example.net");
    assert_eq!(me["profiles"], json!([]));

    assert_eq!(app.count_with_prefix("LOGIN#").await, 1, "the one sign-in transaction, kept until its TTL");
    assert_eq!(untaken_logins(&app).await, 0, "the sign-in transaction is taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_redirect_uses_pkce_s256_state_and_nonce_and_stores_a_short_lived_transaction() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    let response = browser.request(Method::GET, &app.url("/login?return_to=/me")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = redirect_target(&response);
    assert!(to.as_str().starts_with(&app.issuer), "saw {:?}", to);
    assert_eq!(query_param(&to, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(query_param(&to, "code_challenge").map(|c| c.len()), Some(43));
    assert_eq!(query_param(&to, "state").map(|s| s.len()), Some(43));
    assert_eq!(query_param(&to, "nonce").map(|s| s.len()), Some(43));
    assert_eq!(query_param(&to, "prompt"), None);

    let keys = app.keys().await;
    let logins: Vec<_> = keys.iter().filter(|(pk, _)| pk.starts_with("LOGIN#")).collect();
    assert_eq!(logins.len(), 1, "{keys:?}");
    assert_eq!(logins[0].0, format!("LOGIN#{}", query_param(&to, "state").unwrap()));
    assert_eq!(keys.len(), 2, "the transaction and its network's sign-in counter: {keys:?}");
    assert!(keys.iter().any(|(pk, _)| pk.starts_with("RATE#SIGN-IN#")), "{keys:?}");
    let item = app
        .store
        .client()
        .get_item()
        .table_name(app.store.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(logins[0].0.clone()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("LOGIN".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires_at: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    let ttl = expires_at - app.clock_now();
    assert!((1..=600).contains(&ttl), "TTL at most 10 minutes, got {ttl}");
    assert!(browser.cookie(&app.base, "pl_browser").is_some(), "bound to the browser by a cookie");

    let fresh = browser.request(Method::GET, &app.url("/login?fresh=1&login_hint=pat")).await;
    let to = redirect_target(&fresh);
    assert_eq!(query_param(&to, "prompt").as_deref(), Some("login"));
    assert_eq!(query_param(&to, "max_age").as_deref(), Some("0"));
    assert_eq!(query_param(&to, "login_hint").as_deref(), Some("pat"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_verifies_with_the_published_jwks_alone() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    browser.sign_in(&app.url("/login"), "sam", "demo").await;

    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(&browser.get(&app.url("/.well-known/jwks.json")).await.body).unwrap();
    let token = browser.cookie(&app.base, "pl_session").expect("session cookie");
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid is published");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[&app.base]);
    validation.set_audience(&[&app.base]);
    let claims = jsonwebtoken::decode::<Value>(&token, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["idp_sub"], "sam-2b81d4");
    assert_eq!(claims["idp_iss"], app.issuer);
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap(), "saw {claims}");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600, "short-lived");
    assert_eq!(claims["profiles"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_to_is_honoured_for_site_paths_and_ignored_for_anything_else() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    let page = browser.sign_in(&app.url("/login?return_to=/me"), "pat", "demo").await;
    assert_eq!(page.url.as_str(), app.url("/me"));
    assert_eq!(page.json()["identity"]["sub"], "pat-7f3c9a");

    for hostile in ["https://evil.example/", "//evil.example", "/%2F%2Fevil.example", "/\\evil.example"] {
        let encoded: String = url::form_urlencoded::byte_serialize(hostile.as_bytes()).collect();
        let page = browser.sign_in(&app.url(&format!("/login?return_to={encoded}")), "pat", "demo").await;
        assert_eq!(page.url.as_str(), app.url("/"), "{hostile} must fall back to /");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_leaves_no_session() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    let page = browser.sign_in(&app.url("/login"), "pat", "wrong").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "the provider re-shows its form");
    assert!(page.url.as_str().starts_with(&app.issuer), "saw {:?}", page.url);
    assert_signed_out(&browser, &app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_is_accepted_once_and_only_from_the_browser_that_started_it() {
    let app = TestApp::spawn().await;
    let owner = Browser::new();
    let callback = callback_url_for(&owner, &app, "/login").await;

    // Another browser presenting the same code and state: refused, and it burns nothing.
    let thief = Browser::new();
    let stolen = thief.get(callback.as_str()).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST);
    assert!(stolen.body.contains("This sign-in has expired"), "{}", stolen.body);
    assert_signed_out(&thief, &app).await;
    assert_eq!(untaken_logins(&app).await, 1, "a foreign browser cannot take the transaction");

    let first = owner.get(callback.as_str()).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("You are signed in"), "saw {:?}", first.body);

    let replay = owner.get(callback.as_str()).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "state is single-use");
    assert!(replay.body.contains("Sign in again"), "saw {:?}", replay.body);
}

/// A load run once told genuine people "unknown, expired or reused" after 2 s:
/// DynamoDB had taken the transaction but answered after the SDK's 2 s
/// attempt timeout, and the SDK's retry found it gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_that_took_effect_but_answered_late_still_signs_the_person_in_and_only_once() {
    let (app, proxy) = behind_fault_proxy().await;
    let owner = Browser::new();
    let callback = callback_url_for(&owner, &app, "/login").await;

    // The first write to the transaction is done at once and answered after 2.5 s.
    proxy.set_rules(vec!["dynamodb/UpdateItem:late=2500ms:first1".parse().unwrap()]);
    let page = owner.get(callback.as_str()).await;
    let stats = proxy.stats();
    assert_eq!(stats.count("dynamodb/UpdateItem", "late"), 1, "the take was answered late: {stats:?}");
    assert_eq!(stats.count("dynamodb/UpdateItem", "forwarded"), 2, "and the SDK sent it again: {stats:?}");
    assert_eq!(page.status, StatusCode::OK, "saw {}", page.body);
    assert!(page.body.contains("You are signed in"), "saw {:?}", page.body);

    // Exactly once all the same: the state cannot be used again.
    proxy.heal();
    let replay = owner.get(callback.as_str()).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "state is single-use, saw {}", replay.body);
    assert!(replay.body.contains("Sign in again"), "saw {:?}", replay.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_callbacks_racing_with_one_state_sign_in_once() {
    let app = TestApp::spawn().await;
    for round in 0..5 {
        let owner = Browser::new();
        let callback = callback_url_for(&owner, &app, "/login").await;
        let (a, b) = tokio::join!(owner.get(callback.as_str()), owner.get(callback.as_str()));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::BAD_REQUEST],
            "round {round}: one callback signs in, the other is refused; saw {} and {}",
            a.body,
            b.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sign_in_is_refused() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    let callback = callback_url_for(&browser, &app, "/login").await;
    app.clock.advance(601);
    let page = browser.get(callback.as_str()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("This sign-in has expired"), "saw {:?}", page.body);
    assert_signed_out(&browser, &app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_callbacks_get_clear_pages_and_no_session() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();

    let missing = browser.get(&app.url("/login/callback/dev?code=abc")).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.body.contains("incomplete"), "{}", missing.body);

    let start = browser.request(Method::GET, &app.url("/login")).await;
    let state = query_param(&redirect_target(&start), "state").unwrap();
    let unknown = browser.get(&app.url("/login/callback/dev?code=abc&state=not-a-real-state")).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    let cancelled = browser.get(&app.url(&format!("/login/callback/dev?error=access_denied&state={state}"))).await;
    assert_eq!(cancelled.status, StatusCode::BAD_REQUEST);
    assert!(cancelled.body.contains("Sign-in was cancelled"), "{}", cancelled.body);
    assert_eq!(untaken_logins(&app).await, 0, "an error answer takes its transaction too");

    let start = browser.request(Method::GET, &app.url("/login")).await;
    let state = query_param(&redirect_target(&start), "state").unwrap();
    let bogus_code = browser.get(&app.url(&format!("/login/callback/dev?code=forged-code&state={state}"))).await;
    assert_eq!(bogus_code.status, StatusCode::BAD_REQUEST, "the provider refuses a code it never issued");
    assert!(bogus_code.body.contains("did not complete"), "{}", bogus_code.body);

    let start = browser.request(Method::GET, &app.url("/login")).await;
    let state = query_param(&redirect_target(&start), "state").unwrap();
    let mixed_up = browser
        .get(&app.url(&format!("/login/callback/dev?code=x&state={state}&iss=https%3A%2F%2Fevil.example")))
        .await;
    assert_eq!(mixed_up.status, StatusCode::BAD_REQUEST, "RFC 9207 iss from another provider");

    assert_signed_out(&browser, &app).await;
    assert!(
        app.keys().await.iter().all(|(pk, _)| pk.starts_with("LOGIN#") || pk.starts_with("RATE#SIGN-IN#")),
        "no session, association or audit items"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_needs_the_sessions_csrf_token() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    let account = browser.sign_in(&app.url("/login"), "pat", "demo").await;

    let forged = browser.post_form(&app.url("/logout"), &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = browser.post_form(&app.url("/logout"), &[("csrf".into(), "guess".into())]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.get(&app.url("/me")).await.status, StatusCode::OK, "still signed in");

    // Another session's token does not work either.
    let other = Browser::new();
    let other_account = other.sign_in(&app.url("/login"), "sam", "demo").await;
    let other_form = profile_link_tests::browser::first_post_form(&other_account).unwrap();
    let cross = browser.post_form(&app.url("/logout"), &other_form.fields).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);

    let form = profile_link_tests::browser::first_post_form(&account).expect("sign-out form");
    let out = browser.submit(&form).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.body.contains("Sign in"), "back on the welcome page");
    assert_signed_out(&browser, &app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_or_expired_session_cookie_means_signed_out() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    browser.sign_in(&app.url("/login"), "pat", "demo").await;
    let token = browser.cookie(&app.base, "pl_session").unwrap();

    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let claims: Value = serde_json::from_slice(&base64_decode(&parts[1])).unwrap();
    let mut forged = claims.clone();
    forged["idp_sub"] = json!("sam-2b81d4");
    parts[1] = base64_encode(&serde_json::to_vec(&forged).unwrap());
    browser.set_cookie(&app.base, "pl_session", &parts.join("."));
    assert_signed_out(&browser, &app).await;
    let home = browser.get(&app.url("/")).await;
    assert!(home.body.contains("Sign in"), "signed-out page");

    browser.set_cookie(&app.base, "pl_session", &token);
    assert_eq!(browser.get(&app.url("/me")).await.status, StatusCode::OK);
    app.clock.advance(3601);
    assert_signed_out(&browser, &app).await;
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    let page = browser.get(&app.url("/")).await;
    let header = |name: &str| page.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "no-store");
    assert!(
        header("content-security-policy").starts_with("default-src 'none'; style-src 'sha256-"),
        "saw {:?}",
        header("content-security-policy")
    );
    assert!(
        header("content-security-policy").contains("frame-ancestors 'none'"),
        "saw {:?}",
        header("content-security-policy")
    );

    let login = browser.request(Method::GET, &app.url("/login")).await;
    let cookie = login.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
}

// ---- forged ID tokens, through a provider that signs whatever the test asks ----

/// Starts a sign-in against the fake provider; returns (state, nonce).
async fn begin_at_fake(browser: &Browser, app: &TestApp) -> (String, String) {
    let start = browser.request(Method::GET, &app.url("/login")).await;
    let to = redirect_target(&start);
    (query_param(&to, "state").unwrap(), query_param(&to, "nonce").unwrap())
}

async fn fake_app() -> (FakeProvider, TestApp) {
    let provider = FakeProvider::start().await;
    let app = TestApp::spawn_with(ProviderSettings {
        issuer: provider.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
    })
    .await;
    (provider, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_id_tokens_are_refused_one_rule_at_a_time() {
    let (provider, app) = fake_app().await;
    let now = jsonwebtoken::get_current_timestamp() as i64;

    type Forgery = Box<dyn Fn(&FakeProvider, &str) -> String>;
    let spoil = |f: fn(&mut Value)| -> Forgery {
        Box::new(move |p: &FakeProvider, nonce: &str| {
            let mut claims = p.good_claims(nonce);
            f(&mut claims);
            p.sign(&claims)
        })
    };
    let cases: Vec<(&str, Forgery)> = vec![
        ("alg none", Box::new(|p: &FakeProvider, n: &str| fake_provider::unsigned(&p.good_claims(n)))),
        (
            "HS256 keyed with the public key",
            Box::new(|p: &FakeProvider, n: &str| {
                fake_provider::hmac_with_public_key(&p.good_claims(n), &p.public_jwk, &p.kid)
            }),
        ),
        ("unknown kid", Box::new(|p: &FakeProvider, n: &str| p.sign_with_kid(&p.good_claims(n), "rotated-away"))),
        (
            "signed by another key",
            Box::new(|_: &FakeProvider, n: &str| {
                let other = signed_by_unpublished_key();
                other(n)
            }),
        ),
        ("wrong iss", spoil(|c| c["iss"] = json!("https://evil.example"))),
        ("wrong aud", spoil(|c| c["aud"] = json!("another-client"))),
        ("azp of another client", spoil(|c| c["azp"] = json!("another-client"))),
        ("several audiences, no azp", spoil(|c| c["aud"] = json!([CLIENT_ID, "another-client"]))),
        (
            "expired",
            spoil(|c| {
                let now = c["iat"].as_i64().unwrap();
                c["exp"] = json!(now - 3600);
                c["iat"] = json!(now - 3700);
            }),
        ),
        (
            "issued in the future",
            spoil(|c| {
                let now = c["iat"].as_i64().unwrap();
                c["iat"] = json!(now + 3600);
            }),
        ),
        ("wrong nonce", spoil(|c| c["nonce"] = json!("another-nonce"))),
        (
            "missing nonce",
            spoil(|c| {
                c.as_object_mut().unwrap().remove("nonce");
            }),
        ),
        (
            "missing sub",
            spoil(|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
    ];
    let _ = now;
    for (name, forge) in cases {
        let browser = Browser::new();
        let (state, nonce) = begin_at_fake(&browser, &app).await;
        provider.answer_with(forge(&provider, &nonce));
        let page = browser.get(&app.url(&format!("/login/callback/dev?code=c&state={state}"))).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{name}: {}", page.body);
        assert!(page.body.contains("could not verify"), "{name}: {}", page.body);
        assert!(browser.cookie(&app.base, "pl_session").is_none(), "{name}: no session");
    }
    // Each refused sign-in's transaction is taken (kept until its TTL), and nothing else was written.
    assert_eq!(untaken_logins(&app).await, 0, "every refused callback took its transaction");
    let written: Vec<_> = app
        .keys()
        .await
        .into_iter()
        .filter(|(pk, _)| !pk.starts_with("RATE#SIGN-IN#") && !pk.starts_with("LOGIN#"))
        .collect();
    assert!(written.is_empty(), "nothing written but the sign-ins' counter and transactions: {written:?}");

    // The same path with an honest token succeeds, so the refusals above are the rules at work.
    let browser = Browser::new();
    let (state, nonce) = begin_at_fake(&browser, &app).await;
    provider.answer_with(provider.sign(&provider.good_claims(&nonce)));
    let page = browser.get(&app.url(&format!("/login/callback/dev?code=c&state={state}"))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(browser.get(&app.url("/me")).await.json()["identity"]["sub"], "fake-user-1");
}

/// A token for `nonce` signed by a key the provider never published.
fn signed_by_unpublished_key() -> impl Fn(&str) -> String {
    let pem = profile_link_core::session::generate_ec_pem();
    move |nonce: &str| {
        let key = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = None;
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let claims = json!({"iss": "x", "sub": "s", "aud": CLIENT_ID, "iat": now, "exp": now + 60, "nonce": nonce});
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_load_from_ssm_parameter_store() {
    use profile_link_core::config::Env;
    let sdk = profile_link_tests::sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let name = format!("/profile-link-test/{}/session-signing-key", profile_link_core::random::token(6));
    let pem = profile_link_core::SessionKeys::generate_pem();
    profile_link_tests::put_secure_string(&ssm, &name, &pem).await;
    let env = Env::from_pairs([("SESSION_SIGNING_KEY_SSM_PARAMETER", name.as_str()), ("OTHER", "inline")]);
    let loaded = profile_link_core::secrets::load(&env, &sdk, &["SESSION_SIGNING_KEY", "OTHER"]).await.unwrap();
    assert_eq!(loaded["SESSION_SIGNING_KEY"].expose(), pem.trim_end());
    assert_eq!(loaded["OTHER"].expose(), "inline");

    let missing = Env::from_pairs([("SESSION_SIGNING_KEY_SSM_PARAMETER", "/profile-link-test/does-not-exist")]);
    let error = profile_link_core::secrets::load(&missing, &sdk, &["SESSION_SIGNING_KEY"]).await.unwrap_err();
    assert!(error.to_string().contains("not found"), "{error}");
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_cookies_are_host_prefixed_secure_and_hsts_is_sent() {
    let provider = FakeProvider::start().await;
    let app = TestApp::spawn_with_options(profile_link_tests::TestOptions {
        provider: ProviderSettings {
            issuer: provider.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
        },
        public_base_url: Some("https://link.example.com".into()),
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
    let binding =
        set_cookies(&login).into_iter().find(|c| c.starts_with("__Host-pl_browser=")).expect("browser cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(binding.contains(flag), "{binding} lacks {flag}");
    }
    assert!(!binding.to_ascii_lowercase().contains("domain="), "__Host- cookies have no Domain");
    let to = redirect_target(&login);
    assert_eq!(query_param(&to, "redirect_uri").as_deref(), Some("https://link.example.com/login/callback/dev"));

    // Complete the sign-in (the cookie sent by hand: this test client speaks plain http).
    let (state, nonce) = (query_param(&to, "state").unwrap(), query_param(&to, "nonce").unwrap());
    provider.answer_with(provider.sign(&provider.good_claims(&nonce)));
    let cookie = binding.split(';').next().unwrap().to_owned();
    let callback = client
        .get(app.url(&format!("/login/callback/dev?code=c&state={state}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    let session =
        set_cookies(&callback).into_iter().find(|c| c.starts_with("__Host-pl_session=")).expect("session cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=3600"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_issued_to_another_client_is_refused() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    let start = browser.request(Method::GET, &app.url("/login")).await;
    let ours = redirect_target(&start);
    // The same browser, state and redirect URI, but an authorization for "other-client".
    let mut theirs = ours.clone();
    let pairs: Vec<(String, String)> = ours
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "client_id" { "other-client".to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    theirs.query_pairs_mut().clear().extend_pairs(pairs);
    let page = browser.get(theirs.as_str()).await;
    let mut form = profile_link_tests::browser::first_post_form(&page).expect("the provider's login form");
    form.set("login", "pat");
    form.set("password", "demo");
    let response = browser.client.post(form.action.as_str()).form(&form.fields).send().await.unwrap();
    let callback = browser.follow_until(response, &app.url("/login/callback/dev")).await;
    let refused = browser.get(callback.as_str()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("did not complete"), "the provider refuses to redeem another client's code");
    assert_signed_out(&browser, &app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused_before_any_handler_runs() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let response =
        client.get(app.url("/login")).header("cookie", format!("pl_session={}", "a".repeat(200 * 1024))).send().await;
    match response {
        Ok(r) => assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(e) => assert!(e.is_request() || e.is_connect() || e.to_string().contains("connection"), "{e}"),
    }
    assert!(app.keys().await.is_empty(), "nothing written");
}

/// [11]: a provider that ignores the forced sign-in and leaves out
/// `auth_time` proves nothing. Before, a missing `auth_time` counted as "just
/// now", so the link's "sign in again after clicking" passed without a
/// password; now the person sees "your provider did not ask you again".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_sign_in_without_auth_time_is_not_a_fresh_one() {
    let (provider, app) = fake_app().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Doe Ltd")]).await;
    let browser = Browser::new();
    let (state, nonce) = begin_at_fake(&browser, &app).await;
    provider.answer_with(provider.sign(&provider.good_claims(&nonce)));
    let signed_in = browser.get(&app.url(&format!("/login/callback/dev?code=c&state={state}"))).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    let links = profile_link_tests::flow::request_and_deliver(&app, &browser, &app.address("pat")).await;
    assert_eq!(links.len(), 1, "one link for pat's one profile, saw {links:?}");
    // Opened later, so the sign-in above is not fresh enough for it.
    app.clock.advance(600);

    // The link sends the person to a forced sign-in at the provider, which answers without auth_time:
    // not proof of a fresh sign-in.
    let mut without = provider.good_claims("");
    without.as_object_mut().unwrap().remove("auth_time");
    let page = sign_in_again_at_fake(&app, &provider, &browser, &links[0], without).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("did not ask you to sign in again"), "{}", page.body);
    assert!(!page.body.contains("name=\"action\""), "no confirmation form: {}", page.body);
    assert_eq!(profile_link_tests::flow::associations(&app).await, 0, "nothing linked");

    // The same answer with an auth_time after the click is one: the rule above is what refused.
    app.clock.advance(5);
    let page = sign_in_again_at_fake(&app, &provider, &browser, &links[0], provider.good_claims("")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("name=\"action\""), "the confirmation form: {}", page.body);
}

/// Opens `link`: the forced sign-in goes to the fake provider, which answers with `claims` (and its nonce).
async fn sign_in_again_at_fake(
    app: &TestApp,
    provider: &FakeProvider,
    browser: &Browser,
    link: &str,
    mut claims: Value,
) -> profile_link_tests::browser::Page {
    let at_provider = browser.get(link).await;
    let url = at_provider.url.clone();
    assert!(url.as_str().starts_with(&provider.issuer), "sent to the provider, not {url}");
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(param("prompt").as_deref(), Some("login"), "a forced sign-in: {url}");
    claims["nonce"] = json!(param("nonce").unwrap());
    provider.answer_with(provider.sign(&claims));
    browser.get(&app.url(&format!("/login/callback/dev?code=c&state={}", param("state").unwrap()))).await
}
