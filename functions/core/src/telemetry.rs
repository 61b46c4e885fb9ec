//! Structured JSON logs (one line per event) for CloudWatch; readable text
//! locally. Metrics go beside them as EMF lines (`metrics`).

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

use crate::config::{ConfigError, Env};

/// Call once in each `main`. `RUST_LOG` filters (default `info`);
/// `LOG_FORMAT=text` gives human-readable lines for local runs;
/// `METRICS_NAMESPACE` names the metrics' CloudWatch namespace.
pub fn init(env: &Env) -> Result<(), ConfigError> {
    let filter = EnvFilter::try_new(env.get("RUST_LOG").unwrap_or("info")).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if env.get("LOG_FORMAT") == Some("text") {
        let _ = builder.try_init();
    } else {
        // Lambda adds its own timestamp and request id to every line.
        let _ = builder.json().flatten_event(true).with_current_span(false).without_time().try_init();
    }
    crate::metrics::init(env)
}

/// Whether an invocation is the first its container serves (it paid for the cold start).
#[derive(Debug, Default)]
pub struct ColdStart(AtomicBool);

impl ColdStart {
    pub const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// True the first time only.
    pub fn take(&self) -> bool {
        !self.0.swap(true, Ordering::Relaxed)
    }
}
