//! `profile-link-admin`: operator commands. Tables for people by default,
//! `--json` for scripts. Exit codes (also in `--help`):
//! 0 done; 1 failed (configuration, AWS, input file; doctor: a check failed); 2 done, but some CSV
//! rows were rejected; 3 not done: a destructive command was declined or
//! needs `--yes` when not run at a terminal; 4 nothing found to act on; 130 an
//! import interrupted by Ctrl-C (run it again to resume).

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::TableName;
use commands::audit::AuditCommand;
use commands::doctor::DoctorArgs;
use commands::keys::KeysCommand;
use commands::links::LinksCommand;
use commands::portals::{PortalsCommand, Where};
use commands::profiles::ProfilesCommand;
use commands::suppressions::SuppressionsCommand;
use commands::table::TableCommand;
use profile_link_core::{Clock, SystemClock};

const EXIT_CODES: &str = "Exit codes: 0 done (doctor: go ahead); 1 failed (doctor: a check failed); 2 done, some CSV rows rejected (or portals check: some clients refused); \
3 declined, or a destructive command needs --yes when not at a terminal; 4 nothing found to act on; \
130 profiles import interrupted (run it again to resume).";

#[derive(Parser)]
#[command(name = "profile-link-admin", version, about = "Operate profile-link: profiles, links, audit, table, keys, portals, doctor", after_help = EXIT_CODES)]
struct Cli {
    /// The DynamoDB table (the stack's TableName output).
    #[arg(long, env = "TABLE_NAME", global = true)]
    table: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Customer profiles from the customer system.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Links between sign-ins and profiles: list, revoke, send one on a customer's behalf.
    #[command(subcommand)]
    Links(LinksCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Addresses no email goes to after a hard bounce or a complaint.
    #[command(subcommand)]
    Suppressions(SuppressionsCommand),
    /// Create the table from template.yaml's definition (local emulator and tests).
    #[command(subcommand)]
    Table(TableCommand),
    /// Session signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The portals profile-link signs people in to (their client list and secrets in SSM).
    Portals {
        #[command(flatten)]
        place: Where,
        #[command(subcommand)]
        command: PortalsCommand,
    },
    /// Read-only preflight of a deployed stack: one line per check (ok, warn, FAIL) and what to do.
    /// Exit 0: safe to go ahead (warnings allowed); 1: a check failed.
    Doctor(Box<DoctorArgs>),
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// One function per group of commands, each in its module under `commands/`.
async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let table = TableName::new(cli.table);
    let now = SystemClock.now();
    match cli.command {
        Command::Profiles(command) => commands::profiles::run(command, &table).await,
        Command::Links(command) => commands::links::run(command, &table, now).await,
        Command::Audit(command) => commands::audit::run(command, &table).await,
        Command::Suppressions(command) => commands::suppressions::run(command, &table, now).await,
        Command::Table(command) => commands::table::run(command, &table).await,
        Command::Keys(command) => commands::keys::run(command).await,
        Command::Portals { place, command } => commands::portals::run(command, place).await,
        Command::Doctor(args) => commands::doctor::run(*args, &table).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_id_that_begins_with_a_dash_is_a_value_not_a_flag() {
        let cli = Cli::try_parse_from(["profile-link-admin", "links", "revoke", "--link", "-x9_Q", "--operator", "o"])
            .unwrap_or_else(|e| panic!("refused a link id beginning with '-': {e}"));
        match cli.command {
            Command::Links(LinksCommand::Revoke { link, .. }) => assert_eq!(link.as_deref(), Some("-x9_Q")),
            _ => panic!("not parsed as links revoke"),
        }
    }
}
