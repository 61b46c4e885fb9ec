//! `audit`: the audit trail.

use std::process::ExitCode;

use clap::Subcommand;

use super::{NOTHING_FOUND, TableName, profile_id};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Every step for one profile, oldest first: requested, sent, linked, refused, unlinked …
    Show {
        #[arg(long)]
        profile: String,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: AuditCommand, table: &TableName) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Show { profile, json } => show(table, profile, json).await,
    }
}

async fn show(table: &TableName, profile: String, json: bool) -> anyhow::Result<ExitCode> {
    let id = profile_id(&profile)?;
    let records = table.store().await?.audit_trail(&id).await?;
    if json {
        for record in &records {
            println!("{}", serde_json::to_string(record)?);
        }
    } else if records.is_empty() {
        println!("no audit entries for profile {id}");
    } else {
        println!("{}", profile_link_admin::audit::table(&records));
    }
    Ok(if records.is_empty() { ExitCode::from(NOTHING_FOUND) } else { ExitCode::SUCCESS })
}
