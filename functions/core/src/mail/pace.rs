//! Pacing sends to the SES account's own rate. SES throttles an account past
//! its `MaxSendRate`; every concurrent invocation of send-emails takes an
//! equal share of [`SAFETY_SHARE`] of it, read from `GetAccount` at cold
//! start and again every few minutes. Within an invocation, sends are spaced
//! `1 / share` apart (a token bucket that holds one token), so no second ever
//! carries more than the share, however many sends run at once. A throttled
//! answer halves the pace, which then climbs back to the share over
//! [`RECOVERY`] (additive increase, multiplicative decrease). A daily quota
//! the last reading shows spent, or sending the account has paused, stops
//! sending until a reading says otherwise: SES would refuse each send.
//!
//! A `GetAccount` that fails (moto does not know it; a missing permission) is
//! not fatal: the pace then assumes the configured fallback rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{ConfigError, Env};

/// The share of the account's rate send-emails takes: headroom for the
/// account's other senders and for sends in flight when a reading changes.
pub const SAFETY_SHARE: f64 = 0.8;
/// How often the account is read again (its quota, and a raised rate).
pub const REFRESH: Duration = Duration::from_secs(300);
/// How often while the last reading refused sending (to resume promptly).
pub const REFRESH_WHILE_REFUSED: Duration = Duration::from_secs(60);
/// From a halved pace back to the full share takes half this.
pub const RECOVERY: Duration = Duration::from_secs(20);
/// Throttled answers within this of a cut are the same burst: one cut for them.
pub const CUT_HOLD: Duration = Duration::from_secs(1);
/// The slowest the pace goes, however often it is throttled (one email in 5 s).
pub const MIN_RATE: f64 = 0.2;

/// What `GetAccount` says about sending.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendQuota {
    /// Emails per second the account may send.
    pub max_send_rate: f64,
    /// Emails per rolling 24 hours; negative: no limit.
    pub max_24_hour_send: f64,
    pub sent_last_24_hours: f64,
    pub sending_enabled: bool,
}

impl SendQuota {
    /// Reads the account; the error is one line for the log.
    pub async fn read(ses: &aws_sdk_sesv2::Client) -> Result<Self, String> {
        let account =
            ses.get_account().send().await.map_err(|e| aws_sdk_sesv2::error::DisplayErrorContext(e).to_string())?;
        let quota = account.send_quota().ok_or("GetAccount answered without a SendQuota")?;
        Ok(Self {
            max_send_rate: quota.max_send_rate(),
            max_24_hour_send: quota.max24_hour_send(),
            sent_last_24_hours: quota.sent_last24_hours(),
            sending_enabled: account.sending_enabled(),
        })
    }
}

/// How the pace is sized, from the environment the template sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceConfig {
    /// The most invocations of send-emails that run at once (its reserved
    /// concurrency): each takes this fraction of the account's share.
    pub invocations: u32,
    /// The account's rate assumed while `GetAccount` cannot be read.
    pub fallback_send_rate: f64,
}

impl PaceConfig {
    /// SES's starting rate for an account with production access.
    pub const DEFAULT_FALLBACK_SEND_RATE: u32 = 14;

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            invocations: env.number_in("SEND_EMAILS_INVOCATIONS", 1, 1..=1000)?,
            fallback_send_rate: env.number_in(
                "SES_FALLBACK_SEND_RATE",
                Self::DEFAULT_FALLBACK_SEND_RATE,
                1..=100_000,
            )? as f64,
        })
    }

    /// This invocation's share of an account rate, in emails per second.
    pub fn share_of(&self, account_rate: f64) -> f64 {
        (account_rate * SAFETY_SHARE / self.invocations as f64).max(MIN_RATE)
    }
}

/// Why a send was not let through.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PaceRefusal {
    #[error("the pace ({rate:.2}/s) has no slot within the {max_wait:?} this invocation may still wait")]
    Backlog { rate: f64, max_wait: Duration },
    #[error("the SES account's daily quota is spent ({sent} of {max} in the last 24 hours)")]
    QuotaSpent { sent: f64, max: f64 },
    #[error("sending is paused for the SES account")]
    SendingPaused,
}

