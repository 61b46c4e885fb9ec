//! `links`: list a profile's or a sign-in's links, revoke one, send one on a customer's behalf.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use profile_link_admin::links::{self, DEFAULT_SUPPORT_LINK_HOURS, SupportLink};
use profile_link_core::i18n::Locale;
use profile_link_core::{Identity, RegisteredEmail};

use super::{DECLINED, NOTHING_FOUND, TableName, confirmed, print_json, profile_id};

/// Exactly one of: a profile, a sign-in, a registered address.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Whose {
    /// A profile id: its sign-in and every link made for it.
    #[arg(long)]
    profile: Option<String>,
    /// A sign-in, as its issuer URL and subject: its profiles and pending links.
    #[arg(long, num_args = 2, value_names = ["ISS", "SUB"])]
    identity: Option<Vec<String>>,
    /// A registered address: every profile under it, as --profile.
    #[arg(long)]
    email: Option<String>,
}

#[derive(Subcommand)]
pub enum LinksCommand {
    /// Who is linked to a profile, which links were made for it, and in what state.
    List {
        #[command(flatten)]
        whose: Whose,
        #[arg(long)]
        json: bool,
    },
    /// Undo: unlink a profile from its sign-in (--profile), or burn one unused link (--link).
    Revoke {
        #[arg(long, conflicts_with = "link", required_unless_present = "link")]
        profile: Option<String>,
        /// A link id (`links list` shows them): base64url, so it may begin with `-`.
        #[arg(long, allow_hyphen_values = true)]
        link: Option<String>,
        /// Who is doing this, for the audit trail.
        #[arg(long, env = "PROFILE_LINK_OPERATOR")]
        operator: String,
        #[arg(long)]
        yes: bool,
    },
    /// Email a support-initiated link for a profile, redeemable only by one sign-in.
    Send(SendRequest),
}

// No doc comment: clap would take it for the subcommand's help, which is the variant's.
#[derive(Args)]
pub struct SendRequest {
    #[arg(long)]
    profile: String,
    /// The sign-in that may redeem it: issuer URL and subject.
    #[arg(long, num_args = 2, value_names = ["ISS", "SUB"])]
    to_identity: Vec<String>,
    /// How the email names the sign-in: up to 64 letters, digits, spaces
    /// or * @ . - _ (default: its subject, if it fits; else "an unnamed account").
    #[arg(long)]
    label: Option<String>,
    /// How long the link works, in hours (1-168).
    #[arg(long, default_value_t = DEFAULT_SUPPORT_LINK_HOURS)]
    lifetime_hours: i64,
    /// The email's language: en or de.
    #[arg(long, default_value = "en")]
    language: String,
    /// Who is doing this, for the audit trail.
    #[arg(long, env = "PROFILE_LINK_OPERATOR")]
    operator: String,
    #[arg(long)]
    yes: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(command: LinksCommand, table: &TableName, now: i64) -> anyhow::Result<ExitCode> {
    match command {
        LinksCommand::List { whose, json } => list(table, now, whose, json).await,
        LinksCommand::Revoke { profile, link, operator, yes } => revoke(table, now, profile, link, operator, yes).await,
        LinksCommand::Send(request) => send(table, now, request).await,
    }
}

async fn list(table: &TableName, now: i64, whose: Whose, json: bool) -> anyhow::Result<ExitCode> {
    let store = table.store().await?;
    if let Some(identity) = whose.identity {
        let report = store.links_for_identity(&Identity::new(&identity[0], &identity[1]), now).await?;
        if json {
            print_json(&report)?
        } else {
            println!("{}", links::identity_report(&report))
        }
        return Ok(ExitCode::SUCCESS);
    }
    let ids = match (whose.profile, whose.email) {
        (Some(profile), _) => vec![profile_id(&profile)?],
        (_, Some(email)) => {
            let email = RegisteredEmail::parse(&email).map_err(|e| anyhow::anyhow!("{email:?}: {e}"))?;
            store.profiles_by_email(&email).await?.into_iter().map(|p| p.id).collect()
        }
        _ => unreachable!("clap requires one of --profile, --identity, --email"),
    };
    if ids.is_empty() {
        eprintln!("no profile is registered under that address");
        return Ok(ExitCode::from(NOTHING_FOUND));
    }
    let mut reports = Vec::new();
    for id in &ids {
        reports.push(store.links_for_profile(id, now).await?);
    }
    if json {
        print_json(&reports)?;
    } else {
        let text: Vec<String> = reports.iter().map(links::profile_report).collect();
        println!("{}", text.join("\n\n"));
    }
    Ok(ExitCode::SUCCESS)
}

async fn revoke(
    table: &TableName,
    now: i64,
    profile: Option<String>,
    link: Option<String>,
    operator: String,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let store = table.store().await?;
    if let Some(link) = link {
        if !confirmed(&format!("Burn link {link}, so it can no longer be used?"), yes)? {
            return Ok(ExitCode::from(DECLINED));
        }
        return Ok(if store.revoke_link(&link, &operator, now).await? {
            println!("link {link} revoked");
            ExitCode::SUCCESS
        } else {
            eprintln!("link {link} is not in the table, or already used, burned or expired");
            ExitCode::from(NOTHING_FOUND)
        });
    }
    let id = profile_id(profile.as_deref().expect("clap requires --profile or --link"))?;
    let Some(owner) = store.owner_of(id.as_str()).await? else {
        eprintln!("profile {id} is not linked to any sign-in");
        return Ok(ExitCode::from(NOTHING_FOUND));
    };
    let who = profile_link_admin::audit::sign_in(&owner.issuer, &owner.subject);
    if !confirmed(&format!("Unlink profile {id} from {who}?"), yes)? {
        return Ok(ExitCode::from(DECLINED));
    }
    Ok(match store.revoke_owner(&id, &operator, now).await? {
        Some(_) => {
            println!("profile {id} unlinked from {who}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("profile {id} was unlinked meanwhile");
            ExitCode::from(NOTHING_FOUND)
        }
    })
}

async fn send(table: &TableName, now: i64, request: SendRequest) -> anyhow::Result<ExitCode> {
    let SendRequest { profile, to_identity, label, lifetime_hours, language, operator, yes, json } = request;
    let id = profile_id(&profile)?;
    let locale = match language.as_str() {
        "en" | "de" => Locale::from_tag(&language),
        other => anyhow::bail!("--language {other:?}: the emails are written in en and de"),
    };
    let (issuer, subject) = (&to_identity[0], &to_identity[1]);
    let question = format!(
        "Email a link for profile {id} to its registered address, redeemable by {} for {lifetime_hours} h?",
        profile_link_admin::audit::sign_in(issuer, subject)
    );
    if !confirmed(&question, yes)? {
        return Ok(ExitCode::from(DECLINED));
    }
    let request = SupportLink {
        profile: &id,
        issuer,
        subject,
        label: label.as_deref(),
        lifetime_hours,
        operator: &operator,
        locale,
    };
    let link_id = links::send_support_link(&table.store().await?, &request, now).await?;
    if json {
        print_json(&serde_json::json!({ "link_id": link_id.as_str(), "profile_id": id.as_str() }))?;
    } else {
        println!("link {link_id} recorded; the email goes out from the stream within seconds");
    }
    Ok(ExitCode::SUCCESS)
}
