//! The run's report: the figures, the invariants they must satisfy, a text
//! table for people and JSON for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::metrics::{Endpoint, Percentiles, Samples};
use crate::pacing::PacingRow;

#[derive(Debug, Serialize)]
pub struct Report {
    pub base_url: String,
    pub people: usize,
    pub concurrency: usize,
    /// People behind one source address, and the addresses they came from.
    pub people_per_address: usize,
    pub source_addresses: usize,
    pub flows_completed: usize,
    pub links_requested: usize,
    /// Distinct links that reached a mailbox.
    pub links_emailed: usize,
    /// How many links had 1, 2 … emails (only `{"1": links_emailed}` is right).
    pub emails_per_link: BTreeMap<usize, usize>,
    pub links_redeemed: usize,
    /// Confirmations that got no 200 (an error, or the deadline stopped them):
    /// each may or may not have linked, so associations and notices may exceed
    /// links redeemed by up to this many.
    pub confirmations_unanswered: usize,
    /// Association items of load profiles in the table; none if it could not be read.
    pub associations_made: Option<usize>,
    /// "Your profile is now linked" emails to the registered addresses.
    pub notices_sent: usize,
    /// Records the stream mappings gave up on (none if they could not be read).
    pub dead_letters: Option<DeadLetterCount>,
    /// SES's refusals of `SendEmail` by kind (`ratelimit`, `quota`, …), when
    /// the fault proxy stood in front of SES.
    pub ses_refusals: Option<BTreeMap<String, u64>>,
    /// Emails SES accepted per 10 s of the run, and its refusals in each window.
    pub pacing: Vec<PacingRow>,
    pub errors: BTreeMap<String, usize>,
    pub latency_ms: Vec<LatencyRow>,
    pub wall_seconds: f64,
    pub flows_per_second: f64,
    /// Requests to this service's endpoints (the identity provider's excluded).
    pub requests_per_second: f64,
    pub mailbox_reads: usize,
    pub mailbox_mean_read_ms: f64,
    pub deadline_reached: bool,
    pub passed: bool,
    /// Why it did not pass (empty when it did).
    pub failures: Vec<String>,
}

/// Records in each stream mapping's on-failure destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeadLetterCount {
    pub send_emails: usize,
    pub notify_portals: usize,
}

