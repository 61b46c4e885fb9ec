//! `suppressions`: the addresses no email goes to, and lifting one.

use std::process::ExitCode;

use clap::Subcommand;
use profile_link_core::RegisteredEmail;

use super::{DECLINED, NOTHING_FOUND, TableName, confirmed, print_json};

#[derive(Subcommand)]
pub enum SuppressionsCommand {
    /// Every suppressed address, why, and which email bounced or was complained about.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Let email go to an address again (its mailbox was fixed, the complaint was a mistake).
    Lift {
        #[arg(long)]
        email: String,
        /// Who is doing this, for the audit trail.
        #[arg(long, env = "PROFILE_LINK_OPERATOR")]
        operator: String,
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(command: SuppressionsCommand, table: &TableName, now: i64) -> anyhow::Result<ExitCode> {
    match command {
        SuppressionsCommand::List { json } => list(table, json).await,
        SuppressionsCommand::Lift { email, operator, yes } => lift(table, now, email, operator, yes).await,
    }
}

async fn list(table: &TableName, json: bool) -> anyhow::Result<ExitCode> {
    let list = table.store().await?.suppressions().await?;
    if json {
        print_json(&list)?;
    } else if list.is_empty() {
        println!("no suppressed addresses");
    } else {
        println!("{}", profile_link_admin::links::suppressions_table(&list));
    }
    Ok(ExitCode::SUCCESS)
}

async fn lift(table: &TableName, now: i64, email: String, operator: String, yes: bool) -> anyhow::Result<ExitCode> {
    let address = RegisteredEmail::parse(&email).map_err(|e| anyhow::anyhow!("{email:?}: {e}"))?;
    let store = table.store().await?;
    if store.suppression(&address).await?.is_none() {
        eprintln!("{} is not suppressed", address.masked());
        return Ok(ExitCode::from(NOTHING_FOUND));
    }
    if !confirmed(&format!("Send email to {} again?", address.masked()), yes)? {
        return Ok(ExitCode::from(DECLINED));
    }
    Ok(match store.lift_suppression(&address, &operator, now).await? {
        Some(lifted) => {
            println!("suppression of {} ({}) lifted", address.masked(), lifted.reason);
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("{} was unsuppressed meanwhile", address.masked());
            ExitCode::from(NOTHING_FOUND)
        }
    })
}
