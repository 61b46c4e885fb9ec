//! Metrics as CloudWatch Embedded Metric Format (EMF): one JSON object per
//! line on stdout, whose `_aws` member names the namespace, the dimensions and
//! the metrics, with their values beside it. CloudWatch Logs turns each line
//! into data points: no API call, no agent, nothing at idle.
//!
//! Lines go straight to stdout, not through `tracing`: EMF needs `_aws` as a
//! JSON object at the top level, and Lambda passes a Rust function's stdout
//! lines through unchanged. As with logs, nothing is written until a sink is
//! installed: [`init`] (every `main`, through `telemetry::init`) writes to
//! stdout, [`capture`] (tests) keeps the lines in memory.
//!
//! Dimensions stay low-cardinality (function, status class, outcome, limit):
//! every distinct combination is a separate CloudWatch metric, billed monthly.

use std::io::Write;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Map, Value, json};

use crate::config::{ConfigError, Env};
use crate::domain::rate_limit::Limit;

pub const DEFAULT_NAMESPACE: &str = "profile-link";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF line: the dimensions and the metrics measured under them.
#[derive(Debug, Clone)]
pub struct Emf {
    dimensions: Vec<(&'static str, String)>,
    values: Vec<(&'static str, Unit, f64)>,
}

impl Emf {
    /// Every metric of this service carries the function that measured it.
    pub fn new(function: &'static str) -> Self {
        Self { dimensions: vec![("Function", function.to_owned())], values: Vec::new() }
    }

    /// Only ever a value from a small fixed set (never an id or an address).
    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    pub fn count(mut self, name: &'static str, n: u64) -> Self {
        self.values.push((name, Unit::Count, n as f64));
        self
    }

    pub fn milliseconds(mut self, name: &'static str, ms: f64) -> Self {
        self.values.push((name, Unit::Milliseconds, ms));
        self
    }

    /// The EMF document.
    pub fn to_json(&self, namespace: &str, timestamp_ms: i64) -> Value {
        let names: Vec<&str> = self.dimensions.iter().map(|(name, _)| *name).collect();
        let metrics: Vec<Value> =
            self.values.iter().map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() })).collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{ "Namespace": namespace, "Dimensions": [names], "Metrics": metrics }],
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert((*name).into(), json!(value));
        }
        for (name, _, value) in &self.values {
            // Whole numbers as integers: the line reads as what was counted.
            let number = if value.fract() == 0.0 && value.abs() < 9e15 { json!(*value as i64) } else { json!(value) };
            root.insert((*name).into(), number);
        }
        Value::Object(root)
    }

    /// Writes the line to the installed sink (nothing without one).
    pub fn emit(self) {
        let sink = SINK.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(sink) = sink.as_ref() else { return };
        let line = self.to_json(&sink.namespace, now_ms()).to_string();
        match &sink.output {
            Output::Stdout => {
                // One write of the whole line under the lock, so it never interleaves with a log line.
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(format!("{line}\n").as_bytes());
                let _ = out.flush();
            }
            Output::Capture(lines) => lines.lock().unwrap_or_else(|p| p.into_inner()).push(line),
        }
    }
}

/// The `RateLimitHits` metric: a request refused over `limit`.
pub fn rate_limited(function: &'static str, limit: Limit) {
    Emf::new(function).dimension("Limit", limit.as_str()).count("RateLimitHits", 1).emit();
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

enum Output {
    Stdout,
    Capture(Arc<Mutex<Vec<String>>>),
}

struct Sink {
    namespace: String,
    output: Output,
}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// `METRICS_NAMESPACE` (default `profile-link`): CloudWatch's rules, and never `AWS/`.
pub fn namespace(env: &Env) -> Result<String, ConfigError> {
    let Some(raw) = env.get("METRICS_NAMESPACE") else { return Ok(DEFAULT_NAMESPACE.to_owned()) };
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#' | ':' | ' ');
    if raw.len() > 255 || !raw.chars().all(allowed) {
        return Err(ConfigError::invalid("METRICS_NAMESPACE", "up to 255 of letters, digits and . - _ / # : or space"));
    }
    if raw.starts_with("AWS/") {
        return Err(ConfigError::invalid("METRICS_NAMESPACE", "namespaces starting with AWS/ are AWS's own"));
    }
    Ok(raw.to_owned())
}

/// Metrics to stdout, in `METRICS_NAMESPACE`. The first sink installed stays.
pub fn init(env: &Env) -> Result<(), ConfigError> {
    let namespace = namespace(env)?;
    let mut sink = SINK.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    if sink.is_none() {
        *sink = Some(Sink { namespace, output: Output::Stdout });
    }
    Ok(())
}

/// Lines captured in memory (tests), replacing any other sink.
#[derive(Debug, Clone)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    /// Every line so far, parsed.
    pub fn lines(&self) -> Vec<Value> {
        let lines = self.0.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Every line so far, parsed, and forgets them.
    pub fn take(&self) -> Vec<Value> {
        let lines = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

pub fn capture(namespace: &str) -> Captured {
    let lines = Arc::new(Mutex::new(Vec::new()));
    *SINK.write().unwrap_or_else(|poisoned| poisoned.into_inner()) =
        Some(Sink { namespace: namespace.to_owned(), output: Output::Capture(lines.clone()) });
    Captured(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_an_emf_document() {
        let line = Emf::new("login").dimension("Outcome", "2xx").count("Requests", 1).milliseconds("Latency", 12.5);
        let doc = line.to_json("profile-link", 1_700_000_000_000);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(directive["Namespace"], "profile-link");
        assert_eq!(directive["Dimensions"], json!([["Function", "Outcome"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{ "Name": "Requests", "Unit": "Count" }, { "Name": "Latency", "Unit": "Milliseconds" }])
        );
        assert_eq!((doc["Function"].as_str(), doc["Outcome"].as_str()), (Some("login"), Some("2xx")));
        assert_eq!(doc["Requests"], 1);
        assert_eq!(doc["Latency"], 12.5);
    }

    #[test]
    fn the_namespace_is_configurable_within_cloudwatchs_rules() {
        assert_eq!(namespace(&Env::default()).unwrap(), DEFAULT_NAMESPACE);
        let set = |v: &str| namespace(&Env::from_pairs([("METRICS_NAMESPACE", v)]));
        assert_eq!(set("Acme/Link prod").unwrap(), "Acme/Link prod");
        assert!(set("AWS/Lambda").is_err());
        assert!(set("bad{namespace}").is_err());
        assert!(set(&"x".repeat(256)).is_err());
    }
}
