//! `## Warm latency and CPU per request`: per endpoint, then per function.

use std::fmt::Write as _;

use super::Figures;
use super::numbers::{mb, median, percentile};
use crate::gateway::Invocation;
use crate::run::FUNCTIONS;

pub(super) fn write(w: &mut String, figures: &Figures<'_>) {
    let Figures { results, ref all_endpoints, ref log_per_invocation, .. } = *figures;
    let _ = writeln!(w, "## Warm latency and CPU per request\n");
    let _ = writeln!(
        w,
        "| function | endpoint | n | p50 | p99 | handler p50 | handler p99 | emulator + provider p50 | CPU p50 | AWS calls |"
    );
    let _ = writeln!(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|---|");
    for function in FUNCTIONS {
        for e in all_endpoints.iter().filter(|e| e.function == function) {
            let mut latency = e.column(|i| i.latency_ms);
            let mut handler = e.column(Invocation::handler_ms);
            let mut upstream = e.column(|i| i.upstream_ms);
            let mut cpu = e.column(|i| i.cpu_ms);
            let provider = match e.provider_calls() {
                0 => String::new(),
                n => format!(" + {n} provider call{}", if n == 1 { "" } else { "s" }),
            };
            let _ = writeln!(
                w,
                "| {} | `{}`{} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {}{} |",
                e.function,
                e.name,
                if e.samples.iter().any(|s| s.onboarding) { "" } else { " ¹" },
                e.samples.len(),
                median(&mut latency),
                percentile(&mut latency, 99.0),
                median(&mut handler),
                percentile(&mut handler, 99.0),
                median(&mut upstream),
                median(&mut cpu),
                e.calls(),
                provider
            );
        }
    }
    let _ = writeln!(
        w,
        "\n¹ After the onboarding, not part of it. p99 of n ≈ {} samples is close to the maximum. *Handler* excludes the time \
inside emulator and provider calls; what remains is our code, the SDK's request signing and parsing, and loopback hops.\n",
        results.onboardings
    );
    let _ = writeln!(
        w,
        "| function | invocations | CPU per invocation (process) | peak RSS after init | peak RSS after the warm run | logged per invocation |"
    );
    let _ = writeln!(w, "|---|--:|--:|--:|--:|--:|");
    for f in &results.warm.functions {
        let _ = writeln!(
            w,
            "| {} | {} | {:.2} ms | {:.1} MB | **{:.1} MB** | {:.0} bytes |",
            f.name,
            f.invocations,
            f.cpu_ms_per_invocation,
            mb(f.peak_rss_after_init_kib),
            mb(f.peak_rss_kib),
            log_per_invocation.get(&f.name).copied().unwrap_or(0.0)
        );
    }
    let _ = writeln!(
        w,
        "\n*CPU per invocation (process)* is the whole process's CPU over the recorded run divided by its invocations, so it includes the \
runtime's polling and the tokio scheduler; the endpoint table's CPU column is measured around each invocation.\n"
    );
}
