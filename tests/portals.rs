//! Seed step 10 for a portal on another origin: profile-link as its OpenID
//! Provider. The whole path from the portal's sign-in to an ID token listing
//! pat's profiles, and the provider side's hostile cases as RFC 9700 and
//! OIDC Core require them.

use std::collections::HashSet;

use profile_link_tests::TestApp;
use profile_link_tests::browser::{Browser, first_post_form};
use profile_link_tests::portal::{
    Attempt, DEMO_AFTER_LOGOUT, DEMO_PORTAL, DEMO_REDIRECT, DEMO_SECRET, answer_at, demo_code, demo_token, param,
    pat_with_both_profiles, token, userinfo, verify_id_token,
};
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The profile ids a token or `/userinfo` names, from `profiles` (objects);
/// the flat `profile_ids` (for header-passing relying parties) must say the same.
fn profile_ids(claims: &Value) -> HashSet<String> {
    let from_objects: HashSet<String> = claims["profiles"]
        .as_array()
        .unwrap_or_else(|| panic!("no profiles claim in {claims}"))
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let flat: HashSet<String> = claims["profile_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no flat profile_ids claim in {claims}"))
        .iter()
        .map(|id| id.as_str().unwrap_or_else(|| panic!("profile_ids holds only strings: {claims}")).to_owned())
        .collect();
    assert_eq!(flat, from_objects, "profile_ids and profiles disagree: {claims}");
    from_objects
}

