//! A session lasts no longer than its sign-in, lists the profiles the table
//! holds, and ends for every copy of its cookie when its person signs out
//! (issue [10], 1). Each test failed before that fix: re-issuing moved `exp`
//! on and copied the old profile list, and signing out only removed the
//! cookie from the browser that asked.

use profile_link_core::domain::profile::ProfileId;
use profile_link_core::session::SessionClaims;
use profile_link_tests::TestApp;
use profile_link_tests::browser::{Browser, Form, post_forms};
use profile_link_tests::flow::{confirm, links_naming, open, request};
use reqwest::StatusCode;

fn session_of(app: &TestApp, browser: &Browser) -> SessionClaims {
    let token = browser.cookie(&app.base, "pl_session").expect("a session cookie");
    app.sessions.verify(&token, app.clock_now()).expect("a valid session")
}

/// pat asks for the profile of `organization` and confirms its link.
async fn link(app: &TestApp, pat: &Browser, organization: &str) {
    assert_eq!(request(app, pat, &app.address("pat")).await.status, StatusCode::OK);
    app.deliver_stream().await;
    let link = links_naming(app, &app.address("pat"), organization).await.pop().expect("a link for the profile");
    let page = open(pat, &link, "pat").await;
    let done = confirm(pat, &page, "confirm").await;
    assert_eq!(done.status, StatusCode::OK, "linking {organization}: {}", done.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reissued_session_never_outlives_its_sign_in() {
    let app = TestApp::spawn().await;
    let pat = app.signed_in("pat").await;
    let signed_in = session_of(&app, &pat);
    let ttl = signed_in.exp - signed_in.iat;
    // An unlink of a profile nobody linked re-issues the session: the old way
    // to keep a stolen cookie alive, once every quarter of its lifetime.
    for round in 1..=3 {
        app.clock.advance(ttl / 4);
        assert_eq!(app.unlink(&pat, "CUST-404").await.status, StatusCode::OK, "round {round}");
        let reissued = session_of(&app, &pat);
        assert!(reissued.iat == signed_in.iat && reissued.sid == signed_in.sid, "round {round}: the same session");
        assert_eq!(reissued.exp, signed_in.exp, "round {round}: the re-issued session ends when the sign-in does");
        assert_eq!(reissued.auth_time, signed_in.auth_time, "round {round}: the same authentication");
        assert!(
            reissued.exp <= reissued.iat + ttl,
            "round {round}: exp {} is later than the sign-in {} + the session lifetime {ttl}",
            reissued.exp,
            reissued.iat
        );
    }
    app.clock.advance(ttl / 4 + 1);
    let me = pat.get(&app.url("/me")).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "past its sign-in's end /me answered {}", me.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reissued_session_lists_the_profiles_the_table_holds() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery"), ("CUST-2", "pat", "Pat Doe", "Consulting")]).await;
    let pat = app.signed_in("pat").await;
    link(&app, &pat, "Bakery").await;
    assert_eq!(session_of(&app, &pat).profiles, ["CUST-1"]);

    // Support undoes the link; pat's cookie still names CUST-1 until it is re-issued.
    let cust1 = ProfileId::parse("CUST-1").unwrap();
    app.store.revoke_owner(&cust1, "support@example.com", app.clock_now()).await.unwrap();
    link(&app, &pat, "Consulting").await;
    assert_eq!(session_of(&app, &pat).profiles, ["CUST-2"], "re-issued from the table, not from the old cookie");

    assert_eq!(app.unlink(&pat, "CUST-404").await.status, StatusCode::OK);
    assert_eq!(session_of(&app, &pat).profiles, ["CUST-2"]);
    assert_eq!(app.unlink(&pat, "CUST-2").await.status, StatusCode::OK);
    assert!(session_of(&app, &pat).profiles.is_empty(), "saw {:?}", session_of(&app, &pat).profiles);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_every_copy_of_the_session() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery")]).await;
    let pat = app.signed_in("pat").await;
    let csrf = app.csrf(&pat).await;
    // Someone holds a copy of pat's cookie (a stolen one, or another tab's).
    let stolen = pat.cookie(&app.base, "pl_session").unwrap();
    let copy = Browser::new();
    copy.set_cookie(&app.base, "pl_session", &stolen);
    assert_eq!(copy.get(&app.url("/me")).await.status, StatusCode::OK);

    let out = pat.post_form(&app.url("/logout"), &[("csrf".into(), csrf.clone())]).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let before = app.keys().await;

    let me = copy.get(&app.url("/me")).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "the copy's /me answered {}", me.body);
    let account = copy.get(&app.url("/")).await;
    assert!(!account.body.contains("Sign out"), "the copy still sees the account page: {}", account.body);
    for (path, fields) in [
        ("/associate", vec![("email", app.address("pat"))]),
        ("/profiles/unlink", vec![("profile_id", "CUST-1".to_owned())]),
    ] {
        let copy = Browser::new();
        copy.set_cookie(&app.base, "pl_session", &stolen);
        let mut form: Vec<(String, String)> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        form.push(("csrf".into(), csrf.clone()));
        let response = copy.client.post(app.url(path)).form(&form).send().await.unwrap();
        assert!(response.status().is_redirection(), "{path} from the signed-out copy answered {}", response.status());
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("/login"), "{path} sent the copy to {location}");
    }
    assert_eq!(app.keys().await, before, "nothing written for the signed-out copy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_everywhere_ends_every_session_of_the_identity() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery")]).await;
    let laptop = app.signed_in("pat").await;
    let phone = app.signed_in("pat").await;
    let sam = app.signed_in("sam").await;
    assert_ne!(session_of(&app, &laptop).sid, session_of(&app, &phone).sid, "two sessions");

    let account = laptop.get(&app.url("/")).await;
    let everywhere: Form = post_forms(&account)
        .into_iter()
        .find(|f| f.fields.iter().any(|(n, v)| n == "everywhere" && v == "1"))
        .unwrap_or_else(|| panic!("no \"sign out everywhere\" form on the account page: {}", account.body));
    assert!(account.body.contains("Sign out everywhere"), "{}", account.body);
    let out = laptop.submit(&everywhere).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);

    for (who, browser) in [("the laptop", &laptop), ("the phone", &phone)] {
        let me = browser.get(&app.url("/me")).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{who}'s /me answered {}", me.body);
    }
    assert_eq!(sam.get(&app.url("/me")).await.status, StatusCode::OK, "another identity's session lives on");

    // Signing in again starts a session of the new generation, which works.
    let again = app.signed_in("pat").await;
    assert_eq!(again.get(&app.url("/me")).await.status, StatusCode::OK);
    assert_eq!(request(&app, &again, &app.address("pat")).await.status, StatusCode::OK);
}
