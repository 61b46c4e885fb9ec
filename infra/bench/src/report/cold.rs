//! `## Cold starts`: each function against the hello world, the start-up
//! changes before and after, and why the target is met or missed.

use std::fmt::Write as _;

use super::Figures;
use super::numbers::median;
use super::targets::TARGET_COLD_RATIO;
use crate::run::{ColdFunction, ColdSample, FUNCTIONS, Results};

/// Medians over a set of cold runs.
pub(super) struct ColdMedians {
    total: f64,
    init: f64,
    first_invocation: f64,
    upstream: f64,
    /// Without the time inside emulator and provider calls.
    own: f64,
    own_init: f64,
    cpu: f64,
}

fn cold_medians(samples: &[&ColdSample]) -> ColdMedians {
    let col = |f: &dyn Fn(&ColdSample) -> f64| median(&mut samples.iter().map(|s| f(s)).collect::<Vec<_>>());
    ColdMedians {
        total: col(&|s| s.total_ms),
        init: col(&|s| s.init_ms),
        first_invocation: col(&|s| s.first_invocation_ms),
        upstream: col(&|s| s.upstream_ms),
        own: col(&|s| s.total_ms - s.upstream_ms),
        own_init: col(&|s| s.init_ms - s.init_upstream_ms),
        cpu: col(&|s| s.cpu_ms),
    }
}

/// A function (per first request): its hello worlds' medians, its own, the
/// ratio, and the ratio without the emulator's and provider's time.
pub(super) type ColdRow<'a> = (&'a ColdFunction, ColdMedians, ColdMedians, f64, f64);

/// The rows of the cold-start table, in the results' order.
pub(super) fn rows(results: &Results) -> Vec<ColdRow<'_>> {
    results
        .cold
        .iter()
        .map(|f| {
            let hello: Vec<&ColdSample> = f.runs.iter().map(|r| &r.hello).collect();
            let function: Vec<&ColdSample> = f.runs.iter().map(|r| &r.function).collect();
            let ratio = median(&mut f.runs.iter().map(|r| r.function.total_ms / r.hello.total_ms).collect::<Vec<_>>());
            (f, cold_medians(&hello), cold_medians(&function), ratio, median_own_ratio(f))
        })
        .collect()
}

/// The median ratio to the hello world without the emulator's and provider's time.
fn median_own_ratio(function: &ColdFunction) -> f64 {
    median(
        &mut function
            .runs
            .iter()
            .map(|r| (r.function.total_ms - r.function.upstream_ms) / r.hello.total_ms)
            .collect::<Vec<_>>(),
    )
}

