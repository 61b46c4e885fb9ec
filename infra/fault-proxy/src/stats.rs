//! What the proxy did to calls, for tests and for its exit report.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inspect::Call;
use crate::plan::Fault;

/// What happened to calls, by `service/operation` and outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// `"dynamodb/PutItem" → {"forwarded": 3, "throttle": 1}`
    pub calls: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// `ClientRequestToken` of every `TransactWriteItems` call seen, in order (faulted ones included).
    pub transaction_tokens: Vec<String>,
}

impl Stats {
    pub fn count(&self, service_operation: &str, outcome: &str) -> u64 {
        self.calls.get(service_operation).and_then(|o| o.get(outcome)).copied().unwrap_or(0)
    }

    /// Faults injected of one kind (`throttle`, `error`, `drop`, `delay`, `late`, …;
    /// `ratelimit` and `quota` count the calls those limits refused), over all calls.
    pub fn faults(&self, kind: &str) -> u64 {
        self.calls.values().filter_map(|o| o.get(kind)).sum()
    }

    pub fn forwarded(&self) -> u64 {
        self.faults("forwarded")
    }

    /// Counts a call the proxy answered itself as the account it plays (SES `GetAccount`).
    pub(crate) fn answered(&mut self, call: &Call) {
        let key = format!("{}/{}", call.service.name(), call.operation);
        *self.calls.entry(key).or_default().entry("answered").or_default() += 1;
    }

    /// Counts one call under the outcome `chosen` gave it.
    pub(crate) fn record(&mut self, call: &Call, chosen: Option<Fault>) {
        let outcome = match chosen {
            None => "forwarded",
            Some(Fault::Throttle) => "throttle",
            Some(Fault::ServerError) => "error",
            Some(Fault::Drop) => "drop",
            Some(Fault::Delay(_)) => "delay",
            Some(Fault::LateAnswer(_)) => "late",
            Some(Fault::Conflict) => "conflict",
            Some(Fault::CancelledByThrottling) => "cancelthrottle",
            Some(Fault::EmptyPage) => "empty",
            Some(Fault::Unprocessed) => "unprocessed",
            Some(Fault::Limit(_)) => "limit",
            Some(Fault::RateLimit(_)) => "ratelimit",
            Some(Fault::Quota(_)) => "quota",
        };
        let key = format!("{}/{}", call.service.name(), call.operation);
        *self.calls.entry(key.clone()).or_default().entry(outcome).or_default() += 1;
        if matches!(chosen, Some(Fault::Delay(_) | Fault::LateAnswer(_) | Fault::Limit(_))) {
            // A delayed, late-answered or limited call is forwarded too.
            *self.calls.entry(key).or_default().entry("forwarded").or_default() += 1;
        }
    }
}
