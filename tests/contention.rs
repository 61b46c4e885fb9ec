//! [9] What real AWS does that no local engine shows, through the fault
//! proxy: transactions cancelled by a conflicting one, plain writes failing
//! on an ongoing transaction, stream pages that are empty or one record long,
//! an SES call whose answer never comes, and a batch of claims left by a dead
//! sender. Each is retried where that is safe, boundedly, and never reported
//! as something it is not.

use std::collections::HashSet;
use std::time::Instant;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::DynamoDbEventResponse;
use profile_link_core::Clock;
use profile_link_core::domain::link_token::Verifier;
use profile_link_core::mail::pace::{ManualTime, PaceConfig, SendPace};
use profile_link_core::store::conflicts::{CONFLICT_ATTEMPTS, THROTTLED_ATTEMPTS};
use profile_link_core::store::{LinkRecord, Outgoing};
use profile_link_fault_proxy::Rule;
use profile_link_send_emails::{STALE_CLAIM_SECONDS, handle};
use profile_link_tests::browser::{Browser, first_post_form};
use profile_link_tests::flow::{associations, confirm, links_naming, open, request};
use profile_link_tests::portal::{Attempt, DEMO_REDIRECT, answer_at, demo_token, param};
use profile_link_tests::{TestApp, TestOptions, behind_fault_proxy, behind_fault_proxy_with, workspace_root};
use reqwest::StatusCode;

const BAKERY: &str = "Doe Family Bakery";
const NORTHWIND: &str = "Northwind Consulting";

fn rules(specs: &[&str]) -> Vec<Rule> {
    specs.iter().map(|spec| spec.parse().unwrap()).collect()
}

async fn pat_with_two_links(app: &TestApp) -> Browser {
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY), ("CUST-2", "pat", "Pat Doe", NORTHWIND)]).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    assert_eq!(app.deliver_stream().await, 2);
    pat
}

/// pat holds one profile and has asked for its link (not yet delivered).
async fn pat_asked_for_one_link(app: &TestApp) -> Browser {
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY)]).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    pat
}

