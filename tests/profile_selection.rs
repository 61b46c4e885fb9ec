//! A portal that registers `profile_selection: required` learns the one
//! profile the person acts for: with more than one linked, `/authorize` asks
//! (a chooser in both locales, usable by keyboard and screen reader), and the
//! tokens name the choice (`profile_id`) beside the full list. Only the
//! person's own choice counts.

use profile_link_core::web::SESSION;
use profile_link_tests::TestApp;
use profile_link_tests::browser::{Browser, Page, first_post_form};
use profile_link_tests::portal::{
    Attempt, answer_at, demo_code, demo_token, param, pat_with_both_profiles, token, userinfo, verify_id_token,
};
use reqwest::StatusCode;
use reqwest::header::CONTENT_SECURITY_POLICY;
use serde_json::Value;

const CHOOSER: &str = "chooser";
const CHOOSER_SECRET: &str = "chooser-portal-secret-0123";
const CHOOSER_REDIRECT: &str = "https://chooser.example.com/cb";

/// The chooser's form as the person submits it, with `profile` chosen.
fn choosing(page: &Page, profile: &str) -> (String, Vec<(String, String)>) {
    let form = first_post_form(page).unwrap_or_else(|| panic!("no form on the chooser: {}", page.body));
    let mut fields: Vec<(String, String)> = form.fields.into_iter().filter(|(name, _)| name != "pl_profile").collect();
    fields.push(("pl_profile".into(), profile.into()));
    (form.action.to_string(), fields)
}

async fn chooser_tokens(app: &TestApp, code: &str, attempt: &Attempt) -> Value {
    let form = attempt.token_form(code, CHOOSER_REDIRECT);
    let fields: Vec<(&str, &str)> = form.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let (status, tokens) = token(app, Some((CHOOSER, CHOOSER_SECRET)), &fields).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_person_chooses_whom_they_act_for_and_the_tokens_say_so() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    let start = attempt.url(&app, CHOOSER, CHOOSER_REDIRECT, &[]);

    let page = pat.get(&start).await;
    assert_eq!(page.status, StatusCode::OK, "the chooser, not a code: {} {}", page.url, page.body);
    for expected in
        ["<fieldset", "<legend>Your linked customer profiles</legend>", "type=\"radio\"", "CUST-1", "CUST-2"]
    {
        assert!(page.body.contains(expected), "the chooser shows {expected:?}: {}", page.body);
    }
    assert!(
        page.body.contains("<label for=\"profile-1\">") && page.body.contains("id=\"profile-1\""),
        "each choice is labelled for screen readers: {}",
        page.body
    );
    let csp = page.headers.get(CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(
        csp.contains("form-action 'self' https://chooser.example.com"),
        "the POST may redirect to the portal: {csp}"
    );

    // The portal (or anyone linking here) cannot choose for the person: without
    // the session's CSRF token, or naming a profile not linked, the chooser stays.
    for forged in [
        attempt.url(&app, CHOOSER, CHOOSER_REDIRECT, &[("pl_profile", "CUST-2")]),
        attempt.url(&app, CHOOSER, CHOOSER_REDIRECT, &[("pl_profile", "CUST-2"), ("csrf", "not-the-token")]),
    ] {
        let again = pat.get(&forged).await;
        assert!(
            again.status == StatusCode::OK && again.body.contains("<fieldset"),
            "{forged}: the chooser again, got {} at {}",
            again.status,
            again.url
        );
    }
    let (action, unlinked) = choosing(&page, "CUST-9");
    let again = pat.post_form(&action, &unlinked).await;
    assert!(again.body.contains("<fieldset"), "a profile not linked is no choice: {} {}", again.status, again.url);

    // prompt=none cannot show the chooser.
    let silent =
        answer_at(&pat, &attempt.url(&app, CHOOSER, CHOOSER_REDIRECT, &[("prompt", "none")]), CHOOSER_REDIRECT).await;
    assert_eq!(param(&silent, "error"), Some("interaction_required"), "{silent:?}");

    // The person's choice: a code whose tokens name it beside the full list.
    let (action, fields) = choosing(&page, "CUST-2");
    let answer = pat.post_form_until(&action, &fields, CHOOSER_REDIRECT).await;
    let code = attempt.code_from(answer.as_str(), CHOOSER_REDIRECT, &app.base).unwrap();
    let tokens = chooser_tokens(&app, &code, &attempt).await;
    let claims = verify_id_token(&app, tokens["id_token"].as_str().unwrap(), CHOOSER).await;
    assert_eq!(claims["profile_id"], "CUST-2", "{claims}");
    assert_eq!(claims["profile_ids"], serde_json::json!(["CUST-1", "CUST-2"]), "{claims}");
    let access = tokens["access_token"].as_str().unwrap();
    let (_, info) = userinfo(&app, access).await;
    assert_eq!(info["profile_id"], "CUST-2", "{info}");

    // Once unlinked, the chosen profile is no longer acted for.
    let unlinked = app.unlink(&pat, "CUST-2").await;
    assert_eq!(unlinked.status, StatusCode::OK, "{}", unlinked.body);
    let (_, info) = userinfo(&app, access).await;
    assert!(info.get("profile_id").is_none(), "an unlinked profile is not acted for: {info}");

    // With one profile left there is nothing to choose: a code at once, naming it.
    let once = Attempt::new();
    let answer = answer_at(&pat, &once.url(&app, CHOOSER, CHOOSER_REDIRECT, &[]), CHOOSER_REDIRECT).await;
    let code = param(&answer, "code").unwrap_or_else(|| panic!("a code at once: {answer:?}")).to_owned();
    let claims =
        verify_id_token(&app, chooser_tokens(&app, &code, &once).await["id_token"].as_str().unwrap(), CHOOSER).await;
    assert_eq!(claims["profile_id"], "CUST-1", "{claims}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_that_do_not_ask_get_no_choice_and_the_chooser_speaks_german() {
    let app = TestApp::spawn().await;
    let pat = pat_with_both_profiles(&app).await;
    let attempt = Attempt::new();
    let (_, tokens) = demo_token(&app, &demo_code(&app, &pat, &attempt).await, &attempt).await;
    let claims = verify_id_token(&app, tokens["id_token"].as_str().unwrap(), "demo-portal").await;
    assert!(claims.get("profile_id").is_none(), "the demo portal does not ask: {claims}");

    // pat's session, in a browser that prefers German.
    let german = Browser::speaking("de-DE,de;q=0.9");
    let session = pat.cookie(&app.base, SESSION).unwrap_or_else(|| panic!("pat has a {SESSION} cookie"));
    german.set_cookie(&app.base, SESSION, &session);
    let page = german.get(&Attempt::new().url(&app, CHOOSER, CHOOSER_REDIRECT, &[])).await;
    assert!(
        page.body.contains("Wählen Sie, für wen Sie handeln") && page.body.contains("lang=\"de\""),
        "the chooser in German: {}",
        page.body
    );
}
