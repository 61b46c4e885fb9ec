//! `table`: create the table from template.yaml, and migrate old items.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use profile_link_admin::table::TableDefinition;

use super::TableName;

#[derive(Subcommand)]
pub enum TableCommand {
    /// Create the table if it does not exist (exit 0 either way).
    Create {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
    },
    /// Move profile owners written by versions before [10] (`PROFILE#<id>` /
    /// `OWNER`) to their own partition (`OWNER#<id>`); run once, before deploying.
    MigrateOwners,
}

pub async fn run(command: TableCommand, table: &TableName) -> anyhow::Result<ExitCode> {
    match command {
        TableCommand::Create { template } => create(table, template).await,
        TableCommand::MigrateOwners => migrate_owners(table).await,
    }
}

async fn create(table: &TableName, template: PathBuf) -> anyhow::Result<ExitCode> {
    let name = table.get()?;
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

async fn migrate_owners(table: &TableName) -> anyhow::Result<ExitCode> {
    let moved = table.store().await?.migrate_owner_items().await?;
    println!("moved {moved} profile owner(s) to OWNER#<profile>");
    Ok(ExitCode::SUCCESS)
}
