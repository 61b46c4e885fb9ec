//! `audit`: the audit trail, by profile, by the address a request named, or by the sign-in that asked.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use profile_link_core::{Identity, RegisteredEmail};

use super::{NOTHING_FOUND, TableName, profile_id};

/// Exactly one of: a profile, an address, a sign-in.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Whose {
    /// A profile id: every step of its links, oldest first.
    #[arg(long)]
    profile: Option<String>,
    /// An address as the person typed it: every request for it, matched or
    /// not, refused by a rate limit or not; its suppression; the trails of
    /// the profiles registered under it.
    #[arg(long)]
    email: Option<String>,
    /// A sign-in, as its issuer URL and subject: every request it made.
    #[arg(long, num_args = 2, value_names = ["ISS", "SUB"])]
    identity: Option<Vec<String>>,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Every step for one profile (requested, sent, delivered, linked, refused,
    /// unlinked …), or every request for one address or by one sign-in.
    Show {
        #[command(flatten)]
        whose: Whose,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: AuditCommand, table: &TableName) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Show { whose, json } => match (whose.profile, whose.email, whose.identity) {
            (Some(profile), _, _) => show(table, profile, json).await,
            (_, Some(email), _) => by_address(table, &email, json).await,
            (_, _, Some(identity)) => by_identity(table, &Identity::new(&identity[0], &identity[1]), json).await,
            _ => unreachable!("clap requires one of --profile, --email, --identity"),
        },
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

async fn by_address(table: &TableName, raw: &str, json: bool) -> anyhow::Result<ExitCode> {
    let address = RegisteredEmail::parse(raw)
        .map_err(|e| anyhow::anyhow!("{}: {e}; give the address as the person typed it", mask(raw)))?;
    let store = table.store().await?;
    let (requests, suppression, profiles) = tokio::try_join!(
        store.audit_by_address(&address),
        store.suppression(&address),
        store.profiles_by_email(&address)
    )?;
    let mut trails = Vec::new();
    for profile in &profiles {
        trails.push((profile.id.clone(), store.audit_trail(&profile.id).await?));
    }
    if json {
        for record in &requests {
            println!("{}", serde_json::to_string(record)?);
        }
        return Ok(if requests.is_empty() { ExitCode::from(NOTHING_FOUND) } else { ExitCode::SUCCESS });
    }
    use profile_link_admin::audit::{request_lines, request_records_kept, suppression_line};
    println!("requests for {} (kept {}):", address.masked(), request_records_kept());
    if requests.is_empty() {
        println!("none recorded");
    }
    for line in request_lines(&requests) {
        println!("{line}");
    }
    println!("{}", suppression_line(&address, suppression.as_ref()));
    if profiles.is_empty() {
        println!("no profile is registered under {}", address.masked());
    }
    for (id, trail) in &trails {
        println!("\nprofile {id}:");
        if trail.is_empty() {
            println!("no audit entries");
        } else {
            println!("{}", profile_link_admin::audit::table(trail));
        }
    }
    Ok(if requests.is_empty() && trails.iter().all(|(_, t)| t.is_empty()) {
        ExitCode::from(NOTHING_FOUND)
    } else {
        ExitCode::SUCCESS
    })
}

async fn by_identity(table: &TableName, identity: &Identity, json: bool) -> anyhow::Result<ExitCode> {
    let records = table.store().await?.audit_by_identity(identity).await?;
    if json {
        for record in &records {
            println!("{}", serde_json::to_string(record)?);
        }
    } else {
        use profile_link_admin::audit::{request_lines, request_records_kept, sign_in};
        println!("requests by {} (kept {}):", sign_in(&identity.issuer, &identity.subject), request_records_kept());
        if records.is_empty() {
            println!("none recorded");
        }
        for line in request_lines(&records) {
            println!("{line}");
        }
    }
    Ok(if records.is_empty() { ExitCode::from(NOTHING_FOUND) } else { ExitCode::SUCCESS })
}

/// An address that did not parse, as logs would show it.
fn mask(raw: &str) -> String {
    profile_link_core::domain::email::mask_email(raw)
}
