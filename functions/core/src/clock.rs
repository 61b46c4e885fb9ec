//! Time as a dependency, so tests can move it instead of sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch; every expiry in the table is in this unit.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> i64;

    /// Waits `seconds` of this clock's time (a manual clock just moves on).
    fn wait(&self, seconds: i64) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }

    fn wait(&self, seconds: i64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(std::time::Duration::from_secs(seconds.max(0) as u64)))
    }
}

/// A clock that tests (and the dev server's `/dev/clock`) move forward, and
/// that otherwise runs like a real one. A frozen clock would turn every
/// duration a provider measures in real time, such as an ID token's
/// `iat - auth_time`, into a sign-in that seems to have happened before it
/// began. It starts ten minutes into the next UTC day, so a test crosses a
/// rate-limit window (an hour, or a day) only when it moves the clock across
/// one. (It once started ten minutes into the next hour: run between 23:00
/// and 24:00 UTC less an hour, a test that moved it an hour crossed into the
/// next day and met day-long windows already reset.) An identity provider's
/// clock does not move with it: after a move, a sign-in the provider answers
/// from its own session still reports the person authenticated seconds ago.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl Default for ManualClock {
    fn default() -> Self {
        let real = SystemClock.now();
        const DAY: i64 = 86_400;
        let start = real - real.rem_euclid(DAY) + DAY + 600;
        Self(Arc::new(AtomicI64::new(start - real)))
    }
}

impl ManualClock {
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        SystemClock.now() + self.0.load(Ordering::SeqCst)
    }

    fn wait(&self, seconds: i64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.advance(seconds.max(0));
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_starts_inside_a_day_runs_and_moves_on() {
        let clock = ManualClock::default();
        let start = clock.now();
        assert_eq!(start.rem_euclid(86_400) / 60, 10, "ten minutes into a UTC day: {start}");
        assert!(start > SystemClock.now(), "never behind the real clock");
        clock.advance(3600);
        assert!((3600..3603).contains(&(clock.now() - start)), "moved {}", clock.now() - start);
    }
}

/// `2026-11-24 14:05 UTC`: unambiguous for every reader (emails, audit details).
pub fn format_utc(epoch_seconds: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| epoch_seconds.to_string())
}