fn assert_unavailable(page: &profile_link_tests::browser::Page, what: &str) {
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {} {}", page.status, page.body);
    assert_eq!(page.headers.get("retry-after").map(|v| v.to_str().unwrap()), Some("5"), "{what}: {:?}", page.headers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_transaction_is_sent_again_with_a_fresh_token_and_the_link_is_redeemed() {
    let (app, proxy) = behind_fault_proxy().await;
    let pat = pat_with_two_links(&app).await;
    let link = links_naming(&app, &app.address("pat"), BAKERY).await.remove(0);
    let page = open(&pat, &link, "pat").await;

    proxy.set_rules(rules(&["dynamodb/TransactWriteItems:conflict:first2"]));
    let tokens_before = proxy.stats().transaction_tokens.len();
    let done = confirm(&pat, &page, "confirm").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(associations(&app).await, 1);

    let stats = proxy.stats();
    assert_eq!(stats.count("dynamodb/TransactWriteItems", "conflict"), 2, "{stats:?}");
    // Each send after a cancellation is a new request: DynamoDB replays a
    // token's outcome only for a request that succeeded.
    let tokens = &stats.transaction_tokens[tokens_before..tokens_before + 3];
    let distinct: HashSet<&String> = tokens.iter().collect();
    assert_eq!(distinct.len(), 3, "three sends, three tokens: {tokens:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_cancelled_by_throttling_is_sent_again_and_the_link_is_redeemed() {
    let (app, proxy) = behind_fault_proxy().await;
    let pat = pat_with_two_links(&app).await;
    let bakery = links_naming(&app, &app.address("pat"), BAKERY).await.remove(0);
    let northwind = links_naming(&app, &app.address("pat"), NORTHWIND).await.remove(0);

    // DynamoDB names throttling in a cancellation's reasons (`ThrottlingError`),
    // not in the error's code, so the SDK's own retry never sees it.
    let page = open(&pat, &bakery, "pat").await;
    proxy.set_rules(rules(&["dynamodb/TransactWriteItems:cancelthrottle:first2"]));
    let done = confirm(&pat, &page, "confirm").await;
    assert_eq!(done.status, StatusCode::OK, "redeemed after two throttled sends: {} {}", done.status, done.body);
    assert_eq!(associations(&app).await, 1, "one association written");
    let stats = proxy.stats();
    assert_eq!(stats.count("dynamodb/TransactWriteItems", "cancelthrottle"), 2, "{stats:?}");

    // Throttling that outlasts the retries is an outage ("try again"), never
    // "this link no longer works", and the link still works once it passes.
    let page = open(&pat, &northwind, "pat").await;
    proxy.set_rules(rules(&["dynamodb/TransactWriteItems:cancelthrottle:always"]));
    let refused = confirm(&pat, &page, "confirm").await;
    assert_unavailable(&refused, "a redemption throttled throughout");
    let sends = proxy.stats().count("dynamodb/TransactWriteItems", "cancelthrottle") - 2;
    assert_eq!(sends, u64::from(THROTTLED_ATTEMPTS), "bounded: {THROTTLED_ATTEMPTS} sends, then the answer");
    proxy.heal();
    assert_eq!(associations(&app).await, 1, "nothing written while throttled");
    let page = open(&pat, &northwind, "pat").await;
    let done = confirm(&pat, &page, "confirm").await;
    assert_eq!(done.status, StatusCode::OK, "the link was not used up: {} {}", done.status, done.body);
    assert_eq!(associations(&app).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_write_that_meets_a_transaction_is_retried_by_the_sdk() {
    let (app, proxy) = behind_fault_proxy().await;
    let pat = app.signed_in("pat").await;
    // A code for a portal without a back-channel logout URI is stored with
    // one PutItem (pl_skip: pat goes on to the portal without linking first).
    proxy.set_rules(rules(&["dynamodb/PutItem:conflict:first1"]));
    let attempt = Attempt::new();
    let answer = answer_at(&pat, &attempt.demo_url(&app, &[("pl_skip", "1")]), DEMO_REDIRECT).await;
    let code =
        param(&answer, "code").unwrap_or_else(|| panic!("a code after the retried write: {answer:?}")).to_owned();
    let stats = proxy.stats();
    assert_eq!(stats.count("dynamodb/PutItem", "conflict"), 1, "{stats:?}");
    assert!(stats.count("dynamodb/PutItem", "forwarded") >= 1, "{stats:?}");
    let (status, tokens) = demo_token(&app, &code, &attempt).await;
    assert_eq!(status, StatusCode::OK, "the code was stored: {tokens}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_that_outlasts_the_retries_is_an_outage_never_a_refusal() {
    let (app, proxy) = behind_fault_proxy().await;
    let pat = pat_with_two_links(&app).await;
    let bakery = links_naming(&app, &app.address("pat"), BAKERY).await.remove(0);
    let northwind = links_naming(&app, &app.address("pat"), NORTHWIND).await.remove(0);
    assert_eq!(confirm(&pat, &open(&pat, &bakery, "pat").await, "confirm").await.status, StatusCode::OK);

    // Unlinking meets conflicts on every send: "try again", not "not linked".
    let account = pat.get(&app.url("/")).await;
    let unlink = first_post_form(&account).expect("an Unlink button");
    proxy.set_rules(rules(&["dynamodb/TransactWriteItems:conflict:always"]));
    let before = proxy.stats().count("dynamodb/TransactWriteItems", "conflict");
    let refused = pat.submit(&unlink).await;
    assert_unavailable(&refused, "unlink");
    let sends = proxy.stats().count("dynamodb/TransactWriteItems", "conflict") - before;
    assert_eq!(sends, u64::from(CONFLICT_ATTEMPTS), "bounded: {CONFLICT_ATTEMPTS} sends, then the answer");
    proxy.heal();
    assert_eq!(associations(&app).await, 1, "still linked");

    // Another identity's confirmation burns a link; under conflicts it must not say "no longer works".
    let sam = app.signed_in("sam").await;
    let shown = open(&sam, &northwind, "sam").await;
    assert_eq!(shown.status, StatusCode::FORBIDDEN, "sam is told it is not his: {}", shown.body);
    let csrf = app.csrf(&sam).await;
    let token = northwind.split_once("token=").unwrap().1.to_owned();
    let fields = [("token".to_owned(), token), ("csrf".to_owned(), csrf), ("action".to_owned(), "confirm".to_owned())];
    proxy.set_rules(rules(&["dynamodb/TransactWriteItems:conflict:always"]));
    let burned = sam.post_form(&app.url("/redeem"), &fields).await;
    assert_unavailable(&burned, "a burn that met conflicts");
    proxy.heal();
    let page = open(&pat, &northwind, "pat").await;
    let done = confirm(&pat, &page, "confirm").await;
    assert_eq!(done.status, StatusCode::OK, "the link was not burned: {}", done.body);
    assert_eq!(associations(&app).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppression_is_not_dropped_when_its_write_meets_conflicts() {
    let (app, proxy) = behind_fault_proxy().await;
    pat_asked_for_one_link(&app).await;
    let records = app.read_stream().await;
    let link: LinkRecord = serde_dynamo::from_item(records[0].change.new_image.clone()).unwrap();

    proxy.set_rules(rules(&["dynamodb/TransactWriteItems:conflict:always"]));
    let now = app.clock_now();
    let hash = Verifier::mint().hash();
    let outgoing = Outgoing::Link { link: &link, verifier_hash: &hash };
    let result = app.store.mark_outgoing_suppressed(&outgoing, now).await;
    assert!(result.is_err(), "a conflict is reported, so the record is retried: {result:?}");
    proxy.heal();
    let audits = |keys: Vec<(String, String)>| keys.iter().filter(|(_, sk)| sk.contains("#suppressed#")).count();
    assert_eq!(audits(app.keys().await), 0, "nothing was written");

    app.store.mark_outgoing_suppressed(&outgoing, now).await.unwrap();
    assert_eq!(audits(app.keys().await), 1, "the retry writes the audit entry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_mapping_reads_past_empty_pages_and_follows_every_page() {
    let (app, proxy) = behind_fault_proxy().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY), ("CUST-2", "pat", "Pat Doe", NORTHWIND)]).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);

    // Three empty pages before the records, then pages of one record; shards one per page.
    proxy.set_rules(rules(&[
        "streams/GetRecords:empty:first3",
        "streams/GetRecords:limit=1:always",
        "streams/DescribeStream:limit=1:always",
    ]));
    assert_eq!(app.deliver_stream().await, 2, "both links were delivered");
    let stats = proxy.stats();
    assert_eq!(stats.count("streams/GetRecords", "empty"), 3, "{stats:?}");
    assert!(stats.count("streams/GetRecords", "limit") >= 2, "{stats:?}");
    proxy.heal();
    for organization in [BAKERY, NORTHWIND] {
        assert_eq!(links_naming(&app, &app.address("pat"), organization).await.len(), 1, "{organization}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ses_call_without_an_answer_is_not_sent_again() {
    let (app, proxy) = behind_fault_proxy().await;
    pat_asked_for_one_link(&app).await;

    // SES takes longer than an attempt may (2 s), and still sends the email.
    proxy.set_rules(rules(&["ses/SendEmail:delay=2500ms:first1"]));
    assert_eq!(app.deliver_stream().await, 1);
    // The late email arrives; nothing else does.
    let deadline = Instant::now() + std::time::Duration::from_secs(15);
    while app.emails_to(&app.address("pat")).await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let stats = proxy.stats();
    assert_eq!(stats.count("ses/SendEmail", "delay"), 1, "{stats:?}");
    assert_eq!(stats.count("ses/SendEmail", "forwarded"), 1, "not sent a second time: {stats:?}");
    let emails = app.emails_to(&app.address("pat")).await;
    assert_eq!(emails.len(), 1, "one email, not two: {:?}", emails.iter().map(|e| &e.subject).collect::<Vec<_>>());

    // Recorded as sent, unconfirmed, and audited; a redelivery sends nothing.
    let link_id =
        profile_link_tests::flow::link_id(&links_naming(&app, &app.address("pat"), BAKERY).await[0]).to_owned();
    let item = app.link_item(&link_id).await;
    assert_eq!(item["state"].as_s().unwrap(), "sent");
    assert_eq!(item.get("send_unconfirmed").map(|v| *v.as_bool().unwrap()), Some(true), "{item:?}");
    assert!(app.keys().await.iter().any(|(_, sk)| sk.contains("#send_unconfirmed#")), "audited");
    assert_eq!(app.replay_stream().await, 1);
    assert_eq!(app.emails_to(&app.address("pat")).await.len(), 1, "still one email");
}

/// send-emails's timeout in template.yaml (the function with the stream event).
fn send_emails_timeout_seconds() -> i64 {
    let template = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let section = &template[template.find("SendEmailsFunction:").expect("SendEmailsFunction in template.yaml")..];
    section
        .lines()
        .find_map(|line| line.trim().strip_prefix("Timeout: "))
        .and_then(|value| value.parse().ok())
        .expect("SendEmailsFunction sets a Timeout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_of_claims_left_by_a_dead_sender_is_taken_over_within_the_timeout() {
    let app = TestApp::spawn().await;
    let rows: Vec<(String, String)> = (0..10).map(|i| (format!("CUST-{i}"), format!("Company {i}"))).collect();
    let rows: Vec<(&str, &str, &str, &str)> =
        rows.iter().map(|(id, org)| (id.as_str(), "pat", "Pat Doe", org.as_str())).collect();
    app.import_profiles(&rows).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    let mut event = Event::default();
    event.records = app.read_stream().await;
    assert_eq!(event.records.len(), 10, "a full batch");

    // A sender claimed all ten over its last seconds, then died.
    let start = app.clock_now();
    for (i, record) in event.records.iter().enumerate() {
        let link: LinkRecord = serde_dynamo::from_item(record.change.new_image.clone()).unwrap();
        let claimed_at = start - STALE_CLAIM_SECONDS + 1 + i as i64;
        let hash = Verifier::mint().hash();
        let outgoing = Outgoing::Link { link: &link, verifier_hash: &hash };
        let claimed = app.store.claim_for_sending(&outgoing, "dead", claimed_at, STALE_CLAIM_SECONDS).await.unwrap();
        assert_eq!(claimed, profile_link_core::store::Claim::Claimed);
    }

    let started = Instant::now();
    let response = handle(&app.send_emails, event, "redelivery").await;
    let waited = app.clock.now() - start;
    let took = waited + started.elapsed().as_secs() as i64;
    let timeout = send_emails_timeout_seconds();
    assert!(took < timeout, "the invocation took {took} s ({waited} s waiting for stale claims), timeout {timeout} s");
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    let emails = app.emails_to(&app.address("pat")).await;
    assert_eq!(emails.len(), 10, "every link emailed once");
}

/// pat with ten profiles under one address has asked for their links: one full batch.
async fn pat_asked_for_ten_links(app: &TestApp) -> Event {
    let rows: Vec<(String, String)> = (0..10).map(|i| (format!("CUST-{i}"), format!("Company {i}"))).collect();
    let rows: Vec<(&str, &str, &str, &str)> =
        rows.iter().map(|(id, org)| (id.as_str(), "pat", "Pat Doe", org.as_str())).collect();
    app.import_profiles(&rows).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    let mut event = Event::default();
    event.records = app.read_stream().await;
    assert_eq!(event.records.len(), 10, "a full batch");
    event
}

fn ten_organizations() -> Vec<String> {
    (0..10).map(|i| format!("Company {i}")).collect()
}

/// A pace at a fixed account rate, on time the test moves.
fn manual_pace(account_rate: f64, invocations: u32) -> (SendPace, ManualTime) {
    let time = ManualTime::default();
    let config = PaceConfig { invocations, fallback_send_rate: account_rate };
    (SendPace::fixed(account_rate, config, std::sync::Arc::new(time.clone())), time)
}

/// The organizations named by pat's emails, each as often as it was emailed.
async fn organizations_emailed(app: &TestApp) -> Vec<String> {
    let mut named: Vec<String> = app
        .emails_to(&app.address("pat"))
        .await
        .iter()
        .map(|email| ten_organizations().into_iter().find(|o| email.body.contains(o.as_str())).unwrap())
        .collect();
    named.sort();
    named
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sent_concurrently_sends_exactly_one_email_per_link_and_its_redelivery_none() {
    let app = TestApp::spawn().await;
    assert!(app.send_emails.concurrent_sends >= 10, "the batch's sends run side by side");
    let event = pat_asked_for_ten_links(&app).await;
    let expected = ten_organizations();

    let first = handle(&app.send_emails, event.clone(), "first").await;
    assert!(first.batch_item_failures.is_empty(), "{:?}", first.batch_item_failures);
    assert_eq!(organizations_emailed(&app).await, expected, "one email per link");
    // Lambda delivers the batch again (a retry after a timeout): every link is found sent.
    let again = handle(&app.send_emails, event, "redelivery").await;
    assert!(again.batch_item_failures.is_empty(), "{:?}", again.batch_item_failures);
    assert_eq!(organizations_emailed(&app).await, expected, "still one email per link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_the_pace_cannot_fit_in_the_invocation_waits_unclaimed_in_the_outbox_and_the_sweep_sends_it() {
    use profile_link_send_emails::CLAIM_WAIT_PER_INVOCATION_SECONDS;
    // Half an email a second (0.625 × 0.8): a slot every 2 s, so the
    // invocation's 13 s of waiting fits 7 of the 10 (at 0, 2, …, 12 s).
    let (pace, time) = manual_pace(0.625, 1);
    let app = TestApp::spawn_with_options(TestOptions { send_pace: Some(pace), ..Default::default() }).await;
    let event = pat_asked_for_ten_links(&app).await;
    let fits = (CLAIM_WAIT_PER_INVOCATION_SECONDS / 2 + 1) as usize;

    let first = handle(&app.send_emails, event.clone(), "paced").await;
    assert!(
        first.batch_item_failures.is_empty(),
        "nothing is reported for retry (a dead-letter queue would get it): {:?}",
        first.batch_item_failures
    );
    assert_eq!(organizations_emailed(&app).await.len(), fits, "only the ones the pace let through were sent");
    let waiting = app.outbox().await;
    assert_eq!(waiting.len(), 10 - fits, "the rest wait in the outbox: {waiting:?}");
    for key in &waiting {
        let item = app.link_item(key.trim_start_matches("LINK#")).await;
        assert_eq!(item["state"].as_s().unwrap(), "pending", "a paced send is not claimed: {item:?}");
        assert!(!item.contains_key("claim_id"), "a paced send is not claimed: {item:?}");
    }
    let last = time.wakes().last().copied().unwrap();
    assert_eq!(
        last.as_secs(),
        2 * (fits as u64 - 1),
        "sent 2 s apart, within the invocation's waiting: {:?}",
        time.wakes()
    );

    // Their next attempt comes, and the minute's sweep sends them, paced too.
    time.advance(std::time::Duration::from_secs(CLAIM_WAIT_PER_INVOCATION_SECONDS as u64));
    app.clock.advance(600);
    let swept = app.sweep_mail().await;
    assert_eq!(swept.sent, (10 - fits) as u64, "the sweep sends the rest: {swept:?}");
    assert_eq!(organizations_emailed(&app).await, ten_organizations(), "one email per link");
    assert_eq!(app.outbox().await, Vec::<String>::new(), "nothing left waiting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_ses_throttled_halves_the_pace_and_the_sweep_sends_it_later() {
    let (pace, time) = manual_pace(14.0, 2);
    let (app, proxy) = behind_fault_proxy_with(TestOptions { send_pace: Some(pace), ..Default::default() }).await;
    let _pat = pat_asked_for_one_link(&app).await;
    let full = app.send_emails.pace.rate();
    assert_eq!(full, 14.0 * 0.8 / 2.0, "this invocation's share of the account's 14 a second");

    // SES throttles every attempt the SDK makes for the link.
    proxy.set_rules(rules(&["ses/SendEmail:throttle:first3"]));
    let mut event = Event::default();
    event.records = app.read_stream().await;
    let first = handle(&app.send_emails, event.clone(), "throttled").await;
    assert!(
        first.batch_item_failures.is_empty(),
        "a throttled send waits in the outbox, not in a retry: {:?}",
        first.batch_item_failures
    );
    let throttled = proxy.stats().count("ses/SendEmail", "throttle");
    assert!((1..=3).contains(&throttled), "SES throttled it: {throttled} throttled sends");
    assert_eq!(app.send_emails.pace.rate(), full / 2.0, "the pace halved");
    assert_eq!(app.outbox().await.len(), 1, "the link waits in the outbox");

    time.advance(profile_link_core::mail::pace::RECOVERY);
    assert_eq!(app.send_emails.pace.rate(), full, "and recovered");
    proxy.set_rules(rules(&[]));
    app.clock.advance(600);
    let swept = app.sweep_mail().await;
    assert_eq!(swept.sent, 1, "{swept:?}");
    assert_eq!(app.emails_to(&app.address("pat")).await.len(), 1, "sent once");
}
