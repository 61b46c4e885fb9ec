//! What a portal's request may ask of profile-link as its OpenID Provider, as
//! OIDC Core, RFC 6750 and RP-Initiated Logout say it: a fresh or chosen
//! sign-in proven by what profile-link itself recorded (never by a query
//! parameter), `id_token_hint`, an optional `nonce`, `/userinfo`'s challenge,
//! a sign-out request that arrives without the session cookie, and a code
//! that dies with the session it came from.

use profile_link_tests::TestApp;
use profile_link_tests::browser::Browser;
use profile_link_tests::portal::{
    Attempt, DEMO_AFTER_LOGOUT, DEMO_PORTAL, DEMO_REDIRECT, answer_at, demo_token, param, verify_id_token,
};
use reqwest::header::{LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Goes on to the portal without linking a profile: these tests are about the sign-in, not the profiles.
const SKIP_LINKING: (&str, &str) = ("pl_skip", "1");

/// What `/authorize` answers `browser` for `attempt` with `extra`: a code, or the error sent to the portal.
async fn code_for(app: &TestApp, browser: &Browser, attempt: &Attempt, extra: &[(&str, &str)]) -> String {
    let mut extra = extra.to_vec();
    extra.push(SKIP_LINKING);
    let answer = answer_at(browser, &attempt.demo_url(app, &extra), DEMO_REDIRECT).await;
    assert_eq!(param(&answer, "state"), Some(attempt.state.as_str()), "{answer:?}");
    param(&answer, "code").unwrap_or_else(|| panic!("no code for {extra:?}: {answer:?}")).to_owned()
}

/// The ID token's claims for a code of `attempt`.
async fn id_token_claims(app: &TestApp, code: &str, attempt: &Attempt) -> (String, Value) {
    let (status, tokens) = demo_token(app, code, attempt).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let claims = verify_id_token(app, &id_token, DEMO_PORTAL).await;
    (id_token, claims)
}

/// The code a sign-in through `start` ends with: the portal's redirect, or
/// (the person has no profile) the offer page's "continue without linking".
async fn code_after_sign_in(app: &TestApp, browser: &Browser, start: &str, user: &str) -> String {
    let page = browser.sign_in(start, user, "demo").await;
    let url = if page.url.as_str().starts_with(DEMO_REDIRECT) {
        page.url
    } else {
        let continue_href = scraper::Html::parse_document(&page.body)
            .select(&scraper::Selector::parse("#continue-to-portal").unwrap())
            .next()
            .and_then(|a| a.value().attr("href").map(str::to_owned))
            .unwrap_or_else(|| panic!("neither the portal nor the offer: {} {}", page.url, page.body));
        let response = browser.request(Method::GET, &app.url(&continue_href)).await;
        browser.follow_until(response, DEMO_REDIRECT).await
    };
    let answer: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    param(&answer, "code").unwrap_or_else(|| panic!("no code after the sign-in: {answer:?}")).to_owned()
}

/// Where `/authorize` sends `browser` first, without following.
async fn first_step(app: &TestApp, browser: &Browser, attempt: &Attempt, extra: &[(&str, &str)]) -> String {
    let mut extra = extra.to_vec();
    extra.push(SKIP_LINKING);
    let response = browser.request(Method::GET, &attempt.demo_url(app, &extra)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{extra:?}");
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_login_and_max_age_are_proven_by_auth_time_never_by_a_query_parameter() {
    let app = TestApp::spawn().await;
    let pat = app.signed_in("pat").await;
    app.clock.advance(3);
    // A three-second-old session and our own parameter, forged: a fresh sign-in first, no code.
    let sent =
        first_step(&app, &pat, &Attempt::new(), &[("prompt", "login"), ("max_age", "0"), ("pl_after", "0")]).await;
    assert!(sent.starts_with("/login?") && sent.contains("fresh=1"), "a fresh sign-in, not a code: {sent}");
    let attempt = Attempt::new();
    let answer = answer_at(
        &pat,
        &attempt.demo_url(&app, &[("prompt", "none"), ("max_age", "0"), ("pl_after", "0"), SKIP_LINKING]),
        DEMO_REDIRECT,
    )
    .await;
    assert_eq!((param(&answer, "error"), param(&answer, "code")), (Some("login_required"), None), "{answer:?}");
    // max_age is the provider's auth_time against now: recent enough is answered silently.
    code_for(&app, &pat, &Attempt::new(), &[("prompt", "none"), ("max_age", "3600")]).await;

    // The sign-in the request sent the person to answers it; its auth_time is after the request.
    let asked_at = profile_link_core::Clock::now(&app.clock);
    let pat = pat.stopping_at(DEMO_REDIRECT);
    let attempt = Attempt::new();
    let code = code_after_sign_in(&app, &pat, &attempt.demo_url(&app, &[("max_age", "0")]), "pat").await;
    let (_, claims) = id_token_claims(&app, &code, &attempt).await;
    assert!(claims["auth_time"].as_i64().unwrap() + 2 >= asked_at, "authenticated after the request: {claims}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_account_asks_who_signs_in_and_answers_for_the_account_chosen() {
    let app = TestApp::spawn().await;
    let pat = app.signed_in("pat").await;
    let attempt = Attempt::new();
    let (_, pats) = id_token_claims(&app, &code_for(&app, &pat, &attempt, &[]).await, &attempt).await;
    // Signed in as pat, the portal asks for the account chooser: no code for pat at once.
    let sent = first_step(&app, &pat, &Attempt::new(), &[("prompt", "select_account")]).await;
    assert!(sent.starts_with("/login?") && sent.contains("choose=1"), "the account chooser first: {sent}");
    // Sam, at the same computer, chooses their own account: the code is sam's.
    let shared = pat.stopping_at(DEMO_REDIRECT);
    let attempt = Attempt::new();
    let code = code_after_sign_in(&app, &shared, &attempt.demo_url(&app, &[("prompt", "select_account")]), "sam").await;
    let (_, sams) = id_token_claims(&app, &code, &attempt).await;
    assert_ne!(sams["sub"], pats["sub"], "the account chosen, not the one signed in before: {sams}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_is_optional_and_echoed_only_when_sent() {
    let app = TestApp::spawn().await;
    let pat = app.signed_in("pat").await;
    let attempt = Attempt::new();
    let (_, claims) = id_token_claims(&app, &code_for(&app, &pat, &attempt, &[("nonce", "")]).await, &attempt).await;
    assert!(claims.get("nonce").is_none(), "no nonce asked, none in the token: {claims}");
    let attempt = Attempt::new();
    let (_, claims) = id_token_claims(&app, &code_for(&app, &pat, &attempt, &[]).await, &attempt).await;
    assert_eq!(claims["nonce"], attempt.nonce.as_str(), "{claims}");
    let long = "n".repeat(257);
    let answer =
        answer_at(&pat, &Attempt::new().demo_url(&app, &[("nonce", &long), SKIP_LINKING]), DEMO_REDIRECT).await;
    assert_eq!(param(&answer, "error"), Some("invalid_request"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_token_hint_names_the_person_the_portal_expects() {
    let app = TestApp::spawn().await;
    let pat = app.signed_in("pat").await;
    let attempt = Attempt::new();
    let (pats_token, _) = id_token_claims(&app, &code_for(&app, &pat, &attempt, &[]).await, &attempt).await;
    let hint = [("id_token_hint", pats_token.as_str())];
    // pat's silent re-check answers pat.
    code_for(&app, &pat, &Attempt::new(), &[("prompt", "none"), hint[0]]).await;

    // Someone else signed in at the browser: never a code for them under pat's hint.
    let sam = app.signed_in("sam").await;
    let attempt = Attempt::new();
    let answer =
        answer_at(&sam, &attempt.demo_url(&app, &[("prompt", "none"), hint[0], SKIP_LINKING]), DEMO_REDIRECT).await;
    assert_eq!((param(&answer, "error"), param(&answer, "code")), (Some("login_required"), None), "{answer:?}");
    let sent = first_step(&app, &sam, &Attempt::new(), &hint).await;
    assert!(sent.starts_with("/login?"), "asked to sign in as the hinted person: {sent}");

    // A hint that is not our ID token: invalid_request.
    let forged = format!("{}x", &pats_token[..pats_token.len() - 1]);
    let answer =
        answer_at(&pat, &Attempt::new().demo_url(&app, &[("id_token_hint", &forged), SKIP_LINKING]), DEMO_REDIRECT)
            .await;
    assert_eq!((param(&answer, "error"), param(&answer, "code")), (Some("invalid_request"), None), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_without_credentials_answers_the_bare_challenge() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let bare = client.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bare.headers().get(WWW_AUTHENTICATE).map(|v| v.to_str().unwrap()),
        Some("Bearer realm=\"profile-link\""),
        "no error attribute without credentials (RFC 6750 §3.1)"
    );
    let bad = client.get(app.url("/userinfo")).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let challenge = bad.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_post_without_the_session_cookie_is_confirmed_on_our_own_site() {
    let app = TestApp::spawn().await;
    let pat = app.signed_in("pat").await;
    let attempt = Attempt::new();
    let (id_token, _) = id_token_claims(&app, &code_for(&app, &pat, &attempt, &[]).await, &attempt).await;
    // The portal's cross-site form POST: the SameSite=Lax cookie stays behind.
    let fields =
        [("id_token_hint", id_token.as_str()), ("post_logout_redirect_uri", DEMO_AFTER_LOGOUT), ("state", "bye")];
    let posted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/end-session"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let status = posted.status();
    let location = posted.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
    let body = posted.text().await.unwrap();
    assert_eq!((status, location), (StatusCode::OK, None), "never 'signed out' while the session lives: {body}");
    let me = pat.request(Method::GET, &app.url("/me")).await;
    assert_eq!(me.status(), StatusCode::OK, "still signed in until the person continues");

    // The page's button asks again from our own site: the cookie comes, and the hint proves the session.
    let form = scraper::Html::parse_document(&body)
        .select(&scraper::Selector::parse("form[method=get][action='/end-session'] input").unwrap())
        .filter_map(|i| Some((i.value().attr("name")?.to_owned(), i.value().attr("value").unwrap_or("").to_owned())))
        .collect::<Vec<_>>();
    assert!(form.iter().any(|(n, _)| n == "id_token_hint"), "the page carries the request on: {body}");
    let mut again = url::Url::parse(&app.url("/end-session")).unwrap();
    again.query_pairs_mut().extend_pairs(&form);
    let confirmed = pat.request(Method::GET, again.as_str()).await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(confirmed.headers()[LOCATION].to_str().unwrap(), "http://127.0.0.1:3100/?state=bye");
    let me = pat.request(Method::GET, &app.url("/me")).await;
    assert_ne!(me.status(), StatusCode::OK, "the session is over");
    // Recorded in the session's own partition, not the identity's (authorize may not write there).
    assert_eq!(app.count_with_prefix("SESSION#").await, 1, "{:?}", app.keys().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_dies_with_the_session_it_was_issued_in() {
    let app = TestApp::spawn().await;
    // Signed out of this session.
    let pat = app.signed_in("pat").await;
    let attempt = Attempt::new();
    let code = code_for(&app, &pat, &attempt, &[]).await;
    let csrf = app.csrf(&pat).await;
    let out = pat.post_form(&app.url("/logout"), &[("csrf".into(), csrf)]).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let (status, body) = demo_token(&app, &code, &attempt).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");

    // Signed out everywhere, from another browser.
    let here = app.signed_in("pat").await;
    let elsewhere = app.signed_in("pat").await;
    let attempt = Attempt::new();
    let code = code_for(&app, &here, &attempt, &[]).await;
    let csrf = app.csrf(&elsewhere).await;
    let out =
        elsewhere.post_form(&app.url("/logout"), &[("csrf".into(), csrf), ("everywhere".into(), "1".into())]).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let (status, body) = demo_token(&app, &code, &attempt).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");

    // A session that lives on: its code works.
    let attempt = Attempt::new();
    let code = code_for(&app, &app.signed_in("pat").await, &attempt, &[]).await;
    let (status, body) = demo_token(&app, &code, &attempt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
