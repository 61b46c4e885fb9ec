//! What one onboarding uses, and what that costs per 1,000 onboardings.

use std::collections::BTreeMap;

use super::{assume, prices};
use crate::proxy::Service;
use crate::run::Results;

/// What one onboarding uses, from the recorded onboardings.
#[derive(Default)]
pub(super) struct Usage {
    pub(super) http_requests: f64,
    pub(super) invocations: f64,
    pub(super) read_units: f64,
    pub(super) write_units: f64,
    pub(super) emails: f64,
    pub(super) dynamodb_calls: BTreeMap<String, f64>,
    /// Estimated billed Lambda milliseconds at 128 MB (see `assume`).
    pub(super) billed_ms: f64,
    pub(super) log_bytes: f64,
    pub(super) response_bytes: f64,
}

pub(super) fn usage(results: &Results, memory_mb: f64, log_bytes_per_invocation: &BTreeMap<String, f64>) -> Usage {
    let onboardings = results.onboardings.max(1) as f64;
    let mut usage = Usage::default();
    let cpu_scale = (assume::FULL_VCPU_MB / memory_mb).max(1.0);
    for invocation in results.warm.invocations.iter().filter(|i| i.onboarding) {
        usage.invocations += 1.0;
        if invocation.function != "send-emails" {
            usage.http_requests += 1.0;
            usage.response_bytes += invocation.response_bytes as f64;
        }
        let mut waiting = 0.0;
        for call in &invocation.calls {
            usage.read_units += call.read_units;
            usage.write_units += call.write_units;
            match call.service {
                Service::DynamoDb => {
                    *usage.dynamodb_calls.entry(call.operation.clone()).or_default() += 1.0;
                    waiting += assume::DYNAMODB_MS;
                }
                Service::Ses => {
                    usage.emails += 1.0;
                    waiting += assume::SES_MS;
                }
                Service::Ssm => waiting += assume::SSM_MS,
                Service::Provider => waiting += assume::PROVIDER_MS,
                Service::Other => {}
            }
        }
        usage.billed_ms += (invocation.cpu_ms * cpu_scale + waiting).ceil().max(1.0);
        usage.log_bytes +=
            log_bytes_per_invocation.get(&invocation.function).copied().unwrap_or(0.0) + assume::PLATFORM_LOG_BYTES;
    }
    for value in [
        &mut usage.http_requests,
        &mut usage.invocations,
        &mut usage.read_units,
        &mut usage.write_units,
        &mut usage.emails,
        &mut usage.billed_ms,
        &mut usage.log_bytes,
        &mut usage.response_bytes,
    ] {
        *value /= onboardings;
    }
    for count in usage.dynamodb_calls.values_mut() {
        *count /= onboardings;
    }
    usage
}

/// A cost line per 1,000 onboardings.
pub(super) struct Line {
    pub(super) item: String,
    pub(super) quantity: String,
    pub(super) cost: f64,
}

pub(super) fn cost_lines(usage: &Usage, memory_mb: f64, gb_second: f64) -> Vec<Line> {
    let k = 1000.0;
    vec![
        Line {
            item: "API Gateway HTTP API requests".into(),
            quantity: format!("{:.0} requests", usage.http_requests),
            cost: usage.http_requests * k * prices::HTTP_API_REQUEST,
        },
        Line {
            item: "Lambda requests".into(),
            quantity: format!("{:.0} invocations", usage.invocations),
            cost: usage.invocations * k * prices::LAMBDA_REQUEST,
        },
        Line {
            item: format!("Lambda duration ({memory_mb:.0} MB)"),
            quantity: format!("{:.0} billed ms (estimated, see below)", usage.billed_ms),
            cost: usage.billed_ms / 1000.0 * memory_mb / 1024.0 * k * gb_second,
        },
        Line {
            item: "DynamoDB write request units".into(),
            quantity: format!("{:.0} WRU", usage.write_units),
            cost: usage.write_units * k * prices::DYNAMODB_WRITE_UNIT,
        },
        Line {
            item: "DynamoDB read request units".into(),
            quantity: format!("{:.1} RRU", usage.read_units),
            cost: usage.read_units * k * prices::DYNAMODB_READ_UNIT,
        },
        Line {
            item: "SES emails".into(),
            quantity: format!("{:.0} emails", usage.emails),
            cost: usage.emails * k * prices::SES_EMAIL,
        },
        Line {
            item: "CloudWatch Logs ingestion".into(),
            quantity: format!("{:.1} KB", usage.log_bytes / 1000.0),
            cost: usage.log_bytes * k / 1e9 * prices::LOGS_INGESTED_GB,
        },
    ]
}
