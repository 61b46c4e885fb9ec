//! `keys`: generate, rotate and publish the session signing keys.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use profile_link_core::{Clock, SessionKeys, SystemClock};

use super::DECLINED;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print a new signing key set for SESSION_SIGNING_KEY: two EC P-256 keys
    /// (PKCS#8 PEM; ES256: sessions, and portals that registered ES256) and two
    /// RSA keys (PKCS#1 PEM; RS256: every other portal's ID tokens); of each,
    /// the one that signs and the next one (published already, so the first
    /// `keys rotate` signs nobody out).
    Generate,
    /// Rotate the keys in SSM, EC and RSA alike: the next key signs, a new next
    /// key is published, the key that signed so far keeps verifying; the one
    /// before it is dropped. A set without RSA keys (written before they
    /// existed) only gets them added, at any time.
    /// Writes the public keys (SESSION_PUBLIC_KEYS) too. At most once per
    /// --min-interval-hours: a rotation drops a key sessions may still use.
    Rotate {
        #[command(flatten)]
        parameters: KeyParameters,
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

/// Where the keys are: the template's parameters, under the names the functions read them by.
#[derive(Args)]
pub struct KeyParameters {
    /// The SecureString holding the private keys (SessionSigningKeyParameter).
    #[arg(long, env = "SESSION_SIGNING_KEY_SSM_PARAMETER", default_value = "/profile-link/session-signing-key")]
    pub signing_key_parameter: String,
    /// The String holding their public part as JWKS (SessionPublicKeysParameter).
    #[arg(long, env = "SESSION_PUBLIC_KEYS_SSM_PARAMETER", default_value = "/profile-link/session-public-keys")]
    pub public_keys_parameter: String,
}

pub async fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Generate => generate(),
        KeysCommand::Rotate { parameters, min_interval_hours, force } => {
            rotate(parameters.signing_key_parameter, parameters.public_keys_parameter, min_interval_hours, force).await
        }
        KeysCommand::Public => public(),
    }
}

fn generate() -> anyhow::Result<ExitCode> {
    use profile_link_core::session::{generate_ec_pem, generate_rsa_pem};
    print!("{}{}{}{}", generate_ec_pem(), generate_ec_pem(), generate_rsa_pem(), generate_rsa_pem());
    Ok(ExitCode::SUCCESS)
}

async fn rotate(
    signing_key_parameter: String,
    public_keys_parameter: String,
    min_interval_hours: i64,
    force: bool,
) -> anyhow::Result<ExitCode> {
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
            for kind in r.kinds {
                println!(
                    "signing with {}; next {}; previous {}",
                    kind.signing,
                    kind.next,
                    kind.previous.as_deref().unwrap_or("none")
                );
            }
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

fn public() -> anyhow::Result<ExitCode> {
    let pem = std::io::read_to_string(std::io::stdin()).context("reading the private key from stdin")?;
    // The issuer is not part of the published keys.
    let keys = SessionKeys::from_pem("", &pem)?;
    println!("{}", serde_json::to_string(keys.jwks())?);
    Ok(ExitCode::SUCCESS)
}
