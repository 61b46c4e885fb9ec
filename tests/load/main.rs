//! `profile-link-load`: N simulated people go through the whole flow at once
//! against a local stack (dev server, dev identity provider, DynamoDB Local and moto),
//! and the run reports flows completed, emails per link, associations made,
//! records in the dead-letter queues, errors by kind, latency percentiles per
//! endpoint, and, with the fault proxy in front of SES, how sending was paced
//! (emails a second per 10 s, SES's refusals by kind). People connect from
//! loopback addresses, a few hundred behind each, as colleagues behind a
//! company's address. `scripts/load` starts the stack and runs it;
//! `scripts/test` runs a short one.
//!
//! It sends traffic only to 127.0.0.1 (any other URL is refused, exit 2), and
//! stops by itself: flows still running at the deadline are counted as
//! unfinished. Exit 0 only when every flow completed and every invariant held.

mod flow;
mod mailbox;
mod metrics;
mod pacing;
mod people;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use clap::{Args, Parser, Subcommand};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::Url;

use crate::mailbox::Mailbox;
use crate::metrics::{Endpoint, Metrics, lock};
use crate::pacing::{Pacing, ProxyStats};
use crate::report::{DeadLetterCount, LatencyRow, Report};

#[derive(Parser)]
#[command(name = "profile-link-load", about = "Load test of profile-link's whole flow against a local stack")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints the profiles of people 1..N as CSV, for `profile-link-admin profiles import`.
    Profiles {
        #[arg(long, env = "LOAD_PEOPLE", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        people: u32,
    },
    /// Runs N people's flows and reports; the profiles must have been imported.
    Run(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The dev server, e.g. http://127.0.0.1:3000
    #[arg(long)]
    base: String,
    /// The dev identity provider, started with DEV_IDP_LOAD_USERS ≥ people.
    #[arg(long)]
    idp: String,
    /// DynamoDB Local, holding the dev server's table.
    #[arg(long)]
    dynamodb: String,
    /// moto: the mail its SES accepted is the people's mailboxes.
    #[arg(long)]
    mail: String,
    /// The dev server's table, where associations are counted.
    #[arg(long)]
    table: String,
    #[arg(long, env = "LOAD_PEOPLE", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    people: u32,
    /// People behind one source address (127.0.0.1, 127.0.0.2, …): the per-IP
    /// limits meet as many people as behind one company's address.
    #[arg(long, env = "LOAD_PEOPLE_PER_ADDRESS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    people_per_address: u32,
    /// The fault proxy in front of SES, whose counts show how sending was paced.
    #[arg(long)]
    ses_proxy: Option<String>,
    /// People in their flow at the same time (the others wait their turn).
    #[arg(long, env = "LOAD_CONCURRENCY", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    concurrency: u32,
    /// Flows still running this long after the start are stopped and counted as unfinished.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    deadline_seconds: u64,
    /// How long one person waits for their emails.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    mail_wait_seconds: u64,
    /// After the flows, how long to wait for the last emails and notices before counting.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=600))]
    settle_seconds: u64,
    /// How long a person reads each email before clicking. More than the 2 s the
    /// app allows between a sign-in and a click, so every link asks for a fresh sign-in.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=600))]
    reading_seconds: u64,
    /// Any one request without an answer this long is an error.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    request_timeout_seconds: u64,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Profiles { people } => {
            print!("{}", people::profiles_csv(people as usize));
            ExitCode::SUCCESS
        }
        Command::Run(args) => match run(args).await {
            Ok(report) if report.passed => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(Refusal(message)) => {
                eprintln!("profile-link-load: {message}");
                ExitCode::from(2)
            }
        },
    }
}

/// Why the run did not start.
#[derive(Debug)]
struct Refusal(String);

