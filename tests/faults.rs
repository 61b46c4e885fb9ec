//! [6] Faults: the functions' AWS calls go through a fault-injecting proxy
//! (`profile-link-fault-proxy`) in front of the emulator, or the send-emails
//! invocation is killed mid-batch. Nothing acknowledged is lost, nothing is
//! half-written, and every email goes out once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::dynamodb::Event;
use profile_link_core::aws::Endpoints;
use profile_link_dev_server::stream::StreamPoller;
use profile_link_fault_proxy::Rule;
use profile_link_send_emails::{SendEmailsApp, handle};
use profile_link_tests::browser::{Browser, first_post_form};
use profile_link_tests::dynamodb_local::DynamoDbLocal;
use profile_link_tests::faults::CrashBeforeTransaction;
use profile_link_tests::flow::{associations, confirm, links_naming, open, request};
use profile_link_tests::{TestApp, TestOptions, behind_fault_proxy, local_aws};
use reqwest::StatusCode;

fn rules(specs: &[&str]) -> Vec<Rule> {
    specs.iter().map(|spec| spec.parse().unwrap()).collect()
}

const BAKERY: &str = "Doe Family Bakery";
const NORTHWIND: &str = "Northwind Consulting";

async fn pat_with_two_profiles(app: &TestApp) -> Browser {
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY), ("CUST-2", "pat", "Pat Doe", NORTHWIND)]).await;
    app.signed_in("pat").await
}

