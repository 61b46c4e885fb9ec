//! `## Cold starts`: each function against its same-calls baseline (and the
//! hello world, for scale), the start-up questions decided with figures, the
//! start-up changes before and after, and whether the targets are met.

use std::fmt::Write as _;

use super::Figures;
use super::assume::FULL_VCPU_MB;
use super::numbers::median;
use super::targets::{TARGET_COLD_CPU_RATIO, TARGET_COLD_RATIO};
use crate::run::{ColdFunction, ColdPair, ColdSample, Results};

/// Medians over a set of cold runs.
pub(super) struct ColdMedians {
    pub total: f64,
    pub init: f64,
    pub cpu: f64,
}

fn cold_medians<'a>(samples: impl Iterator<Item = &'a ColdSample>) -> ColdMedians {
    let samples: Vec<&ColdSample> = samples.collect();
    let col = |f: &dyn Fn(&ColdSample) -> f64| median(&mut samples.iter().map(|s| f(s)).collect::<Vec<_>>());
    ColdMedians { total: col(&|s| s.total_ms), init: col(&|s| s.init_ms), cpu: col(&|s| s.cpu_ms) }
}

/// A function (per first request) against the processes started beside it.
pub(super) struct ColdRow<'a> {
    pub function: &'a ColdFunction,
    pub hello: ColdMedians,
    pub same_calls: Option<ColdMedians>,
    pub own: ColdMedians,
    /// Medians of the per-run ratios to the same-calls baseline: first answer, CPU to it.
    pub ratio: Option<f64>,
    pub cpu_ratio: Option<f64>,
    /// The median per-run ratio to the hello world.
    pub hello_ratio: f64,
}

/// Median over the runs of `f(run)`, if every run has a same-calls sample.
fn per_run(runs: &[ColdPair], f: impl Fn(&ColdSample, &ColdSample) -> f64) -> Option<f64> {
    let values: Option<Vec<f64>> = runs.iter().map(|r| Some(f(&r.function, r.same_calls.as_ref()?))).collect();
    values.filter(|v| !v.is_empty()).map(|mut v| median(&mut v))
}

/// The rows of the cold-start table, in the results' order.
pub(super) fn rows(results: &Results) -> Vec<ColdRow<'_>> {
    results
        .cold
        .iter()
        .map(|f| {
            let same_calls: Vec<&ColdSample> = f.runs.iter().filter_map(|r| r.same_calls.as_ref()).collect();
            ColdRow {
                function: f,
                hello: cold_medians(f.runs.iter().map(|r| &r.hello)),
                same_calls: (same_calls.len() == f.runs.len() && !same_calls.is_empty())
                    .then(|| cold_medians(same_calls.into_iter())),
                own: cold_medians(f.runs.iter().map(|r| &r.function)),
                ratio: per_run(&f.runs, |function, same| function.total_ms / same.total_ms),
                cpu_ratio: per_run(&f.runs, |function, same| function.cpu_ms / same.cpu_ms),
                hello_ratio: median(
                    &mut f.runs.iter().map(|r| r.function.total_ms / r.hello.total_ms).collect::<Vec<_>>(),
                ),
            }
        })
        .collect()
}

fn ratio(value: Option<f64>) -> String {
    value.map(|r| format!("**{r:.2}×**")).unwrap_or_else(|| "—".into())
}

fn ms_or_dash(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "—".into())
}

pub(super) fn write(w: &mut String, figures: &Figures<'_>) {
    let Figures { results, baseline, ref cold, .. } = *figures;
    let _ = writeln!(w, "## Cold starts\n");
    let _ = writeln!(w, "{METHOD}");
    let _ = writeln!(
        w,
        "| function | first request | same-calls baseline | function | ratio (≤ {TARGET_COLD_RATIO}×) | CPU to first answer: baseline | function | CPU ratio (≤ {TARGET_COLD_CPU_RATIO}×) | init: baseline | function | hello world (ratio) | calls at init |"
    );
    let _ = writeln!(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
    for row in cold {
        let f = row.function;
        let init_calls = f.runs.first().map(|r| r.function.init_calls.join(", ")).unwrap_or_default();
        let same = row.same_calls.as_ref();
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.1} ms | {} | {} | {:.1} ms | {} | {} | {:.1} ms | {:.1} ms ({:.1}×) | {} |",
            f.name,
            f.first_request,
            ms_or_dash(same.map(|s| s.total)),
            row.own.total,
            ratio(row.ratio),
            ms_or_dash(same.map(|s| s.cpu)),
            row.own.cpu,
            ratio(row.cpu_ratio),
            ms_or_dash(same.map(|s| s.init)),
            row.own.init,
            row.hello.total,
            row.hello_ratio,
            if init_calls.is_empty() { "—".into() } else { init_calls }
        );
    }
    let _ = writeln!(
        w,
        "\nMedians of {} runs each; the ratios are medians of the per-run ratios (each run starts the function and its baseline \
one after the other, so both meet the same load). *Init* is `exec` until the first `invocation/next`. The hello world is \
a bare `lambda_http` function answering from memory, shown for scale only.\n",
        results.pairs
    );
    decisions(w, results);
    memory(w, figures);
    startup_changes(w, baseline, cold);
    verdict(w, cold);
}

