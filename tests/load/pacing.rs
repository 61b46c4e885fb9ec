//! How sending was paced: the fault proxy in front of SES counts every
//! `SendEmail` by outcome (forwarded to the emulator, or refused for the
//! account's rate or quota); sampled every 10 s, the differences are emails
//! a second over time and the refusals by kind.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::metrics::lock;

/// The proxy's counts for SES `SendEmail`: outcome → calls (`forwarded`, `ratelimit`, `quota`, …).
pub type SendOutcomes = BTreeMap<String, u64>;

/// One 10-second window of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PacingRow {
    /// Seconds since the run started: the window is [from, to).
    pub from_s: u64,
    pub to_s: u64,
    /// Emails SES (the emulator) accepted in the window.
    pub sent: u64,
    pub per_second: f64,
    /// Sends refused in the window, by kind (`ratelimit`, `quota`, `throttle`, `error` …).
    pub refused: BTreeMap<String, u64>,
}

/// Reads the proxy's stats page (`profile_link_fault_proxy::STATS_PATH`).
pub struct ProxyStats {
    url: String,
    client: reqwest::Client,
}

impl ProxyStats {
    pub fn new(proxy: &url::Url) -> Self {
        let url = format!("{}{}", proxy.as_str().trim_end_matches('/'), profile_link_fault_proxy::STATS_PATH);
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("client");
        Self { url, client }
    }

    /// The proxy's counts for SES `SendEmail` so far.
    pub async fn send_outcomes(&self) -> Result<SendOutcomes, String> {
        let answer = self.client.get(&self.url).send().await.map_err(|e| format!("{}: {e}", self.url))?;
        let stats: serde_json::Value = answer.json().await.map_err(|e| format!("{}: {e}", self.url))?;
        let outcomes = stats["calls"]["ses/SendEmail"].as_object().cloned().unwrap_or_default();
        Ok(outcomes.into_iter().filter_map(|(outcome, n)| Some((outcome, n.as_u64()?))).collect())
    }
}

/// The windows so far and the counts at the end of the last one.
#[derive(Debug, Default)]
pub struct Pacing {
    pub rows: Vec<PacingRow>,
    last: SendOutcomes,
    last_at_s: u64,
    pub failed_reads: usize,
}

impl Pacing {
    /// Closes the window ending at `at_s` with the counts read then.
    pub fn close_window(&mut self, at_s: u64, now: SendOutcomes) {
        let delta =
            |outcome: &str| now.get(outcome).copied().unwrap_or(0) - self.last.get(outcome).copied().unwrap_or(0);
        let sent = delta("forwarded");
        let refused: BTreeMap<String, u64> = now
            .keys()
            .filter(|outcome| *outcome != "forwarded" && *outcome != "delay" && *outcome != "limit")
            .map(|outcome| (outcome.clone(), delta(outcome)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let seconds = at_s.saturating_sub(self.last_at_s).max(1);
        self.rows.push(PacingRow {
            from_s: self.last_at_s,
            to_s: at_s,
            sent,
            per_second: (sent as f64 / seconds as f64 * 10.0).round() / 10.0,
            refused,
        });
        self.last = now;
        self.last_at_s = at_s;
    }

    /// Every refusal of the run, by kind.
    pub fn refusals(&self) -> BTreeMap<String, u64> {
        let mut total = BTreeMap::new();
        for row in &self.rows {
            for (kind, n) in &row.refused {
                *total.entry(kind.clone()).or_default() += n;
            }
        }
        total
    }
}

/// Closes a window every 10 s of the run until aborted; [`finish`] closes the last.
pub async fn sample(stats: Arc<ProxyStats>, pacing: Arc<Mutex<Pacing>>, started: Instant) {
    let mut next = 10;
    loop {
        tokio::time::sleep_until(tokio::time::Instant::from_std(started + Duration::from_secs(next))).await;
        read_into(&stats, &pacing, next).await;
        next += 10;
    }
}

/// Closes the last (partial) window at the end of the run.
pub async fn finish(stats: &ProxyStats, pacing: &Mutex<Pacing>, started: Instant) {
    let at_s = started.elapsed().as_secs_f64().ceil() as u64;
    if at_s > lock(pacing).last_at_s {
        read_into(stats, pacing, at_s).await;
    }
}

async fn read_into(stats: &ProxyStats, pacing: &Mutex<Pacing>, at_s: u64) {
    match stats.send_outcomes().await {
        Ok(now) => lock(pacing).close_window(at_s, now),
        Err(error) => {
            eprintln!("profile-link-load: reading the fault proxy's counts failed: {error}");
            lock(pacing).failed_reads += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(pairs: &[(&str, u64)]) -> SendOutcomes {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn windows_are_the_differences_between_reads() {
        let mut pacing = Pacing::default();
        pacing.close_window(10, outcomes(&[("forwarded", 140), ("ratelimit", 30)]));
        pacing.close_window(20, outcomes(&[("forwarded", 280), ("ratelimit", 30), ("quota", 12)]));
        pacing.close_window(24, outcomes(&[("forwarded", 300), ("ratelimit", 31), ("quota", 12), ("delay", 5)]));
        let rows: Vec<(u64, u64, u64, f64)> =
            pacing.rows.iter().map(|r| (r.from_s, r.to_s, r.sent, r.per_second)).collect();
        assert_eq!(rows, [(0, 10, 140, 14.0), (10, 20, 140, 14.0), (20, 24, 20, 5.0)]);
        assert_eq!(pacing.rows[0].refused, BTreeMap::from([("ratelimit".to_owned(), 30)]));
        assert_eq!(pacing.rows[1].refused, BTreeMap::from([("quota".to_owned(), 12)]));
        assert_eq!(pacing.rows[2].refused, BTreeMap::from([("ratelimit".to_owned(), 1)]), "a delay is no refusal");
        assert_eq!(pacing.refusals(), BTreeMap::from([("quota".to_owned(), 12), ("ratelimit".to_owned(), 31)]));
    }
}
