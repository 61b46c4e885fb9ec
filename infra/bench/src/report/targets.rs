//! The targets the figures are held against, and whether each is met.

use std::fmt::Write as _;

use super::Figures;
use super::numbers::{mb, money};

/// A function's first answer, and its CPU to it, against its same-calls baseline's.
pub(super) const TARGET_COLD_RATIO: f64 = 1.3;
pub(super) const TARGET_COLD_CPU_RATIO: f64 = 1.5;
const TARGET_RSS_MB: f64 = 32.0;
const TARGET_ROUND_TRIPS: usize = 2;
pub(super) const TARGET_PER_THOUSAND: f64 = 0.15;

/// `## Targets`: each target, what was measured, and the verdict.
pub(super) fn write(w: &mut String, figures: &Figures<'_>) {
    let Figures {
        results,
        worst_ratio,
        worst_cpu_ratio,
        peak,
        cold_peak,
        http_worst,
        ref usage,
        per_thousand,
        ses_share,
        alarms,
        idle_alarms,
        ..
    } = *figures;
    let _ = writeln!(w, "## Targets\n");
    let _ = writeln!(w, "| target | measured | verdict |\n|---|---|---|");
    for (target, worst, limit) in [
        ("first answer after a cold start", worst_ratio, TARGET_COLD_RATIO),
        ("CPU to the first answer after a cold start", worst_cpu_ratio, TARGET_COLD_CPU_RATIO),
    ] {
        let (measured, met) = match worst {
            Some(worst) => (format!("worst function {worst:.2}×"), verdict(worst <= limit)),
            None => ("no same-calls baseline in these results".to_owned(), "not measured"),
        };
        let _ = writeln!(w, "| {target} ≤ {limit}× the function's same-calls baseline | {measured} | {met} |");
    }
    let _ = writeln!(
        w,
        "| peak RSS ≤ {TARGET_RSS_MB:.0} MB per function | {:.1} MB ({}, after {} warm onboardings); {:.1} MB at most right after a cold start | {} |",
        mb(peak.0),
        peak.1,
        results.onboardings,
        mb(cold_peak),
        verdict(mb(peak.0.max(cold_peak)) <= TARGET_RSS_MB)
    );
    let _ = writeln!(
        w,
        "| ≤ {TARGET_ROUND_TRIPS} sequential AWS round trips on any endpoint's critical path (the OIDC callback adds the token exchange) | at most {} (`{}`) | {} |",
        http_worst.0,
        http_worst.1,
        verdict(http_worst.0 <= TARGET_ROUND_TRIPS)
    );
    let _ = writeln!(
        w,
        "| ≤ {} per 1,000 onboardings | {} ({} of it the {:.0} SES emails) | {} |",
        money(TARGET_PER_THOUSAND),
        money(per_thousand),
        money(ses_share),
        usage.emails,
        verdict(per_thousand <= TARGET_PER_THOUSAND)
    );
    let _ = writeln!(
        w,
        "| $0 idle (beyond what AWS bills regardless) | $0 for requests, compute, capacity and the table; the template's {alarms} CloudWatch alarms are $0.10 each a month (an account's first 10 are free): up to {} | {} |\n",
        money(idle_alarms),
        if alarms == 0 { "met" } else { "met but for the alarms; see Idle" }
    );
    let _ = writeln!(w, "Where a target is missed, the sections below say why and what it would take.\n");
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**; see below" }
}
