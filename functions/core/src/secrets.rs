//! Secrets (OIDC client secret, session signing key). In AWS they come from SSM
//! Parameter Store SecureStrings (free at idle); locally from the environment
//! or a file. Each secret `NAME` is set by exactly one of `NAME`, `NAME_FILE`
//! or `NAME_SSM_PARAMETER`.
//!
//! Parameter Store serves 40 reads a second per account and region by
//! default, shared by every cold start, so a burst of cold starts can be
//! throttled. Its reads here have their own retry budget ([`SSM_AT_START`]
//! within [`SSM_START_DEADLINE`]), much longer than the SDK's 3 attempts in
//! about 150 ms, and a read that stays throttled says so.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_ssm::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::Backoff;

use crate::config::{ConfigError, Env};

/// Where a secret in a list comes from: an identity provider's client secret
/// or private key, or a portal's client secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Written in the list itself: the local stack's dev providers only.
    Inline(String),
    /// An SSM SecureString, read at cold start with the other secrets.
    Ssm(String),
}

/// A secret value that never prints itself.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reading {variable} from file {path}: {source}")]
    File { variable: &'static str, path: String, source: std::io::Error },
    #[error("reading SSM parameters {names:?}: {message}")]
    Ssm { names: Vec<String>, message: String },
    #[error(
        "reading SSM parameters {names:?}: throttled by Parameter Store on all {attempts} attempts over {:.1} s \
         (its default is 40 reads a second per account and region, shared by every cold start: \
         see docs/operating.md#parameter-store-reads-at-cold-start)",
        waited.as_secs_f64()
    )]
    SsmThrottled { names: Vec<String>, attempts: u32, waited: Duration },
}

/// Reads of SSM at cold start: up to 7 sends, waits with ceilings 100 ms
/// doubling to 3.2 s (6.3 s in all at worst, about half that on average).
pub const SSM_AT_START: Backoff = Backoff { attempts: 7, first: Duration::from_millis(100) };
/// No retry starts after this much time since the first send: with one
/// attempt's 2 s timeout after it, a start still fits Lambda's 10 s init.
pub const SSM_START_DEADLINE: Duration = Duration::from_secs(7);

enum Source {
    Inline(String),
    File(String),
    Ssm(String),
}

fn source_of(env: &Env, name: &'static str) -> Result<Source, ConfigError> {
    let file_var: &'static str = leak(format!("{name}_FILE"));
    let ssm_var: &'static str = leak(format!("{name}_SSM_PARAMETER"));
    let found: Vec<Source> = [
        env.get(name).map(|v| Source::Inline(v.to_owned())),
        env.get(file_var).map(|v| Source::File(v.to_owned())),
        env.get(ssm_var).map(|v| Source::Ssm(v.to_owned())),
    ]
    .into_iter()
    .flatten()
    .collect();
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one element")),
        0 => Err(ConfigError::invalid(name, format!("set one of {name}, {file_var} or {ssm_var}"))),
        _ => Err(ConfigError::invalid(name, format!("set only one of {name}, {file_var} or {ssm_var}"))),
    }
}

// Variable names are built once per cold start; leaking a few bytes keeps errors `'static`.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Loads every named secret, fetching all SSM-held ones in one `GetParameters` call.
pub async fn load(
    env: &Env,
    sdk: &aws_config::SdkConfig,
    names: &[&'static str],
) -> Result<HashMap<&'static str, Secret>, SecretError> {
    let mut out = HashMap::new();
    let mut from_ssm: Vec<(&'static str, String)> = Vec::new();
    for &name in names {
        match source_of(env, name)? {
            Source::Inline(v) => {
                out.insert(name, Secret(v.trim().to_owned()));
            }
            Source::File(path) => {
                let v = std::fs::read_to_string(&path).map_err(|source| SecretError::File {
                    variable: name,
                    path: path.clone(),
                    source,
                })?;
                out.insert(name, Secret(v.trim().to_owned()));
            }
            Source::Ssm(parameter) => from_ssm.push((name, parameter)),
        }
    }
    let wanted: Vec<String> = from_ssm.iter().map(|(_, p)| p.clone()).collect();
    let mut fetched = fetch_parameters(sdk, &wanted).await?;
    for (name, parameter) in from_ssm {
        out.insert(name, fetched.remove(&parameter).expect("fetched every wanted parameter"));
    }
    Ok(out)
}

/// Reads SSM parameters (SecureStrings decrypted), ten to a `GetParameters`
/// call as SSM allows: every name or an error naming those it lacks.
pub async fn fetch_parameters(
    sdk: &aws_config::SdkConfig,
    names: &[String],
) -> Result<HashMap<String, Secret>, SecretError> {
    let (found, missing) = fetch_existing_parameters(sdk, names).await?;
    if !missing.is_empty() {
        return Err(SecretError::Ssm { names: names.to_vec(), message: format!("not found: {missing:?}") });
    }
    Ok(found)
}

/// [`fetch_parameters`], with the names SSM does not have (or that have no
/// value) returned beside the others instead of failing them all: a list
/// whose entries each name their own secret can drop only the entries whose
/// secret is missing. Any other SSM failure is still an error.
pub async fn fetch_existing_parameters(
    sdk: &aws_config::SdkConfig,
    names: &[String],
) -> Result<(HashMap<String, Secret>, Vec<String>), SecretError> {
    let mut out = HashMap::new();
    let mut missing = Vec::new();
    if names.is_empty() {
        return Ok((out, missing));
    }
    // The retries are this module's (see `get_parameters`), not the SDK's.
    let client = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(sdk).retry_config(aws_config::retry::RetryConfig::disabled()).build(),
    );
    let mut unique: Vec<String> = names.to_vec();
    unique.sort();
    unique.dedup();
    for chunk in unique.chunks(10) {
        let response = get_parameters(&client, chunk).await?;
        for parameter in chunk {
            let value =
                response.parameters().iter().find(|p| p.name() == Some(parameter.as_str())).and_then(|p| p.value());
            match value {
                Some(value) => {
                    out.insert(parameter.clone(), Secret(value.trim().to_owned()));
                }
                None => missing.push(parameter.clone()),
            }
        }
    }
    Ok((out, missing))
}