fn both() -> HashSet<String> {
    HashSet::from(["CUST-1".to_owned(), "CUST-2".to_owned()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_learns_which_profiles_the_sign_in_may_act_for() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    let code = demo_code(&app, &pat, &attempt).await;
    let (status, tokens) = demo_token(&app, &code, &attempt).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");

    let claims = verify_id_token(&app, tokens["id_token"].as_str().unwrap(), DEMO_PORTAL).await;
    assert_eq!(claims["nonce"], attempt.nonce.as_str(), "the nonce is echoed: {claims}");
    assert_eq!(claims["azp"], DEMO_PORTAL);
    assert_eq!(claims["idp"], "dev", "{claims}");
    assert_eq!(claims["idp_name"], "Dev provider", "{claims}");
    assert_eq!(claims["email_verified"], false, "profile-link did not verify the provider's address: {claims}");
    assert!(claims["auth_time"].as_i64().is_some(), "{claims}");
    let sub = claims["sub"].as_str().unwrap();
    assert!(!sub.contains("pat-7f3c9a") && sub.len() == 43, "an opaque subject, not the provider's: {sub}");
    assert_eq!(profile_ids(&claims), both(), "{claims}");
    let bakery = claims["profiles"].as_array().unwrap().iter().find(|p| p["id"] == "CUST-1").unwrap();
    assert_eq!(
        (bakery["name"].as_str(), bakery["organization"].as_str()),
        (Some("Pat Doe"), Some("Doe Family Bakery"))
    );

    // The same person signs in again: the same subject.
    let again = Attempt::new();
    let (_, second) = demo_token(&app, &demo_code(&app, &pat, &again).await, &again).await;
    let second = verify_id_token(&app, second["id_token"].as_str().unwrap(), DEMO_PORTAL).await;
    assert_eq!(second["sub"], claims["sub"], "stable");

    // userinfo reads the table now: an unlink shows at once.
    let access = tokens["access_token"].as_str().unwrap();
    let (status, info) = userinfo(&app, access).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!((info["sub"].clone(), profile_ids(&info)), (claims["sub"].clone(), both()));
    let unlinked = app.unlink(&pat, "CUST-2").await;
    assert_eq!(unlinked.status, StatusCode::OK, "{}", unlinked.body);
    let (_, info) = userinfo(&app, access).await;
    assert_eq!(profile_ids(&info), HashSet::from(["CUST-1".to_owned()]), "{info}");

    let discovery: Value =
        reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(discovery["issuer"], app.base.as_str());
    assert_eq!(discovery["id_token_signing_alg_values_supported"], serde_json::json!(["RS256", "ES256"]));
    assert_eq!(discovery["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(discovery["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(discovery["authorization_response_iss_parameter_supported"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_without_profiles_is_offered_the_seed_flow_or_the_portal() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Doe Family Bakery")]).await;
    let pat = Browser::new();
    let attempt = Attempt::new();
    // Signed out: the portal's button leads through sign-in to the offer.
    let page = pat.sign_in(&attempt.demo_url(&app, &[]), "pat", "demo").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Link your customer profile"), "{}", page.body);
    assert!(page.body.contains("signed in with Dev provider"), "{}", page.body);
    assert!(page.body.contains("Continue to Demo portal without linking"), "{}", page.body);

    // Linking first: the account page and the success page offer the way back, with a fresh code.
    let links = profile_link_tests::flow::request_and_deliver(&app, &pat, &app.address("pat")).await;
    let opened = profile_link_tests::flow::open(&pat, &links[0], "pat").await;
    let done = profile_link_tests::flow::confirm(&pat, &opened, "confirm").await;
    assert!(done.body.contains("Back to Demo portal") && done.body.contains("/authorize?"), "{}", done.body);
    let account = pat.get(&app.url("/")).await;
    let back = scraper::Html::parse_document(&account.body)
        .select(&scraper::Selector::parse("#go-to-portal").unwrap())
        .next()
        .and_then(|a| a.value().attr("href").map(str::to_owned))
        .unwrap_or_else(|| panic!("no way back to the portal on {}", account.body));
    let answer = answer_at(&pat, &app.url(&back), DEMO_REDIRECT).await;
    assert_eq!(param(&answer, "state"), Some(attempt.state.as_str()), "the portal's own attempt: {answer:?}");
    let (status, tokens) = demo_token(&app, param(&answer, "code").unwrap(), &attempt).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = verify_id_token(&app, tokens["id_token"].as_str().unwrap(), DEMO_PORTAL).await;
    assert_eq!(profile_ids(&claims), HashSet::from(["CUST-1".to_owned()]), "{claims}");

    // Someone else goes on without linking: a code with no profiles.
    let sam = Browser::new();
    let attempt = Attempt::new();
    let offer = sam.sign_in(&attempt.demo_url(&app, &[]), "sam", "demo").await;
    let continue_href = scraper::Html::parse_document(&offer.body)
        .select(&scraper::Selector::parse("#continue-to-portal").unwrap())
        .next()
        .and_then(|a| a.value().attr("href").map(str::to_owned))
        .unwrap_or_else(|| panic!("no continue link on {}", offer.body));
    let answer = answer_at(&sam, &app.url(&continue_href), DEMO_REDIRECT).await;
    let (_, tokens) = demo_token(&app, param(&answer, "code").unwrap(), &attempt).await;
    let claims = verify_id_token(&app, tokens["id_token"].as_str().unwrap(), DEMO_PORTAL).await;
    assert_eq!(claims["profiles"], serde_json::json!([]), "{claims}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_person_goes_straight_back_and_prompt_none_never_shows_a_page() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    // Signed in: the portal's button answers with a code at once.
    let first = pat.request(Method::GET, &Attempt::new().demo_url(&app, &[])).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert!(first.headers()[LOCATION].to_str().unwrap().starts_with(DEMO_REDIRECT), "{:?}", first.headers());

    // Signed out, prompt=none: login_required at the portal, with state and iss.
    let stranger = Browser::new();
    let attempt = Attempt::new();
    let answer = answer_at(&stranger, &attempt.demo_url(&app, &[("prompt", "none")]), DEMO_REDIRECT).await;
    assert_eq!(param(&answer, "error"), Some("login_required"), "{answer:?}");
    assert_eq!(param(&answer, "state"), Some(attempt.state.as_str()), "{answer:?}");
    assert_eq!(param(&answer, "iss"), Some(app.base.as_str()), "{answer:?}");
    assert_eq!(param(&answer, "code"), None);

    // prompt=login: the person is sent to sign in again at their own provider.
    let fresh = pat.request(Method::GET, &Attempt::new().demo_url(&app, &[("prompt", "login")])).await;
    let location = fresh.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/login?") && location.contains("fresh=1") && location.contains("provider=dev"),
        "{location}"
    );
    // Once they did, the request is answered; asked again, they sign in again.
    let pat = pat.stopping_at(DEMO_REDIRECT);
    for round in 0..2 {
        let attempt = Attempt::new();
        let page = pat.sign_in(&attempt.demo_url(&app, &[("prompt", "login")]), "pat", "demo").await;
        assert!(page.url.as_str().starts_with(DEMO_REDIRECT), "round {round}: ended at {} {}", page.url, page.body);
        let answer: Vec<(String, String)> = page.url.query_pairs().into_owned().collect();
        assert_eq!(param(&answer, "state"), Some(attempt.state.as_str()), "round {round}: {answer:?}");
        assert!(param(&answer, "code").is_some(), "round {round}: a code after the fresh sign-in: {answer:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_uris_match_exactly_and_a_bad_one_is_never_redirected_to() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    for uri in [
        "http://127.0.0.1:3100/callback/",
        "http://127.0.0.1:3100/callback?next=1",
        "http://127.0.0.1:3100/Callback",
        "http://127.0.0.1:31000/callback",
        "http://127.0.0.1:3100/callback/../evil",
        "http://127.0.0.1:3100@evil.example/callback",
        "https://evil.example/callback",
        "http://127.0.0.1:3100/callback#x",
    ] {
        let response = pat.request(Method::GET, &attempt.url(&app, DEMO_PORTAL, uri, &[])).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(response.headers().get(LOCATION).is_none(), "{uri}: never redirected");
        let body = response.text().await.unwrap();
        assert!(body.contains("not one the portal registered"), "{uri}: {body}");
    }
    let unknown = pat.request(Method::GET, &attempt.url(&app, "nobody", DEMO_REDIRECT, &[])).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown.headers().get(LOCATION).is_none());
    // One client's URI is not another's.
    let other = pat.request(Method::GET, &attempt.url(&app, "post-portal", DEMO_REDIRECT, &[])).await;
    assert_eq!(other.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count_with_prefix("CODE#").await, 0, "no code was issued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_is_required_and_cannot_be_downgraded() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    for (extra, error) in [
        (vec![("code_challenge", ""), ("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("response_type", "code id_token")], "unsupported_response_type"),
        (vec![("state", "")], "invalid_request"),
    ] {
        let answer = answer_at(&pat, &attempt.demo_url(&app, &extra), DEMO_REDIRECT).await;
        assert_eq!(param(&answer, "error"), Some(error), "{extra:?}: {answer:?}");
        assert_eq!(param(&answer, "code"), None, "{extra:?}");
    }
    // At the token endpoint: no verifier, or another one, burns the code and gives nothing.
    for verifier in ["", "a-verifier-that-is-long-enough-but-not-the-right-one"] {
        let code = demo_code(&app, &pat, &attempt).await;
        let mut fields =
            vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", DEMO_REDIRECT)];
        if !verifier.is_empty() {
            fields.push(("code_verifier", verifier));
        }
        let (status, body) = token(&app, Some((DEMO_PORTAL, DEMO_SECRET)), &fields).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{verifier:?}: {body}"
        );
        let (status, _) = demo_token(&app, &code, &attempt).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "the code was used up by the failed attempt");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_works_once_for_its_client_redirect_uri_and_minute() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();

    // Replayed: refused, and the first exchange's access token stops working.
    let code = demo_code(&app, &pat, &attempt).await;
    let (status, first) = demo_token(&app, &code, &attempt).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, replay) = demo_token(&app, &code, &attempt).await;
    assert_eq!((status, replay["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{replay}");
    let (status, _) = userinfo(&app, first["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replay revokes the code's access tokens");

    // Presented by another client (authenticated as itself): refused.
    let code = demo_code(&app, &pat, &attempt).await;
    let (status, body) = token(
        &app,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT),
            ("code_verifier", &attempt.verifier),
            ("client_id", "post-portal"),
            ("client_secret", "post-portal-secret-0123"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");

    // Another redirect_uri than the request's: refused.
    let code = demo_code(&app, &pat, &attempt).await;
    let (status, body) = token(
        &app,
        Some((DEMO_PORTAL, DEMO_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:3100/other"),
            ("code_verifier", &attempt.verifier),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");

    // Older than a minute: refused.
    let code = demo_code(&app, &pat, &attempt).await;
    app.clock.advance(61);
    let (status, body) = demo_token(&app, &code, &attempt).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_are_signed_rs256_unless_the_client_registered_es256() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let alg = |token: &str| jsonwebtoken::decode_header(token).unwrap().alg;

    // The demo portal registered nothing: RS256, verified with the published key its kid names.
    let attempt = Attempt::new();
    let (status, tokens) = demo_token(&app, &demo_code(&app, &pat, &attempt).await, &attempt).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(alg(id_token), jsonwebtoken::Algorithm::RS256, "{tokens}");
    assert_eq!(profile_ids(&verify_id_token(&app, id_token, DEMO_PORTAL).await), both());

    // post-portal registered ES256.
    let post_redirect = "https://portal.example.com/callback";
    let answer = answer_at(&pat, &attempt.url(&app, "post-portal", post_redirect, &[]), post_redirect).await;
    let code = param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer:?}"));
    let (status, tokens) = token(
        &app,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", post_redirect),
            ("code_verifier", &attempt.verifier),
            ("client_id", "post-portal"),
            ("client_secret", "post-portal-secret-0123"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(alg(id_token), jsonwebtoken::Algorithm::ES256, "{tokens}");
    assert_eq!(profile_ids(&verify_id_token(&app, id_token, "post-portal").await), both());

    // The JWKS: both kinds, each key with kid, use and alg, no private part.
    let jwks: Value = reqwest::get(app.url("/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    let mut kinds: Vec<(String, String)> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| {
            assert!(key["kid"].is_string() && key["use"] == "sig" && key.get("d").is_none(), "{key}");
            (key["kty"].as_str().unwrap().to_owned(), key["alg"].as_str().unwrap().to_owned())
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, [("EC".into(), "ES256".into()), ("RSA".into(), "RS256".into())], "{jwks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_hint_forged_with_another_alg_signs_nobody_out() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let sam = app.signed_in("sam").await;
    let attempt = Attempt::new();
    let (_, tokens) = demo_token(&app, &demo_code_via_offer(&app, &sam, &attempt).await, &attempt).await;
    let real = tokens["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(real).unwrap();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(real.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    // HS256 keyed with the RSA key as published (the classic confusion), and the real signature under another alg.
    let jwks: Value = reqwest::get(app.url("/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    let rsa_key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header.kid.as_deref().unwrap()).unwrap();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = header.kid.clone();
    let keyed = jsonwebtoken::EncodingKey::from_secret(rsa_key.to_string().as_bytes());
    let (_, body_and_signature) = real.split_once('.').unwrap();
    let relabelled = {
        let head = serde_json::json!({"alg": "PS256", "typ": "JWT", "kid": header.kid});
        format!("{}.{body_and_signature}", b64(head.to_string().as_bytes()))
    };
    for forged in [jsonwebtoken::encode(&hs, &claims, &keyed).unwrap(), relabelled] {
        let mut url = url::Url::parse(&app.url("/end-session")).unwrap();
        url.query_pairs_mut()
            .append_pair("id_token_hint", &forged)
            .append_pair("post_logout_redirect_uri", DEMO_AFTER_LOGOUT);
        let response = sam.request(Method::GET, url.as_str()).await;
        assert_ne!(response.status(), StatusCode::SEE_OTHER, "a forged hint is no proof of the session");
        let me = sam.request(Method::GET, &app.url("/me")).await;
        assert_eq!(me.status(), StatusCode::OK, "still signed in");
    }
    // The real RS256 hint does sign out.
    let mut url = url::Url::parse(&app.url("/end-session")).unwrap();
    url.query_pairs_mut().append_pair("id_token_hint", real).append_pair("post_logout_redirect_uri", DEMO_AFTER_LOGOUT);
    assert_eq!(sam.request(Method::GET, url.as_str()).await.status(), StatusCode::SEE_OTHER);
    assert_ne!(sam.request(Method::GET, &app.url("/me")).await.status(), StatusCode::OK, "signed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_exchanges_of_one_code_succeed_exactly_once() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    let code = demo_code(&app, &pat, &attempt).await;
    let fields = [
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", DEMO_REDIRECT.to_owned()),
        ("code_verifier", attempt.verifier.clone()),
    ];
    let exchanges: Vec<_> = (0..20)
        .map(|_| {
            let (url, fields) = (app.url("/token"), fields.clone());
            tokio::spawn(async move {
                let request = reqwest::Client::new().post(url).basic_auth(DEMO_PORTAL, Some(DEMO_SECRET)).form(&fields);
                request.send().await.unwrap().status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for exchange in exchanges {
        statuses.push(exchange.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "exactly one exchange wins: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_authenticates_each_client_as_it_registered() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    let exchange = |code: String| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", DEMO_REDIRECT.to_owned()),
            ("code_verifier", attempt.verifier.clone()),
        ]
    };
    let as_str = |fields: &[(&'static str, String)]| -> Vec<(&'static str, String)> { fields.to_vec() };
    // A wrong secret, no authentication, Post for a Basic client, and both at once: 401/400, and the code is not used.
    let code = demo_code(&app, &pat, &attempt).await;
    let fields = as_str(&exchange(code.clone()));
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, body) = token(&app, Some((DEMO_PORTAL, "demo-portal-secreT")), &borrowed).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
    let (status, body) = token(&app, None, &borrowed).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
    let mut posted = borrowed.clone();
    posted.extend([("client_id", DEMO_PORTAL), ("client_secret", DEMO_SECRET)]);
    let (status, body) = token(&app, None, &posted).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
    let (status, body) = token(&app, Some((DEMO_PORTAL, DEMO_SECRET)), &posted).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    // openid-client form-encodes the id before Basic: demo%2Dportal is demo-portal.
    let (status, tokens) = token(&app, Some(("demo%2Dportal", DEMO_SECRET)), &borrowed).await;
    assert_eq!(status, StatusCode::OK, "the code survived the refused attempts: {tokens}");
    let (status, body) = token(&app, Some((DEMO_PORTAL, DEMO_SECRET)), &[("grant_type", "password")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_from_the_portal_goes_only_where_it_registered() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    let (_, tokens) = demo_token(&app, &demo_code(&app, &pat, &attempt).await, &attempt).await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let end_session = |pairs: &[(&str, &str)]| {
        let mut url = url::Url::parse(&app.url("/end-session")).unwrap();
        url.query_pairs_mut().extend_pairs(pairs);
        url.to_string()
    };
    // Open redirects through post-logout URIs: refused, still signed in.
    for uri in
        ["https://evil.example/", "http://127.0.0.1:3100/callback", "http://127.0.0.1:3100", "http://127.0.0.1:3100/?x"]
    {
        let response = pat
            .request(Method::GET, &end_session(&[("id_token_hint", &id_token), ("post_logout_redirect_uri", uri)]))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(response.headers().get(LOCATION).is_none(), "{uri}");
    }
    // Without a hint: a confirmation page, and still signed in.
    let page =
        pat.get(&end_session(&[("client_id", DEMO_PORTAL), ("post_logout_redirect_uri", DEMO_AFTER_LOGOUT)])).await;
    assert!(page.body.contains("asks to sign you out"), "{}", page.body);
    assert!(
        page.headers["content-security-policy"].to_str().unwrap().contains("form-action 'self' http://127.0.0.1:3100")
    );
    let me = pat.request(Method::GET, &app.url("/me")).await;
    assert_eq!(me.status(), StatusCode::OK, "a link alone signs nobody out");
    // Confirmed by the person: signed out, back at the portal with its state.
    let form = first_post_form(&page).unwrap();
    let response = pat
        .client
        .post(form.action.as_str())
        .form(&[&form.fields[..], &[("state".to_owned(), "bye".to_owned())]].concat())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION].to_str().unwrap(), "http://127.0.0.1:3100/?state=bye");
    // The hint's session is over: its access token no longer works.
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "signed out");

    // With the portal's hint for this very session: signed out at once.
    let sam = app.signed_in("sam").await;
    let attempt = Attempt::new();
    let (_, tokens) = demo_token(&app, &demo_code_via_offer(&app, &sam, &attempt).await, &attempt).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let response = sam
        .request(
            Method::GET,
            &end_session(&[("id_token_hint", hint), ("post_logout_redirect_uri", DEMO_AFTER_LOGOUT), ("state", "s1")]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION].to_str().unwrap(), "http://127.0.0.1:3100/?state=s1");
    let me = sam.request(Method::GET, &app.url("/me")).await;
    assert_ne!(me.status(), StatusCode::OK, "signed out");
}

/// A code for someone without profiles: through the offer's "continue".
async fn demo_code_via_offer(app: &TestApp, browser: &Browser, attempt: &Attempt) -> String {
    let answer = answer_at(browser, &attempt.demo_url(app, &[("pl_skip", "1")]), DEMO_REDIRECT).await;
    param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer:?}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_client_exchanges_with_pkce_alone_and_never_with_a_secret() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    let spa = "https://spa.example.com/cb";
    let code = || async {
        let answer = answer_at(&pat, &attempt.url(&app, "spa", spa, &[]), spa).await;
        param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer:?}")).to_owned()
    };
    let exchange = |code: String, secret: Option<&'static str>| {
        let mut fields = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", spa.to_owned()),
            ("code_verifier", attempt.verifier.clone()),
            ("client_id", "spa".to_owned()),
        ];
        if let Some(secret) = secret {
            fields.push(("client_secret", secret.to_owned()));
        }
        fields
    };
    let with_secret = exchange(code().await, Some("anything-at-all-0123"));
    let borrowed: Vec<(&str, &str)> = with_secret.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, body) = token(&app, None, &borrowed).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
    let plain = exchange(code().await, None);
    let borrowed: Vec<(&str, &str)> = plain.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, tokens) = token(&app, None, &borrowed).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = verify_id_token(&app, tokens["id_token"].as_str().unwrap(), "spa").await;
    assert_eq!(profile_ids(&claims), both(), "{claims}");
}