/// Monotonic time for the pace, so tests can move it instead of sleeping.
pub trait PaceTime: Send + Sync + std::fmt::Debug {
    /// Time since an arbitrary start.
    fn now(&self) -> Duration;
    fn sleep_until(&self, at: Duration) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;
}

#[derive(Debug)]
pub struct TokioTime(tokio::time::Instant);

impl Default for TokioTime {
    fn default() -> Self {
        Self(tokio::time::Instant::now())
    }
}

impl PaceTime for TokioTime {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }

    fn sleep_until(&self, at: Duration) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep_until(self.0 + at))
    }
}

/// Time that moves only when a test moves it, so sends asked for together
/// are asked for at the same moment, as in a concurrent batch. A sleep ends
/// at once and is logged with when it would have ended: the moments the
/// pace let each send go.
#[derive(Debug, Default, Clone)]
pub struct ManualTime {
    now: Arc<AtomicU64>,
    wakes: Arc<Mutex<Vec<Duration>>>,
}

impl ManualTime {
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
    }

    /// When each sleep so far would have ended, in order.
    pub fn wakes(&self) -> Vec<Duration> {
        let mut wakes = self.wakes.lock().expect("not poisoned").clone();
        wakes.sort();
        wakes
    }
}

impl PaceTime for ManualTime {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.now.load(Ordering::SeqCst))
    }

    fn sleep_until(&self, at: Duration) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        self.wakes.lock().expect("not poisoned").push(at.max(self.now()));
        Box::pin(std::future::ready(()))
    }
}

/// The pace of one invocation's sends; cheap to clone (clones share it).
#[derive(Debug, Clone)]
pub struct SendPace {
    state: Arc<Mutex<PaceState>>,
    config: PaceConfig,
    /// Where the account is read again; `None`: a fixed rate (tests).
    ses: Option<aws_sdk_sesv2::Client>,
    time: Arc<dyn PaceTime>,
}

#[derive(Debug)]
struct PaceState {
    /// The invocation's full share, from the last reading (or the fallback).
    share: f64,
    /// The last reading, if one succeeded; what was sent since it, here.
    quota: Option<SendQuota>,
    sent_since_reading: f64,
    read_at: Duration,
    /// The pace right after the last throttled answer, and when it came.
    cut: Option<(f64, Duration)>,
    /// When the next send may go.
    next_slot: Duration,
}

impl PaceState {
    fn rate_at(&self, now: Duration) -> f64 {
        match self.cut {
            None => self.share,
            Some((rate, at)) => {
                let climbed = self.share * now.saturating_sub(at).as_secs_f64() / RECOVERY.as_secs_f64();
                (rate + climbed).min(self.share)
            }
        }
    }

    fn refusal(&self) -> Option<PaceRefusal> {
        let quota = self.quota?;
        if !quota.sending_enabled {
            return Some(PaceRefusal::SendingPaused);
        }
        let sent = quota.sent_last_24_hours + self.sent_since_reading;
        (quota.max_24_hour_send >= 0.0 && sent >= quota.max_24_hour_send)
            .then_some(PaceRefusal::QuotaSpent { sent, max: quota.max_24_hour_send })
    }
}

impl SendPace {
    /// Reads the account (cold start); a failed read leaves the fallback rate.
    pub async fn from_account(ses: aws_sdk_sesv2::Client, config: PaceConfig) -> Self {
        let pace = Self::with_time(config, Some(ses), Arc::new(TokioTime::default()));
        pace.read_account().await;
        pace
    }

    /// A pace at a fixed account rate that is never read (tests, benches).
    pub fn fixed(account_rate: f64, config: PaceConfig, time: Arc<dyn PaceTime>) -> Self {
        let pace = Self::with_time(config, None, time);
        pace.lock().share = config.share_of(account_rate);
        pace
    }

    fn with_time(config: PaceConfig, ses: Option<aws_sdk_sesv2::Client>, time: Arc<dyn PaceTime>) -> Self {
        let now = time.now();
        let state = PaceState {
            share: config.share_of(config.fallback_send_rate),
            quota: None,
            sent_since_reading: 0.0,
            read_at: now,
            cut: None,
            next_slot: now,
        };
        Self { state: Arc::new(Mutex::new(state)), config, ses, time }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().expect("not poisoned")
    }