pub(super) fn write(w: &mut String, figures: &Figures<'_>) {
    let Figures { results, baseline, ref cold, .. } = *figures;
    let _ = writeln!(w, "## Cold starts\n");
    let _ = writeln!(
        w,
        "| function | first request | hello world | function | ratio | emulator + provider | function without them | ratio without them | init (without them) | first invocation | CPU to first answer (hello world) | calls at init |"
    );
    let _ = writeln!(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
    for (f, hello, function, ratio, own_ratio) in cold {
        let init_calls = f.runs.first().map(|r| r.function.init_calls.join(", ")).unwrap_or_default();
        let _ = writeln!(
            w,
            "| {} | {} | {:.1} ms | {:.1} ms | **{:.2}×** | {:.1} ms | {:.1} ms | **{:.2}×** | {:.1} ms ({:.1} ms) | {:.1} ms | {:.1} ms ({:.1} ms) | {} |",
            f.name,
            f.first_request,
            hello.total,
            function.total,
            ratio,
            function.upstream,
            function.own,
            own_ratio,
            function.init,
            function.own_init,
            function.first_invocation,
            function.cpu,
            hello.cpu,
            if init_calls.is_empty() { "—".into() } else { init_calls }
        );
    }
    let _ = writeln!(
        w,
        "\nMedians of {} runs each (the hello world's column: its runs paired with that function). *Init* is `exec` until the first \
`invocation/next`; *first invocation* is from handing over the event to the answer.\n",
        results.pairs
    );
    let _ = writeln!(w, "{}", COLD_NOTES);
    startup_changes(w, baseline, cold);
    cold_verdict(w, results, cold);
}

/// Before and after the start-up changes, from a results file kept from before them.
fn startup_changes(w: &mut String, baseline: Option<&Results>, after: &[ColdRow<'_>]) {
    let _ = writeln!(w, "### Start-up changes\n");
    let _ = writeln!(w, "{STARTUP_CHANGES}");
    let Some(baseline) = baseline else { return };
    let _ = writeln!(
        w,
        "| function | cold start before → after | without emulator and provider | ratio without them | init | first invocation | CPU to first answer |"
    );
    let _ = writeln!(w, "|---|--:|--:|--:|--:|--:|--:|");
    for (f, _, now, _, own_ratio) in after {
        let Some(before) = baseline.cold.iter().find(|b| b.name == f.name) else { continue };
        let samples: Vec<&ColdSample> = before.runs.iter().map(|r| &r.function).collect();
        let then = cold_medians(&samples);
        let then_ratio = median_own_ratio(before);
        let _ = writeln!(
            w,
            "| {} | {:.1} → {:.1} ms | {:.1} → {:.1} ms | {:.2}× → {:.2}× | {:.1} → {:.1} ms | {:.1} → {:.1} ms | {:.1} → {:.1} ms |",
            f.name,
            then.total,
            now.total,
            then.own,
            now.own,
            then_ratio,
            own_ratio,
            then.init,
            now.init,
            then.first_invocation,
            now.first_invocation,
            then.cpu,
            now.cpu
        );
    }
    let _ = writeln!(
        w,
        "\nBefore: measured {} at commit {}, kept in `infra/bench/baseline.json`.\n",
        baseline.generated,
        baseline.environment.get("commit").map(String::as_str).unwrap_or("unknown")
    );
}

/// Why the cold-start target is missed (or that it is met), from the figures.
fn cold_verdict(w: &mut String, results: &Results, cold: &[ColdRow<'_>]) {
    let worst = cold.iter().map(|c| c.4).fold(0.0, f64::max);
    let _ = writeln!(w, "### The cold-start target\n");
    if worst <= TARGET_COLD_RATIO {
        let _ = writeln!(w, "Met without the emulator's time: at most {worst:.2}× the hello world.\n");
        return;
    }
    let range = |f: &dyn Fn(&ColdRow<'_>) -> f64| {
        let values: Vec<f64> = cold.iter().map(f).collect();
        (values.iter().copied().fold(f64::INFINITY, f64::min), values.iter().copied().fold(0.0, f64::max))
    };
    let (own_min, own_max) = range(&|c| c.2.own);
    let (cpu_min, cpu_max) = range(&|c| c.2.cpu);
    let hello = median(&mut cold.iter().map(|c| c.1.total).collect::<Vec<_>>());
    let hello_cpu = median(&mut cold.iter().map(|c| c.1.cpu).collect::<Vec<_>>());
    let size = |name: &str| results.sizes.iter().find(|s| s.name == name).map(|s| s.binary_bytes as f64).unwrap_or(0.0);
    let size_ratio = FUNCTIONS.iter().map(|f| size(f)).fold(0.0, f64::max) / size("hello").max(1.0);
    let cpu_of = |name: &str| cold.iter().find(|c| c.0.name == name).map(|c| c.2.cpu).unwrap_or(0.0);
    let others =
        ["request-association", "redeem-link", "send-emails"].map(cpu_of).into_iter().fold(f64::INFINITY, f64::min);
    let login_extra = (cpu_of("login") - others).max(0.0);
    let warm_call_cpu = median(
        &mut results
            .warm
            .invocations
            .iter()
            .filter(|i| i.endpoint == "GET /redeem (confirm page)")
            .map(|i| i.cpu_ms)
            .collect::<Vec<_>>(),
    );
    let _ = writeln!(
        w,
        "**Missed, and not reachable against this floor.** Without the emulator's and the provider's time the functions take \
{own_min:.1}–{own_max:.1} ms from `exec` to their first answer against the hello world's {hello:.1} ms, and {cpu_min:.1}–{cpu_max:.1} ms \
of CPU against its {hello_cpu:.1} ms. What remains is work the hello world does not do: each first request makes one to three \
AWS calls (signing, endpoint resolution, JSON both ways) and renders a page, verifies an ES256 session or signs tokens; init builds the \
SDK's clients and parses the signing key; and the binaries are up to {size_ratio:.0}× the hello world's, so loading them (page \
faults, relocations) costs more. {TARGET_COLD_RATIO}× would leave {:.1} ms for all of that; one warm request with one \
DynamoDB call (the confirmation page) alone takes {warm_call_cpu:.1} ms of CPU here. The fair floor for a function \
whose first request needs DynamoDB is a hello world that makes the same call; against a bare one, the target could only be \
met by answering first requests without AWS, which the design does not allow.\n\n\
Left on the table, each a decision rather than a free win: login still reads the system certificate store once, for its OIDC \
client (login's CPU to first answer is {login_extra:.1} ms above the least of the others'; compiled-in Mozilla roots would remove it, at the cost of the OS's certificate updates and of \
custom CAs through `SSL_CERT_FILE`); aws-lc seeds its random generator with CPU jitter entropy once per process, at the first \
signature or TLS handshake (the token function's first `POST /token`, which signs two tokens, shows it: its CPU to first \
answer is far above its first `GET /userinfo`'s, which signs nothing; signing once during init was tried and only moved the \
cost, onto a first `/userinfo` too), which its `AWS_LC_SYS_NO_JITTER_ENTROPY` build option turns off in favour of the OS's \
generator alone; provisioned concurrency removes cold starts altogether but is billed \
every idle hour, against the $0 idle target.\n",
        hello * (TARGET_COLD_RATIO - 1.0)
    );
}

const COLD_NOTES: &str = "What the ratio can and cannot show here. The hello world answers from memory; each function's \
first request needs the table, and locally every DynamoDB call is a round trip to DynamoDB Local (a Java server on the \
same two cores, a millisecond or more a call), so much of the end-to-end ratio is its time: the *without them* \
columns take out the time spent inside emulator and provider calls, init's included. What this machine cannot show: on \
Lambda the first call to each AWS endpoint and to the provider also pays DNS, TCP and a TLS handshake (loopback here is \
plain HTTP), and at 128 MB init's CPU work runs on about 7% of a vCPU, so every millisecond of CPU here is ten or more \
there. The start-up changes below are about both.\n";

const STARTUP_CHANGES: &str = "Two changes to start-up, in code every function shares:\n\n\
- **The AWS SDK trusts AWS's roots only** (`functions/core/src/aws.rs`). The SDK's default HTTPS client read and parsed the \
operating system's whole certificate store at every cold start (here every file under `/etc/ssl/certs`; on Lambda's \
Amazon Linux 2023 its CA bundles), though AWS endpoints only present certificates chaining to Amazon Trust Services' five \
roots. The client is now the SDK's default (rustls on aws-lc, proxy settings from the environment) with exactly those roots \
compiled in. login still loads the system store once, for its OIDC client: identity providers use any public CA.\n\
- **The table's connection opens during init**, concurrently with what init waits for anyway: the SSM secrets in \
request-association and redeem-link (`tokio::join!` in `main.rs`), the provider's discovery document and keys in login \
(`warm_up`). The read is one the function's IAM policy already allows, of a key no item has: at most one read request \
unit per cold start. On Lambda this takes DNS, TCP and TLS to DynamoDB off the first request; here, on loopback without TLS, there \
is little to take off, and the extra call shows as DynamoDB Local's time during init. \
send-emails is unchanged: nothing at its init to overlap with, and no person waits on its first batch.\n";
