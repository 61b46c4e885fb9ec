//! The cold phase: per first request, the function, its same-calls baseline
//! (and that baseline's variants) and the hello world, started in turn with
//! the order rotating from run to run, each timed from exec to its first answer.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use profile_link_core::session::SessionKeys;
use serde_json::Value;

use super::environment::{same_calls_spec, spec};
use super::first_request::{Expected, FirstRequest};
use super::fixtures::Fixtures;
use super::{ColdFunction, ColdPair, ColdSample, ColdVariant, HELLO, Settings};
use crate::gateway::{Browser, call_records, ms};
use crate::process::{Function, Spec};
use crate::proxy::Proxy;

pub(super) async fn cold_phase(
    settings: &Settings,
    proxy: &Arc<Proxy>,
    keys: &SessionKeys,
    fixtures: &mut Fixtures,
) -> anyhow::Result<Vec<ColdFunction>> {
    let hello = spec(settings, proxy, HELLO).await?;
    let hello_event = crate::gateway::http_event(&settings.base, "GET", "/", &Browser::new("203.0.113.4"), None);
    let mut out = Vec::new();
    for first in FirstRequest::ALL {
        let name = first.function();
        let spec = spec(settings, proxy, name).await?;
        let plan = first.same_calls();
        let same_calls = same_calls_spec(settings, proxy, plan, &[]).await?;
        let same_calls_expected = if plan.stream { Expected::NoFailures } else { Expected::Status(200) };
        let mut variants = Vec::new();
        for (label, plan, extra) in first.same_calls_variants() {
            variants.push((label, same_calls_spec(settings, proxy, plan, extra).await?));
        }
        // hello, the function, the same-calls baseline, its variants: the order rotates each run.
        let processes = 3 + variants.len();
        let mut runs = Vec::new();
        for run in 0..settings.pairs {
            let (event, expected) = first.event(settings, keys, fixtures, run).await?;
            let mut samples: Vec<Option<ColdSample>> = vec![None; processes];
            for turn in 0..processes {
                let which = (turn + run) % processes;
                let sample = match which {
                    0 => cold_once(&hello, &settings.log_dir, proxy, &hello_event, Expected::Status(200)).await?,
                    1 => cold_once(&spec, &settings.log_dir, proxy, &event, expected).await?,
                    2 => cold_once(&same_calls, &settings.log_dir, proxy, &event, same_calls_expected).await?,
                    variant => {
                        cold_once(&variants[variant - 3].1, &settings.log_dir, proxy, &event, same_calls_expected)
                            .await?
                    }
                };
                samples[which] = Some(sample);
            }
            let mut samples = samples.into_iter().map(|s| s.expect("every process ran"));
            let (hello, function, same_calls) =
                (samples.next().expect("hello"), samples.next().expect("function"), samples.next().expect("same"));
            same_calls_made_the_same_calls(name, first.label(), &function, &same_calls)?;
            runs.push(ColdPair {
                hello_first: run % processes == 0,
                hello,
                function,
                same_calls: Some(same_calls),
                variants: variants
                    .iter()
                    .zip(samples)
                    .map(|((label, _), sample)| ColdVariant { label: (*label).to_owned(), sample })
                    .collect(),
            });
        }
        eprintln!("    {name}, {}: {} runs", first.label(), runs.len());
        out.push(ColdFunction { name: name.to_owned(), first_request: first.label().to_owned(), runs });
    }
    Ok(out)
}

/// The baseline is only fair if it made the function's calls: the same
/// operations at init and on the first request (side-by-side calls arrive in
/// either order, so they are compared sorted).
fn same_calls_made_the_same_calls(
    name: &str,
    first_request: &str,
    function: &ColdSample,
    same_calls: &ColdSample,
) -> anyhow::Result<()> {
    let sorted = |calls: &[String]| {
        let mut calls = calls.to_vec();
        calls.sort();
        calls
    };
    for (phase, theirs, ours) in [
        ("init", &function.init_calls, &same_calls.init_calls),
        ("first request", &function.invocation_calls, &same_calls.invocation_calls),
    ] {
        if sorted(theirs) != sorted(ours) {
            anyhow::bail!(
                "{name}, {first_request}: at {phase} the function made {theirs:?} but its same-calls baseline {ours:?}; \
                 change FirstRequest::same_calls (infra/bench/src/run/first_request.rs) to match"
            );
        }
    }
    Ok(())
}

/// Starts the process with `event` already queued and times it to its first answer.
async fn cold_once(
    spec: &Spec,
    log_dir: &Path,
    proxy: &Arc<Proxy>,
    event: &Value,
    expected: Expected,
) -> anyhow::Result<ColdSample> {
    // Let the previous process's exit settle before the next exec.
    tokio::time::sleep(Duration::from_millis(50)).await;
    proxy.take();
    let (mut function, answer) = Function::spawn_with_event(spec, log_dir, Bytes::from(event.to_string())).await?;
    let answer = function.wait(answer, Duration::from_secs(30)).await?;
    let cpu = function.cpu();
    let peak_rss_kib = function.peak_rss_kib();
    let init_done = function.api.first_poll().unwrap_or(answer.delivered);
    let spawned = function.spawned;
    function.stop();
    expected.check(&spec.name, &answer.body)?;
    let calls = proxy.take();
    let (init, invocation): (Vec<_>, Vec<_>) = calls.iter().partition(|c| c.finished <= init_done);
    let (_, upstream_ms, _, _) = call_records(&calls);
    let init_calls: Vec<crate::proxy::Call> = init.iter().map(|c| (*c).clone()).collect();
    let (_, init_upstream_ms, _, _) = call_records(&init_calls);
    let name = |c: &&crate::proxy::Call| format!("{} {}", c.service.label(), c.operation);
    Ok(ColdSample {
        total_ms: ms(answer.answered - spawned),
        init_ms: ms(init_done - spawned),
        first_invocation_ms: ms(answer.answered - answer.delivered),
        upstream_ms,
        init_upstream_ms,
        init_calls: init.iter().map(name).collect(),
        invocation_calls: invocation.iter().map(name).collect(),
        peak_rss_kib,
        cpu_ms: ms(cpu.ticks.max(cpu.sched)),
    })
}
