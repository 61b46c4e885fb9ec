//! Figures first, prose after: everything the sections print is computed
//! here, once, from the results and the template.

use std::collections::BTreeMap;

use super::cold::{self, ColdRow};
use super::endpoints::{Endpoint, endpoints};
use super::prices;
use super::template::template_facts;
use super::usage::{Line, Usage, cost_lines, usage};
use crate::run::Results;

/// The figures several sections share.
pub(super) struct Figures<'a> {
    pub results: &'a Results,
    pub template: &'a str,
    /// Results from before the start-up changes, for a before/after table.
    pub baseline: Option<&'a Results>,
    /// From template.yaml: the functions' memory size, how many alarms it declares, the default architecture.
    pub memory_mb: f64,
    pub alarms: usize,
    pub architecture: String,
    /// Each cold-started function (per first request) against its same-calls baseline.
    pub cold: Vec<ColdRow<'a>>,
    /// The worst ratios to the same-calls baseline (first answer, CPU to it), if measured.
    pub worst_ratio: Option<f64>,
    pub worst_cpu_ratio: Option<f64>,
    /// The highest peak RSS after the warm run, and whose.
    pub peak: (u64, &'a str),
    /// The highest peak RSS right after a cold start.
    pub cold_peak: u64,
    pub all_endpoints: Vec<Endpoint<'a>>,
    /// The most sequential AWS round trips on any HTTP endpoint, and which.
    pub http_worst: (usize, &'a str),
    pub log_per_invocation: BTreeMap<String, f64>,
    pub usage: Usage,
    /// Lambda's price per GB-second for the template's architecture.
    pub gb_second: f64,
    pub lines: Vec<Line>,
    pub per_thousand: f64,
    pub ses_share: f64,
    pub without_notice: f64,
    pub idle_alarms: f64,
    /// At each memory size: Lambda duration and total per 1,000 onboardings.
    pub memory_costs: Vec<(f64, f64, f64)>,
}

/// The memory sizes the report weighs.
const MEMORY_SIZES: [f64; 4] = [128.0, 256.0, 512.0, 1024.0];

impl<'a> Figures<'a> {
    pub fn new(results: &'a Results, template: &'a str, baseline: Option<&'a Results>) -> Self {
        let (memory_mb, alarms, architecture) = template_facts(template);
        let cold = cold::rows(results);
        let worst = |of: fn(&ColdRow<'_>) -> Option<f64>| {
            cold.iter().map(of).collect::<Option<Vec<f64>>>().map(|v| v.into_iter().fold(0.0, f64::max))
        };
        let (worst_ratio, worst_cpu_ratio) = (worst(|c| c.ratio), worst(|c| c.cpu_ratio));
        let peak = results.warm.functions.iter().map(|f| (f.peak_rss_kib, f.name.as_str())).max().unwrap_or((0, "-"));
        let cold_peak =
            results.cold.iter().flat_map(|f| f.runs.iter().map(|r| r.function.peak_rss_kib)).max().unwrap_or(0);
        let all_endpoints = endpoints(&results.warm.invocations);
        let http_worst = all_endpoints
            .iter()
            .filter(|e| e.function != "send-emails")
            .map(|e| (e.max_aws_round_trips(), e.name))
            .max()
            .unwrap_or((0, "-"));
        let log_per_invocation: BTreeMap<String, f64> = results
            .warm
            .functions
            .iter()
            .map(|f| (f.name.clone(), f.log_bytes as f64 / f.invocations.max(1) as f64))
            .collect();
        let usage = usage(results, memory_mb, &log_per_invocation);
        let gb_second =
            if architecture == "x86_64" { prices::LAMBDA_X86_GB_SECOND } else { prices::LAMBDA_ARM_GB_SECOND };
        let lines = cost_lines(&usage, memory_mb, gb_second);
        let per_thousand: f64 = lines.iter().map(|l| l.cost).sum();
        let ses_share = usage.emails * 1000.0 * prices::SES_EMAIL;
        // Without the notice: its email, its Lambda invocation, its two updates
        // and the NOTICE# item (2 units in the transaction).
        let without_notice =
            per_thousand - 1000.0 * (prices::SES_EMAIL + prices::LAMBDA_REQUEST + 4.0 * prices::DYNAMODB_WRITE_UNIT);
        let idle_alarms = alarms as f64 * prices::ALARM_MONTH;
        let memory_costs = MEMORY_SIZES
            .iter()
            .map(|&memory| {
                let lines = cost_lines(&super::usage::usage(results, memory, &log_per_invocation), memory, gb_second);
                let duration = lines.iter().filter(|l| l.item.starts_with("Lambda duration")).map(|l| l.cost).sum();
                (memory, duration, lines.iter().map(|l| l.cost).sum())
            })
            .collect();
        Self {
            results,
            template,
            baseline,
            memory_mb,
            alarms,
            architecture,
            cold,
            worst_ratio,
            worst_cpu_ratio,
            peak,
            cold_peak,
            all_endpoints,
            http_worst,
            log_per_invocation,
            usage,
            gb_second,
            lines,
            per_thousand,
            ses_share,
            without_notice,
            idle_alarms,
            memory_costs,
        }
    }

    /// What the figures were measured on: `cpu`, `arch`, `commit` …
    pub fn environment(&self, key: &str) -> &'a str {
        self.results.environment.get(key).map(String::as_str).unwrap_or("unknown")
    }
}
