//! What a function runs with: the emulator's SES sender and SSM secrets,
//! its variables, and the process to start.

use std::sync::Arc;

use anyhow::bail;
use profile_link_core::session::SessionKeys;

use super::first_request::SameCallsPlan;
use super::{SAME_CALLS, Settings};
use crate::portal;
use crate::process::Spec;
use crate::proxy::Proxy;

const SSM_SESSION_KEY: &str = "/profile-link/bench/session-signing-key";
const SSM_SESSION_PUBLIC_KEYS: &str = "/profile-link/bench/session-public-keys";
const SSM_PROVIDERS: &str = "/profile-link/bench/providers";
const SSM_PROVIDER_SECRETS: &str = "/profile-link/bench/providers/";
const SSM_CLIENT_SECRET: &str = "/profile-link/bench/providers/dev-client-secret";
const SSM_PORTAL_CLIENTS: &str = "/profile-link/bench/portal-clients";
const SSM_PORTAL_SECRETS: &str = "/profile-link/bench/portals/";
const SSM_PORTAL_SECRET: &str = "/profile-link/bench/portals/bench-portal";

/// The sender verified in the emulator's SES, and the secrets in its SSM
/// Parameter Store, where the template has the functions read them.
pub(super) async fn prepare_emulator(sdk: &aws_config::SdkConfig, settings: &Settings) -> anyhow::Result<()> {
    let from = &settings.mail_from;
    let address = from.rsplit_once('<').map(|(_, a)| a.trim_end_matches('>')).unwrap_or(from).trim();
    let created = aws_sdk_sesv2::Client::new(sdk).create_email_identity().email_identity(address).send().await;
    if let Err(error) = created
        && !error.as_service_error().is_some_and(|e| e.is_already_exists_exception())
    {
        bail!("verifying {address} in the emulator's SES: {}", aws_sdk_sesv2::error::DisplayErrorContext(error));
    }
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let public_keys = serde_json::to_string(SessionKeys::from_pem("", &settings.session_key_pem)?.jwks())?;
    use aws_sdk_ssm::types::ParameterType::{SecureString, String as Plain};
    // One provider, as an operator lists it: the dev provider's root.
    let providers = serde_json::json!([{
        "id": "dev", "label": "Dev provider", "issuer": settings.issuer, "issuer_policy": {"kind": "exact"},
        "client_id": "profile-link-local", "client_auth": "client_secret_basic",
        "client_secret_parameter": SSM_CLIENT_SECRET,
        "reauthentication": {"request": "prompt_login_and_max_age_0", "proof": "auth_time"},
    }])
    .to_string();
    // The portal's list as a String, its secret a SecureString under the path the token function may read.
    let portal_clients = portal::clients_json(SSM_PORTAL_SECRET);
    let portal_secret = portal::CLIENT_SECRET.to_owned();
    for (name, value, kind) in [
        (SSM_PROVIDERS, &providers, Plain),
        (SSM_SESSION_KEY, &settings.session_key_pem, SecureString),
        (SSM_SESSION_PUBLIC_KEYS, &public_keys, Plain),
        (SSM_CLIENT_SECRET, &settings.client_secret, SecureString),
        (SSM_PORTAL_CLIENTS, &portal_clients, Plain),
        (SSM_PORTAL_SECRET, &portal_secret, SecureString),
    ] {
        ssm.put_parameter()
            .name(name)
            .value(value)
            .r#type(kind)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_ssm::error::DisplayErrorContext(e)))?;
    }
    Ok(())
}

/// The variables a function reads, taken from this process's environment,
/// with the secrets moved to SSM as in AWS and every AWS endpoint (and the
/// HTTP proxy, for the identity provider) pointed at `proxy`.
fn function_env(proxy: std::net::SocketAddr) -> Vec<(String, String)> {
    const NAMES: [&str; 13] = [
        "TABLE_NAME",
        "PUBLIC_BASE_URL",
        "SUPPORT_EMAIL",
        "OPERATOR_NAME",
        "PRODUCT_NAME",
        "PORTAL_URL",
        "LOGO_URL",
        "ACCENT_COLOR",
        "SESSION_TTL_SECONDS",
        "LOGIN_TTL_SECONDS",
        "LINK_TTL_SECONDS",
        "MAIL_FROM",
        "SES_CONFIGURATION_SET",
    ];
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            NAMES.contains(&name.as_str())
                || [
                    "AWS_REGION",
                    "AWS_DEFAULT_REGION",
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN",
                ]
                .contains(&name.as_str())
        })
        .collect();
    let proxy = format!("http://{proxy}");
    env.extend(
        [
            ("SESSION_SIGNING_KEY_SSM_PARAMETER", SSM_SESSION_KEY),
            ("SESSION_PUBLIC_KEYS_SSM_PARAMETER", SSM_SESSION_PUBLIC_KEYS),
            ("PROVIDERS_SSM_PARAMETER", SSM_PROVIDERS),
            ("PROVIDER_SECRETS_PATH", SSM_PROVIDER_SECRETS),
            ("PORTAL_CLIENTS_SSM_PARAMETER", SSM_PORTAL_CLIENTS),
            ("PORTAL_SECRETS_PATH", SSM_PORTAL_SECRETS),
            ("AWS_ENDPOINT_URL_DYNAMODB", &proxy),
            ("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", &proxy),
            ("AWS_ENDPOINT_URL_SESV2", &proxy),
            ("AWS_ENDPOINT_URL_SSM", &proxy),
            ("HTTP_PROXY", &proxy),
            ("http_proxy", &proxy),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
            // The bench repeats requests far faster than people do; the counters
            // are written in the same transaction whatever the limit.
            ("RATE_LIMIT_PER_IDENTITY", "10000"),
            ("RATE_LIMIT_PER_ADDRESS", "10000"),
            ("RATE_LIMIT_PER_IP", "100000"),
            ("RATE_LIMIT_PER_ADDRESS_PER_DAY", "100000"),
            ("RATE_LIMIT_SIGN_INS_PER_IP", "1000000"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    env
}

pub(super) async fn spec(settings: &Settings, proxy: &Arc<Proxy>, name: &str) -> anyhow::Result<Spec> {
    let listener = proxy.listen(name).await?;
    let binary = settings.bin_dir.join(name);
    if !binary.is_file() {
        bail!("{} is missing: build the release binaries first (scripts/bench does)", binary.display());
    }
    Ok(Spec { name: name.to_owned(), binary, env: function_env(listener) })
}

/// The same-calls baseline for a function: the function's variables, its
/// calls ([`SameCallsPlan`]) and `extra` variables, under its own listener.
pub(super) async fn same_calls_spec(
    settings: &Settings,
    proxy: &Arc<Proxy>,
    plan: SameCallsPlan,
    extra: &[(&str, &str)],
) -> anyhow::Result<Spec> {
    let mut spec = spec(settings, proxy, SAME_CALLS).await?;
    spec.env.extend(
        [
            ("SAME_CALLS_INIT", plan.init),
            ("SAME_CALLS_FIRST", plan.first),
            ("SAME_CALLS_EVENT", if plan.stream { "stream" } else { "http" }),
            ("SAME_CALLS_ISSUER", settings.issuer.as_str()),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Ok(spec)
}
