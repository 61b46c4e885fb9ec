//! The cold phase: per first request, alternating pairs of hello-world and
//! function processes, each timed from exec to its first answer.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use profile_link_core::session::SessionKeys;
use serde_json::Value;

use super::environment::spec;
use super::first_request::{Expected, FirstRequest};
use super::fixtures::Fixtures;
use super::{ColdFunction, ColdPair, ColdSample, HELLO, Settings};
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
        let mut runs = Vec::new();
        for run in 0..settings.pairs {
            let hello_first = run % 2 == 0;
            let (event, expected) = first.event(settings, keys, fixtures, run).await?;
            let mut hello_sample = None;
            let mut function_sample = None;
            for hello_turn in [hello_first, !hello_first] {
                if hello_turn {
                    hello_sample =
                        Some(cold_once(&hello, &settings.log_dir, proxy, &hello_event, Expected::Status(200)).await?);
                } else {
                    function_sample = Some(cold_once(&spec, &settings.log_dir, proxy, &event, expected).await?);
                }
            }
            runs.push(ColdPair {
                hello_first,
                hello: hello_sample.expect("ran"),
                function: function_sample.expect("ran"),
            });
        }
        eprintln!("    {name}, {}: {} pairs", first.label(), runs.len());
        out.push(ColdFunction { name: name.to_owned(), first_request: first.label().to_owned(), runs });
    }
    Ok(out)
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