/// `raw` as a URL on 127.0.0.1, or why not.
fn local_url(option: &str, raw: &str) -> Result<Url, Refusal> {
    let url = Url::parse(raw).map_err(|e| Refusal(format!("{option} {raw}: not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str() != Some("127.0.0.1") {
        return Err(Refusal(format!(
            "{option} {raw}: a load run sends traffic only to 127.0.0.1 on this machine; give an http://127.0.0.1:PORT URL"
        )));
    }
    Ok(url)
}

async fn run(args: RunArgs) -> Result<Report, Refusal> {
    let base = local_url("--base", &args.base)?;
    local_url("--idp", &args.idp)?;
    let dynamodb_url = local_url("--dynamodb", &args.dynamodb)?;
    let mail = local_url("--mail", &args.mail)?;
    let ses_proxy = args.ses_proxy.as_deref().map(|raw| local_url("--ses-proxy", raw)).transpose()?;
    let people_count = args.people as usize;
    let concurrency = args.concurrency as usize;
    let dynamodb = dynamodb_client(&dynamodb_url);

    // Counting needs a clean slate: no mail to load addresses, no load associations yet.
    let mailbox = Arc::new(Mailbox::new(mail.as_str()));
    mailbox.read().await.map_err(|e| Refusal(format!("cannot read moto's mail at {mail}: {e}")))?;
    if mailbox.with_seen(|s| !s.links.is_empty() || !s.notices.is_empty()) {
        return Err(Refusal(format!(
            "moto already holds mail to @{} from an earlier run: start a fresh one",
            people::MAIL_DOMAIN
        )));
    }
    match count_associations(&dynamodb, &args.table).await {
        Ok(0) => {}
        Ok(n) => {
            return Err(Refusal(format!("table {} already has {n} load associations: use a fresh table", args.table)));
        }
        Err(e) => return Err(Refusal(format!("cannot read table {}: {e}", args.table))),
    }

    let proxy_stats = ses_proxy.as_ref().map(|proxy| Arc::new(ProxyStats::new(proxy)));
    if let Some(stats) = &proxy_stats {
        stats.send_outcomes().await.map_err(|e| Refusal(format!("cannot read the SES fault proxy's counts: {e}")))?;
    }
    dead_letters(&base).await.map_err(|e| Refusal(format!("cannot read the dev server's dead letters: {e}")))?;

    eprintln!(
        "profile-link-load: {people_count} people, {concurrency} at a time, {} behind each address, against {base} (deadline {} s)",
        args.people_per_address, args.deadline_seconds
    );
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + Duration::from_secs(args.deadline_seconds));
    let metrics = Arc::new(Metrics::default());
    let reader = tokio::spawn({
        let mailbox = mailbox.clone();
        async move { mailbox.run().await }
    });
    let progress = tokio::spawn(report_progress(metrics.clone(), people_count, started));
    let pacing = Arc::new(Mutex::new(Pacing::default()));
    let sampler = proxy_stats.clone().map(|stats| tokio::spawn(pacing::sample(stats, pacing.clone(), started)));

    let shared = Arc::new(flow::Run {
        base: base.clone(),
        mailbox: mailbox.clone(),
        metrics: metrics.clone(),
        request_timeout: Duration::from_secs(args.request_timeout_seconds),
        mail_wait: Duration::from_secs(args.mail_wait_seconds),
        reading: Duration::from_secs(args.reading_seconds),
        people_per_address: args.people_per_address as usize,
    });
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    for person in people::people(people_count) {
        let (shared, permits) = (shared.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = match tokio::time::timeout_at(deadline, permits.acquire_owned()).await {
                Ok(Ok(permit)) if tokio::time::Instant::now() < deadline => permit,
                // (A permit freed by a flow the deadline stopped arrives at the deadline too.)
                _ => {
                    shared.metrics.error("deadline: flow never started".to_owned());
                    return true;
                }
            };
            match tokio::time::timeout_at(deadline, flow::run(&shared, person)).await {
                Ok(Ok(())) => false,
                Ok(Err(error)) => {
                    shared.metrics.error(error.kind());
                    false
                }
                Err(_) => {
                    shared.metrics.error("deadline: flow unfinished".to_owned());
                    true
                }
            }
        });
    }
    let mut deadline_reached = false;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(stopped) => deadline_reached |= stopped,
            Err(error) => metrics.error(format!("driver: a person's task failed ({error})")),
        }
    }
    let wall = started.elapsed();
    reader.abort();
    progress.abort();

    // The last emails and notices may still be on their way through the stream.
    let links_requested = Metrics::count(&metrics.links_requested);
    let links_redeemed = Metrics::count(&metrics.links_redeemed);
    let settle_until = Instant::now() + Duration::from_secs(args.settle_seconds);
    loop {
        let left = settle_until.saturating_duration_since(Instant::now()).max(Duration::from_secs(5));
        if let Ok(Err(error)) = tokio::time::timeout(left, mailbox.read()).await {
            eprintln!("profile-link-load: reading the mail failed: {error}");
        }
        let (emailed, notices) = mailbox.with_seen(|s| (s.emails_per_link.len(), s.notices.values().sum::<usize>()));
        if (emailed >= links_requested && notices >= links_redeemed) || Instant::now() >= settle_until {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let associations_made = match count_associations(&dynamodb, &args.table).await {
        Ok(n) => Some(n),
        Err(error) => {
            eprintln!("profile-link-load: counting associations failed: {error}");
            None
        }
    };
    if let (Some(sampler), Some(stats)) = (sampler, &proxy_stats) {
        sampler.abort();
        pacing::finish(stats, &pacing, started).await;
    }
    let dead_letters = match dead_letters(&base).await {
        Ok(count) => Some(count),
        Err(error) => {
            eprintln!("profile-link-load: reading the dead letters failed: {error}");
            None
        }
    };

    let outcome = Outcome { wall, deadline_reached, associations_made, dead_letters };
    let pacing = lock(&pacing);
    let report = build_report(&args, &base, &metrics, &mailbox, outcome, proxy_stats.is_some().then_some(&*pacing));
    print!("{}", report.text());
    if let Some(path) = &args.json {
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap_or_default()));
        if let Err(error) = written {
            eprintln!("profile-link-load: cannot write {}: {error}", path.display());
        }
    }
    Ok(report)
}

