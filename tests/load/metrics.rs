//! What the run measured: every request's latency by endpoint, the time each
//! email took to arrive, the counts the invariants are checked against, and
//! the errors by kind.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use url::{Origin, Url};

/// The endpoints a person's browser reaches, in the order of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Login,
    Callback,
    Account,
    AssociateForm,
    Associate,
    RedeemClick,
    RedeemPage,
    RedeemConfirm,
    Me,
    /// Anything else of ours (none in a healthy run).
    OtherOurs,
    /// The dev identity provider: its pages and redirects, not this service's latency.
    Provider,
}

impl Endpoint {
    pub fn label(self) -> &'static str {
        match self {
            Self::Login => "GET /login",
            Self::Callback => "GET /login/callback",
            Self::Account => "GET /",
            Self::AssociateForm => "GET /associate",
            Self::Associate => "POST /associate",
            Self::RedeemClick => "GET /redeem?token=",
            Self::RedeemPage => "GET /redeem",
            Self::RedeemConfirm => "POST /redeem",
            Self::Me => "GET /me",
            Self::OtherOurs => "other (ours)",
            Self::Provider => "identity provider",
        }
    }

    pub fn classify(method: &Method, url: &Url, ours: &Origin) -> Self {
        if url.origin() != *ours {
            return Self::Provider;
        }
        let post = method == Method::POST;
        match (url.path(), post) {
            ("/login", false) => Self::Login,
            (path, false) if path.starts_with("/login/callback/") => Self::Callback,
            ("/", false) => Self::Account,
            ("/associate", false) => Self::AssociateForm,
            ("/associate", true) => Self::Associate,
            ("/redeem", false) if url.query().is_some_and(|q| q.contains("token=")) => Self::RedeemClick,
            ("/redeem", false) => Self::RedeemPage,
            ("/redeem", true) => Self::RedeemConfirm,
            ("/me", false) => Self::Me,
            _ => Self::OtherOurs,
        }
    }
}

/// Latencies of one endpoint and how its answers went.
#[derive(Debug, Default)]
pub struct Samples {
    pub latencies: Vec<Duration>,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, usize>,
    /// Requests that got no answer (refused connection, timeout).
    pub failed: usize,
}

impl Samples {
    pub fn add(&mut self, status: Option<u16>, elapsed: Duration) {
        match status {
            Some(status) => {
                *self.statuses.entry(status).or_default() += 1;
                self.latencies.push(elapsed);
            }
            None => self.failed += 1,
        }
    }

    pub fn summary(&self) -> Option<Percentiles> {
        Percentiles::of(&self.latencies)
    }
}

/// Nearest-rank percentiles of the exact samples (a run has a few thousand per endpoint at most).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let rank = |p: usize| sorted[(p * sorted.len()).div_ceil(100).max(1) - 1];
        Some(Self { count: sorted.len(), p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[sorted.len() - 1] })
    }
}

/// Everything the people report while the run goes on; shared by all of them.
#[derive(Debug, Default)]
pub struct Metrics {
    pub endpoints: Mutex<BTreeMap<Endpoint, Samples>>,
    /// From the answer to `POST /associate` to the mailbox read that first showed the email.
    pub email_arrival: Mutex<Vec<Duration>>,
    /// Whole flows, sign-in to `/me`, of the people who completed one.
    pub flow: Mutex<Vec<Duration>>,
    pub errors: Mutex<BTreeMap<String, usize>>,
    /// People whose `POST /associate` was accepted.
    pub requests_accepted: AtomicUsize,
    /// Links those requests should have produced (one per profile).
    pub links_requested: AtomicUsize,
    /// Confirmations sent (`POST /redeem`), answered or not.
    pub confirmations_sent: AtomicUsize,
    /// Links confirmed with a 200 answer to `POST /redeem`.
    pub links_redeemed: AtomicUsize,
    pub flows_completed: AtomicUsize,
}

impl Metrics {
    pub fn record(&self, endpoint: Endpoint, status: Option<u16>, elapsed: Duration) {
        lock(&self.endpoints).entry(endpoint).or_default().add(status, elapsed);
    }

    pub fn error(&self, kind: String) {
        *lock(&self.errors).entry(kind).or_default() += 1;
    }

    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    pub fn add(counter: &AtomicUsize, n: usize) {
        counter.fetch_add(n, Ordering::SeqCst);
    }
}

/// A poisoned lock only means another person's task panicked; the numbers are still good.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let p = Percentiles::of(&ms((1..=100).rev())).unwrap();
        assert_eq!((p.count, p.p50, p.p90, p.p99, p.max), (100, ms([50])[0], ms([90])[0], ms([99])[0], ms([100])[0]));
        let one = Percentiles::of(&ms([7])).unwrap();
        assert_eq!((one.p50, one.p99, one.max), (ms([7])[0], ms([7])[0], ms([7])[0]));
        assert_eq!(Percentiles::of(&[]), None);
    }

    #[test]
    fn requests_are_classified_by_route_and_origin() {
        let ours = Url::parse("http://127.0.0.1:3000/").unwrap().origin();
        let class = |method: Method, url: &str| Endpoint::classify(&method, &Url::parse(url).unwrap(), &ours);
        assert_eq!(class(Method::GET, "http://127.0.0.1:3000/login?return_to=/redeem"), Endpoint::Login);
        assert_eq!(class(Method::GET, "http://127.0.0.1:3000/redeem?token=a.b"), Endpoint::RedeemClick);
        assert_eq!(class(Method::GET, "http://127.0.0.1:3000/redeem"), Endpoint::RedeemPage);
        assert_eq!(class(Method::POST, "http://127.0.0.1:3000/redeem"), Endpoint::RedeemConfirm);
        assert_eq!(class(Method::POST, "http://127.0.0.1:3000/associate"), Endpoint::Associate);
        assert_eq!(class(Method::GET, "http://127.0.0.1:9400/auth?client_id=x"), Endpoint::Provider);
        assert_eq!(class(Method::GET, "http://127.0.0.1:3000/nope"), Endpoint::OtherOurs);
    }
}