/// Each variant of a same-calls baseline against the baseline itself, run for run.
fn decisions(w: &mut String, results: &Results) {
    let mut lines = Vec::new();
    let mut findings = Vec::new();
    for f in &results.cold {
        let labels: Vec<&str> =
            f.runs.first().map(|r| r.variants.iter().map(|v| v.label.as_str()).collect()).unwrap_or_default();
        for (index, label) in labels.into_iter().enumerate() {
            let diff = |field: fn(&ColdSample) -> f64| {
                let mut values: Vec<f64> = f
                    .runs
                    .iter()
                    .filter_map(|r| Some(field(&r.variants.get(index)?.sample) - field(r.same_calls.as_ref()?)))
                    .collect();
                median(&mut values)
            };
            let same = cold_medians(f.runs.iter().filter_map(|r| r.same_calls.as_ref()));
            let variant = cold_medians(f.runs.iter().filter_map(|r| r.variants.get(index).map(|v| &v.sample)));
            let (total, cpu) = (diff(|s| s.total_ms), diff(|s| s.cpu_ms));
            let at_128 = cpu * FULL_VCPU_MB / 128.0;
            lines.push(format!(
                "| {} | {label} | {:.1} → {:.1} ms | {total:+.1} ms | {:.1} → {:.1} ms | {cpu:+.1} ms | {at_128:+.0} ms |",
                f.name, same.total, variant.total, same.cpu, variant.cpu,
            ));
            findings.push(finding(&f.name, label, total, cpu, at_128));
        }
    }
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(w, "### Start-up questions, measured in the baseline\n");
    let _ = writeln!(
        w,
        "Each is a variant of a same-calls baseline started in the same runs as the baseline itself; the differences are medians of \
the per-run differences (variant minus baseline), and the last column is the CPU difference as time on a 128 MB function's \
share of a vCPU.\n"
    );
    let _ = writeln!(
        w,
        "| function | variant | first answer | difference | CPU to first answer | difference | at 128 MB |\n|---|---|--:|--:|--:|--:|--:|"
    );
    for line in lines {
        let _ = writeln!(w, "{line}");
    }
    let _ = writeln!(w);
    for finding in findings {
        let _ = writeln!(w, "- {finding}");
    }
    let _ = writeln!(w);
}

/// A saving, as time on a 128 MB function's share of a vCPU, that a person would notice on a cold start.
const STORE_WORTH_CHANGING_MS: f64 = 100.0;

/// What a variant's figures say, in a sentence.
fn finding(function: &str, label: &str, total: f64, cpu: f64, at_128: f64) -> String {
    let saves =
        |what: f64| if what < 0.0 { format!("saves {:.1} ms", -what) } else { format!("costs {what:.1} ms more") };
    if label.starts_with("one SSM read") {
        format!(
            "**One SSM read instead of two** ({function}'s init): {} to the first answer here and {} of CPU ({at_128:+.0} ms at \
128 MB). On Lambda the second read is also a round trip in sequence, about {:.0} ms that no CPU figure shows, so merging \
the two reads into one `GetParameters` (branch `h-throttles`) is worth doing for login and token alike.",
            saves(total),
            saves(cpu),
            super::assume::SSM_MS
        )
    } else if label.starts_with("provider client with compiled-in roots") {
        format!(
            "**The system certificate store** ({function}'s provider client): compiled-in roots {} to the first answer and {} \
of CPU ({at_128:+.0} ms at 128 MB). Here the store is Debian's, which rustls-native-certs reads twice (the bundle and the \
directory of the same certificates); Amazon Linux 2023 has the bundle only, so about half of it on Lambda. {}",
            saves(total),
            saves(cpu),
            if at_128 > -STORE_WORTH_CHANGING_MS {
                "Kept: the store is what lets an operator whose identity provider has a private CA trust it (`SSL_CERT_FILE`) \
and what gets the operating system's certificate updates, and it costs less than a person would notice."
            } else {
                "Worth changing for login's cold start, if operators with a private CA get another way to add it."
            }
        )
    } else {
        format!("**{label}** ({function}): {} to the first answer, {} of CPU.", saves(total), saves(cpu))
    }
}

