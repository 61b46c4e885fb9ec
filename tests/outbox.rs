//! The table is the outbox: no email is lost to SES. A send SES refuses for
//! now stays pending with its next attempt time and the scheduled sweep
//! sends it; a stream redelivery racing the sweep sends once; a link sent
//! late works for its whole lifetime from the send; a permanent refusal is
//! settled, audited and counted, never retried.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use profile_link_core::Clock;
use profile_link_core::clock::ManualClock;
use profile_link_core::mail::{MailConfig, format_utc};
use profile_link_core::store::SWEEP_GRACE_SECONDS;
use profile_link_fault_proxy::Rule;
use profile_link_send_emails::{handle, sweep};
use profile_link_tests::flow::{confirm, link_id, links_naming, links_to, open, request};
use profile_link_tests::{TestApp, behind_fault_proxy};
use reqwest::StatusCode;

const BAKERY: &str = "Doe Family Bakery";
const NORTHWIND: &str = "Northwind Consulting";

type Item = HashMap<String, AttributeValue>;

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The link items in the table, by link id.
async fn links(app: &TestApp) -> HashMap<String, Item> {
    let mut out = HashMap::new();
    for (pk, _) in app.keys().await.into_iter().filter(|(pk, _)| pk.starts_with("LINK#")) {
        let id = pk.trim_start_matches("LINK#").to_owned();
        out.insert(id.clone(), app.link_item(&id).await);
    }
    out
}

/// The links pending in the table (not sent), by link id.
async fn pending_links(app: &TestApp) -> HashMap<String, Item> {
    links(app).await.into_iter().filter(|(_, item)| text(item, "state") == Some("pending")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_send_stays_pending_and_the_sweep_sends_it_exactly_once() {
    let (app, proxy) = behind_fault_proxy().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY), ("CUST-2", "pat", "Pat Doe", NORTHWIND)]).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    assert_eq!(app.outbox().await.len(), 2, "both links are in the outbox from the start");

    // SES throttles the first link's three SDK attempts; the second link goes
    // (one send at a time, so "the first" is the batch's first).
    proxy.set_rules(vec!["ses/SendEmail:throttle:first3".parse::<Rule>().unwrap()]);
    let mut batch = Event::default();
    batch.records = app.read_stream().await;
    let response = handle(&app.sequential_sender(), batch.clone(), "stream").await;
    assert!(response.batch_item_failures.is_empty(), "a throttle fails no record: {:?}", response.batch_item_failures);
    assert_eq!(proxy.stats().count("ses/SendEmail", "throttle"), 3);
    assert_eq!(app.emails_to(&app.address("pat")).await.len(), 1, "the unthrottled link went");

    let pending = pending_links(&app).await;
    assert_eq!(pending.len(), 1, "the throttled link is pending: {pending:?}");
    let (throttled_id, item) = pending.iter().next().unwrap();
    let retry_at = number(item, "next_attempt_at").expect("a next attempt time");
    let waited = retry_at - app.clock_now();
    assert!((4..=10).contains(&waited), "the first wait after a throttle is 5–10 s, saw {waited} ({item:?})");
    assert_eq!(text(item, "last_refusal"), Some("throttled"), "{item:?}");
    assert_eq!(number(item, "send_attempts"), Some(1), "{item:?}");
    assert!(!item.contains_key("verifier_hash") && !item.contains_key("claim_id"), "claim given back: {item:?}");
    assert_eq!(app.outbox().await, vec![format!("LINK#{throttled_id}")], "only the throttled link is still in it");

    // Not due yet: neither the sweep nor a redelivery of the batch asks SES again.
    proxy.heal();
    assert_eq!(app.sweep_mail().await.sent, 0);
    let redelivered = handle(&app.send_emails, batch.clone(), "redelivery").await;
    assert!(redelivered.batch_item_failures.is_empty(), "{:?}", redelivered.batch_item_failures);
    assert_eq!(proxy.stats().count("ses/SendEmail", "forwarded"), 1, "one send so far: {:?}", proxy.stats());

    // Due: the sweep sends it, once; sweeping and redelivering again sends nothing.
    app.clock.advance(waited + 1);
    assert_eq!(app.sweep_mail().await.sent, 1);
    assert_eq!(app.sweep_mail().await.sent, 0);
    handle(&app.send_emails, batch, "late redelivery").await;
    for organization in [BAKERY, NORTHWIND] {
        assert_eq!(links_naming(&app, &app.address("pat"), organization).await.len(), 1, "{organization}");
    }
    assert!(app.outbox().await.is_empty(), "settled items leave the outbox: {:?}", app.outbox().await);
    assert!(app.discarded_records().await.is_empty(), "nothing reached the failure path");

    // The swept email's link (minted by the sweep's claim) works.
    let link = links_to(&app, &app.address("pat")).await.into_iter().find(|l| link_id(l) == throttled_id).unwrap();
    let done = confirm(&pat, &open(&pat, &link, "pat").await, "confirm").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

