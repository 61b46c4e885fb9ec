//! `profile-link-bench`: measures the Lambda functions on this machine and
//! writes `docs/performance.md`. `scripts/bench` runs it against a private
//! local stack; see that report for what is measured and how. `smoke` starts
//! each function once as built for one architecture (scripts/smoke-arm64).

mod gateway;
mod portal;
mod process;
mod proxy;
mod report;
mod run;
mod runtime_api;
mod smoke;

/// The table's stream, read as its event source mapping reads it (the harness's, shared with the dev server).
use profile_link_harness::stream;

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Cold starts, warm latency, memory, AWS calls and cost of profile-link's functions")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per run")]
enum Commands {
    /// Runs every measurement against the local stack and writes the raw results as JSON.
    Run {
        /// Directory holding the release binaries (login, …, token, hello).
        #[arg(long)]
        bin_dir: PathBuf,
        /// Directory holding `<function>.zip` deployment packages, for their sizes.
        #[arg(long)]
        zip_dir: Option<PathBuf>,
        /// Where the functions' logs go.
        #[arg(long, default_value = "artifacts/bench/logs")]
        log_dir: PathBuf,
        /// Alternating hello-world/function cold-start pairs per function.
        #[arg(long, default_value_t = 15)]
        pairs: usize,
        /// Recorded onboardings (after one that warms the functions up).
        #[arg(long, default_value_t = 100)]
        onboardings: usize,
        /// DynamoDB Local (the table and its stream).
        #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB")]
        dynamodb: String,
        /// moto (SES v2 and SSM).
        #[arg(long, env = "AWS_ENDPOINT_URL_SESV2")]
        moto: String,
        #[arg(long, env = "TABLE_NAME")]
        table: String,
        #[arg(long, env = "PUBLIC_BASE_URL")]
        base_url: url::Url,
        /// The dev identity provider's root: the one provider the bench signs in with.
        #[arg(long, env = "DEV_IDP_URL")]
        issuer: String,
        /// Its client secret for profile-link-local.
        #[arg(long, env = "DEV_IDP_CLIENT_SECRET", default_value = "local-dev-secret")]
        client_secret: String,
        #[arg(long, env = "SESSION_SIGNING_KEY_FILE")]
        session_key_file: PathBuf,
        #[arg(long, env = "MAIL_FROM")]
        mail_from: String,
        /// Where the results go.
        #[arg(long, default_value = "artifacts/bench/results.json")]
        out: PathBuf,
    },
    /// Starts each function's bootstrap as Lambda does, through a launcher such
    /// as qemu-aarch64 for another architecture, and checks its answer to one
    /// request that needs no AWS service. Exits non-zero if any failed.
    Smoke {
        /// Directory holding `<function>/bootstrap` (unpacked zips) or `<function>` binaries.
        #[arg(long)]
        bin_dir: PathBuf,
        /// The architecture the binaries must be built for.
        #[arg(long, value_enum, default_value = "arm64")]
        arch: smoke::Arch,
        /// Runs each binary, e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu" (split on spaces).
        #[arg(long)]
        launcher: Option<String>,
        /// Where the functions' logs go.
        #[arg(long, default_value = "artifacts/smoke/logs")]
        log_dir: PathBuf,
        /// Seconds one function may take from exec to its answer.
        #[arg(long, default_value_t = 60)]
        timeout_seconds: u64,
        /// Only this function (repeatable; default: every function).
        #[arg(long = "function")]
        functions: Vec<String>,
    },
    /// Prints the CSV of `count` bench profiles (one per address) to import before `run`.
    Profiles {
        #[arg(long)]
        count: usize,
    },
    /// Renders the report from a results file.
    Report {
        #[arg(long, default_value = "artifacts/bench/results.json")]
        results: PathBuf,
        /// template.yaml: memory size, alarms and the other fixed costs it declares.
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        #[arg(long, default_value = "docs/performance.md")]
        out: PathBuf,
        /// Results from before the start-up changes, for a before/after table.
        #[arg(long)]
        baseline: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Commands::Run {
            bin_dir,
            zip_dir,
            log_dir,
            pairs,
            onboardings,
            dynamodb,
            moto,
            table,
            base_url,
            issuer,
            client_secret,
            session_key_file,
            mail_from,
            out,
        } => {
            let session_key_pem = std::fs::read_to_string(&session_key_file)
                .with_context(|| format!("reading {}", session_key_file.display()))?;
            let settings = run::Settings {
                bin_dir,
                zip_dir,
                log_dir,
                pairs,
                onboardings,
                aws: profile_link_core::aws::Endpoints::local(&dynamodb, &moto),
                table,
                base: base_url,
                issuer,
                client_secret,
                session_key_pem,
                mail_from,
            };
            let mut results = run::run(settings).await?;
            results.generated = utc_now();
            results.environment = environment();
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&out, serde_json::to_string_pretty(&results)?)?;
            eprintln!("==> results in {}", out.display());
        }
        Commands::Smoke { bin_dir, arch, launcher, log_dir, timeout_seconds, functions } => {
            let settings = smoke::Settings {
                bin_dir,
                arch,
                launcher: launcher.as_deref().map(process::Launcher::parse).transpose()?,
                log_dir,
                timeout: std::time::Duration::from_secs(timeout_seconds),
                functions,
            };
            smoke::run(settings).await?;
        }
        Commands::Profiles { count } => print!("{}", run::profiles_csv(count)),
        Commands::Report { results, template, out, baseline } => {
            let read = |path: &PathBuf| -> anyhow::Result<run::Results> {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                Ok(serde_json::from_str(&text)?)
            };
            let results = read(&results)?;
            let baseline = baseline.as_ref().map(read).transpose()?;
            let template = std::fs::read_to_string(&template)?;
            let rendered = report::render(&results, &template, baseline.as_ref());
            // scripts/bench-emails's section of the page is its own: kept as it is.
            let previous = std::fs::read_to_string(&out).unwrap_or_default();
            std::fs::write(&out, report::keep_email_section(&rendered, &previous))?;
            eprintln!("==> report in {}", out.display());
        }
    }
    Ok(())
}

/// What the figures were measured on.
fn environment() -> run::BTreeEnv {
    let mut env = run::BTreeEnv::new();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']));
    env.insert("cpu".into(), model.unwrap_or("unknown").to_owned());
    env.insert("cpus".into(), std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string());
    env.insert("arch".into(), std::env::consts::ARCH.to_owned());
    env.insert(
        "kernel".into(),
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
    );
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    env.insert("rustc".into(), output("rustc", &["--version"]));
    let commit = output("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = !output("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    env.insert("commit".into(), if dirty { format!("{commit} (with uncommitted changes)") } else { commit });
    if let Ok(version) = std::env::var("BENCH_EMULATOR_VERSION") {
        env.insert("emulator".into(), version);
    }
    // The cargo profile scripts/bench built the binaries with.
    env.insert("profile".into(), std::env::var("BENCH_PROFILE").unwrap_or_else(|_| "release".into()));
    env
}

fn utc_now() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}
