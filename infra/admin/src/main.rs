//! `profile-link-admin`: operator commands. Tables for people by default,
//! `--json` for scripts. Exit codes (also in `--help`):
//! 0 done; 1 failed (configuration, AWS, input file); 2 done, but some CSV
//! rows were rejected; 3 not done: a destructive command was declined or
//! needs `--yes` when not run at a terminal; 4 nothing found to act on.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use profile_link_admin::links::{self, DEFAULT_SUPPORT_LINK_HOURS, SupportLink};
use profile_link_admin::{import, table::TableDefinition};
use profile_link_core::domain::profile::ProfileId;
use profile_link_core::i18n::Locale;
use profile_link_core::{Clock, Identity, RegisteredEmail, SessionKeys, Store, SystemClock};

const EXIT_CODES: &str = "Exit codes: 0 done; 1 failed; 2 done, some CSV rows rejected; \
3 declined, or a destructive command needs --yes when not at a terminal; 4 nothing found to act on.";

#[derive(Parser)]
#[command(name = "profile-link-admin", version, about = "Operate profile-link: profiles, links, audit, table, keys", after_help = EXIT_CODES)]
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
}

#[derive(Subcommand)]
enum ProfilesCommand {
    /// Import a CSV export with columns profile_id,email,display_name,organization.
    Import {
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
    },
}

/// Exactly one of: a profile, a sign-in, a registered address.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct Whose {
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
enum LinksCommand {
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
        #[arg(long)]
        link: Option<String>,
        /// Who is doing this, for the audit trail.
        #[arg(long, env = "PROFILE_LINK_OPERATOR")]
        operator: String,
        #[arg(long)]
        yes: bool,
    },
    /// Email a support-initiated link for a profile, redeemable only by one sign-in.
    Send {
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
    },
}

#[derive(Subcommand)]
enum SuppressionsCommand {
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
    /// Move profile owners written by versions before [10] (`PROFILE#<id>` /
    /// `OWNER`) to their own partition (`OWNER#<id>`); run once, before deploying.
    MigrateOwners,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new signing key set for SESSION_SIGNING_KEY: two ES256 (P-256)
    /// PKCS#8 PEM keys, the one that signs and the next one (published already,
    /// so the first `keys rotate` signs nobody out).
    Generate,
    /// Rotate the keys in SSM: the next key signs, a new next key is published,
    /// the key that signed so far keeps verifying; the one before it is dropped.
    /// Writes the public keys (SESSION_PUBLIC_KEYS) too. At most once per
    /// --min-interval-hours: a rotation drops a key sessions may still use.
    Rotate {
        /// The SecureString holding the private keys (SessionSigningKeyParameter).
        #[arg(long, default_value = "/profile-link/session-signing-key")]
        signing_key_parameter: String,
        /// The String holding their public part as JWKS (SessionPublicKeysParameter).
        #[arg(long, default_value = "/profile-link/session-public-keys")]
        public_keys_parameter: String,
        /// 0 to 8760 (a year).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(i64).range(0..=8760))]
        min_interval_hours: i64,
        /// Rotate even if the last change was less than --min-interval-hours ago.
        #[arg(long)]
        force: bool,
    },
    /// Print the public part (JWKS) of the private keys (PEM) read from stdin, for SESSION_PUBLIC_KEYS.
    Public,
}

const DECLINED: u8 = 3;
const NOTHING_FOUND: u8 = 4;

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

fn profile_id(raw: &str) -> anyhow::Result<ProfileId> {
    ProfileId::parse(raw).with_context(|| format!("{raw:?} is not a profile id (1-64 of A-Z a-z 0-9 . _ : -)"))
}

