//! Secrets (OIDC client secret, session signing key). In AWS they come from SSM
//! Parameter Store SecureStrings (free at idle); locally from the environment
//! or a file. Each secret `NAME` is set by exactly one of `NAME`, `NAME_FILE`
//! or `NAME_SSM_PARAMETER`.

use std::collections::HashMap;

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
}

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
    let client = aws_sdk_ssm::Client::new(sdk);
    let mut unique: Vec<String> = names.to_vec();
    unique.sort();
    unique.dedup();
    for chunk in unique.chunks(10) {
        let response = client
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| SecretError::Ssm { names: chunk.to_vec(), message: crate::aws::error_line(&e) })?;
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

    #[tokio::test]
    async fn names_a_missing_file() {
        let env = Env::from_pairs([("A_FILE", "/nonexistent/secret")]);
        let err = load(&env, &sdk(), &["A"]).await.unwrap_err();
        assert!(err.to_string().contains("A from file /nonexistent/secret"), "{err}");
    }
}