/// What memory size does to a cold start's CPU-bound part and to the cost of an onboarding.
fn memory(w: &mut String, figures: &Figures<'_>) {
    let Figures { ref cold, ref memory_costs, memory_mb, .. } = *figures;
    let Some(worst) = cold.iter().max_by(|a, b| a.own.cpu.total_cmp(&b.own.cpu)) else { return };
    let _ = writeln!(w, "### Memory size against cost\n");
    let _ = writeln!(
        w,
        "Lambda gives a function CPU in proportion to its memory (one vCPU at {FULL_VCPU_MB:.0} MB), so a cold start's CPU-bound part \
shrinks as memory grows while its waits on AWS do not; the price per millisecond grows with memory. Below, the CPU measured \
here to each first answer as it would run on Lambda's share of a vCPU, and the Lambda duration cost of 1,000 onboardings by \
the cost model below (its waits billed at each size).\n"
    );
    let _ = writeln!(
        w,
        "| memory | share of a vCPU | {} {}: CPU to first answer | least of the others | Lambda duration per 1,000 onboardings | total per 1,000 onboardings |\n|--:|--:|--:|--:|--:|--:|",
        worst.function.name,
        worst.function.first_request.split(" (").next().unwrap_or_default()
    );
    let least = cold.iter().map(|c| c.own.cpu).fold(f64::INFINITY, f64::min);
    for (memory, duration, total) in memory_costs {
        let scale = (FULL_VCPU_MB / memory).max(1.0);
        let _ = writeln!(
            w,
            "| {memory:.0} MB{} | {:.0}% | {:.0} ms | {:.0} ms | {} | {} |",
            if (*memory - memory_mb).abs() < 0.5 { " (template)" } else { "" },
            100.0 / scale,
            worst.own.cpu * scale,
            least * scale,
            super::numbers::money(*duration),
            super::numbers::money(*total)
        );
    }
    if let (Some(small), Some(large)) = (memory_costs.first(), memory_costs.last()) {
        let _ = writeln!(
            w,
            "\nBilled CPU time does not change with memory (a quarter of the time at four times the price); what grows is the \
price of waiting on AWS and the provider: the Lambda duration of 1,000 onboardings goes from {} at {:.0} MB to {} at {:.0} MB, \
against a total of {} per 1,000 that the emails dominate. So cost does not decide the memory size; the CPU to a first answer \
does, for the person waiting on it. The template keeps {memory_mb:.0} MB for every function (a per-function `MemorySize` in \
`template.yaml` is the lever, and the cost model above reads the template's).\n",
            super::numbers::money(small.1),
            small.0,
            super::numbers::money(large.1),
            large.0,
            super::numbers::money(small.2)
        );
    }
}

