//! `profile-link-admin`: operator commands. Exit codes: 0 success, 1 failure,
//! 2 finished but some input rows were rejected.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use profile_link_admin::{import, table::TableDefinition};
use profile_link_core::{SessionKeys, Store};

#[derive(Parser)]
#[command(name = "profile-link-admin", version, about = "Operate profile-link: table, profiles, keys")]
struct Cli {
    /// The DynamoDB table (the stack's TableName output).
    #[arg(long, env = "TABLE_NAME", global = true)]
    table: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table from template.yaml's definition (local emulator and tests).
    #[command(subcommand)]
    Table(TableCommand),
    /// Customer profiles from the customer system.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Session signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Every step for one profile, oldest first: requested, sent, linked, refused, unlinked …
    Show {
        #[arg(long)]
        profile: String,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create the table if it does not exist (exit 0 either way).
    Create {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
    },
}

#[derive(Subcommand)]
enum ProfilesCommand {
    /// Import a CSV export with columns profile_id,email,display_name,organization.
    Import {
        file: PathBuf,
        /// Validate and compare with the table, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new ES256 (P-256) private key as PKCS#8 PEM, for SESSION_SIGNING_KEY.
    Generate,
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

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let table_name = || cli.table.clone().context("set --table or TABLE_NAME to the table's name");
    match cli.command {
        Command::Audit(AuditCommand::Show { profile, json }) => {
            let id = profile_link_core::profile::ProfileId::parse(&profile)
                .with_context(|| format!("{profile:?} is not a profile id (1-64 of A-Z a-z 0-9 . _ : -)"))?;
            let sdk = aws_config::load_from_env().await;
            let records = Store::from_sdk_config(&sdk, table_name()?).audit_trail(&id).await?;
            if json {
                for record in &records {
                    println!("{}", serde_json::to_string(record)?);
                }
            } else if records.is_empty() {
                println!("no audit entries for profile {id}");
            } else {
                println!("{}", profile_link_admin::audit::table(&records));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(KeysCommand::Generate) => {
            print!("{}", SessionKeys::generate_pem());
            Ok(ExitCode::SUCCESS)
        }
        Command::Table(TableCommand::Create { template }) => {
            let name = table_name()?;
            let definition = TableDefinition::from_template(&template)?;
            let sdk = aws_config::load_from_env().await;
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            if definition.create(&client, &name).await? {
                println!("created table {name} from {}", template.display());
            } else {
                println!("table {name} already exists; left as it is");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Profiles(ProfilesCommand::Import { file, dry_run, quiet }) => {
            let name = table_name()?;
            let input = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let sdk = aws_config::load_from_env().await;
            let store = Store::from_sdk_config(&sdk, name);
            let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new_spinner() };
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {pos} rows {per_sec} {elapsed}")
                    .expect("valid template"),
            );
            let report = import::import(&store, std::io::BufReader::new(input), dry_run, &bar).await?;
            bar.finish_and_clear();
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
            Ok(if report.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
    }
}
