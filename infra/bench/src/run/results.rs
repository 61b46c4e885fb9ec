//! The results file `run` writes and `report` reads.

use serde::{Deserialize, Serialize};

use crate::gateway::Invocation;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub generated: String,
    pub environment: BTreeEnv,
    pub pairs: usize,
    pub onboardings: usize,
    pub cold: Vec<ColdFunction>,
    pub warm: Warm,
    pub sizes: Vec<Size>,
}

pub type BTreeEnv = std::collections::BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdFunction {
    pub name: String,
    pub first_request: String,
    pub runs: Vec<ColdPair>,
}

/// One run of a first request: each process started in turn (the order
/// rotates from run to run), so the machine's load falls on all alike.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdPair {
    pub hello_first: bool,
    pub hello: ColdSample,
    pub function: ColdSample,
    /// The same-calls baseline: the function's AWS calls and nothing else
    /// (absent in results from before it existed).
    #[serde(default)]
    pub same_calls: Option<ColdSample>,
    /// Variants of the same-calls baseline, to decide a start-up question.
    #[serde(default)]
    pub variants: Vec<ColdVariant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdVariant {
    pub label: String,
    pub sample: ColdSample,
}

/// One process from exec to its first answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdSample {
    /// exec → first answer received by the Runtime API.
    pub total_ms: f64,
    /// exec → first `invocation/next` (Lambda's init phase).
    pub init_ms: f64,
    /// first event delivered → answered.
    pub first_invocation_ms: f64,
    /// Time inside emulator and provider calls, init and first invocation together.
    pub upstream_ms: f64,
    /// The part of `upstream_ms` spent during init.
    #[serde(default)]
    pub init_upstream_ms: f64,
    pub init_calls: Vec<String>,
    pub invocation_calls: Vec<String>,
    pub peak_rss_kib: u64,
    pub cpu_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Warm {
    pub invocations: Vec<Invocation>,
    pub functions: Vec<WarmFunction>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarmFunction {
    pub name: String,
    pub invocations: usize,
    /// Process CPU over the recorded onboardings (runtime loop included) per invocation.
    pub cpu_ms_per_invocation: f64,
    pub peak_rss_after_init_kib: u64,
    pub peak_rss_kib: u64,
    /// Bytes the function logged during the recorded onboardings.
    pub log_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Size {
    pub name: String,
    pub binary_bytes: u64,
    pub zip_bytes: Option<u64>,
}