    /// Emails per second this invocation sends at now.
    pub fn rate(&self) -> f64 {
        self.lock().rate_at(self.time.now())
    }

    /// Reads the account again if the last reading is old (once per invocation, before its sends).
    pub async fn refresh_if_due(&self) {
        let due = {
            let state = self.lock();
            let every = if state.refusal().is_some() { REFRESH_WHILE_REFUSED } else { REFRESH };
            self.time.now().saturating_sub(state.read_at) >= every
        };
        if due {
            self.read_account().await;
        }
    }

    async fn read_account(&self) {
        let Some(ses) = &self.ses else { return };
        let read = SendQuota::read(ses).await;
        let now = self.time.now();
        let mut state = self.lock();
        state.read_at = now;
        match read {
            Ok(quota) => {
                state.share = self.config.share_of(quota.max_send_rate);
                state.quota = Some(quota);
                state.sent_since_reading = 0.0;
                tracing::info!(
                    max_send_rate = quota.max_send_rate,
                    max_24_hour_send = quota.max_24_hour_send,
                    sent_last_24_hours = quota.sent_last_24_hours,
                    sending_enabled = quota.sending_enabled,
                    pace_per_second = state.share,
                    "SES account read: sends paced to this invocation's share of its rate"
                );
            }
            Err(error) => tracing::warn!(
                %error,
                fallback_send_rate = self.config.fallback_send_rate,
                pace_per_second = state.share,
                "SES account not read: sends paced to the last reading or the configured fallback rate"
            ),
        }
    }

    /// Waits for this send's slot, or refuses at once if the slot is further
    /// away than `max_wait` or the account cannot send: nothing is taken then.
    pub async fn ready(&self, max_wait: Duration) -> Result<(), PaceRefusal> {
        let slot = {
            let now = self.time.now();
            let mut state = self.lock();
            if let Some(refusal) = state.refusal() {
                return Err(refusal);
            }
            let rate = state.rate_at(now);
            let slot = state.next_slot.max(now);
            if slot - now > max_wait {
                return Err(PaceRefusal::Backlog { rate, max_wait });
            }
            state.next_slot = slot + Duration::from_secs_f64(1.0 / rate);
            state.sent_since_reading += 1.0;
            slot
        };
        self.time.sleep_until(slot).await;
        Ok(())
    }