/// Asks before a destructive step; at no terminal, only `--yes` proceeds.
fn confirmed(question: &str, yes: bool) -> anyhow::Result<bool> {
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

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let table_name = || cli.table.clone().context("set --table or TABLE_NAME to the table's name");
    let store = || async { anyhow::Ok(Store::from_sdk_config(&aws_config::load_from_env().await, table_name()?)) };
    let now = SystemClock.now();
    match cli.command {
        Command::Audit(AuditCommand::Show { profile, json }) => {
            let id = profile_id(&profile)?;
            let records = store().await?.audit_trail(&id).await?;
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
        Command::Links(LinksCommand::List { whose, json }) => {
            let store = store().await?;
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
        Command::Links(LinksCommand::Revoke { profile, link, operator, yes }) => {
            let store = store().await?;
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
        Command::Links(LinksCommand::Send {
            profile,
            to_identity,
            label,
            lifetime_hours,
            language,
            operator,
            yes,
            json,
        }) => {
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
            let link_id = links::send_support_link(&store().await?, &request, now).await?;
            if json {
                print_json(&serde_json::json!({ "link_id": link_id.as_str(), "profile_id": id.as_str() }))?;
            } else {
                println!("link {link_id} recorded; the email goes out from the stream within seconds");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Suppressions(SuppressionsCommand::List { json }) => {
            let list = store().await?.suppressions().await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("no suppressed addresses");
            } else {
                println!("{}", profile_link_admin::links::suppressions_table(&list));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Suppressions(SuppressionsCommand::Lift { email, operator, yes }) => {
            let address = RegisteredEmail::parse(&email).map_err(|e| anyhow::anyhow!("{email:?}: {e}"))?;
            let store = store().await?;
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
        Command::Keys(KeysCommand::Generate) => {
            print!("{}{}", SessionKeys::generate_pem(), SessionKeys::generate_pem());
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(KeysCommand::Rotate {
            signing_key_parameter,
            public_keys_parameter,
            min_interval_hours,
            force,
        }) => {
            let sdk = aws_config::load_from_env().await;
            let ssm = aws_sdk_ssm::Client::new(&sdk);
            let now = SystemClock.now();
            let rotated = profile_link_admin::keys::rotate_in_ssm(
                &ssm,
                &signing_key_parameter,
                &public_keys_parameter,
                min_interval_hours * 3600,
                force,
                now,
            )
            .await;
            match rotated {
                Ok(r) => {
                    println!(
                        "signing with {}; next {}; previous {}",
                        r.signing,
                        r.next,
                        r.previous.as_deref().unwrap_or("none")
                    );
                    for dropped in r.dropped {
                        println!("dropped {dropped}: tokens it signed no longer verify");
                    }
                    println!("functions pick the keys up at their next cold start; nobody is signed out meanwhile");
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) if error.downcast_ref::<profile_link_admin::keys::RotationRefused>().is_some() => {
                    eprintln!("{error}");
                    Ok(ExitCode::from(DECLINED))
                }
                Err(error) => Err(error),
            }
        }
        Command::Keys(KeysCommand::Public) => {
            let pem = std::io::read_to_string(std::io::stdin()).context("reading the private key from stdin")?;
            // The issuer is not part of the published keys.
            let keys = SessionKeys::from_pem("", &pem)?;
            println!("{}", serde_json::to_string(keys.jwks())?);
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
        Command::Table(TableCommand::MigrateOwners) => {
            let moved = store().await?.migrate_owner_items().await?;
            println!("moved {moved} profile owner(s) to OWNER#<profile>");
            Ok(ExitCode::SUCCESS)
        }
        Command::Profiles(ProfilesCommand::Import { file, dry_run, prune, yes, quiet, json, parallel }) => {
            let input = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let size = input.metadata().map(|m| m.len()).unwrap_or(0);
            let store = store().await?;
            let bar = if quiet || json { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(size) };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {percent:>3}% {msg} {per_sec} {elapsed_precise} (eta {eta})",
                )
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
                    println!(
                        "revoked {} unused link(s) of profiles whose address changed (audited)",
                        report.links_revoked
                    );
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
            Ok(if report.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
    }
}
