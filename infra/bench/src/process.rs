//! A function's release binary run as Lambda runs it: a clean environment
//! with the variables Lambda sets, its own Runtime API, its logs captured;
//! and what the kernel knows about it (CPU time, peak RSS).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use tokio::sync::oneshot;

use crate::runtime_api::{Answer, RuntimeApi};

/// Lambda's configured memory for every function (template.yaml's Globals).
pub const MEMORY_MB: u32 = 128;

/// What to run and with which configuration.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub binary: PathBuf,
    /// The function's own configuration (what template.yaml sets) and the AWS variables.
    pub env: Vec<(String, String)>,
}

/// A program that runs the binary for it, for a binary of another
/// architecture: `qemu-aarch64 -L /usr/aarch64-linux-gnu` runs an arm64
/// bootstrap on an x86_64 machine. Without one the binary is executed itself.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Launcher {
    /// Splits a command line on whitespace (no quoting: paths here have no spaces).
    pub fn parse(command: &str) -> anyhow::Result<Self> {
        let mut words = command.split_whitespace().map(str::to_owned);
        let program = words.next().context("the launcher command is empty")?;
        Ok(Self { program: program.into(), args: words.collect() })
    }
}

pub struct Function {
    pub name: String,
    child: Child,
    pub api: RuntimeApi,
    pub spawned: Instant,
    pub log: PathBuf,
}

impl Function {
    /// Starts the Runtime API, then the process (the clock starts at `spawned`).
    pub async fn spawn(spec: &Spec, log_dir: &Path) -> anyhow::Result<Self> {
        let api = RuntimeApi::start(&spec.name).await?;
        Self::spawn_on(spec, log_dir, api)
    }

    /// As [`spawn`], with `event` queued before the process starts: its first
    /// poll gets it at once, as a cold start's triggering event.
    pub async fn spawn_with_event(
        spec: &Spec,
        log_dir: &Path,
        event: Bytes,
    ) -> anyhow::Result<(Self, oneshot::Receiver<Answer>)> {
        Self::spawn_with_event_via(spec, log_dir, event, None).await
    }

    /// As [`spawn_with_event`], started through `launcher` if there is one.
    pub async fn spawn_with_event_via(
        spec: &Spec,
        log_dir: &Path,
        event: Bytes,
        launcher: Option<&Launcher>,
    ) -> anyhow::Result<(Self, oneshot::Receiver<Answer>)> {
        let api = RuntimeApi::start(&spec.name).await?;
        let answer = api.enqueue(event);
        Ok((Self::spawn_via(spec, log_dir, api, launcher)?, answer))
    }

    fn spawn_on(spec: &Spec, log_dir: &Path, api: RuntimeApi) -> anyhow::Result<Self> {
        Self::spawn_via(spec, log_dir, api, None)
    }

    fn spawn_via(spec: &Spec, log_dir: &Path, api: RuntimeApi, launcher: Option<&Launcher>) -> anyhow::Result<Self> {
        let log = log_dir.join(format!("{}.log", spec.name));
        let out = File::options().create(true).append(true).open(&log)?;
        let mut command = match launcher {
            Some(launcher) => {
                let mut command = Command::new(&launcher.program);
                command.args(&launcher.args).arg(&spec.binary);
                command
            }
            None => Command::new(&spec.binary),
        };
        command
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // What Lambda's provided.al2023 runtime sets.
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2025/01/01/[$LATEST]bench")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            .env("LANG", "en_US.UTF-8")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let spawned = Instant::now();
        let child = command.spawn().with_context(|| match launcher {
            Some(launcher) => format!("starting {} with {}", spec.binary.display(), launcher.program.display()),
            None => format!("starting {}", spec.binary.display()),
        })?;
        Ok(Self { name: spec.name.clone(), child, api, spawned, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the answer to a queued event, failing early if the process
    /// reported an init error or exited.
    pub async fn wait(&mut self, answer: oneshot::Receiver<Answer>, limit: Duration) -> anyhow::Result<Answer> {
        let deadline = Instant::now() + limit;
        let mut answer = answer;
        loop {
            if let Some(error) = self.api.init_error() {
                bail!("{} failed its init: {error}", self.name);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}); see {}", self.name, self.log.display());
            }
            match tokio::time::timeout(Duration::from_millis(100), &mut answer).await {
                Ok(result) => return result.context("the Runtime API dropped the invocation"),
                Err(_) if Instant::now() > deadline => bail!("{}: no answer within {limit:?}", self.name),
                Err(_) => {}
            }
        }
    }

    pub async fn invoke(&mut self, event: Bytes) -> anyhow::Result<Answer> {
        let answer = self.api.enqueue(event);
        self.wait(answer, Duration::from_secs(30)).await
    }

    /// Waits until the process asks for its first event (its init is over).
    pub async fn ready(&mut self) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(at) = self.api.first_poll() {
                return Ok(at);
            }
            if let Some(error) = self.api.init_error() {
                bail!("{} failed its init: {error}", self.name);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}); see {}", self.name, self.log.display());
            }
            if Instant::now() > deadline {
                bail!("{} did not finish its init within 30 s", self.name);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// CPU time the process has used so far (user + system, all threads).
    pub fn cpu(&self) -> CpuSample {
        cpu_time(self.pid())
    }

    /// The process's peak resident set (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        status_field(self.pid(), "VmHWM:").unwrap_or(0)
    }

    pub fn log_bytes(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU time a process has used so far, two ways.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSample {
    /// Nanoseconds from the scheduler (`/proc/<pid>/task/*/schedstat`, live threads).
    pub sched: Duration,
    /// utime + stime (`/proc/<pid>/stat`, 10 ms ticks, exited threads included).
    pub ticks: Duration,
}

impl CpuSample {
    /// CPU used between `earlier` and this sample: the scheduler's figure
    /// (precise), unless the tick count saw more (a thread exited meanwhile).
    pub fn since(&self, earlier: &CpuSample) -> Duration {
        let sched = self.sched.saturating_sub(earlier.sched);
        let ticks = self.ticks.saturating_sub(earlier.ticks);
        if ticks > sched + Duration::from_millis(20) { ticks } else { sched }
    }
}

pub fn cpu_time(pid: u32) -> CpuSample {
    let mut nanos: u64 = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            nanos += stat.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // After the parenthesised command name, utime and stime are the 12th and 13th fields.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on every Linux ABI.
    CpuSample { sched: Duration::from_nanos(nanos), ticks: Duration::from_millis(ticks * 10) }
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
}
