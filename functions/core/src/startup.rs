//! What every HTTP function builds at cold start, and why it could not.

use std::collections::HashMap;

use crate::config::{ConfigError, Env, SiteConfig};
use crate::downstream::{ClientId, PortalClients};
use crate::secrets::SecretSource;
use crate::secrets::{self, Secret, SecretError};
use crate::session::{SessionKeyError, SessionKeys, SessionVerifier};
use crate::store::Store;
use crate::upstream::Providers;
use crate::upstream::{IdentityProviders, OidcClient, OidcConfig};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("SESSION_SIGNING_KEY: {0}")]
    SessionKey(#[from] SessionKeyError),
    #[error("SESSION_PUBLIC_KEYS: {0}")]
    SessionPublicKeys(SessionKeyError),
}

/// Ends a process that cannot start, with one line that says why: it is a
/// message for the operator, and a backtrace (or `main`'s `Debug` print of the
/// error) would bury it. The line goes through the function's own log format
/// once telemetry is up, so a Lambda's init failure is one JSON log line.
pub fn exit_cannot_start(error: &dyn std::fmt::Display) -> ! {
    let line = cannot_start_line(error);
    if tracing::dispatcher::has_been_set() {
        tracing::error!("{line}");
    } else {
        eprintln!("error: {line}");
    }
    std::process::exit(1)
}

fn cannot_start_line(error: &dyn std::fmt::Display) -> String {
    // `{:#}` joins an anyhow chain with ": "; other errors ignore the flag.
    let message = format!("{error:#}").replace('\n', " ");
    format!("cannot start: {message}")
}

/// `result.or_exit()`: the value, or [`exit_cannot_start`] with the error.
pub trait OrExit<T> {
    fn or_exit(self) -> T;
}

impl<T, E: std::fmt::Display> OrExit<T> for Result<T, E> {
    fn or_exit(self) -> T {
        self.unwrap_or_else(|error| exit_cannot_start(&error))
    }
}