/// The profile ids `/me` lists for this browser's session.
async fn linked_profiles(app: &TestApp, browser: &Browser) -> HashSet<String> {
    let me = browser.get(&app.url("/me")).await.json();
    me["profiles"].as_array().unwrap().iter().map(|p| p["profile_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_server_errors_and_dropped_connections_are_retried_and_the_flow_completes() {
    let (app, proxy) = behind_fault_proxy().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY), ("CUST-2", "pat", "Pat Doe", NORTHWIND)]).await;

    // Every second DynamoDB call is throttled while pat signs in and asks
    // (never two in a row, so each call succeeds on its retry).
    proxy.set_rules(rules(&["dynamodb:throttle:every2"]));
    let pat = app.signed_in("pat").await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);

    // The stream consumer meets 500s from DynamoDB and its stream, and a throttled SES.
    proxy.set_rules(rules(&["dynamodb:error:every2", "streams:error:every2", "ses/SendEmail:throttle:every2"]));
    app.deliver_stream().await;
    assert!(app.discarded_records().await.is_empty(), "no record given up");

    // Redemption meets connections closed without an answer.
    proxy.set_rules(rules(&["dynamodb:drop:every2"]));
    for organization in [BAKERY, NORTHWIND] {
        let links = links_naming(&app, &app.address("pat"), organization).await;
        assert_eq!(links.len(), 1, "exactly one email for the {organization} profile");
        let done = confirm(&pat, &open(&pat, &links[0], "pat").await, "confirm").await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    }
    proxy.heal();
    assert_eq!(linked_profiles(&app, &pat).await, HashSet::from(["CUST-1".into(), "CUST-2".into()]));
    assert_eq!(associations(&app).await, 2);

    let stats = proxy.stats();
    for kind in ["throttle", "error", "drop"] {
        assert!(stats.faults(kind) > 0, "no {kind} was injected: {stats:?}");
    }
    assert!(stats.count("ses/SendEmail", "throttle") > 0, "{stats:?}");
    assert!(
        stats.count("streams/GetShardIterator", "error") + stats.count("streams/GetRecords", "error") > 0,
        "saw {stats:?}"
    );
    // A retried transaction carries the same idempotency token as its first
    // attempt, so a response lost after DynamoDB applied it cannot apply it twice.
    let tokens = &stats.transaction_tokens;
    assert!(tokens.iter().all(|t| !t.is_empty()), "every TransactWriteItems carries a ClientRequestToken");
    let distinct: HashSet<&String> = tokens.iter().collect();
    let forwarded = stats.count("dynamodb/TransactWriteItems", "forwarded") as usize;
    assert!(tokens.len() > forwarded, "some transactions were retried: {stats:?}");
    assert_eq!(distinct.len(), forwarded, "one token per transaction, however often it was tried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_cannot_complete_answers_503_retry_later_and_changes_nothing() {
    let (app, proxy) = behind_fault_proxy().await;
    let pat = pat_with_two_profiles(&app).await;
    let assert_retry_later = |page: &profile_link_tests::browser::Page, says: &str| {
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{}", page.body);
        assert_eq!(page.headers["retry-after"], "5");
        assert!(page.body.contains(says), "{}", page.body);
    };

    // Sign-in cannot store its transaction.
    let before = app.snapshot().await;
    proxy.set_rules(rules(&["dynamodb:error:always"]));
    let page = Browser::new().get(&app.url("/login")).await;
    assert_retry_later(&page, "Sign-in is unavailable right now");
    assert_eq!(app.snapshot().await, before);

    // The request's transaction is throttled on every attempt.
    proxy.set_rules(rules(&["dynamodb/TransactWriteItems:throttle:always"]));
    let page = request(&app, &pat, &app.address("pat")).await;
    assert_retry_later(&page, "Nothing was sent");
    assert_eq!(app.snapshot().await, before, "no link, no rate-limit count, no audit entry");

    // The profile lookup hangs: each attempt is abandoned after 2 s and the
    // whole call after 5 s, well inside the function's 10 s timeout.
    proxy.set_rules(rules(&["dynamodb/Query:delay=2500ms:always"]));
    let started = Instant::now();
    let page = request(&app, &pat, &app.address("pat")).await;
    assert_retry_later(&page, "Nothing was sent");
    assert!(started.elapsed() < Duration::from_secs(9), "answered in {:?}", started.elapsed());
    assert_eq!(app.snapshot().await, before);

    // Healed, the same request goes through.
    proxy.heal();
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    app.deliver_stream().await;
    let link = links_naming(&app, &app.address("pat"), BAKERY).await.remove(0);
    let page = open(&pat, &link, "pat").await;
    let form = first_post_form(&page).unwrap();

    // Confirming cannot write its transaction: nothing is linked or used up...
    let before = app.snapshot().await;
    proxy.set_rules(rules(&["dynamodb/TransactWriteItems:error:always"]));
    let failed = confirm(&pat, &page, "confirm").await;
    assert_retry_later(&failed, "Nothing was changed");
    assert_eq!(app.snapshot().await, before);

    // ...so the same confirmation, sent again once DynamoDB is back, links the profile.
    proxy.heal();
    let mut again = form.clone();
    again.set("action", "confirm");
    let done = pat.submit(&again).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(associations(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ses_outage_is_retried_with_backoff_and_every_email_goes_out_once() {
    let (app, proxy) = behind_fault_proxy().await;
    let pat = pat_with_two_profiles(&app).await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);

    // SES throttles the first four sends. The two links are sent side by
    // side, so which meets how many is theirs to race: a link whose three SDK
    // attempts are all throttled gives its claim back and waits in the
    // outbox; the other goes on a retry. The sweep sends what waits once its
    // wait has passed.
    proxy.set_rules(rules(&["ses/SendEmail:throttle:first4"]));
    app.deliver_stream().await;
    let stats = proxy.stats();
    assert_eq!(stats.count("ses/SendEmail", "throttle"), 4);
    assert!(app.discarded_records().await.is_empty(), "saw {:?}", app.discarded_records().await);
    let from_the_stream = app.emails_to(&app.address("pat")).await.len();
    app.clock.advance(profile_link_core::store::SWEEP_GRACE_SECONDS + 1);
    let swept = app.sweep_mail().await.sent as usize;
    assert_eq!(from_the_stream + swept, 2, "each link once: {from_the_stream} from the stream, {swept} from the sweep");
    for organization in [BAKERY, NORTHWIND] {
        assert_eq!(links_naming(&app, &app.address("pat"), organization).await.len(), 1, "{organization}");
    }
    // A redelivery of everything sends nothing more.
    let everything: Vec<_> = app.read_stream().await;
    assert!(everything.is_empty(), "the mapping's checkpoint moved past the delivered records");
    assert_eq!(app.emails_to(&app.address("pat")).await.len(), 2);
}

/// A send-emails instance whose DynamoDB client crashes the invocation before
/// the n-th transaction (see [`CrashBeforeTransaction`]).
fn crashing_sender(app: &TestApp, n: u32) -> Arc<SendEmailsApp> {
    let client = aws_sdk_dynamodb::Client::from_conf(
        app.send_emails.store.client().config().to_builder().interceptor(CrashBeforeTransaction::at(n)).build(),
    );
    let mut sender = app.other_sender(Some(client), None, None);
    // One delivery at a time, so the n-th transaction is a known point of
    // the batch; concurrent deliveries reach the same points in an order
    // a test cannot choose.
    Arc::get_mut(&mut sender).expect("a new sender, not shared yet").concurrent_sends = 1;
    sender
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_at_any_point_of_a_batch_loses_nothing_and_redelivery_sends_each_link_once() {
    // send-emails makes, for two links: claim 1, record 1, claim 2, record 2.
    for crash_at in 1..=4 {
        let app = TestApp::spawn().await;
        let pat = pat_with_two_profiles(&app).await;
        assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
        let mut event = Event::default();
        event.records = app.read_stream().await;
        assert_eq!(event.records.len(), 2);

        // The invocation dies mid-batch...
        let crashing = crashing_sender(&app, crash_at);
        let batch = event.clone();
        let died = tokio::spawn(async move { handle(&crashing, batch, "crashing").await }).await;
        assert!(died.is_err_and(|e| e.is_panic()), "crash point {crash_at} was reached");

        // ...and Lambda redelivers the whole batch to a fresh instance. A claim
        // left by the dead one is taken over once it is stale (the manual clock
        // moves on instead of the test sleeping).
        let response = handle(&app.send_emails, event, "redelivery").await;
        assert!(response.batch_item_failures.is_empty(), "crash point {crash_at}: {:?}", response.batch_item_failures);

        for (i, organization) in [BAKERY, NORTHWIND].into_iter().enumerate() {
            let links = links_naming(&app, &app.address("pat"), organization).await;
            // Only a death between SES accepting the email and recording it
            // (the link's "record" call) can send a second one.
            let died_after_sending = crash_at == 2 * (i as u32 + 1);
            let expected = if died_after_sending { 2 } else { 1 };
            assert_eq!(links.len(), expected, "crash point {crash_at}, {organization}");
            // The newest email's link works; an earlier one no longer does.
            if died_after_sending {
                let stale = open(&pat, &links[0], "pat").await;
                assert_eq!(stale.status, StatusCode::BAD_REQUEST, "crash point {crash_at}: {}", stale.body);
            }
            let page = open(&pat, links.last().unwrap(), "pat").await;
            let done = confirm(&pat, &page, "confirm").await;
            assert_eq!(done.status, StatusCode::OK, "crash point {crash_at}, {organization}: {}", done.body);
        }
        assert_eq!(associations(&app).await, 2, "crash point {crash_at}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_mapping_retries_a_crashed_invocation_with_the_whole_batch() {
    let app = TestApp::spawn().await;
    let pat = pat_with_two_profiles(&app).await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    // Dies before claiming the second link; the dev server's mapping (the
    // stand-in for Lambda's) invokes again with the same batch.
    let sdk = profile_link_tests::sdk_config().await;
    let mut mapping = StreamPoller::new(&sdk, app.store.table(), crashing_sender(&app, 3)).await.unwrap();
    assert_eq!(mapping.poll_once().await.unwrap(), 2);
    assert!(mapping.discarded.ids().is_empty(), "saw {:?}", mapping.discarded.ids());
    for organization in [BAKERY, NORTHWIND] {
        assert_eq!(links_naming(&app, &app.address("pat"), organization).await.len(), 1, "{organization}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamodb_restart_loses_nothing_it_acknowledged() {
    // A DynamoDB Local of this test's own, on disk; SES stays the shared moto.
    let mut dynamodb = DynamoDbLocal::start().await;
    let local_aws = Endpoints { dynamodb: dynamodb.endpoint(), dynamodb_streams: dynamodb.endpoint(), ..local_aws() };
    let options = TestOptions { local_aws: Some(local_aws), ..TestOptions::default() };
    let app = TestApp::spawn_with_options(options).await;
    let pat = pat_with_two_profiles(&app).await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    assert_eq!(app.deliver_stream().await, 2);
    let bakery = links_naming(&app, &app.address("pat"), BAKERY).await.remove(0);
    let northwind = links_naming(&app, &app.address("pat"), NORTHWIND).await.remove(0);
    assert_eq!(confirm(&pat, &open(&pat, &bakery, "pat").await, "confirm").await.status, StatusCode::OK);
    let page = open(&pat, &northwind, "pat").await;
    let before = app.snapshot().await;
    let mail_before = app.emails_to(&app.address("pat")).await.len();

    // DynamoDB dies. Meanwhile, confirming answers "try again".
    dynamodb.kill();
    let failed = confirm(&pat, &page, "confirm").await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE, "{}", failed.body);

    // Back up: every acknowledged write is there, with every attribute.
    dynamodb.restart().await;
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.emails_to(&app.address("pat")).await.len(), mail_before);

    // The same confirmation now goes through; the mapping resumes from its
    // checkpoint: the two "now linked" notices go out, no link email again.
    let mut form = first_post_form(&page).unwrap();
    form.set("action", "confirm");
    assert_eq!(pat.submit(&form).await.status, StatusCode::OK);
    assert_eq!(app.deliver_stream().await, 2, "just the two notices");
    assert!(app.discarded_records().await.is_empty(), "saw {:?}", app.discarded_records().await);
    let mail = app.emails_to(&app.address("pat")).await;
    assert_eq!(mail.iter().filter(|m| m.subject.contains("is now linked")).count(), 2);
    for organization in [BAKERY, NORTHWIND] {
        assert_eq!(links_naming(&app, &app.address("pat"), organization).await.len(), 1, "{organization}");
    }
    assert_eq!(linked_profiles(&app, &pat).await, HashSet::from(["CUST-1".into(), "CUST-2".into()]));
}

/// The token function's parameters, as an operator keeps them in SSM: its
/// signing key and portal list in one `GetParameters` call, then the secret
/// the list names in a second.
async fn token_parameters_in_ssm() -> profile_link_core::config::Env {
    let ssm = aws_sdk_ssm::Client::new(&profile_link_tests::sdk_config().await);
    let root = format!("/test-{}/", profile_link_core::random::token(6).replace(['-', '_'], "x"));
    let name = |leaf: &str| format!("{root}{leaf}");
    let pem = profile_link_core::SessionKeys::generate_pem();
    profile_link_tests::put_secure_string(&ssm, &name("session-signing-key"), &pem).await;
    profile_link_tests::put_secure_string(&ssm, &name("portals/shop"), "shop-secret-0123456789").await;
    let clients = format!(
        r#"[{{"id": "shop", "name": "Shop", "redirect_uris": ["https://shop.example/cb"], "client_secret_parameter": "{}"}}]"#,
        name("portals/shop")
    );
    profile_link_tests::put_secure_string(&ssm, &name("portal-clients"), &clients).await;
    profile_link_core::config::Env::from_pairs([
        ("TABLE_NAME", "unused"),
        ("PUBLIC_BASE_URL", "https://link.example.com"),
        ("SUPPORT_EMAIL", "support@example.com"),
        ("OPERATOR_NAME", "Example Ltd"),
        ("MAIL_FROM", "no-reply@example.com"),
        ("SESSION_SIGNING_KEY_SSM_PARAMETER", name("session-signing-key").as_str()),
        ("PORTAL_CLIENTS_SSM_PARAMETER", name("portal-clients").as_str()),
        ("PORTAL_SECRETS_PATH", name("portals/").as_str()),
    ])
}

/// A fault proxy in front of the local servers, and an `SdkConfig` that reaches AWS only through it.
async fn ssm_behind_fault_proxy(
    faults: &[&str],
) -> (profile_link_fault_proxy::FaultProxy, aws_config::SdkConfig, tokio::task::JoinHandle<()>) {
    let local = local_aws();
    let upstreams = profile_link_fault_proxy::Upstreams { dynamodb: local.dynamodb, other: local.ssm };
    let proxy = profile_link_fault_proxy::FaultProxy::new(&upstreams, rules(faults), 7).unwrap();
    let (address, serving) = proxy.listen("127.0.0.1:0").await.unwrap();
    let sdk = profile_link_core::aws::sdk_config_with_endpoints(&Endpoints::all(&format!("http://{address}"))).await;
    (proxy, sdk, serving)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_outlasts_parameter_store_throttling_and_says_so_when_it_cannot() {
    let env = token_parameters_in_ssm().await;

    // A burst of cold starts: Parameter Store throttles the first four reads
    // (the SDK's own 3 attempts would have given up after the third).
    let (proxy, sdk, _serving) = ssm_behind_fault_proxy(&["ssm/GetParameters:throttle:first4"]).await;
    let app = profile_link_token::TokenApp::from_env(&env, &sdk).await;
    let app = app.unwrap_or_else(|e| panic!("the start gave up while SSM was throttling: {e}"));
    let kept: Vec<&str> = app.clients.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(kept, ["shop"], "the portal and its secret were read");
    let stats = proxy.stats();
    assert_eq!(stats.count("ssm/GetParameters", "throttle"), 4, "{stats:?}");
    assert_eq!(stats.count("ssm/GetParameters", "forwarded"), 2, "the list, then its secret: {stats:?}");

    // Throttled throughout: the start fails after a bounded number of sends, with a line that says why.
    let (proxy, sdk, _serving) = ssm_behind_fault_proxy(&["ssm:throttle:always"]).await;
    let error = profile_link_token::TokenApp::from_env(&env, &sdk).await.err().expect("no start without SSM");
    let line = error.to_string();
    assert!(line.contains("throttled by Parameter Store on all"), "the failure says it was throttled: {line}");
    assert!(
        line.contains("session-signing-key") && !line.contains("BEGIN"),
        "names the parameters, not values: {line}"
    );
    let sends = proxy.stats().count("ssm/GetParameters", "throttle");
    let budget = profile_link_core::secrets::SSM_AT_START.attempts;
    assert!((2..=u64::from(budget)).contains(&sends), "retried, boundedly: {sends} sends of at most {budget}");
}

/// An account's SES limits, as the proxy plays them, reach the SDK as SES's
/// own refusals (what send-emails reads to tell a throttle from a spent
/// quota), and the proxy counts them by kind on its stats page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_rate_and_quota_refusals_reach_the_sdk_as_ses_words_them_and_are_counted_by_kind() {
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    // Nothing listens upstream: a call the limits let through gets a 502, and
    // only the refusals matter here.
    let upstreams = profile_link_fault_proxy::Upstreams {
        dynamodb: "http://127.0.0.1:1".into(),
        other: "http://127.0.0.1:1".into(),
    };
    let proxy = profile_link_fault_proxy::FaultProxy::new(&upstreams, rules(&["ses/SendEmail:quota=1/1h"]), 1).unwrap();
    let (address, _serving) = proxy.listen("127.0.0.1:0").await.unwrap();
    let sdk = profile_link_tests::sdk_config().await;
    let ses = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(&sdk)
            .endpoint_url(format!("http://{address}"))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let send = || {
        let text = Content::builder().data("hello").build().unwrap();
        ses.send_email()
            .from_email_address("no-reply@example.com")
            .destination(Destination::builder().to_addresses("pat@example.com").build())
            .content(
                EmailContent::builder()
                    .simple(Message::builder().subject(text.clone()).body(Body::builder().text(text).build()).build())
                    .build(),
            )
            .send()
    };
    // The quota's one send goes through (to nothing: a 502), the next is refused.
    let first = send().await;
    assert!(
        first.as_ref().err().and_then(|e| e.raw_response()).is_some_and(|r| r.status().as_u16() == 502),
        "the first send was forwarded, saw {first:?}"
    );
    assert_eq!(
        refusal(send().await),
        (Some(400), Some("LimitExceededException".into()), Some("Daily message quota exceeded.".into()))
    );
    let refused = send().await;
    assert!(
        refused.as_ref().err().and_then(|e| e.as_service_error()).is_some_and(|e| e.is_limit_exceeded_exception()),
        "the SDK types a spent quota as LimitExceededException, saw {refused:?}"
    );

    // At 1 a second, back-to-back sends meet an empty bucket within a few.
    proxy.set_rules(rules(&["ses/SendEmail:ratelimit=1/s"]));
    let mut throttled = None;
    for _ in 0..10 {
        if let Err(error) = send().await
            && error.as_service_error().is_some_and(|e| e.is_too_many_requests_exception())
        {
            throttled = Some(error);
            break;
        }
    }
    let throttled = throttled.expect("one of 10 back-to-back sends at 1/s was throttled");
    assert_eq!(
        refusal(Err::<(), _>(throttled)),
        (Some(429), Some("TooManyRequestsException".into()), Some("Maximum sending rate exceeded.".into()))
    );

    // GetAccount (which moto lacks) tells the account the rules play, as a sender reads it to pace itself.
    // SentLast24Hours is what the quota has spent, none yet under these rules
    // (not every send the proxy ever passed on: a sender pacing itself to that
    // would never see a spent quota free up; limits.rs tests the spending).
    proxy.set_rules(rules(&["ses/SendEmail:ratelimit=14/s", "ses/SendEmail:quota=500/60s"]));
    let account = ses.get_account().send().await.expect("the proxy answers GetAccount");
    let quota = account.send_quota().expect("a SendQuota");
    assert_eq!(
        (quota.max_send_rate(), quota.max24_hour_send(), quota.sent_last24_hours()),
        (14.0, 500.0, 0.0),
        "saw {quota:?}"
    );
    assert_eq!(proxy.stats().count("ses/account", "answered"), 1);

    // Counted by kind, in the proxy and on its stats page.
    let stats = proxy.stats();
    assert_eq!(stats.count("ses/SendEmail", "quota"), 2, "saw {:?}", stats.calls);
    assert!(stats.count("ses/SendEmail", "ratelimit") >= 1, "saw {:?}", stats.calls);
    let page: serde_json::Value = reqwest::get(format!("http://{address}{}", profile_link_fault_proxy::STATS_PATH))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["calls"]["ses/SendEmail"]["quota"], 2, "saw {page}");
    assert_eq!(page["calls"]["ses/SendEmail"]["ratelimit"], stats.count("ses/SendEmail", "ratelimit"), "saw {page}");
}

type SendResult<T> = Result<
    T,
    aws_sdk_sesv2::error::SdkError<
        aws_sdk_sesv2::operation::send_email::SendEmailError,
        aws_sdk_sesv2::config::http::HttpResponse,
    >,
>;

/// A refused send's HTTP status, error code and message.
fn refusal<T: std::fmt::Debug>(result: SendResult<T>) -> (Option<u16>, Option<String>, Option<String>) {
    use aws_sdk_sesv2::error::ProvideErrorMetadata;
    let error = result.expect_err("a refusal, not an accepted send");
    let status = error.raw_response().map(|r| r.status().as_u16());
    let service = error.into_service_error();
    (status, service.code().map(str::to_owned), service.message().map(str::to_owned))
}