    /// SES throttled a send: halve the pace (once per burst of throttled answers).
    pub fn throttled(&self) {
        let now = self.time.now();
        let mut state = self.lock();
        if state.cut.is_some_and(|(_, at)| now.saturating_sub(at) < CUT_HOLD) {
            return;
        }
        let halved = (state.rate_at(now) / 2.0).max(MIN_RATE);
        state.cut = Some((halved, now));
        tracing::warn!(pace_per_second = halved, "SES throttled a send: pace halved");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: PaceConfig = PaceConfig { invocations: 2, fallback_send_rate: 14.0 };

    fn pace(account_rate: f64) -> (SendPace, ManualTime) {
        let time = ManualTime::default();
        (SendPace::fixed(account_rate, TWO, Arc::new(time.clone())), time)
    }

    /// Sends `n` through the pace at once, as a concurrent batch does: when each went.
    async fn send_all(pace: &SendPace, time: &ManualTime, n: usize) -> Vec<Duration> {
        let before = time.wakes().len();
        let sends: Vec<_> = (0..n)
            .map(|_| {
                let pace = pace.clone();
                tokio::spawn(async move { pace.ready(Duration::from_secs(3600)).await.unwrap() })
            })
            .collect();
        for send in sends {
            send.await.unwrap();
        }
        time.wakes().split_off(before)
    }

    /// The most sends any one-second window holds.
    fn busiest_second(times: &[Duration]) -> usize {
        times
            .iter()
            .map(|start| times.iter().filter(|t| **t >= *start && **t < *start + Duration::from_secs(1)).count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn each_invocation_takes_its_share_of_the_accounts_rate() {
        assert_eq!(TWO.share_of(14.0), 14.0 * 0.8 / 2.0);
        assert_eq!(TWO.share_of(0.0), MIN_RATE, "never stops altogether");
        let env = Env::from_pairs([("SEND_EMAILS_INVOCATIONS", "4"), ("SES_FALLBACK_SEND_RATE", "30")]);
        assert_eq!(PaceConfig::from_env(&env).unwrap(), PaceConfig { invocations: 4, fallback_send_rate: 30.0 });
        let unset = PaceConfig::from_env(&Env::default()).unwrap();
        assert_eq!(unset, PaceConfig { invocations: 1, fallback_send_rate: 14.0 });
        assert!(PaceConfig::from_env(&Env::from_pairs([("SEND_EMAILS_INVOCATIONS", "0")])).is_err());
    }

    #[tokio::test]
    async fn the_pace_never_exceeds_its_rate_in_any_second() {
        let (pace, time) = pace(50.0);
        let share = 50.0 * 0.8 / 2.0;
        let times = send_all(&pace, &time, 200).await;
        let busiest = busiest_second(&times);
        assert!(busiest <= share as usize, "at most {share} in any second, saw {busiest}");
        let took = times.last().unwrap().as_secs_f64();
        assert!((took - 199.0 / share).abs() < 0.01, "200 sends spread over {took} s at {share}/s");
    }

    #[tokio::test]
    async fn a_send_whose_slot_is_too_far_is_refused_and_takes_no_slot() {
        let (pace, time) = pace(10.0); // 4 a second: a slot every 250 ms
        for _ in 0..4 {
            pace.ready(Duration::from_secs(1)).await.unwrap();
        }
        time.advance(Duration::from_millis(500));
        // The fifth slot is at 1 s, 500 ms away.
        let refused = pace.ready(Duration::from_millis(499)).await;
        assert_eq!(refused, Err(PaceRefusal::Backlog { rate: 4.0, max_wait: Duration::from_millis(499) }));
        assert_eq!(time.wakes().len(), 4, "a refusal does not wait");
        pace.ready(Duration::from_millis(500)).await.unwrap();
        assert_eq!(time.wakes()[4], Duration::from_secs(1), "the refused send took no slot: {:?}", time.wakes());
    }

    #[tokio::test]
    async fn a_throttled_answer_halves_the_pace_which_then_recovers() {
        let (pace, time) = pace(50.0);
        assert_eq!(pace.rate(), 20.0);
        pace.throttled();
        pace.throttled(); // the same burst: cut once
        assert_eq!(pace.rate(), 10.0, "halved once");
        let times = send_all(&pace, &time, 2).await;
        assert_eq!(times[1] - times[0], Duration::from_millis(100), "sends 1/10 s apart after the cut, 1/20 before");
        time.advance(CUT_HOLD);
        let before = pace.rate();
        pace.throttled();
        assert!((pace.rate() - before / 2.0).abs() < 1e-9, "a later burst halves again: {before} → {}", pace.rate());
        time.advance(RECOVERY);
        assert_eq!(pace.rate(), 20.0, "back to the full share after {RECOVERY:?}");
        for _ in 0..20 {
            pace.throttled();
            time.advance(CUT_HOLD);
            assert!(pace.rate() >= MIN_RATE, "never below the floor: {}", pace.rate());
        }
    }

    #[tokio::test]
    async fn a_spent_quota_or_a_paused_account_refuses_until_a_reading_says_otherwise() {
        let (pace, _time) = pace(50.0);
        let quota =
            SendQuota { max_send_rate: 50.0, max_24_hour_send: 3.0, sent_last_24_hours: 1.0, sending_enabled: true };
        pace.lock().quota = Some(quota);
        let wait = Duration::from_secs(60);
        pace.ready(wait).await.unwrap();
        pace.ready(wait).await.unwrap();
        assert_eq!(pace.ready(wait).await, Err(PaceRefusal::QuotaSpent { sent: 3.0, max: 3.0 }), "1 + 2 sent of 3");
        pace.lock().quota = Some(SendQuota { sending_enabled: false, max_24_hour_send: -1.0, ..quota });
        assert_eq!(pace.ready(wait).await, Err(PaceRefusal::SendingPaused));
        pace.lock().quota = Some(SendQuota { max_24_hour_send: -1.0, ..quota });
        pace.ready(wait).await.unwrap();
    }
}
