//! The commands' shared parts: the exit codes beyond 0 and 1, the table they
//! work on, and how they ask before a destructive step and print JSON.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use profile_link_core::Store;
use profile_link_core::domain::profile::ProfileId;

pub mod audit;
pub mod doctor;
pub mod keys;
pub mod links;
pub mod portals;
pub mod profiles;
pub mod suppressions;
pub mod table;

/// Done, but some input was refused: CSV rows (import) or portal clients (portals check).
pub const REFUSED_ENTRIES: u8 = 2;
pub const DECLINED: u8 = 3;
pub const NOTHING_FOUND: u8 = 4;

/// The DynamoDB table, as --table or TABLE_NAME names it (if either does).
pub struct TableName(Option<String>);

impl TableName {
    pub fn new(name: Option<String>) -> Self {
        Self(name)
    }

    pub fn get(&self) -> anyhow::Result<String> {
        self.0.clone().context("set --table or TABLE_NAME to the table's name")
    }

    /// The store on that table, with the AWS configuration from the environment.
    pub async fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::from_sdk_config(&aws_config::load_from_env().await, self.get()?))
    }
}

pub fn profile_id(raw: &str) -> anyhow::Result<ProfileId> {
    ProfileId::parse(raw).with_context(|| format!("{raw:?} is not a profile id (1-64 of A-Z a-z 0-9 . _ : -)"))
}

/// Asks before a destructive step; at no terminal, only `--yes` proceeds.
pub fn confirmed(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        eprintln!("{question}\nnot at a terminal: run again with --yes to go ahead");
        return Ok(false);
    }
    eprint!("{question} Type yes to go ahead: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