#[derive(Debug, Serialize)]
pub struct LatencyRow {
    pub name: &'static str,
    pub count: usize,
    /// Requests that got no answer at all.
    pub failed: usize,
    pub statuses: BTreeMap<u16, usize>,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl LatencyRow {
    pub fn of_endpoint(endpoint: Endpoint, samples: &Samples) -> Self {
        Self::new(endpoint.label(), samples.summary(), samples.failed, samples.statuses.clone())
    }

    pub fn of_durations(name: &'static str, durations: &[Duration]) -> Self {
        Self::new(name, Percentiles::of(durations), 0, BTreeMap::new())
    }

    fn new(name: &'static str, p: Option<Percentiles>, failed: usize, statuses: BTreeMap<u16, usize>) -> Self {
        let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
        match p {
            Some(p) => Self {
                name,
                count: p.count,
                failed,
                statuses,
                p50: ms(p.p50),
                p90: ms(p.p90),
                p99: ms(p.p99),
                max: ms(p.max),
            },
            None => Self { name, count: 0, failed, statuses, p50: 0.0, p90: 0.0, p99: 0.0, max: 0.0 },
        }
    }
}

impl Report {
    /// Checks the invariants and fills in `passed` and `failures`.
    pub fn judge(&mut self) {
        let mut failures = Vec::new();
        if self.flows_completed != self.people {
            failures.push(format!("{} of {} flows did not complete", self.people - self.flows_completed, self.people));
        }
        if self.deadline_reached {
            failures.push("the deadline stopped the run".to_owned());
        }
        let not_one: usize = self.emails_per_link.iter().filter(|(n, _)| **n != 1).map(|(_, links)| links).sum();
        if not_one > 0 {
            failures.push(format!("{not_one} links had other than exactly one email"));
        }
        if self.links_emailed != self.links_requested {
            failures.push(format!("{} links requested but {} emailed", self.links_requested, self.links_emailed));
        }
        let redeemed = self.links_redeemed..=self.links_redeemed + self.confirmations_unanswered;
        let unanswered = match self.confirmations_unanswered {
            0 => String::new(),
            n => format!(" (and {n} confirmations unanswered)"),
        };
        match self.associations_made {
            Some(made) if redeemed.contains(&made) => {}
            Some(made) => failures
                .push(format!("{made} associations made but {} links redeemed{unanswered}", self.links_redeemed)),
            None => failures.push("the table's associations could not be counted".to_owned()),
        }
        if !redeemed.contains(&self.notices_sent) {
            failures.push(format!(
                "{} notices sent but {} links redeemed{unanswered}",
                self.notices_sent, self.links_redeemed
            ));
        }
        match self.dead_letters {
            Some(DeadLetterCount { send_emails: 0, notify_portals: 0 }) => {}
            Some(DeadLetterCount { send_emails, notify_portals }) => failures.push(format!(
                "records in the dead-letter queues: {send_emails} of send-emails, {notify_portals} of notify-portals"
            )),
            None => failures.push("the dead-letter queues could not be read".to_owned()),
        }
        let errors: usize = self.errors.values().sum();
        if errors > 0 {
            failures.push(format!("{errors} errors"));
        }
        self.passed = failures.is_empty();
        self.failures = failures;
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let emails_per_link = if self.emails_per_link.keys().all(|n| *n == 1) {
            format!("exactly 1 for each of {} links", self.links_emailed)
        } else {
            let counts: Vec<String> =
                self.emails_per_link.iter().map(|(n, links)| format!("{links} links had {n}")).collect();
            counts.join(", ")
        };
        let associations = self.associations_made.map_or("unknown (table not read)".to_owned(), |n| n.to_string());
        let _ = writeln!(
            out,
            "profile-link load run: {} people, {} at a time, from {} addresses ({} behind each), against {}",
            self.people, self.concurrency, self.source_addresses, self.people_per_address, self.base_url
        );
        let line = |out: &mut String, label: &str, value: String| {
            let _ = writeln!(out, "  {label:<22}{value}");
        };
        line(&mut out, "flows completed", format!("{} of {}", self.flows_completed, self.people));
        line(&mut out, "links requested", self.links_requested.to_string());
        line(&mut out, "links emailed", self.links_emailed.to_string());
        line(&mut out, "emails per link", emails_per_link);
        let redeemed = match self.confirmations_unanswered {
            0 => self.links_redeemed.to_string(),
            n => format!("{} (and {n} confirmations without an answer)", self.links_redeemed),
        };
        line(&mut out, "links redeemed", redeemed);
        line(&mut out, "associations made", format!("{associations} (counted in the table)"));
        line(&mut out, "linked notices sent", self.notices_sent.to_string());
        let dead_letters = match self.dead_letters {
            Some(DeadLetterCount { send_emails: 0, notify_portals: 0 }) => "none".to_owned(),
            Some(DeadLetterCount { send_emails, notify_portals }) => {
                format!("{send_emails} from send-emails, {notify_portals} from notify-portals")
            }
            None => "unknown (not read)".to_owned(),
        };
        line(&mut out, "dead letters", dead_letters);
        if let Some(arrival) = self.latency_ms.iter().find(|row| row.name == "email arrival" && row.count > 0) {
            line(
                &mut out,
                "email arrival",
                format!(
                    "p50 {:.1} s, p99 {:.1} s, longest {:.1} s",
                    arrival.p50 / 1e3,
                    arrival.p99 / 1e3,
                    arrival.max / 1e3
                ),
            );
        }
        if let Some(refusals) = &self.ses_refusals {
            let kinds: Vec<String> = refusals.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
            line(&mut out, "SES refusals", if kinds.is_empty() { "none".to_owned() } else { kinds.join(", ") });
        }
        if self.errors.is_empty() {
            line(&mut out, "errors", "none".to_owned());
        } else {
            line(
                &mut out,
                "errors",
                format!("{} in {} kinds:", self.errors.values().sum::<usize>(), self.errors.len()),
            );
            for (kind, count) in &self.errors {
                let _ = writeln!(out, "    {count:>5}  {kind}");
            }
        }
        line(
            &mut out,
            "wall time",
            format!(
                "{:.1} s ({:.2} flows/s, {:.1} requests/s to the service)",
                self.wall_seconds, self.flows_per_second, self.requests_per_second
            ),
        );
        line(
            &mut out,
            "mailbox reads",
            format!("{} (mean {:.0} ms each)", self.mailbox_reads, self.mailbox_mean_read_ms),
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<22}{:>8}{:>10}{:>10}{:>10}{:>10}  statuses",
            "latency (ms)", "count", "p50", "p90", "p99", "max"
        );
        for row in &self.latency_ms {
            let mut statuses: Vec<String> = row.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
            if row.failed > 0 {
                statuses.push(format!("no answer×{}", row.failed));
            }
            let _ = writeln!(
                out,
                "  {:<22}{:>8}{:>10.1}{:>10.1}{:>10.1}{:>10.1}  {}",
                row.name,
                row.count,
                row.p50,
                row.p90,
                row.p99,
                row.max,
                statuses.join(" ")
            );
        }
        if !self.pacing.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "  {:<22}{:>8}{:>10}  SES refusals", "emails sent (s)", "sent", "per s");
            for row in &self.pacing {
                let refused: Vec<String> = row.refused.iter().map(|(kind, n)| format!("{kind}×{n}")).collect();
                let window = format!("{}–{}", row.from_s, row.to_s);
                let _ = writeln!(out, "  {window:<22}{:>8}{:>10.1}  {}", row.sent, row.per_second, refused.join(" "));
            }
        }
        let _ = writeln!(out);
        if self.passed {
            let _ = writeln!(
                out,
                "PASS: every flow completed, one email per link, associations made = links redeemed, no dead letters"
            );
        } else {
            let _ = writeln!(out, "FAIL: {}", self.failures.join("; "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Report {
        Report {
            base_url: "http://127.0.0.1:3000".into(),
            people: 3,
            concurrency: 3,
            people_per_address: 2,
            source_addresses: 2,
            flows_completed: 3,
            links_requested: 4,
            links_emailed: 4,
            emails_per_link: BTreeMap::from([(1, 4)]),
            links_redeemed: 4,
            confirmations_unanswered: 0,
            associations_made: Some(4),
            notices_sent: 4,
            dead_letters: Some(DeadLetterCount { send_emails: 0, notify_portals: 0 }),
            ses_refusals: Some(BTreeMap::from([("ratelimit".to_owned(), 3)])),
            pacing: vec![PacingRow {
                from_s: 0,
                to_s: 2,
                sent: 8,
                per_second: 4.0,
                refused: BTreeMap::from([("ratelimit".to_owned(), 3)]),
            }],
            errors: BTreeMap::new(),
            latency_ms: vec![LatencyRow::of_durations("email arrival", &[Duration::from_millis(300)])],
            wall_seconds: 2.0,
            flows_per_second: 1.5,
            requests_per_second: 20.0,
            mailbox_reads: 3,
            mailbox_mean_read_ms: 12.0,
            deadline_reached: false,
            passed: false,
            failures: Vec::new(),
        }
    }

    #[test]
    fn a_healthy_run_passes() {
        let mut report = healthy();
        report.judge();
        assert!(report.passed, "{:?}", report.failures);
        assert!(report.text().contains("exactly 1 for each of 4 links"), "saw {:?}", report.text());
        assert!(report.text().contains("PASS"), "saw {:?}", report.text());
        for shown in [
            "from 2 addresses (2 behind each)",
            "dead letters          none",
            "SES refusals          3 ratelimit",
            "0–2",
        ] {
            assert!(report.text().contains(shown), "{shown:?} not in {}", report.text());
        }
    }

    #[test]
    fn a_dead_letter_fails_the_run() {
        let mut report = healthy();
        report.dead_letters = Some(DeadLetterCount { send_emails: 2, notify_portals: 0 });
        report.judge();
        assert_eq!(report.failures, ["records in the dead-letter queues: 2 of send-emails, 0 of notify-portals"]);
        report.dead_letters = None;
        report.judge();
        assert_eq!(report.failures, ["the dead-letter queues could not be read"]);
    }

    #[test]
    fn each_broken_invariant_is_named() {
        let mut report = healthy();
        report.emails_per_link = BTreeMap::from([(1, 3), (2, 1)]);
        report.associations_made = Some(3);
        report.flows_completed = 2;
        report.errors.insert("GET /me: lists other profiles than the person's".into(), 1);
        report.judge();
        assert!(!report.passed, "saw {}", report.text());
        assert_eq!(
            report.failures,
            [
                "1 of 3 flows did not complete",
                "1 links had other than exactly one email",
                "3 associations made but 4 links redeemed",
                "1 errors"
            ]
        );
        assert!(report.text().contains("FAIL: 1 of 3 flows did not complete"), "saw {:?}", report.text());
    }

    #[test]
    fn an_unanswered_confirmation_may_have_linked() {
        let mut report = healthy();
        report.links_redeemed = 3;
        report.confirmations_unanswered = 1;
        report.judge();
        assert!(report.passed, "4 associations are within 3 redeemed + 1 unanswered: {:?}", report.failures);
        report.associations_made = Some(5);
        report.judge();
        assert_eq!(report.failures, ["5 associations made but 3 links redeemed (and 1 confirmations unanswered)"]);
    }
}
