//! Limits an AWS account has and the emulator does not: a sending rate (a
//! token bucket) and a quota that runs out and comes back. Unlike the other
//! faults they are not a share of calls but state: a call is refused when the
//! bucket is empty or the allowance spent, and time brings them back.

use std::time::{Duration, Instant};

/// `ratelimit=N/s`: at most N calls a second. The bucket holds one second's
/// calls (a burst of N after a quiet second, as SES allows) and refills
/// continuously at N a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
}

/// `quota=N/<period>`: N calls, then every call is refused for `period`
/// (counted from the call that spent the allowance), then a new allowance of
/// N. "Spent for a minute mid-run" is `quota=<half the run's calls>/60s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub allowance: u64,
    pub period: Duration,
}

impl Rate {
    /// `14/s`.
    pub(crate) fn parse(spec: &str) -> Option<Self> {
        let per_second = spec.strip_suffix("/s")?.parse::<u32>().ok().filter(|n| (1..=100_000).contains(n))?;
        Some(Self { per_second })
    }
}

impl Quota {
    /// `500/60s`, `50000/24h`, `100/5m`.
    pub(crate) fn parse(spec: &str) -> Option<Self> {
        let (allowance, period) = spec.split_once('/')?;
        let allowance = allowance.parse::<u64>().ok().filter(|n| *n > 0)?;
        let unit = match period.chars().last()? {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        let count = period[..period.len() - 1].parse::<u64>().ok().filter(|n| (1..=86_400 * 7).contains(n))?;
        Some(Self { allowance, period: Duration::from_secs(count * unit) })
    }
}

/// The state of one limit for one `service/operation`.
#[derive(Debug, Clone)]
pub(crate) enum Limiter {
    Bucket { tokens: f64, refilled: Instant },
    Allowance { left: u64, refused_until: Option<Instant> },
}

impl Limiter {
    pub(crate) fn bucket(rate: Rate, now: Instant) -> Self {
        Self::Bucket { tokens: f64::from(rate.per_second), refilled: now }
    }

    pub(crate) fn allowance(quota: Quota) -> Self {
        Self::Allowance { left: quota.allowance, refused_until: None }
    }

    /// Whether a rate-limited call may pass at `now` (taking its token if so).
    pub(crate) fn take_token(&mut self, rate: Rate, now: Instant) -> bool {
        let Self::Bucket { tokens, refilled } = self else { return true };
        let capacity = f64::from(rate.per_second);
        let elapsed = now.saturating_duration_since(*refilled).as_secs_f64();
        *tokens = (*tokens + elapsed * capacity).min(capacity);
        *refilled = (*refilled).max(now);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How much of its allowance a quota has spent at `now`, as SES's
    /// `SentLast24Hours` would say: all of it while it refuses, none once its
    /// period is over (the next call starts a new allowance).
    pub(crate) fn spent(&self, quota: Quota, now: Instant) -> u64 {
        match self {
            Self::Allowance { refused_until: Some(until), .. } if now < *until => quota.allowance,
            Self::Allowance { refused_until: Some(_), .. } => 0,
            Self::Allowance { left, refused_until: None } => quota.allowance - left,
            Self::Bucket { .. } => 0,
        }
    }

    /// Whether a call under a quota may pass at `now` (spending one of the allowance if so).
    pub(crate) fn spend(&mut self, quota: Quota, now: Instant) -> bool {
        let Self::Allowance { left, refused_until } = self else { return true };
        match *refused_until {
            Some(until) if now < until => return false,
            Some(_) => {
                *left = quota.allowance;
                *refused_until = None;
            }
            None => {}
        }
        *left -= 1;
        if *left == 0 {
            *refused_until = Some(now + quota.period);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_quotas_parse() {
        assert_eq!(Rate::parse("14/s"), Some(Rate { per_second: 14 }));
        assert_eq!(Quota::parse("500/60s"), Some(Quota { allowance: 500, period: Duration::from_secs(60) }));
        assert_eq!(Quota::parse("50000/24h"), Some(Quota { allowance: 50_000, period: Duration::from_secs(86_400) }));
        assert_eq!(Quota::parse("10/5m"), Some(Quota { allowance: 10, period: Duration::from_secs(300) }));
        for bad in ["0/s", "14", "14/m", "x/s", "-1/s", "200000/s"] {
            assert_eq!(Rate::parse(bad), None, "rate {bad:?} should be refused");
        }
        for bad in ["500", "0/60s", "500/60", "500/0s", "500/60d", "/60s", "500/s"] {
            assert_eq!(Quota::parse(bad), None, "quota {bad:?} should be refused");
        }
    }

    #[test]
    fn a_bucket_lets_a_seconds_worth_through_then_refills_at_the_rate() {
        let rate = Rate { per_second: 4 };
        let start = Instant::now();
        let mut bucket = Limiter::bucket(rate, start);
        let burst: Vec<bool> = (0..6).map(|_| bucket.take_token(rate, start)).collect();
        assert_eq!(burst, [true, true, true, true, false, false], "a full bucket holds 4");
        assert!(!bucket.take_token(rate, start + Duration::from_millis(200)), "0.8 of a token after 200 ms");
        assert!(bucket.take_token(rate, start + Duration::from_millis(250)), "one token after 250 ms");
        assert!(!bucket.take_token(rate, start + Duration::from_millis(260)), "and it was taken");
        // Ten quiet seconds refill it to its capacity, not beyond.
        let later = start + Duration::from_secs(10);
        let passed = (0..10).filter(|_| bucket.take_token(rate, later)).count();
        assert_eq!(passed, 4, "saw {passed} calls pass after a quiet spell");
        // With the bucket empty, 10 calls a second for 4.9 s: the 4 a second it refills.
        let offered = (0..50).map(|i| later + Duration::from_millis(1 + i * 100));
        let passed = offered.filter(|at| bucket.take_token(rate, *at)).count();
        assert_eq!(passed, 19, "saw {passed} of 50 calls pass over 4.9 s at 4/s");
    }

    #[test]
    fn a_quota_says_what_it_has_spent_as_ses_would_and_nothing_once_its_period_is_over() {
        let quota = Quota { allowance: 2, period: Duration::from_secs(60) };
        let start = Instant::now();
        let mut limiter = Limiter::allowance(quota);
        assert_eq!(limiter.spent(quota, start), 0);
        assert!(limiter.spend(quota, start));
        assert_eq!(limiter.spent(quota, start), 1);
        assert!(limiter.spend(quota, start));
        assert_eq!(limiter.spent(quota, start + Duration::from_secs(59)), 2, "spent while it refuses");
        assert_eq!(limiter.spent(quota, start + Duration::from_secs(60)), 0, "a new allowance after the period");
    }

    #[test]
    fn a_quota_refuses_for_its_period_once_spent_then_gives_a_new_allowance() {
        let quota = Quota { allowance: 3, period: Duration::from_secs(60) };
        let start = Instant::now();
        let mut allowance = Limiter::allowance(quota);
        let at = |s: u64| start + Duration::from_secs(s);
        let first: Vec<bool> = [0, 1, 2, 3, 30, 61].iter().map(|s| allowance.spend(quota, at(*s))).collect();
        assert_eq!(first, [true, true, true, false, false, false], "spent at 2 s, refused until 62 s");
        let again: Vec<bool> = [62, 62, 63, 63, 100].iter().map(|s| allowance.spend(quota, at(*s))).collect();
        assert_eq!(again, [true, true, true, false, false], "a new allowance of 3 at 62 s, spent at 63 s");
        assert!(allowance.spend(quota, at(123)), "and another a period later");
    }
}
