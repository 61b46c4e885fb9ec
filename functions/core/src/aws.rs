//! The one `SdkConfig` every function builds at cold start: the usual
//! environment (region, credentials, and locally each service's endpoint:
//! `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`,
//! `AWS_ENDPOINT_URL_SESV2`, `AWS_ENDPOINT_URL_SSM`) plus retry and timeout
//! settings chosen for a request that must finish inside API Gateway's and
//! Lambda's limits.
//!
//! DynamoDB and SES answer in milliseconds; a throttled or failing call is
//! retried quickly (standard mode: exponential backoff with full jitter), and
//! a dependency that hangs is abandoned after [`OPERATION_TIMEOUT`] so the
//! handler can answer 503 "try again" well before the 10-second function
//! timeout instead of being killed mid-request.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::ConnectorBuilder;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

/// Attempts per call, the first included (the SDK's standard mode default).
pub const MAX_ATTEMPTS: u32 = 3;
/// Backoff before the first retry; it doubles per retry, with jitter, up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// One attempt: DynamoDB's p99 is tens of milliseconds, SES's a few hundred.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole call, retries included: under the functions' 10 s timeout with room to answer.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// Retries this project runs itself, where the SDK's own retry does not fit
/// (a transaction cancelled by a conflict or by throttling; SSM at cold
/// start): at most `attempts` sends, the first included, and before the
/// n-th resend a random wait up to `first` doubled n−1 times (full jitter,
/// so callers that failed together do not come back together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub first: Duration,
}

impl Backoff {
    /// The most a wait before resend `retry` (1 for the first resend) can be.
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.first * 2u32.pow(retry.saturating_sub(1))
    }

    /// The wait before resend `retry`: a random share of its ceiling.
    pub fn wait(&self, retry: u32) -> Duration {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).expect("the OS random source");
        self.ceiling(retry).mul_f64(f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX))
    }

    /// The longest all the waits can add up to.
    pub fn worst_case(&self) -> Duration {
        (1..self.attempts).map(|retry| self.ceiling(retry)).sum()
    }
}

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The environment's configuration with this service's retries and timeouts.
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

/// As [`sdk_config`], but reaching each service at the given endpoint (tests
/// name their local servers, or a fault-injecting proxy in front of them).
pub async fn sdk_config_with_endpoints(endpoints: &Endpoints) -> SdkConfig {
    loader().load().await.into_builder().service_config(endpoints.clone()).build()
}

/// Where each AWS service this project calls is reached, when it is not AWS:
/// the local stack runs DynamoDB Local for the table and its stream and moto
/// for SES v2 and SSM, so one endpoint for everything would not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub dynamodb: String,
    pub dynamodb_streams: String,
    pub sesv2: String,
    pub ssm: String,
}

impl Endpoints {
    /// The local stack's shape: the table and its stream at one server, mail and parameters at another.
    pub fn local(dynamodb: &str, moto: &str) -> Self {
        Self { dynamodb: dynamodb.into(), dynamodb_streams: dynamodb.into(), sesv2: moto.into(), ssm: moto.into() }
    }

    /// Every service at one endpoint (a proxy that routes by service).
    pub fn all(endpoint: &str) -> Self {
        Self::local(endpoint, endpoint)
    }

    /// The four `AWS_ENDPOINT_URL_<SERVICE>` variables, each required.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        Ok(Self {
            dynamodb: var("AWS_ENDPOINT_URL_DYNAMODB")?,
            dynamodb_streams: var("AWS_ENDPOINT_URL_DYNAMODB_STREAMS")?,
            sesv2: var("AWS_ENDPOINT_URL_SESV2")?,
            ssm: var("AWS_ENDPOINT_URL_SSM")?,
        })
    }
}

/// The SDK asks its shared configuration for a service's endpoint by service id
/// (the same lookup that reads `AWS_ENDPOINT_URL_<SERVICE>` from the environment).
impl aws_types::service_config::LoadServiceConfig for Endpoints {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        if key.env() != "AWS_ENDPOINT_URL" {
            return None;
        }
        match key.service_id() {
            "DynamoDB" => Some(self.dynamodb.clone()),
            "DynamoDB Streams" => Some(self.dynamodb_streams.clone()),
            "SESv2" => Some(self.sesv2.clone()),
            "SSM" => Some(self.ssm.clone()),
            _ => None,
        }
    }
}

fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .http_client(https_client())
}

/// The roots every AWS service endpoint's certificate chains to: Amazon
/// Trust Services' Amazon Root CA 1–4 and the Starfield Services Root
/// Certificate Authority – G2 that cross-signs them
/// (<https://www.amazontrust.com/repository/>), as PEM. SHA-256 fingerprints:
/// `8ECDE688…98196E`, `1BA5B2AA…A46DB4`, `18CE6CFE…6DB3A4`, `E35D2841…897092`, `568D6905…3EDAB5`.
pub const AWS_TRUST_ROOTS: &[u8] = include_bytes!("aws_trust_roots.pem");