type GetParametersError = SdkError<aws_sdk_ssm::operation::get_parameters::GetParametersError>;

/// One `GetParameters` call, sent again after throttling or a transient
/// failure (no answer, a timeout, a 5xx) with [`SSM_AT_START`]'s jittered
/// waits until [`SSM_START_DEADLINE`]; any other failure is final at once.
async fn get_parameters(
    client: &aws_sdk_ssm::Client,
    names: &[String],
) -> Result<aws_sdk_ssm::operation::get_parameters::GetParametersOutput, SecretError> {
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let error = match client.get_parameters().set_names(Some(names.to_vec())).with_decryption(true).send().await {
            Ok(response) => return Ok(response),
            Err(error) => error,
        };
        let failure = SsmFailure::of(&error);
        let wait = SSM_AT_START.wait(attempt);
        let in_time = started.elapsed() + wait < SSM_START_DEADLINE;
        if failure != SsmFailure::Final && attempt < SSM_AT_START.attempts && in_time {
            tokio::time::sleep(wait).await;
            attempt += 1;
            continue;
        }
        return Err(match failure {
            SsmFailure::Throttled => {
                SecretError::SsmThrottled { names: names.to_vec(), attempts: attempt, waited: started.elapsed() }
            }
            _ => SecretError::Ssm { names: names.to_vec(), message: crate::aws::error_line(&error) },
        });
    }
}

/// What a failed SSM read calls for.
#[derive(Debug, PartialEq, Eq)]
enum SsmFailure {
    Throttled,
    /// No answer, a timeout, or the service's own failure: another send may succeed.
    Transient,
    /// Denied, invalid, or anything else another send would repeat.
    Final,
}

impl SsmFailure {
    fn of(error: &GetParametersError) -> Self {
        match error {
            SdkError::ServiceError(service) => {
                let throttled =
                    matches!(error.code(), Some("ThrottlingException" | "Throttling" | "TooManyRequestsException"))
                        || service.raw().status().as_u16() == 429;
                if throttled {
                    Self::Throttled
                } else if service.raw().status().is_server_error() {
                    Self::Transient
                } else {
                    Self::Final
                }
            }
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => Self::Transient,
            _ => Self::Final,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build()
    }

    #[tokio::test]
    async fn reads_inline_and_file_secrets() {
        let dir = std::env::temp_dir().join(format!("pl-secret-{}", crate::random::token(6)));
        std::fs::write(&dir, "from-file\n").unwrap();
        let env = Env::from_pairs([("A", "inline"), ("B_FILE", dir.to_str().unwrap())]);
        let secrets = load(&env, &sdk(), &["A", "B"]).await.unwrap();
        assert_eq!(secrets["A"].expose(), "inline");
        assert_eq!(secrets["B"].expose(), "from-file");
        assert_eq!(format!("{:?}", secrets["A"]), "Secret(***)");
        std::fs::remove_file(dir).unwrap();
    }

    #[tokio::test]
    async fn requires_exactly_one_source() {
        let none = load(&Env::default(), &sdk(), &["A"]).await.unwrap_err();
        assert!(none.to_string().contains("set one of A, A_FILE or A_SSM_PARAMETER"), "{none}");
        let two = Env::from_pairs([("A", "x"), ("A_SSM_PARAMETER", "/p")]);
        let err = load(&two, &sdk(), &["A"]).await.unwrap_err();
        assert!(err.to_string().contains("only one"), "{err}");
    }

    #[test]
    fn the_start_budget_fits_lambdas_init_and_outlasts_the_sdks() {
        // The last send may start just before the deadline and take one attempt's timeout.
        assert!(
            SSM_START_DEADLINE + crate::aws::ATTEMPT_TIMEOUT <= Duration::from_secs(9),
            "inside Lambda's 10 s init"
        );
        assert!(SSM_AT_START.worst_case() <= SSM_START_DEADLINE, "{:?}", SSM_AT_START.worst_case());
        let sdk_worst = Backoff { attempts: crate::aws::MAX_ATTEMPTS, first: crate::aws::INITIAL_BACKOFF }.worst_case();
        assert!(SSM_AT_START.worst_case() > sdk_worst * 20, "{:?} against the SDK's {sdk_worst:?}", SSM_AT_START);
        let said =
            SecretError::SsmThrottled { names: vec!["/p".into()], attempts: 7, waited: Duration::from_millis(3456) }
                .to_string();
        assert!(said.contains("throttled by Parameter Store on all 7 attempts over 3.5 s"), "{said}");
    }

    #[tokio::test]
    async fn names_a_missing_file() {
        let env = Env::from_pairs([("A_FILE", "/nonexistent/secret")]);
        let err = load(&env, &sdk(), &["A"]).await.unwrap_err();
        assert!(err.to_string().contains("A from file /nonexistent/secret"), "{err}");
    }
}