/// What the run found after the flows, beside the metrics and the mail.
struct Outcome {
    wall: Duration,
    deadline_reached: bool,
    associations_made: Option<usize>,
    dead_letters: Option<DeadLetterCount>,
}

fn build_report(
    args: &RunArgs,
    base: &Url,
    metrics: &Metrics,
    mailbox: &Mailbox,
    outcome: Outcome,
    pacing: Option<&Pacing>,
) -> Report {
    let Outcome { wall, deadline_reached, associations_made, dead_letters } = outcome;
    let endpoints = lock(&metrics.endpoints);
    let mut latency_ms: Vec<LatencyRow> =
        endpoints.iter().map(|(endpoint, samples)| LatencyRow::of_endpoint(*endpoint, samples)).collect();
    latency_ms.push(LatencyRow::of_durations("email arrival", &lock(&metrics.email_arrival)));
    latency_ms.push(LatencyRow::of_durations("whole flow", &lock(&metrics.flow)));
    let ours: usize = endpoints
        .iter()
        .filter(|(endpoint, _)| **endpoint != Endpoint::Provider)
        .map(|(_, s)| s.latencies.len() + s.failed)
        .sum();
    let flows_completed = Metrics::count(&metrics.flows_completed);
    let seconds = wall.as_secs_f64().max(0.001);
    let (links_emailed, emails_per_link, notices_sent, mailbox_reads, read_time) = mailbox.with_seen(|s| {
        let mut per_link = std::collections::BTreeMap::new();
        for count in s.emails_per_link.values() {
            *per_link.entry(*count).or_default() += 1;
        }
        (s.emails_per_link.len(), per_link, s.notices.values().sum(), s.reads, s.read_time)
    });
    let mut report = Report {
        base_url: base.as_str().trim_end_matches('/').to_owned(),
        people: args.people as usize,
        concurrency: args.concurrency as usize,
        people_per_address: args.people_per_address as usize,
        source_addresses: (args.people as usize).div_ceil(args.people_per_address as usize),
        flows_completed,
        links_requested: Metrics::count(&metrics.links_requested),
        links_emailed,
        emails_per_link,
        links_redeemed: Metrics::count(&metrics.links_redeemed),
        confirmations_unanswered: Metrics::count(&metrics.confirmations_sent)
            .saturating_sub(Metrics::count(&metrics.links_redeemed)),
        associations_made,
        notices_sent,
        dead_letters,
        ses_refusals: pacing.map(Pacing::refusals),
        pacing: pacing.map(|p| p.rows.clone()).unwrap_or_default(),
        errors: lock(&metrics.errors).clone(),
        latency_ms,
        wall_seconds: (seconds * 10.0).round() / 10.0,
        flows_per_second: ((flows_completed as f64 / seconds) * 100.0).round() / 100.0,
        requests_per_second: ((ours as f64 / seconds) * 10.0).round() / 10.0,
        mailbox_reads,
        mailbox_mean_read_ms: if mailbox_reads == 0 {
            0.0
        } else {
            (read_time.as_secs_f64() * 1000.0 / mailbox_reads as f64).round()
        },
        deadline_reached,
        passed: false,
        failures: Vec::new(),
    };
    report.judge();
    report
}

