//! The import's pace: write units a second, shared by every batch in flight.
//! Each write waits its turn at the current rate. Throttling halves the rate
//! (once per [`DECREASE_SPACING`], so one episode seen by 8 batches at once
//! halves it once, not 8 times); time without throttling brings it back up
//! linearly to the ceiling the operator chose (AIMD, as TCP paces a link).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A new on-demand table sustains 4,000 write units a second from its first
/// day; the import takes half, leaving the rest to the service's own writes.
pub const DEFAULT_WRITE_UNITS: u32 = 2_000;
/// Throttles closer together than this are one episode: the rate halves once.
const DECREASE_SPACING: Duration = Duration::from_secs(1);
/// Unthrottled, the rate climbs back from 0 to the ceiling in this long.
const RAMP: Duration = Duration::from_secs(20);
/// The rate never falls below this (units a second): one batch of 25 small
/// profiles with their index entries every 5 s.
const FLOOR: f64 = 10.0;
/// Backoff before the n-th retry in a row: a random share of this doubled n−1 times, at most [`BACKOFF_MAX`].
const BACKOFF_BASE: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Pacer {
    ceiling: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Write units a second now.
    rate: f64,
    /// When the next write may start.
    next_free: Instant,
    /// When the rate last changed (the additive increase counts from there).
    changed: Instant,
    last_decrease: Option<Instant>,
    last_progress: Instant,
    decreases: u32,
}

impl Pacer {
    pub fn new(write_units_per_second: u32) -> Self {
        Self::starting_at(write_units_per_second, Instant::now())
    }

    fn starting_at(write_units_per_second: u32, now: Instant) -> Self {
        let ceiling = f64::from(write_units_per_second.max(1));
        let state = State {
            rate: ceiling,
            next_free: now,
            changed: now,
            last_decrease: None,
            last_progress: now,
            decreases: 0,
        };
        Self { ceiling, state: Mutex::new(state) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `units` write units may be spent at the current rate.
    pub async fn take(&self, units: u32) {
        let start = self.reserve(units, Instant::now());
        tokio::time::sleep_until(start).await;
    }

    /// When `units` asked for at `now` may start; the next ones queue behind them.
    fn reserve(&self, units: u32, now: Instant) -> Instant {
        let mut state = self.state();
        let start = state.next_free.max(now);
        state.next_free = start + Duration::from_secs_f64(f64::from(units) / state.rate);
        start
    }

    /// DynamoDB throttled a call: halve the rate, once per episode.
    pub fn throttled(&self) {
        self.throttled_at(Instant::now());
    }

    fn throttled_at(&self, now: Instant) {
        let mut state = self.state();
        if state.last_decrease.is_some_and(|at| now.duration_since(at) < DECREASE_SPACING) {
            return;
        }
        state.rate = (state.rate / 2.0).max(FLOOR.min(self.ceiling));
        state.last_decrease = Some(now);
        state.changed = now;
        state.decreases += 1;
    }

    /// DynamoDB did some of the work: the run is making progress, and the
    /// rate climbs back towards the ceiling.
    pub fn progressed(&self) {
        self.progressed_at(Instant::now());
    }

    fn progressed_at(&self, now: Instant) {
        let mut state = self.state();
        state.last_progress = now;
        let climb = self.ceiling * now.duration_since(state.changed).as_secs_f64() / RAMP.as_secs_f64();
        state.rate = (state.rate + climb).min(self.ceiling);
        state.changed = now;
    }

    /// How long since DynamoDB last did any of the work.
    pub fn since_progress(&self) -> Duration {
        Instant::now().duration_since(self.state().last_progress)
    }

    /// Write units a second now.
    pub fn rate(&self) -> f64 {
        self.state().rate
    }

    /// How many times throttling halved the rate.
    pub fn slowdowns(&self) -> u32 {
        self.state().decreases
    }
}

/// Waits before the `retry`-th retry in a row (1-based): full jitter, so
/// batches throttled together do not come back together.
pub async fn backoff(retry: u32) {
    let ceiling = BACKOFF_BASE.saturating_mul(1 << retry.saturating_sub(1).min(16)).min(BACKOFF_MAX);
    let mut bytes = [0u8; 8];
    // Jitter only: with no randomness, wait the whole ceiling.
    let share = match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes) as f64 / u64::MAX as f64,
        Err(_) => 1.0,
    };
    tokio::time::sleep(ceiling.mul_f64(share)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_wait_their_turn_at_the_rate() {
        let t0 = Instant::now();
        let pacer = Pacer::starting_at(100, t0);
        let starts: Vec<Duration> = (0..5).map(|_| pacer.reserve(50, t0) - t0).collect();
        // 50 units at 100 a second: one every half second, the first at once.
        assert_eq!(starts, (0..5).map(|i| Duration::from_millis(500 * i)).collect::<Vec<_>>(), "saw {starts:?}");
        let later = t0 + Duration::from_secs(10);
        assert_eq!(pacer.reserve(50, later), later, "an idle pacer saves up no burst");
    }

    #[test]
    fn throttling_halves_the_rate_once_per_episode_and_quiet_time_restores_it() {
        let t0 = Instant::now();
        let pacer = Pacer::starting_at(2_000, t0);
        pacer.throttled_at(t0);
        pacer.throttled_at(t0 + Duration::from_millis(300));
        assert_eq!((pacer.rate(), pacer.slowdowns()), (1_000.0, 1), "two throttles in the same second halve once");
        let t1 = t0 + DECREASE_SPACING;
        pacer.throttled_at(t1);
        assert_eq!(pacer.rate(), 500.0, "a later throttle halves again");
        pacer.progressed_at(t1 + Duration::from_secs(5));
        assert_eq!(pacer.rate(), 1_000.0, "5 s of a 20 s ramp adds a quarter of the ceiling");
        pacer.progressed_at(t1 + Duration::from_secs(60));
        assert_eq!(pacer.rate(), 2_000.0, "never above the ceiling");
    }

    #[test]
    fn the_rate_never_falls_below_the_floor() {
        let t0 = Instant::now();
        let pacer = Pacer::starting_at(40, t0);
        for i in 0..10 {
            pacer.throttled_at(t0 + DECREASE_SPACING * i);
        }
        assert_eq!(pacer.rate(), FLOOR, "saw {}", pacer.rate());
        let tiny = Pacer::starting_at(4, t0);
        tiny.throttled_at(t0);
        assert_eq!(tiny.rate(), 4.0, "a ceiling under the floor is kept");
    }
}
