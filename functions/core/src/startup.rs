//! What every HTTP function builds at cold start, and why it could not.

use crate::config::{ConfigError, Env, SiteConfig};
use crate::secrets::{self, Secret, SecretError};
use crate::session::{SessionKeyError, SessionKeys};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("SESSION_SIGNING_KEY: {0}")]
    SessionKey(#[from] SessionKeyError),
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