/// The SDK's default HTTPS client (rustls on aws-lc, proxy settings from the
/// environment), trusting [`AWS_TRUST_ROOTS`] only. The default trusts the
/// operating system's store, which it reads and parses at every cold start
/// (Amazon Linux's CA bundles; every file under `/etc/ssl/certs` on Debian):
/// milliseconds of CPU, ten times that on a 128 MB function's share of a
/// vCPU, for endpoints that only ever present these five roots.
pub fn https_client() -> SharedHttpClient {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AWS_TRUST_ROOTS);
    let tls = TlsContext::builder().with_trust_store(trust).build().expect("a TLS context with a fixed trust store");
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
            .tls_context(tls.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sdk_trusts_the_five_aws_roots_only() {
        let pem = std::str::from_utf8(AWS_TRUST_ROOTS).unwrap();
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert_eq!(pem.matches("-----END CERTIFICATE-----").count(), 5);
        // A call builds the connector, and with it the trust store (it panics on a bad PEM).
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(https_client())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        let error = aws_sdk_dynamodb::Client::from_conf(config).list_tables().send().await.unwrap_err();
        assert!(matches!(error, aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)), "{error:?}");
    }

    /// A listener that reports the first request line it receives.
    async fn listener() -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let first_line = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0; 4096];
            let n = socket.read(&mut buffer).await.unwrap();
            String::from_utf8_lossy(&buffer[..n]).lines().next().unwrap_or_default().to_owned()
        });
        (url, first_line)
    }

    #[tokio::test]
    async fn each_service_is_reached_at_its_own_endpoint() {
        let (dynamodb, dynamodb_seen) = listener().await;
        let (sesv2, sesv2_seen) = listener().await;
        let (ssm, ssm_seen) = listener().await;
        let endpoints = Endpoints { dynamodb, dynamodb_streams: "http://127.0.0.1:9".into(), sesv2, ssm };
        let sdk = sdk_config_with_endpoints(&endpoints)
            .await
            .into_builder()
            .region(aws_types::region::Region::new("eu-west-1"))
            .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"),
            ))
            .retry_config(RetryConfig::disabled())
            .build();
        // Each call fails (the listener never answers); where it went is what counts.
        let _ = aws_sdk_dynamodb::Client::new(&sdk).list_tables().send().await;
        let _ = aws_sdk_sesv2::Client::new(&sdk).get_account().send().await;
        let _ = aws_sdk_ssm::Client::new(&sdk).describe_parameters().send().await;
        let seen = [dynamodb_seen.await.unwrap(), sesv2_seen.await.unwrap(), ssm_seen.await.unwrap()];
        assert!(seen[0].starts_with("POST / "), "DynamoDB's listener saw {seen:?}");
        assert!(seen[1].starts_with("GET /v2/email/account "), "SES v2's listener saw {seen:?}");
        assert!(seen[2].starts_with("POST / "), "SSM's listener saw {seen:?}");
    }

    #[test]
    fn a_call_gives_up_before_the_function_timeout() {
        // The HTTP functions' timeout in template.yaml's Globals (the first `Timeout:`).
        let template = include_str!("../../../template.yaml");
        let function_timeout: u64 = template
            .lines()
            .find_map(|line| line.trim().strip_prefix("Timeout: "))
            .and_then(|value| value.parse().ok())
            .expect("template.yaml sets Globals.Function.Timeout");
        // Room to render the 503 page after the last attempt was abandoned.
        assert!(OPERATION_TIMEOUT + Duration::from_secs(2) <= Duration::from_secs(function_timeout));
        assert!(ATTEMPT_TIMEOUT * 2 <= OPERATION_TIMEOUT, "at least one retry fits");
        let timeouts = timeout_config();
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(retry_config().max_attempts(), MAX_ATTEMPTS);
    }
}

/// One line about a failed AWS call that a person can act on: no usable
/// credentials (the commonest misconfiguration of an operator's shell) in
/// plain words; otherwise the SDK's error with its causes (its own Display
/// says only "service error" or "dispatch failure").
pub fn error_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(credentials) = current.downcast_ref::<aws_credential_types::provider::error::CredentialsError>() {
            return format!(
                "no usable AWS credentials ({}): set AWS_PROFILE or the AWS_ACCESS_KEY_ID pair, or run `aws configure`",
                credentials_problem(credentials)
            );
        }
        cause = current.source();
    }
    aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
}

fn credentials_problem(error: &aws_credential_types::provider::error::CredentialsError) -> &'static str {
    use aws_credential_types::provider::error::CredentialsError as E;
    match error {
        E::CredentialsNotLoaded(_) => "none found",
        E::ProviderTimedOut(_) => "the provider timed out",
        E::InvalidConfiguration(_) => "invalid configuration",
        E::ProviderError(_) => "the provider failed",
        _ => "unknown problem",
    }
}