/// The session keys, from `SESSION_SIGNING_KEY` (or its `_FILE`/`_SSM_PARAMETER`
/// form), fetched together with any `other_secrets` in one SSM call.
pub async fn session_keys_and_secrets(
    env: &Env,
    sdk: &aws_config::SdkConfig,
    site: &SiteConfig,
    other_secrets: &[&'static str],
) -> Result<(SessionKeys, Vec<Secret>), StartupError> {
    let mut names = vec!["SESSION_SIGNING_KEY"];
    names.extend_from_slice(other_secrets);
    let mut loaded = secrets::load(env, sdk, &names).await?;
    let key = loaded.remove("SESSION_SIGNING_KEY").expect("loaded every named secret");
    let keys = SessionKeys::from_pem(&site.public_base_url.origin(), key.expose())?;
    let others = other_secrets.iter().map(|n| loaded.remove(n).expect("loaded every named secret")).collect();
    Ok((keys, others))
}

/// Only the public session keys, for a function that verifies sessions but
/// never issues them: `SESSION_PUBLIC_KEYS` (or its `_FILE`/`_SSM_PARAMETER`
/// form) is the JWKS that `/.well-known/jwks.json` serves. Not a secret, but
/// it comes from the same places.
pub async fn session_verifier(
    env: &Env,
    sdk: &aws_config::SdkConfig,
    site: &SiteConfig,
) -> Result<SessionVerifier, StartupError> {
    Ok(session_verifier_and_secrets(env, sdk, site, &[]).await?.0)
}

/// [`session_verifier`], with any `other_secrets` fetched in the same SSM call.
pub async fn session_verifier_and_secrets(
    env: &Env,
    sdk: &aws_config::SdkConfig,
    site: &SiteConfig,
    other_secrets: &[&'static str],
) -> Result<(SessionVerifier, Vec<Secret>), StartupError> {
    let mut names = vec!["SESSION_PUBLIC_KEYS"];
    names.extend_from_slice(other_secrets);
    let mut loaded = secrets::load(env, sdk, &names).await?;
    let jwks = loaded.remove("SESSION_PUBLIC_KEYS").expect("loaded every named secret");
    let verifier = SessionVerifier::from_jwks(&site.public_base_url.origin(), jwks.expose())
        .map_err(StartupError::SessionPublicKeys)?;
    let others = other_secrets.iter().map(|n| loaded.remove(n).expect("loaded every named secret")).collect();
    Ok((verifier, others))
}

/// The relying party for every provider in `list` (the `PROVIDERS` JSON),
/// with their client secrets or keys: those kept in SSM in as few calls as
/// SSM allows, each under `PROVIDER_SECRETS_PATH` when that is set (the
/// path the function's IAM policy may read: a parameter elsewhere is a
/// configuration error that says so, not an AccessDenied at the first sign-in).
pub async fn identity_providers(
    env: &Env,
    sdk: &aws_config::SdkConfig,
    site: &SiteConfig,
    list: &Secret,
) -> Result<IdentityProviders, StartupError> {
    let providers = Providers::parse(list.expose())?;
    let listed = providers.iter().map(|p| (p.id.as_str(), Some(&p.credential)));
    let mut credentials =
        listed_secrets(env, sdk, crate::upstream::PROVIDERS, "PROVIDER_SECRETS_PATH", "provider", listed).await?;
    let mut clients = Vec::with_capacity(providers.len());
    for provider in providers.iter().cloned() {
        // Every provider is needed: people chose theirs, and a missing one would be a button that fails.
        let credential = credentials
            .remove(provider.id.as_str())
            .expect("every provider has a credential")
            .map_err(|problem| ConfigError::invalid(crate::upstream::PROVIDERS, problem))?;
        clients.push(OidcClient::new(OidcConfig::new(provider, credential, &site.public_base_url)?));
    }
    Ok(IdentityProviders::new(clients))
}

/// The secrets a configured list names (`list_variable`, each entry
/// `kind` `id`): inline ones as they are, those in SSM in as few calls as
/// SSM allows. Each is the secret or why it could not be had: its parameter
/// is missing, or not under the path `path_variable` names when that is set
/// (the path the function's IAM policy may read: a parameter elsewhere is a
/// problem that says so, not an AccessDenied at first use). The caller
/// decides whether one entry's problem stops the function. An SSM failure
/// that is no single entry's is an error.
async fn listed_secrets<'a>(
    env: &Env,
    sdk: &aws_config::SdkConfig,
    list_variable: &'static str,
    path_variable: &'static str,
    kind: &str,
    listed: impl Iterator<Item = (&'a str, Option<&'a SecretSource>)>,
) -> Result<HashMap<String, Result<Secret, String>>, StartupError> {
    let listed: Vec<(&str, &SecretSource)> = listed.filter_map(|(id, source)| Some((id, source?))).collect();
    let path = env.get(path_variable);
    let outside = |name: &str| path.filter(|path| !name.starts_with(path));
    let in_ssm: Vec<String> = listed
        .iter()
        .filter_map(|(_, source)| match source {
            SecretSource::Ssm(name) if outside(name).is_none() => Some(name.clone()),
            _ => None,
        })
        .collect();
    let (fetched, _missing) = secrets::fetch_existing_parameters(sdk, &in_ssm).await?;
    Ok(listed
        .into_iter()
        .map(|(id, source)| {
            let secret = match source {
                SecretSource::Inline(value) => Ok(Secret::new(value.trim())),
                SecretSource::Ssm(name) => match (outside(name), fetched.get(name)) {
                    (Some(path), _) => Err(format!(
                        "{kind} {id:?}: its parameter {name} is not under {path_variable} {path}, the only path this function may read ({list_variable})"
                    )),
                    (None, Some(secret)) => Ok(secret.clone()),
                    (None, None) => {
                        Err(format!("{kind} {id:?}: its parameter {name} is not in SSM, or has no value ({list_variable})"))
                    }
                },
            };
            (id.to_owned(), secret)
        })
        .collect())
}

/// The key the init-time reads below look up: no item has it.
pub const WARM_UP_KEY: &str = "warm-up";

/// Opens the function's connection to DynamoDB during init, so that its first
/// request finds it open instead of paying for DNS, TCP and TLS. Run it
/// concurrently with what init waits for anyway (the SSM secrets, the
/// identity provider): `read` is one read the function's IAM policy allows,
/// of [`WARM_UP_KEY`], which finds nothing. Its answer and any error are
/// ignored; requests report their own.
pub async fn open_table_connection<T, E, F>(env: &Env, sdk: &aws_config::SdkConfig, read: impl FnOnce(Store) -> F)
where
    F: std::future::Future<Output = Result<T, E>>,
{
    if let Some(table) = env.get("TABLE_NAME") {
        // Clients of one `SdkConfig` share its HTTP client, so the app's store reuses this connection.
        let _ = read(Store::from_sdk_config(sdk, table)).await;
    }
}

/// The portal clients `list` (the `PORTAL_CLIENTS` JSON) registers, each
/// checked on its own: a refused entry is logged and counted
/// (`PortalClientRefused`) and left out, and the others work. Only a list
/// that is not JSON at all stops the function.
pub fn portal_clients(list: &Secret, function: &'static str) -> Result<PortalClients, StartupError> {
    let (clients, refused) = PortalClients::parse_each(list.expose())?;
    for refusal in &refused {
        report_refused_client(function, refusal.id.as_deref(), &refusal.problem);
    }
    Ok(clients)
}

/// One line, one count: a client the portals' list names but this function
/// leaves out, so that the alarm on `PortalClientRefused` reaches an operator.
fn report_refused_client(function: &'static str, id: Option<&str>, problem: &str) {
    tracing::error!(
        client = id.unwrap_or("(no readable id)"),
        problem,
        "portal client refused: fix it in PORTAL_CLIENTS (profile-link-admin portals check); the other portals work"
    );
    crate::metrics::Emf::new(function).count("PortalClientRefused", 1).emit();
}

/// Each confidential portal client's secret, those in SSM under
/// `PORTAL_SECRETS_PATH`; a client whose secret cannot be read is refused
/// alone (logged and counted like a malformed entry) and left out of the
/// clients returned.
pub async fn portal_client_secrets(
    env: &Env,
    sdk: &aws_config::SdkConfig,
    clients: PortalClients,
    function: &'static str,
) -> Result<(PortalClients, HashMap<ClientId, Secret>), StartupError> {
    let (secrets, unreadable) = read_portal_client_secrets(env, sdk, &clients).await?;
    for (id, problem) in &unreadable {
        report_refused_client(function, Some(id.as_str()), problem);
    }
    let refused: Vec<ClientId> = unreadable.into_iter().map(|(id, _)| id).collect();
    Ok((clients.without(&refused), secrets))
}

/// The confidential clients' secrets that can be read, and each client
/// whose secret cannot with why (also what `profile-link-admin portals
/// check` reports).
pub async fn read_portal_client_secrets(
    env: &Env,
    sdk: &aws_config::SdkConfig,
    clients: &PortalClients,
) -> Result<(HashMap<ClientId, Secret>, Vec<(ClientId, String)>), StartupError> {
    let listed = clients.iter().map(|c| (c.id.as_str(), c.secret.as_ref()));
    let mut fetched =
        listed_secrets(env, sdk, crate::downstream::PORTAL_CLIENTS, "PORTAL_SECRETS_PATH", "client", listed).await?;
    let mut secrets = HashMap::new();
    let mut unreadable = Vec::new();
    for client in clients.iter() {
        match fetched.remove(client.id.as_str()) {
            None => {}
            Some(Ok(secret)) => {
                secrets.insert(client.id.clone(), secret);
            }
            Some(Err(problem)) => unreadable.push((client.id.clone(), problem)),
        }
    }
    Ok((secrets, unreadable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_start_is_one_line_naming_the_variable() {
        let error = StartupError::from(ConfigError::invalid("LINK_TTL_SECONDS", "5 is outside 300..=604800"));
        assert_eq!(
            cannot_start_line(&error),
            "cannot start: configuration: LINK_TTL_SECONDS: 5 is outside 300..=604800"
        );
        let chained = anyhow::Error::from(error).context("login function configuration");
        let line = cannot_start_line(&chained);
        assert_eq!(
            line,
            "cannot start: login function configuration: configuration: LINK_TTL_SECONDS: 5 is outside 300..=604800",
            "{line}"
        );
    }
}
