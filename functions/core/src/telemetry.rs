//! Structured JSON logs (one line per event) for CloudWatch; readable text locally.

use tracing_subscriber::EnvFilter;

use crate::config::Env;

/// Call once in each `main`. `RUST_LOG` filters (default `info`);
/// `LOG_FORMAT=text` gives human-readable lines for local runs.
pub fn init(env: &Env) {
    let filter = EnvFilter::try_new(env.get("RUST_LOG").unwrap_or("info")).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if env.get("LOG_FORMAT") == Some("text") {
        let _ = builder.try_init();
    } else {
        // Lambda adds its own timestamp and request id to every line.
        let _ = builder.json().flatten_event(true).with_current_span(false).without_time().try_init();
    }
}