/// The test app's clock, except that waiting takes no time: a sender that
/// meets the other racer's claim never sees it go stale (both are alive).
#[derive(Debug, Clone)]
struct WaitingTakesNoTime(ManualClock);

impl Clock for WaitingTakesNoTime {
    fn now(&self) -> i64 {
        self.0.now()
    }

    fn wait(&self, _seconds: i64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(std::future::ready(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_redelivery_racing_the_sweep_sends_each_email_once() {
    const PROFILES: usize = 6;
    const ROUNDS: usize = 6;
    let app = TestApp::spawn().await;
    let rows: Vec<(String, String)> = (1..=PROFILES).map(|i| (format!("CUST-{i}"), format!("Company {i}"))).collect();
    let rows: Vec<(&str, &str, &str, &str)> =
        rows.iter().map(|(id, org)| (id.as_str(), "pat", "Pat Doe", org.as_str())).collect();
    app.import_profiles(&rows).await;
    let pat = app.signed_in("pat").await;
    let clock: Arc<dyn Clock> = Arc::new(WaitingTakesNoTime(app.clock.clone()));
    let stream_sender = app.other_sender(None, None, Some(clock.clone()));
    let sweeper = app.other_sender(None, None, Some(clock));

    for round in 1..=ROUNDS {
        assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
        let mut batch = Event::default();
        batch.records = app.read_stream().await;
        // The stream's (re)delivery comes as late as the sweep: both find every link due.
        app.clock.advance(SWEEP_GRACE_SECONDS + 1);
        let (streamed, swept) = tokio::join!(handle(&stream_sender, batch, "redelivery"), sweep(&sweeper, "sweep"));
        let swept = swept.unwrap();
        assert!(streamed.batch_item_failures.is_empty(), "round {round}: {:?}", streamed.batch_item_failures);

        let mail = links_to(&app, &app.address("pat")).await;
        assert_eq!(mail.len(), PROFILES * round, "round {round}: one email per link (sweep sent {})", swept.sent);
        let mut ids: Vec<&str> = mail.iter().map(|l| link_id(l)).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), mail.len(), "round {round}: no link emailed twice");
        assert!(app.outbox().await.is_empty(), "round {round}: {:?}", app.outbox().await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_sent_late_gets_its_full_lifetime_from_the_send() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY)]).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);

    // SES cannot be reached for two hours: the link (60 minutes) waits in the outbox.
    app.faults.fail_sends_to(&app.address("pat"));
    app.deliver_stream().await;
    let created = pending_links(&app).await;
    assert_eq!(created.len(), 1, "pending: {created:?}");
    let id = created.keys().next().unwrap().clone();
    app.clock.advance(2 * 3600);
    app.faults.heal();
    assert_eq!(app.sweep_mail().await.sent, 1);

    let item = app.link_item(&id).await;
    let sent_at = number(&item, "sent_at").expect("sent");
    let expires_at = number(&item, "expires_at").unwrap();
    assert_eq!(expires_at, sent_at + 3600, "the lifetime counts from the send: {item:?}");
    assert!(sent_at >= number(&item, "created_at").unwrap() + 2 * 3600, "{item:?}");
    let pointer = app.keys().await.into_iter().find(|(_, sk)| sk == "PENDING#CUST-1").expect("the pending pointer");
    let pointer = app
        .store
        .client()
        .get_item()
        .table_name(app.store.table())
        .key("pk", AttributeValue::S(pointer.0))
        .key("sk", AttributeValue::S(pointer.1))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(number(&pointer, "expires_at"), Some(expires_at), "the pointer lives as long as the link");

    let email = app.emails_to(&app.address("pat")).await.remove(0);
    assert!(email.body.contains(&format_utc(expires_at)), "the email states the expiry from its send: {}", email.body);
    assert!(email.body.contains("60 minutes"), "{}", email.body);

