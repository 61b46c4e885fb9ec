//! `profiles import`: the customer system's CSV export into the table.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use clap::{Args, Subcommand};
use profile_link_admin::import;
use profile_link_admin::import::checkpoint::{Checkpoint, sha256_of};
use profile_link_core::domain::profile::ProfileId;

use super::{DECLINED, TableName, confirmed, print_json};

#[derive(Subcommand)]
pub enum ProfilesCommand {
    /// Import a CSV export with columns profile_id,email,display_name,organization.
    Import(ImportRequest),
}

// No doc comment: clap would take it for the subcommand's help, which is the variant's.
#[derive(Args)]
pub struct ImportRequest {
    file: PathBuf,
    /// Validate and compare with the table, write nothing (with --prune: list what would be removed).
    #[arg(long)]
    dry_run: bool,
    /// Also remove profiles that are in the table but not in the export (asks first).
    #[arg(long)]
    prune: bool,
    /// Do not ask before pruning.
    #[arg(long)]
    yes: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// The report as JSON.
    #[arg(long)]
    json: bool,
    /// Batches of 100 rows compared and written at once.
    #[arg(long, default_value_t = import::BATCHES_IN_FLIGHT as u16, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Most write units a second to spend (a profile and its address index entry cost 1 each per KB);
    /// throttling lowers the pace, which then climbs back to this.
    #[arg(long, default_value_t = import::DEFAULT_WRITE_UNITS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    write_units: u32,
    /// Stop when DynamoDB has done none of the work for this many seconds (throttled or failing throughout).
    #[arg(long, value_name = "SECONDS", default_value_t = import::GIVE_UP_AFTER.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    give_up_after: u64,
    /// Where progress is recorded, so an interrupted import resumes where it stopped
    /// [default: beside the file, FILE.<table>.import-checkpoint].
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<PathBuf>,
    /// Discard the checkpoint an interrupted import left and start from the first row.
    #[arg(long)]
    restart: bool,
}

/// The import's bar: bytes of the file read, and rows done.
struct ImportProgress {
    bar: indicatif::ProgressBar,
    rows: AtomicU64,
}

impl import::Progress for ImportProgress {
    fn rows_done(&self, rows: u64) {
        let total = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        self.bar.set_message(format!("{total} rows"));
    }
}

/// Exit code of an import stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
const INTERRUPTED: u8 = 130;

/// What the operator does after a stopped import.
fn how_to_resume(checkpoint: Option<&Checkpoint>) -> String {
    match checkpoint.map(|c| (c.path(), c.rows_done())) {
        Some((path, Ok(rows))) if rows > 0 => format!(
            "the first {rows} row(s) are done (recorded in {}); run the same command again to resume after them",
            path.display()
        ),
        Some((_, Ok(_))) => "no batch was finished; run the same command again".to_owned(),
        Some((path, Err(e))) => format!("its checkpoint {} is unreadable ({e})", path.display()),
        None => "nothing was written (a dry run)".to_owned(),
    }
}

pub async fn run(command: ProfilesCommand, table: &TableName) -> anyhow::Result<ExitCode> {
    match command {
        ProfilesCommand::Import(request) => import_csv(table, request).await,
    }
}

