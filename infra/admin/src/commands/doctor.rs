//! `doctor`: the read-only preflight (`profile_link_admin::doctor`), one
//! line per check; exit 0 when it is safe to go ahead, 1 when a check failed.

use std::process::ExitCode;

use clap::Args;
use profile_link_admin::doctor::{self, Stack};

use super::TableName;
use super::keys::KeyParameters;
use super::portals::Where;

/// What to check: the stack's parameters and outputs, by the flags (and
/// variables) the other commands and the functions use.
#[derive(Args)]
pub struct DoctorArgs {
    /// The String parameter holding the identity providers (the stack's ProvidersParameter).
    #[arg(long, env = "PROVIDERS_SSM_PARAMETER", default_value = "/profile-link/providers")]
    providers_parameter: String,
    /// The path the providers' secrets and keys are kept under (ProviderSecretsPath).
    #[arg(long, env = "PROVIDER_SECRETS_PATH", default_value = "/profile-link/providers/")]
    provider_secrets_path: String,
    #[command(flatten)]
    portals: Where,
    #[command(flatten)]
    keys: KeyParameters,
    /// Where people reach the service (the stack's OpenIdProviderIssuer output): its JWKS is compared with the signing keys.
    #[arg(long, env = "PUBLIC_BASE_URL")]
    public_base_url: Option<String>,
    /// The sender (the stack's MailFrom): its SES identity must be verified.
    #[arg(long, env = "MAIL_FROM")]
    mail_from: Option<String>,
    /// The stack's SendEmailsReservedConcurrency.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i32).range(0..=1000))]
    send_emails_reserved_concurrency: i32,
    /// The people the onboarding expects in its busiest hour (docs/capacity.md): SES, Parameter Store and the table must carry them.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    expected_people_per_hour: u64,
    /// The emails of that hour, if not 3 a person (1.5 profiles, a link and a notice each).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    expected_emails_per_hour: Option<u64>,
    /// One JSON object per check instead of lines for people.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: DoctorArgs, table: &TableName) -> anyhow::Result<ExitCode> {
    let stack = Stack {
        providers_parameter: args.providers_parameter,
        provider_secrets_path: args.provider_secrets_path,
        portals: args.portals.location(),
        signing_key_parameter: args.keys.signing_key_parameter,
        public_keys_parameter: args.keys.public_keys_parameter,
        public_base_url: args.public_base_url,
        table: table.get().ok(),
        mail_from: args.mail_from,
        send_emails_reserved_concurrency: args.send_emails_reserved_concurrency,
        expected_people_per_hour: args.expected_people_per_hour,
        expected_emails_per_hour: args.expected_emails_per_hour,
    };
    let sdk = aws_config::load_from_env().await;
    let checks = doctor::run(&sdk, &stack).await;
    if args.json {
        super::print_json(&checks)?;
    } else {
        for check in &checks {
            println!("{}", check.line());
        }
    }
    Ok(if doctor::go_ahead(&checks) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