/// A line on stderr every 10 seconds, so a long run shows it is moving.
async fn report_progress(metrics: Arc<Metrics>, people: usize, started: Instant) {
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        eprintln!(
            "  [{:>4} s] {} of {people} flows completed, {} links redeemed, {} errors",
            started.elapsed().as_secs(),
            Metrics::count(&metrics.flows_completed),
            Metrics::count(&metrics.links_redeemed),
            lock(&metrics.errors).values().sum::<usize>()
        );
    }
}

/// Records the dev server's stream mappings gave up on (`GET /dev/dead-letters`:
/// their on-failure destinations, the dead-letter queues in AWS).
async fn dead_letters(base: &Url) -> Result<DeadLetterCount, String> {
    let url = base.join("/dev/dead-letters").map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("client");
    let answer = client.get(url.clone()).send().await.map_err(|e| format!("{url}: {e}"))?;
    if !answer.status().is_success() {
        return Err(format!("{url}: HTTP {}", answer.status()));
    }
    let queues: serde_json::Value = answer.json().await.map_err(|e| format!("{url}: {e}"))?;
    let count = |queue: &str| queues[queue].as_array().map(Vec::len).ok_or_else(|| format!("{url}: no {queue} list"));
    Ok(DeadLetterCount { send_emails: count("send_emails")?, notify_portals: count("notify_portals")? })
}

/// A DynamoDB client for DynamoDB Local (dummy credentials; the region the stack uses).
fn dynamodb_client(endpoint: &Url) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-west-1".to_owned());
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint.as_str().trim_end_matches('/'))
        .region(Region::new(region))
        .credentials_provider(Credentials::new("local", "local", None, None, "dynamodb-local"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Association items (identity → profile) of load profiles in the table.
async fn count_associations(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<usize, String> {
    let mut pages = client
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :identity) AND begins_with(sk, :profile)")
        .expression_attribute_values(":identity", AttributeValue::S("IDENTITY#".into()))
        .expression_attribute_values(":profile", AttributeValue::S(format!("PROFILE#{}", people::PROFILE_PREFIX)))
        .select(Select::Count)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        count += page.map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?.count() as usize;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_urls_on_127_0_0_1_are_accepted() {
        assert!(
            local_url("--base", "http://127.0.0.1:3000").is_ok(),
            "saw {:?}",
            local_url("--base", "http://127.0.0.1:3000")
        );
        for refused in [
            "http://localhost:3000",
            "http://10.0.0.1:3000",
            "https://example.com",
            "http://127.0.0.2:3000",
            "file:///etc/passwd",
            "127.0.0.1:3000",
        ] {
            let Err(Refusal(message)) = local_url("--base", refused) else { panic!("{refused} was accepted") };
            assert!(message.starts_with(&format!("--base {refused}")), "{message}");
        }
    }

    #[test]
    fn the_command_line_parses_with_its_defaults() {
        let cli = Cli::try_parse_from([
            "profile-link-load",
            "run",
            "--base",
            "http://127.0.0.1:3000",
            "--idp",
            "http://127.0.0.1:9400",
            "--dynamodb",
            "http://127.0.0.1:8000",
            "--mail",
            "http://127.0.0.1:4566",
            "--table",
            "t",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else { panic!("not run") };
        assert_eq!(args.deadline_seconds, 300);
        assert_eq!(args.ses_proxy, None, "no pacing table unless the proxy is named");
        if std::env::var_os("LOAD_PEOPLE_PER_ADDRESS").is_none() {
            assert_eq!(args.people_per_address, 500);
        }
        if std::env::var_os("LOAD_PEOPLE").is_none() && std::env::var_os("LOAD_CONCURRENCY").is_none() {
            assert_eq!((args.people, args.concurrency), (200, 50));
        }
        assert!(
            Cli::try_parse_from(["profile-link-load", "profiles", "--people", "0"]).is_err(),
            "--people 0 was accepted"
        );
    }
}
