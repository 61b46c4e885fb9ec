//! `profile-link-bench smoke`: every function's bootstrap, as built for one
//! Lambda architecture, started as Lambda starts it (its own Runtime API, a
//! clean environment; through a launcher such as `qemu-aarch64` when the
//! binary is not for this machine) answers one request correctly.
//!
//! Each request is one whose right answer is known exactly and that needs no
//! AWS service, so the smoke runs without a local stack: it proves that the
//! binary starts, reads its configuration, loads its TLS roots and session
//! key, runs its router or event handler and signs or verifies with aws-lc-rs
//! on that architecture. The AWS endpoints are the `AWS_ENDPOINT_URL_<SERVICE>`
//! variables of this process when set (the local stack's), and otherwise a
//! closed loopback port: nothing the functions do at init (the table
//! connection they open early) can reach AWS, and the dummy credentials could
//! not sign a real request anyway.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::Bytes;

use crate::process::{Function, Launcher, Spec};

mod binary;
mod cases;
mod reply;
mod stack;

pub use binary::Arch;
use binary::{check_architecture, locate, sizes};
use cases::case_for;
use reply::clip;
use stack::Stack;

/// Every function of template.yaml, in the order they are reported.
pub const FUNCTIONS: [&str; 8] = [
    "login",
    "request-association",
    "redeem-link",
    "send-emails",
    "ses-events",
    "authorize",
    "token",
    "notify-portals",
];

pub struct Settings {
    /// Holds `<function>/bootstrap` (an unpacked deployment zip) or `<function>` (cargo's output).
    pub bin_dir: PathBuf,
    pub arch: Arch,
    pub launcher: Option<Launcher>,
    pub log_dir: PathBuf,
    /// How long one function may take from exec to its answer.
    pub timeout: Duration,
    /// The functions to run (all of [`FUNCTIONS`] when empty).
    pub functions: Vec<String>,
}

/// Runs every function once and prints one line each; fails if any failed.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    if settings.launcher.is_none() && !settings.arch.is_this_machine() {
        bail!(
            "{} binaries do not run on this {} machine by themselves: pass --launcher (e.g. \"qemu-aarch64 -L /usr/aarch64-linux-gnu\")",
            settings.arch.label(),
            std::env::consts::ARCH
        );
    }
    for name in &settings.functions {
        if !FUNCTIONS.contains(&name.as_str()) {
            bail!("unknown function {name:?} (one of {})", FUNCTIONS.join(", "));
        }
    }
    std::fs::create_dir_all(&settings.log_dir).with_context(|| format!("creating {}", settings.log_dir.display()))?;
    let stack = Stack::new()?;
    let selected: Vec<&str> = FUNCTIONS
        .into_iter()
        .filter(|f| settings.functions.is_empty() || settings.functions.iter().any(|s| s == f))
        .collect();
    let mut failed = Vec::new();
    // Interrupted, the run in progress is dropped, and with it its process (Function kills it on drop).
    let stop = interrupted();
    tokio::pin!(stop);
    for name in &selected {
        let outcome = tokio::select! {
            outcome = smoke_one(&settings, &stack, name) => outcome,
            signal = &mut stop => bail!("{signal} during {name}"),
        };
        match outcome {
            Ok(passed) => println!(
                "ok {} {name}: {} in {} ms (init {} ms), {}",
                settings.arch.label(),
                passed.answer,
                passed.total.as_millis(),
                passed.init.as_millis(),
                passed.sizes
            ),
            Err(error) => {
                println!("FAIL {} {name}: {error:#}", settings.arch.label());
                print_log_tail(&settings.log_dir.join(format!("{name}.log")));
                failed.push(*name);
            }
        }
    }
    if !failed.is_empty() {
        bail!("{} of {} functions failed the smoke test: {}", failed.len(), selected.len(), failed.join(", "));
    }
    Ok(())
}

/// Resolves when this process is asked to stop (Ctrl-C, or SIGTERM from a script's clean-up).
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "interrupted";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = terminate.recv() => "terminated",
    }
}

struct Passed {
    /// What was answered, briefly (`200`, `303 → /redeem`, `{"batchItemFailures":[]}`).
    answer: String,
    total: Duration,
    init: Duration,
    sizes: String,
}

async fn smoke_one(settings: &Settings, stack: &Stack, name: &str) -> anyhow::Result<Passed> {
    // The log is appended to by the process: start it empty so its tail is this run's.
    let _ = std::fs::remove_file(settings.log_dir.join(format!("{name}.log")));
    let (binary, zip) = locate(&settings.bin_dir, name)?;
    check_architecture(&binary, settings.arch)?;
    let case = case_for(name, stack);
    let spec = Spec { name: name.to_owned(), binary: binary.clone(), env: stack.function_env() };
    let event = Bytes::from(case.event.to_string());
    let (mut function, answer) =
        Function::spawn_with_event_via(&spec, &settings.log_dir, event, settings.launcher.as_ref()).await?;
    let answer = function.wait(answer, settings.timeout).await?;
    let spawned = function.spawned;
    let init = function.api.first_poll().unwrap_or(answer.delivered) - spawned;
    function.stop();
    let seen = (case.check)(&answer).with_context(|| format!("{} answered unexpectedly", case.request))?;
    Ok(Passed { answer: seen, total: answer.answered - spawned, init, sizes: sizes(&binary, zip.as_deref()) })
}

/// The last lines the function logged, indented under its FAIL line.
fn print_log_tail(log: &Path) {
    let Ok(text) = std::fs::read_to_string(log) else { return };
    let lines: Vec<&str> = text.lines().collect();
    println!("    last lines of {}:", log.display());
    for line in &lines[lines.len().saturating_sub(12)..] {
        println!("    {}", clip(line));
    }
}