    // 59 minutes after the send (three hours after the request), it still links.
    app.clock.advance(59 * 60);
    let link = links_to(&app, &app.address("pat")).await.remove(0);
    let done = confirm(&pat, &open(&pat, &link, "pat").await, "confirm").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_settled_audited_and_counted_never_retried() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY)]).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);

    // A From address SES has not verified: SES refuses the send (MessageRejected).
    let unverified = MailConfig { from: "Nobody <nobody@unverified.example.org>".into(), configuration_set: None };
    let sender = app.other_sender(None, Some(unverified), None);
    let mut batch = Event::default();
    batch.records = app.read_stream().await;
    let captured = profile_link_core::metrics::capture("outbox-test");
    let response = handle(&sender, batch, "stream").await;
    assert!(response.batch_item_failures.is_empty(), "settled, not retried: {:?}", response.batch_item_failures);
    let metrics = captured.take();
    assert!(metrics.iter().any(|line| line["EmailsFailed"] == 1), "counted as failed: {metrics:?}");

    let links = links(&app).await;
    let (id, item) = links.iter().next().unwrap();
    assert_eq!(text(item, "state"), Some("refused"), "{item:?}");
    assert_eq!(text(item, "last_refusal"), Some("MessageRejected"), "{item:?}");
    assert!(app.outbox().await.is_empty(), "out of the outbox: the sweep never retries it");
    app.clock.advance(3600);
    assert_eq!(app.sweep_mail().await.sent, 0);
    assert!(app.emails_to(&app.address("pat")).await.is_empty());

    // Support sees it: in the profile's links and on its trail.
    let profile = profile_link_core::domain::profile::ProfileId::parse("CUST-1").unwrap();
    let report = app.store.links_for_profile(&profile, app.clock_now()).await.unwrap();
    assert_eq!(report.links[0].email, "not sent (refused by SES: MessageRejected)", "{:?}", report.links);
    let trail = app.store.audit_trail(&profile).await.unwrap();
    let refused: Vec<_> = trail.iter().filter(|e| e.link_id.as_deref() == Some(id.as_str())).collect();
    assert!(
        refused
            .iter()
            .any(|e| e.event == "send_failed" && e.detail.as_deref().unwrap_or("").contains("MessageRejected")),
        "audited: {refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_ses_quota_delays_and_then_delivers_every_email() {
    const PROFILES: usize = 5;
    let (app, proxy) = behind_fault_proxy().await;
    let rows: Vec<(String, String)> = (1..=PROFILES).map(|i| (format!("CUST-{i}"), format!("Company {i}"))).collect();
    let rows: Vec<(&str, &str, &str, &str)> =
        rows.iter().map(|(id, org)| (id.as_str(), "pat", "Pat Doe", org.as_str())).collect();
    app.import_profiles(&rows).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);

    // The account may send 2 emails, then its quota is spent for a second (real time), then 2 more.
    proxy.set_rules(vec!["ses/SendEmail:quota=2/1s".parse::<Rule>().unwrap()]);
    let mut batch = Event::default();
    batch.records = app.read_stream().await;
    // One send at a time: what one refusal holds back is then the whole rest
    // (sends already in flight beside it would each meet the refusal too).
    let response = handle(&app.sequential_sender(), batch, "stream").await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a spent quota fails no record: {:?}",
        response.batch_item_failures
    );
    assert_eq!(app.emails_to(&app.address("pat")).await.len(), 2, "the quota's two went");
    assert_eq!(proxy.stats().count("ses/SendEmail", "quota"), 1, "one refusal holds the rest of the batch");
    let pending = pending_links(&app).await;
    assert_eq!(pending.len(), PROFILES - 2, "the rest wait in the outbox: {pending:?}");
    let refused: Vec<_> = pending.values().filter(|item| text(item, "last_refusal") == Some("quota_spent")).collect();
    assert_eq!(refused.len(), 1, "SES was asked once: {pending:?}");
    for item in pending.values() {
        let wait = number(item, "next_attempt_at").unwrap() - app.clock_now();
        assert!((29..=60).contains(&wait), "all wait the spent quota's 30–60 s: {wait} ({item:?})");
    }

    // Each minute's sweep sends what the quota allows and waits again, until every email is out.
    let mut sweeps = 0;
    while !pending_links(&app).await.is_empty() {
        sweeps += 1;
        assert!(sweeps <= PROFILES, "still pending after {sweeps} sweeps: {:?}", pending_links(&app).await);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the proxy's quota period
        app.clock.advance(601); // past the longest wait after a spent quota
        app.sweep_mail().await;
    }
    let mail = links_to(&app, &app.address("pat")).await;
    let mut ids: Vec<&str> = mail.iter().map(|l| link_id(l)).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((mail.len(), ids.len()), (PROFILES, PROFILES), "every link emailed once");
    let refusals = proxy.stats().count("ses/SendEmail", "quota");
    assert!(refusals <= sweeps as u64 + 1, "at most one refusal per pass, saw {refusals} in {sweeps} sweeps");
    assert!(app.outbox().await.is_empty() && app.discarded_records().await.is_empty());
}