async fn import_csv(table: &TableName, request: ImportRequest) -> anyhow::Result<ExitCode> {
    let ImportRequest {
        file,
        dry_run,
        prune,
        yes,
        quiet,
        json,
        parallel,
        write_units,
        give_up_after,
        checkpoint,
        restart,
    } = request;
    let open = || std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()));
    let input = open()?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let store = table.store().await?;
    let checkpoint = if dry_run {
        None
    } else {
        let sha256 =
            sha256_of(std::io::BufReader::new(open()?)).with_context(|| format!("reading {}", file.display()))?;
        let path = checkpoint.unwrap_or_else(|| Checkpoint::default_path(&file, store.table()));
        Some(Checkpoint::new(path, sha256, store.table()))
    };
    if let (Some(checkpoint), true) = (&checkpoint, restart) {
        checkpoint.remove()?;
    }
    let bar = if quiet || json { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(size) };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} {per_sec} {elapsed_precise} (eta {eta})")
            .expect("valid template"),
    );
    let progress = ImportProgress { bar: bar.clone(), rows: AtomicU64::new(0) };
    let reader = std::io::BufReader::new(bar.wrap_read(input));
    let options = import::ImportOptions {
        dry_run,
        in_flight: usize::from(parallel),
        write_units,
        give_up_after: std::time::Duration::from_secs(give_up_after),
        checkpoint: checkpoint.as_ref(),
    };
    // Ctrl-C stops at once: the checkpoint already holds every batch done.
    let outcome = tokio::select! {
        outcome = import::import_with(&store, reader, &options, &progress) => outcome,
        _ = tokio::signal::ctrl_c() => {
            bar.finish_and_clear();
            eprintln!("interrupted: {}", how_to_resume(checkpoint.as_ref()));
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    bar.finish_and_clear();
    let report = match outcome {
        Ok(report) => report,
        Err(error @ (import::ImportError::Stalled { .. } | import::ImportError::Store(_))) => {
            anyhow::bail!("{error}; {}", how_to_resume(checkpoint.as_ref()))
        }
        Err(error) => return Err(error.into()),
    };
    let absent = if prune { import::absent_from_export(&store, &report).await? } else { Vec::new() };
    if !json {
        for rejected in &report.rejected {
            eprintln!("{}:{}: rejected: {}", file.display(), rejected.line, rejected.reason);
        }
        let verb = if dry_run { "would import" } else { "imported" };
        println!(
            "{verb} {} new, {} updated, {} unchanged, {} rejected",
            report.imported,
            report.updated,
            report.unchanged,
            report.rejected.len()
        );
        if report.resumed_rows > 0 {
            println!("resumed: the first {} row(s) were done by the interrupted run", report.resumed_rows);
        }
        if !dry_run {
            println!(
                "spent {} write unit(s); DynamoDB throttled {} call(s), the pace slowed {} time(s)",
                report.write_units, report.throttled_calls, report.slowdowns
            );
        }
        if report.links_revoked > 0 {
            println!("revoked {} unused link(s) of profiles whose address changed (audited)", report.links_revoked);
        }
        if prune {
            let list: Vec<&str> = absent.iter().take(20).map(ProfileId::as_str).collect();
            let more = absent.len().saturating_sub(list.len());
            println!(
                "{} profile(s) in the table are not in the export{}{}",
                absent.len(),
                if list.is_empty() { String::new() } else { format!(": {}", list.join(", ")) },
                if more > 0 { format!(" and {more} more") } else { String::new() }
            );
        }
    }
    let mut pruned = 0;
    if prune && !absent.is_empty() && !dry_run {
        // Refuse to prune from an export whose rows were partly rejected: a
        // rejected row's profile would be removed although the system has it.
        if !report.rejected.is_empty() {
            eprintln!("not pruning: fix the rejected rows first, so no listed profile is removed by mistake");
        } else if confirmed(&format!("Remove these {} profile(s) from the table?", absent.len()), yes)? {
            import::prune(&store, &absent).await?;
            pruned = absent.len();
            if !json {
                println!("removed {pruned} profile(s)");
            }
        } else {
            return Ok(ExitCode::from(DECLINED));
        }
    }
    if json {
        print_json(&serde_json::json!({
            "dry_run": dry_run,
            "imported": report.imported,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "links_revoked": report.links_revoked,
            "resumed_rows": report.resumed_rows,
            "write_units": report.write_units,
            "throttled_calls": report.throttled_calls,
            "slowdowns": report.slowdowns,
            "rejected": report.rejected,
            "absent_from_export": absent.iter().map(ProfileId::as_str).collect::<Vec<_>>(),
            "pruned": pruned,
        }))?;
    }
    Ok(if report.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(super::REFUSED_ENTRIES) })
}