/// Before and after the start-up changes, from a results file kept from before them.
fn startup_changes(w: &mut String, baseline: Option<&Results>, after: &[ColdRow<'_>]) {
    let _ = writeln!(w, "### Start-up changes\n");
    let _ = writeln!(w, "{STARTUP_CHANGES}");
    let Some(baseline) = baseline else { return };
    let before = rows(baseline);
    let _ = writeln!(
        w,
        "| function | first request | first answer before → after | CPU to first answer before → after | ratio to the same-calls baseline | CPU ratio |"
    );
    let _ = writeln!(w, "|---|---|--:|--:|--:|--:|");
    let arrow = |then: Option<f64>, now: Option<f64>| match (then, now) {
        (Some(then), Some(now)) => format!("{then:.2}× → {now:.2}×"),
        _ => "—".into(),
    };
    for now in after {
        let Some(then) = before
            .iter()
            .find(|b| b.function.name == now.function.name && b.function.first_request == now.function.first_request)
        else {
            continue;
        };
        let _ = writeln!(
            w,
            "| {} | {} | {:.1} → {:.1} ms | {:.1} → {:.1} ms | {} | {} |",
            now.function.name,
            now.function.first_request,
            then.own.total,
            now.own.total,
            then.own.cpu,
            now.own.cpu,
            arrow(then.ratio, now.ratio),
            arrow(then.cpu_ratio, now.cpu_ratio)
        );
    }
    let _ = writeln!(
        w,
        "\nBefore: measured {} at commit {}, kept in `infra/bench/baseline.json`; each run's ratios are to the baseline measured in that run.\n",
        baseline.generated,
        baseline.environment.get("commit").map(String::as_str).unwrap_or("unknown")
    );
}

/// Where each target is met and where not.
fn verdict(w: &mut String, cold: &[ColdRow<'_>]) {
    let _ = writeln!(w, "### The cold-start targets\n");
    let missed = |limit: f64, of: fn(&ColdRow<'_>) -> Option<f64>| -> Vec<String> {
        cold.iter()
            .filter_map(|c| {
                let value = of(c)?;
                (value > limit)
                    .then(|| format!("{}, {} ({value:.2}×)", c.function.name, first_words(&c.function.first_request)))
            })
            .collect()
    };
    if cold.iter().any(|c| c.ratio.is_none()) {
        let _ = writeln!(w, "Not measured: these results have no same-calls baseline.\n");
        return;
    }
    let slow = missed(TARGET_COLD_RATIO, |c| c.ratio);
    let heavy = missed(TARGET_COLD_CPU_RATIO, |c| c.cpu_ratio);
    let list = |items: &[String]| {
        if items.is_empty() { "met by every function".to_owned() } else { format!("missed by {}", items.join("; ")) }
    };
    let _ = writeln!(
        w,
        "- **First answer within {TARGET_COLD_RATIO}× the same-calls baseline**: {}.\n- **CPU to first answer within {TARGET_COLD_CPU_RATIO}×**: {}.\n\n{VERDICT}",
        list(&slow),
        list(&heavy)
    );
}

fn first_words(first_request: &str) -> &str {
    first_request.split(" (").next().unwrap_or(first_request)
}

const METHOD: &str = "Each function is measured against its **same-calls baseline** (`infra/bench/same-calls`): a Lambda built \
with the same profile, the same `SdkConfig` and HTTPS client (`functions/core/src/aws.rs`: rustls on aws-lc, AWS's roots, the \
same retries and timeouts), the same tracing set-up and, for login, a provider HTTP client built as login's OIDC client builds \
its own, that makes the function's AWS calls at init and on its first request, in the same order and the same table, \
parameters and sender, and nothing else: no configuration parsed, no page rendered, nothing signed or verified. The bench \
checks in every run that the baseline made exactly the calls the function made (its plans are in \
`infra/bench/src/run/first_request.rs`), so the emulator's and provider's time is in both sides of each ratio. What is left \
is the function's own start-up and first-request work. Every run starts the hello world, the function, its baseline and the \
baseline's variants one after another from `exec`, with the first event already queued, rotating the order from run to run; \
figures are medians (the machine is shared, and medians of interleaved runs are what carries over). CPU is the process's \
scheduler time to its first answer.\n";

const STARTUP_CHANGES: &str = "Changes to start-up, in code every function shares:\n\n\
- **The AWS SDK trusts AWS's roots only** (`functions/core/src/aws.rs`). The SDK's default HTTPS client read and parsed the \
operating system's whole certificate store at every cold start, though AWS endpoints only present certificates chaining to \
Amazon Trust Services' five roots; those are now compiled in. login still loads the system store once, for its OIDC client: \
identity providers use any public CA.\n\
- **The table's connection opens during init**, concurrently with what init waits for anyway: the SSM secrets in \
request-association, redeem-link, authorize and token, the provider's documents in login. On Lambda this takes DNS, TCP and \
TLS to DynamoDB off the first request; the read is of a key no item has (at most one read request unit per cold start).\n\
- **Not changed: aws-lc's CPU jitter entropy.** aws-lc seeds its random generator from CPU jitter entropy once per \
process, at its first random number (the first signature or TLS handshake: the token function's first `POST /token`, which \
signs two tokens). Its `AWS_LC_SYS_NO_JITTER_ENTROPY=1` build option seeds from `getrandom` instead (the kernel's CSPRNG, \
with the CPU's RDRAND/RNDR as a second source). It changes how every crate that links aws-lc is built, so it waits for a \
before/after run against the same-calls baseline (`scripts/bench` with the option in `.cargo/config.toml`, the run before it \
kept as `infra/bench/baseline.json`).\n";

const VERDICT: &str = "What remains above the baseline is each function's own work, which the baseline by design does not \
do: parsing its configuration and keys at init (the ES256 session key, the providers' and portals' lists), verifying the \
session's ES256 signature on the first request, rendering a page or signing tokens, and loading a larger binary. Where a \
target is missed, that work is the reason; the figures above say how much of it is the start-up questions.\n";
