//! `portals`: register, list, check and remove the portals profile-link is
//! the OpenID Provider of, in SSM where the functions read them.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use profile_link_admin::portals::{self, Location, NewClient};
use profile_link_core::downstream::TokenEndpointAuth;

use super::{DECLINED, NOTHING_FOUND, REFUSED_ENTRIES, confirmed, print_json};

/// Where the list and the secrets live: the template's parameters, under the
/// names the functions read them by.
#[derive(Args)]
pub struct Where {
    /// The String parameter holding the client list (the stack's PortalClientsParameter).
    #[arg(long, env = "PORTAL_CLIENTS_SSM_PARAMETER", default_value = "/profile-link/portal-clients", global = true)]
    clients_parameter: String,
    /// The path the clients' secrets are kept under (the stack's PortalSecretsPath).
    #[arg(long, env = "PORTAL_SECRETS_PATH", default_value = "/profile-link/portals/", global = true)]
    secrets_path: String,
}

impl Where {
    pub fn location(self) -> Location {
        Location { clients_parameter: self.clients_parameter, secrets_path: self.secrets_path }
    }
}

#[derive(Subcommand)]
pub enum PortalsCommand {
    /// Register a portal. A confidential client gets a generated secret,
    /// stored as a SecureString under --secrets-path and printed once.
    Add {
        /// 1-64 of A-Z a-z 0-9 . _ -
        #[arg(long)]
        id: String,
        /// How pages name it ("Back to Contoso portal").
        #[arg(long)]
        name: String,
        /// Where codes may be sent; repeat for several. https (plain http only on loopback).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may return to; repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// How it authenticates at /token: none is a public client (a browser or native app, PKCE alone).
        #[arg(long, value_enum, default_value_t = Auth::ClientSecretBasic)]
        auth: Auth,
        #[arg(long)]
        json: bool,
    },
    /// The registered portals (secrets never shown).
    List {
        #[arg(long)]
        json: bool,
    },
    /// What the functions would make of the list: each refused entry and why
    /// (exit 2 if any). --file checks a list before it is stored.
    Check {
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Remove a portal and its secret parameter: it can no longer sign anyone in.
    Remove {
        #[arg(long)]
        id: String,
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Auth {
    #[value(name = "client_secret_basic")]
    ClientSecretBasic,
    #[value(name = "client_secret_post")]
    ClientSecretPost,
    #[value(name = "none")]
    None,
}

impl From<Auth> for TokenEndpointAuth {
    fn from(auth: Auth) -> Self {
        match auth {
            Auth::ClientSecretBasic => TokenEndpointAuth::ClientSecretBasic,
            Auth::ClientSecretPost => TokenEndpointAuth::ClientSecretPost,
            Auth::None => TokenEndpointAuth::None,
        }
    }
}

const PICKED_UP: &str = "the functions read the list at their next cold start";

pub async fn run(command: PortalsCommand, place: Where) -> anyhow::Result<ExitCode> {
    let location = place.location();
    let sdk = aws_config::load_from_env().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    match command {
        PortalsCommand::Add { id, name, redirect_uris, post_logout_redirect_uris, auth, json } => {
            let client = NewClient { id, name, redirect_uris, post_logout_redirect_uris, auth: auth.into() };
            let added = portals::add(&ssm, &location, &client).await?;
            if json {
                let (parameter, secret) = added.secret.unzip();
                print_json(&serde_json::json!({
                    "client_id": client.id,
                    "client_secret": secret,
                    "client_secret_parameter": parameter,
                }))?;
            } else {
                println!("added {:?} to {}; {PICKED_UP}", client.id, location.clients_parameter);
                if let Some((parameter, secret)) = added.secret {
                    println!("client secret (shown only now; kept in {parameter}): {secret}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PortalsCommand::List { json } => {
            let listed = portals::without_secrets(&portals::read_list(&ssm, &location).await?);
            if json {
                print_json(&listed)?;
            } else if listed.is_empty() {
                println!("no portals in {}", location.clients_parameter);
            }
            for entry in listed.iter().filter(|_| !json) {
                let field = |name: &str| entry.get(name).map(|v| v.to_string()).unwrap_or_else(|| "-".into());
                println!(
                    "{}  {}  auth {}  redirect_uris {}  secret {}",
                    field("id"),
                    field("name"),
                    entry.get("token_endpoint_auth_method").map_or("client_secret_basic".into(), |v| v.to_string()),
                    field("redirect_uris"),
                    entry.get("client_secret_parameter").map_or(field("client_secret"), |v| v.to_string()),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PortalsCommand::Check { file } => {
            let (source, json) = match file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                    (path.display().to_string(), text)
                }
                None => (location.clients_parameter.clone(), portals::read_stored(&ssm, &location).await?),
            };
            let (kept, refused) =
                portals::check(&sdk, &location, &json).await.with_context(|| format!("checking {source}"))?;
            println!("{source}: {} client(s) work: {}", kept.len(), kept.join(", "));
            for refusal in &refused {
                println!("refused: {refusal}");
            }
            Ok(if refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(REFUSED_ENTRIES) })
        }
        PortalsCommand::Remove { id, yes } => {
            if portals::find(&ssm, &location, &id).await?.is_none() {
                eprintln!("{id:?} is not in {}", location.clients_parameter);
                return Ok(ExitCode::from(NOTHING_FOUND));
            }
            if !confirmed(&format!("Remove portal {id:?}? It can no longer sign anyone in."), yes)? {
                return Ok(ExitCode::from(DECLINED));
            }
            let Some(removed) = portals::remove(&ssm, &location, &id).await? else {
                return Ok(ExitCode::from(NOTHING_FOUND));
            };
            println!("removed {id:?} from {}; {PICKED_UP}", location.clients_parameter);
            if let Some(parameter) = removed.secret_parameter {
                println!("deleted its secret {parameter}");
            }
            if let Some(parameter) = removed.left_alone {
                println!("left its secret {parameter} alone: it is not under {}", location.secrets_path);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
