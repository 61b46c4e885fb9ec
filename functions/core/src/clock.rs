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

/// A clock that tests set and advance; starts at the real time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl Default for ManualClock {
    fn default() -> Self {
        Self(Arc::new(AtomicI64::new(SystemClock.now())))
    }
}

impl ManualClock {
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    fn wait(&self, seconds: i64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.advance(seconds.max(0));
        Box::pin(std::future::ready(()))
    }
}
