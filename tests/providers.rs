//! [11]: several identity providers side by side, each checked as its own
//! policies say: a button and a callback each, the mix-up defence, Entra's
//! tenant-specific issuers, the response mode and the client authentication
//! the list names. The dev provider (oidc-provider) for real sign-ins, the
//! hostile fake provider for tokens a real one would never send.

use profile_link_tests::browser::{Browser, Page, redirect_target};
use profile_link_tests::fake_provider::{CLIENT_ID, ENTRA_PATH, FakeProvider};
use profile_link_tests::{ProviderSettings, TestApp, TestOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

const CONTOSO: &str = "3f6c2d1a-8b4e-4c7f-9a15-2e7d0b9c4a61";
const FABRIKAM: &str = "b8e41f07-5d2c-4a96-8e3b-71c9f0a2d5e4";
const PERSONAL: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

async fn app_with(providers: Vec<Value>) -> TestApp {
    let options = TestOptions { providers: Some(Value::Array(providers).to_string()), ..TestOptions::default() };
    TestApp::spawn_with_options(options).await
}

/// The dev provider's root, listed as `dev`.
fn dev_listed() -> Value {
    let settings = ProviderSettings::dev_idp();
    serde_json::from_str::<Vec<Value>>(&settings.list()).unwrap().remove(0)
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `GET /login?provider=<id>`: where the provider is sent, with its state and nonce.
async fn start_at(browser: &Browser, app: &TestApp, id: &str) -> Url {
    let start = browser.request(Method::GET, &app.url(&format!("/login?provider={id}"))).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "GET /login?provider={id} answered {}", start.status());
    redirect_target(&start)
}

async fn signed_in_provider(browser: &Browser, app: &TestApp) -> Value {
    let me = browser.get(&app.url("/me")).await;
    assert_eq!(me.status, StatusCode::OK, "/me said {}", me.body);
    me.json()["identity"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_has_a_button_and_a_callback_of_its_own() {
    let fake = FakeProvider::start().await;
    let app = app_with(vec![dev_listed(), fake.listed("other", json!({"label": "Other & Co"}))]).await;
    let browser = Browser::new();

    let page = browser.get(&app.url("/login?return_to=%2Fassociate")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for expected in [
        r#"href="/login?provider=dev&#38;return_to=%2Fassociate">Sign in with Dev provider</a>"#,
        r#"href="/login?provider=other&#38;return_to=%2Fassociate">Sign in with Other &#38; Co</a>"#,
    ] {
        assert!(page.body.contains(expected), "no {expected} on the sign-in page: {}", page.body);
    }
    let unknown = browser.get(&app.url("/login?provider=nope")).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);
    assert!(
        unknown.body.contains("does not exist") && unknown.body.contains("Sign in with Dev provider"),
        "{}",
        unknown.body
    );

    let at_fake = start_at(&browser, &app, "other").await;
    assert!(at_fake.as_str().starts_with(&fake.issuer), "sent to {at_fake}");
    let callback = param(&at_fake, "redirect_uri").unwrap();
    assert_eq!(callback, app.url("/login/callback/other"), "the provider's own callback");

    // A real sign-in at the dev provider, through its button.
    let page = browser.sign_in(&app.url("/login?provider=dev"), "pat", "demo").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let identity = signed_in_provider(&browser, &app).await;
    assert_eq!(
        (identity["provider"].as_str(), identity["provider_name"].as_str()),
        (Some("dev"), Some("Dev provider"))
    );
    assert!(page.body.contains("Dev provider"), "the account page names the provider, not a host: {}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_for_one_provider_is_refused_at_anothers_callback() {
    let (a, b) = (FakeProvider::start().await, FakeProvider::start().await);
    let app = app_with(vec![a.listed("a", json!({})), b.listed("b", json!({}))]).await;
    let browser = Browser::new();
    let at_a = start_at(&browser, &app, "a").await;
    let (state, nonce) = (param(&at_a, "state").unwrap(), param(&at_a, "nonce").unwrap());
    // B's honest token for this nonce, delivered to B's callback: the sign-in was started with A.
    b.answer_with(b.sign(&b.good_claims(&nonce)));
    let mixed = browser.get(&app.url(&format!("/login/callback/b?code=c&state={state}"))).await;
    assert_eq!(mixed.status, StatusCode::BAD_REQUEST, "{}", mixed.body);
    assert!(mixed.body.contains("could not verify"), "{}", mixed.body);
    assert!(b.last_token_request().is_none(), "no code was exchanged at B");
    // And the transaction is spent: A's own callback cannot complete it now.
    a.answer_with(a.sign(&a.good_claims(&nonce)));
    let late = browser.get(&app.url(&format!("/login/callback/a?code=c&state={state}"))).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    assert_eq!(browser.get(&app.url("/me")).await.status, StatusCode::UNAUTHORIZED, "no session");
}

/// Signs in at the fake provider listed as `id`, which answers `claims` (with the request's nonce).
async fn sign_in_with(app: &TestApp, fake: &FakeProvider, id: &str, mut claims: Value) -> (Browser, Page) {
    let browser = Browser::new();
    let at = start_at(&browser, app, id).await;
    claims["nonce"] = json!(param(&at, "nonce").unwrap());
    fake.answer_with(fake.sign(&claims));
    let page =
        browser.get(&app.url(&format!("/login/callback/{id}?code=c&state={}", param(&at, "state").unwrap()))).await;
    (browser, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_token_must_name_its_own_tenant_and_an_allowed_one() {
    let fake = FakeProvider::start().await;
    let organizations = format!("{}{ENTRA_PATH}", fake.issuer);
    let entra = fake.listed(
        "entra",
        json!({
            "label": "Microsoft", "issuer": organizations, "client_auth": "client_secret_post",
            "issuer_policy": {"kind": "entra", "accounts": "work", "tenants": [CONTOSO]},
        }),
    );
    let app = app_with(vec![entra]).await;
    let tenant_issuer = |tid: &str| format!("{}/{tid}/v2.0", fake.issuer);
    let token = |iss: &str, tid: Option<&str>| {
        let mut claims = fake.good_claims("");
        claims["iss"] = json!(iss);
        if let Some(tid) = tid {
            claims["tid"] = json!(tid);
        }
        claims
    };
    let refused = [
        ("a tid that disagrees with the {tenantid} in iss", token(&tenant_issuer(CONTOSO), Some(FABRIKAM))),
        ("a tenant not on the allow-list", token(&tenant_issuer(FABRIKAM), Some(FABRIKAM))),
        ("a personal account where only work accounts sign in", token(&tenant_issuer(PERSONAL), Some(PERSONAL))),
        ("no tid", token(&tenant_issuer(CONTOSO), None)),
        ("the template itself as iss", token(&format!("{}/{{tenantid}}/v2.0", fake.issuer), Some("{tenantid}"))),
        ("the multi-tenant endpoint as iss", token(&organizations, Some(CONTOSO))),
    ];
    for (case, claims) in refused {
        let (browser, page) = sign_in_with(&app, &fake, "entra", claims).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{case}: {}", page.body);
        assert!(page.body.contains("could not verify"), "{case}: {}", page.body);
        assert_eq!(browser.get(&app.url("/me")).await.status, StatusCode::UNAUTHORIZED, "{case}: no session");
    }
    let (browser, page) = sign_in_with(&app, &fake, "entra", token(&tenant_issuer(CONTOSO), Some(CONTOSO))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let identity = signed_in_provider(&browser, &app).await;
    assert_eq!(identity["iss"], json!(tenant_issuer(CONTOSO)), "the identity is the token's own (iss, sub)");
    let request = fake.last_token_request().expect("a token request");
    assert_eq!(request.authorization, None, "client_secret_post: no Basic header");
    assert_eq!((request.field("client_id"), request.field("client_secret")), (Some(CLIENT_ID), Some("fake-secret")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_post_answer_is_bound_by_a_cookie_of_its_own() {
    let fake = FakeProvider::start().await;
    let app = app_with(vec![fake.listed("apple", json!({"label": "Apple", "response_mode": "form_post"}))]).await;
    let browser = Browser::new();
    let at = start_at(&browser, &app, "apple").await;
    assert_eq!(param(&at, "response_mode").as_deref(), Some("form_post"), "{at}");
    assert!(browser.cookie(&app.base, "pl_browser_fp").is_some(), "the form_post binding cookie");
    let (state, nonce) = (param(&at, "state").unwrap(), param(&at, "nonce").unwrap());
    let fields = |code: &str| vec![("code".to_owned(), code.to_owned()), ("state".to_owned(), state.clone())];
    let callback = app.url("/login/callback/apple");

    // The same answer from a browser without the binding: refused, and the sign-in is not spent.
    let elsewhere = Browser::new().post_form(&callback, &fields("c")).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST, "{}", elsewhere.body);
    // The answer in the query, where this provider never puts it: refused too.
    let as_query = browser.get(&format!("{callback}?code=c&state={state}")).await;
    assert_eq!(as_query.status, StatusCode::BAD_REQUEST, "{}", as_query.body);
    assert!(fake.last_token_request().is_none(), "no code was exchanged");

    fake.answer_with(fake.sign(&fake.good_claims(&nonce)));
    let page = browser.post_form(&callback, &fields("c")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(signed_in_provider(&browser, &app).await["provider"], "apple");
    assert!(browser.cookie(&app.base, "pl_browser_fp").is_none(), "the binding is gone once used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_authentication_is_the_one_listed_and_the_provider_must_offer_it() {
    let fake = FakeProvider::start().await;
    let key = profile_link_core::session::generate_ec_pem();
    let app = app_with(vec![
        fake.listed("basic", json!({})),
        fake.listed("jwt", json!({"client_auth": "private_key_jwt", "client_secret": null, "private_key": key})),
    ])
    .await;
    let (_, page) = sign_in_with(&app, &fake, "basic", fake.good_claims("")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let request = fake.last_token_request().unwrap();
    assert!(request.authorization.as_deref().is_some_and(|a| a.starts_with("Basic ")), "{request:?}");
    assert_eq!(request.field("client_secret"), None, "the secret only in the header: {request:?}");

    // The fake's discovery does not list private_key_jwt: that sign-in cannot start, and says so.
    let start = Browser::new().request(Method::GET, &app.url("/login?provider=jwt")).await;
    assert_eq!(start.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weaker_proof_takes_a_completed_forced_sign_in_for_a_provider_without_auth_time() {
    let fake = FakeProvider::start().await;
    let weak = json!({"reauthentication": {"request": "prompt_login", "proof": "completed_sign_in"}});
    let app = app_with(vec![fake.listed("weak", weak)]).await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Doe Ltd")]).await;
    let mut without = fake.good_claims("");
    without.as_object_mut().unwrap().remove("auth_time");

    // Signed in without auth_time: not fresh enough for a link opened ten minutes later...
    let (browser, page) = sign_in_with(&app, &fake, "weak", without.clone()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let links = profile_link_tests::flow::request_and_deliver(&app, &browser, &app.address("pat")).await;
    assert_eq!(links.len(), 1, "{links:?}");
    app.clock.advance(600);
    let at_provider = browser.get(&links[0]).await;
    let url = at_provider.url.clone();
    assert!(url.as_str().starts_with(&fake.issuer), "a forced sign-in at the provider, not {url}");
    assert_eq!(param(&url, "prompt").as_deref(), Some("login"));

    // ... but the forced sign-in it asks for, completed, is the proof this operator chose.
    let mut claims = without;
    claims["nonce"] = json!(param(&url, "nonce").unwrap());
    fake.answer_with(fake.sign(&claims));
    let page =
        browser.get(&app.url(&format!("/login/callback/weak?code=c&state={}", param(&url, "state").unwrap()))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("name=\"action\""), "the confirmation form: {}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_apple_posts_back_and_pays_with_a_secret_minted_from_its_key() {
    let fake = FakeProvider::start().await;
    let key = profile_link_core::session::generate_ec_pem();
    let apple = json!({
        "label": "Apple", "response_mode": "form_post", "client_auth": "client_secret_post",
        "client_secret": null, "private_key": key, "key_id": "ABC123DEFG", "apple_team_id": "TEAM123456",
    });
    let app = app_with(vec![fake.listed("apple", apple)]).await;
    let browser = Browser::new();
    let at = start_at(&browser, &app, "apple").await;
    fake.answer_with(fake.sign(&fake.good_claims(&param(&at, "nonce").unwrap())));
    let fields = [("code".to_owned(), "c".to_owned()), ("state".to_owned(), param(&at, "state").unwrap())];
    let page = browser.post_form(&app.url("/login/callback/apple"), &fields).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);

    // The client secret: an ES256 JWT from Apple's key, for this team, app and provider, short-lived.
    let request = fake.last_token_request().unwrap();
    let secret = request.field("client_secret").expect("client_secret_post");
    let header = jsonwebtoken::decode_header(secret).unwrap();
    assert_eq!((header.alg, header.kid.as_deref()), (jsonwebtoken::Algorithm::ES256, Some("ABC123DEFG")));
    let public = jsonwebtoken::jwk::Jwk::from_encoding_key(
        &jsonwebtoken::EncodingKey::from_ec_pem(key.as_bytes()).unwrap(),
        jsonwebtoken::Algorithm::ES256,
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[&fake.issuer]);
    validation.set_issuer(&["TEAM123456"]);
    let claims =
        jsonwebtoken::decode::<Value>(secret, &jsonwebtoken::DecodingKey::from_jwk(&public).unwrap(), &validation)
            .unwrap_or_else(|e| panic!("the secret does not verify with Apple's key: {e}"))
            .claims;
    assert_eq!(claims["sub"], CLIENT_ID);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!((1..=300).contains(&lifetime), "lives five minutes at most, not {lifetime} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_made_at_entra_keeps_its_tenant_and_object_id_for_support() {
    // Entra's sub is pairwise: after the app is registered again, the same
    // person has another sub. Their tenant and object id stay.
    const OID: &str = "6a1f0c3e-2b7d-4e58-a9c4-1d3e5f7a9b20";
    let fake = FakeProvider::start().await;
    let entra = fake.listed(
        "entra",
        json!({"issuer": format!("{}{ENTRA_PATH}", fake.issuer), "issuer_policy": {"kind": "entra", "accounts": "work"}}),
    );
    let app = app_with(vec![entra]).await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Doe Ltd")]).await;
    let claims = || {
        let mut claims = fake.good_claims("");
        claims["iss"] = json!(format!("{}/{CONTOSO}/v2.0", fake.issuer));
        claims["tid"] = json!(CONTOSO);
        claims["oid"] = json!(OID);
        claims
    };
    let (browser, page) = sign_in_with(&app, &fake, "entra", claims()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let links = profile_link_tests::flow::request_and_deliver(&app, &browser, &app.address("pat")).await;
    app.clock.advance(600);
    let at_provider = browser.get(&links[0]).await;
    let mut fresh = claims();
    fresh["nonce"] = json!(param(&at_provider.url, "nonce").unwrap());
    fake.answer_with(fake.sign(&fresh));
    let state = param(&at_provider.url, "state").unwrap();
    let confirm_page = browser.get(&app.url(&format!("/login/callback/entra?code=c&state={state}"))).await;
    let linked = profile_link_tests::flow::confirm(&browser, &confirm_page, "confirm").await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);

    let profile = profile_link_core::domain::profile::ProfileId::parse("CUST-1").unwrap();
    let report = app.store.links_for_profile(&profile, profile_link_core::Clock::now(&app.clock)).await.unwrap();
    let owner = report.linked_to.expect("linked");
    assert_eq!((owner.entra_tid.as_deref(), owner.entra_oid.as_deref()), (Some(CONTOSO), Some(OID)), "{owner:?}");
    let trail = app.store.audit_trail(&profile).await.unwrap();
    let event = trail.iter().find(|r| r.event == "linked").expect("a linked event");
    assert_eq!(event.detail.as_deref(), Some(format!("Entra tenant {CONTOSO}, object {OID}").as_str()), "{trail:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_means_the_providers_own_chooser_and_no_hint() {
    let fake = FakeProvider::start().await;
    let request = |request: &str| json!({"reauthentication": {"request": request, "proof": "auth_time"}});
    let app =
        app_with(vec![fake.listed("google", request("max_age_0")), fake.listed("entra", request("prompt_login"))])
            .await;
    let browser = Browser::new();
    let start = |id: &str, choose: bool| {
        let choose = if choose { "&choose=1" } else { "" };
        format!("/login?provider={id}&fresh=1{choose}&login_hint=pat%40mail.example.net&return_to=%2Fredeem")
    };
    let sent = |url: Url| {
        let mut pairs: Vec<(String, String)> = ["prompt", "max_age", "login_hint"]
            .iter()
            .filter_map(|name| param(&url, name).map(|v| ((*name).to_owned(), v)))
            .collect();
        pairs.sort();
        pairs
    };
    let redirect = |path: String| {
        let browser = &browser;
        let app = &app;
        async move {
            let response = browser.request(Method::GET, &app.url(&path)).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
            redirect_target(&response)
        }
    };
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    // Google's fresh sign-in is max_age=0; choosing adds its account chooser, and drops the hint.
    assert_eq!(sent(redirect(start("google", true)).await), [pair("max_age", "0"), pair("prompt", "select_account")]);
    assert_eq!(
        sent(redirect(start("google", false)).await),
        [pair("login_hint", "pat@mail.example.net"), pair("max_age", "0")]
    );
    // prompt=login already asks who signs in: one prompt, no hint.
    assert_eq!(sent(redirect(start("entra", true)).await), [pair("prompt", "login")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_token_exchange_does_not_make_a_fresh_sign_in_stale() {
    // A provider that mints the ID token when the code is exchanged: its
    // `iat` is that moment, its `auth_time` when the person authenticated.
    // The exchange takes five seconds (a loaded provider or network); the
    // sign-in's time must be measured after it, or the fresh sign-in looks
    // five seconds older than it is and the link says the provider did not ask.
    let fake = FakeProvider::start().await;
    let app = app_with(vec![fake.listed("slow", json!({}))]).await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Doe Ltd")]).await;
    let (browser, page) = sign_in_with(&app, &fake, "slow", fake.good_claims("")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let links = profile_link_tests::flow::request_and_deliver(&app, &browser, &app.address("pat")).await;
    app.clock.advance(600);
    let at_provider = browser.get(&links[0]).await;
    let url = at_provider.url.clone();
    assert!(url.as_str().starts_with(&fake.issuer), "a forced sign-in at the provider, not {url}");

    let clock = app.clock.clone();
    fake.while_answering(move || clock.advance(5));
    let mut claims = fake.good_claims(&param(&url, "nonce").unwrap());
    claims["auth_time"] = json!(claims["iat"].as_i64().unwrap() - 5);
    fake.answer_with(fake.sign(&claims));
    let page =
        browser.get(&app.url(&format!("/login/callback/slow?code=c&state={}", param(&url, "state").unwrap()))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("name=\"action\""), "the confirmation form, not: {}", page.body);
}
