//! `profiles import`: the customer system's CSV export into the table.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use clap::{Args, Subcommand};
use profile_link_admin::import;
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

pub async fn run(command: ProfilesCommand, table: &TableName) -> anyhow::Result<ExitCode> {
    match command {
        ProfilesCommand::Import(request) => import_csv(table, request).await,
    }
}

async fn import_csv(table: &TableName, request: ImportRequest) -> anyhow::Result<ExitCode> {
    let ImportRequest { file, dry_run, prune, yes, quiet, json, parallel } = request;
    let input = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let store = table.store().await?;
    let bar = if quiet || json { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(size) };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} {per_sec} {elapsed_precise} (eta {eta})")
            .expect("valid template"),
    );
    let progress = ImportProgress { bar: bar.clone(), rows: AtomicU64::new(0) };
    let reader = std::io::BufReader::new(bar.wrap_read(input));
    let report = import::import_with(&store, reader, dry_run, usize::from(parallel), &progress).await?;
    bar.finish_and_clear();
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
            "rejected": report.rejected,
            "absent_from_export": absent.iter().map(ProfileId::as_str).collect::<Vec<_>>(),
            "pruned": pruned,
        }))?;
    }
    Ok(if report.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(super::REFUSED_ENTRIES) })
}
