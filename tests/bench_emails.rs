//! `profile-link-email-bench`: emails per second one send-emails invocation
//! sends, with SES answering in 50–80 ms (the fault proxy holds each
//! `SendEmail` 50, 60, 70 or 80 ms, a quarter each, before moto answers),
//! before (one send at a time, unpaced) and after (a batch's sends side by
//! side, paced to an account's share), in the same run on the same stack: the
//! ratio is the figure to compare. `scripts/bench-emails` starts the local
//! stack, runs it and writes the section of docs/performance.md it prints.
//!
//!   profile-link-email-bench [BATCHES]     (default 20 batches of 10 emails per mode)

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::dynamodb::Event;
use profile_link_core::mail::pace::{PaceConfig, SendPace, TokioTime};
use profile_link_send_emails::{SendEmailsApp, handle};
use profile_link_tests::flow::request;
use profile_link_tests::{TestApp, TestOptions, behind_fault_proxy_with, unhurried_pace};

/// SES's answer time: 50, 60, 70 or 80 ms, a quarter of the calls each.
const SES_LATENCY: [&str; 4] = [
    "ses/SendEmail:delay=50ms:0.25",
    "ses/SendEmail:delay=60ms:0.3333",
    "ses/SendEmail:delay=70ms:0.5",
    "ses/SendEmail:delay=80ms:always",
];
/// The "after" mode's account: 80 a second, one invocation: paced at 64 a second.
const ACCOUNT_RATE: f64 = 80.0;
const BATCH: usize = 10;

struct Mode {
    name: &'static str,
    concurrent_sends: usize,
    pace: SendPace,
}

struct Measured {
    emails: usize,
    seconds: f64,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.emails as f64 / self.seconds
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let batches: usize = std::env::args().nth(1).map(|n| n.parse().expect("BATCHES is a number")).unwrap_or(20);
    let config = PaceConfig { invocations: 1, fallback_send_rate: ACCOUNT_RATE };
    let modes = [
        Mode { name: "before: one send at a time, unpaced", concurrent_sends: 1, pace: unhurried_pace() },
        Mode {
            name: "after: 10 sends at once, paced to 64 a second",
            concurrent_sends: BATCH,
            pace: SendPace::fixed(ACCOUNT_RATE, config, Arc::new(TokioTime::default())),
        },
        Mode { name: "after, an account the pace does not hold back", concurrent_sends: BATCH, pace: unhurried_pace() },
    ];
    let mut rows = Vec::new();
    for mode in modes {
        eprintln!("==> {}: {batches} batches of {BATCH}", mode.name);
        let measured = measure(&mode, batches).await;
        eprintln!("    {} emails in {:.2} s: {:.1} a second", measured.emails, measured.seconds, measured.per_second());
        rows.push((mode, measured));
    }
    let (before, after) = (&rows[0].1, &rows[1].1);
    let share = config.share_of(ACCOUNT_RATE);
    let mut section = String::new();
    section += "| mode | emails | seconds | emails a second per invocation |\n|---|---|---|---|\n";
    for (mode, measured) in &rows {
        section += &format!(
            "| {} | {} | {:.2} | {:.1} |\n",
            mode.name,
            measured.emails,
            measured.seconds,
            measured.per_second()
        );
    }
    let unheld = &rows[2].1;
    section += &format!(
        "\nAfter / before: **{:.2}×** paced, **{:.2}×** where the pace does not hold it back. The paced mode's \
         account sends {ACCOUNT_RATE} a second; one invocation of one takes 80% of it, {share:.0} a second, and \
         stays under it ({:.1}): its ten sends are spaced {:.1} ms apart, so a batch takes that × 9 plus one SES \
         answer and the claims and records around it.\n",
        after.per_second() / before.per_second(),
        unheld.per_second() / before.per_second(),
        after.per_second(),
        1000.0 / share
    );
    println!("{section}");
}

async fn measure(mode: &Mode, batches: usize) -> Measured {
    let options = TestOptions { send_pace: Some(mode.pace.clone()), ..TestOptions::default() };
    let (app, proxy) = behind_fault_proxy_with(options).await;
    let sender = sender_with(&app, mode.concurrent_sends);
    let events = pending_batches(&app, batches).await;
    proxy.set_rules(SES_LATENCY.iter().map(|rule| rule.parse().expect("a fault rule")).collect());
    let mut spent = Duration::ZERO;
    for event in events {
        let started = Instant::now();
        let response = handle(&sender, event, "bench").await;
        spent += started.elapsed();
        assert!(response.batch_item_failures.is_empty(), "{}: {:?}", mode.name, response.batch_item_failures);
    }
    let stats = proxy.stats();
    let emails = stats.count("ses/SendEmail", "delay") as usize;
    assert_eq!(emails, batches * BATCH, "{}: one email per link, {stats:?}", mode.name);
    Measured { emails, seconds: spent.as_secs_f64() }
}

/// The test app's sender, sending `concurrent_sends` at once.
fn sender_with(app: &TestApp, concurrent_sends: usize) -> SendEmailsApp {
    let base = &app.send_emails;
    SendEmailsApp {
        site: base.site.clone(),
        store: base.store.clone(),
        mailer: base.mailer.clone(),
        pace: base.pace.clone(),
        concurrent_sends,
        clock: base.clock.clone(),
    }
}

/// `batches` people with ten profiles each have asked for their links: one stream batch each.
async fn pending_batches(app: &TestApp, batches: usize) -> Vec<Event> {
    let rows: Vec<(String, String, String)> = (0..batches)
        .flat_map(|p| (0..BATCH).map(move |i| (format!("B{p}-{i}"), format!("person{p}"), format!("Company {i}"))))
        .collect();
    let rows: Vec<(&str, &str, &str, &str)> =
        rows.iter().map(|(id, who, org)| (id.as_str(), who.as_str(), "Bench Person", org.as_str())).collect();
    app.import_profiles(&rows).await;
    let asker = app.signed_in("pat").await;
    let mut events = Vec::new();
    for p in 0..batches {
        let answer = request(app, &asker, &app.address(&format!("person{p}"))).await;
        assert_eq!(answer.status, reqwest::StatusCode::OK, "{}", answer.body);
        let mut event = Event::default();
        event.records = app.read_stream().await;
        assert_eq!(event.records.len(), BATCH, "person{p}'s links");
        events.push(event);
    }
    events
}
