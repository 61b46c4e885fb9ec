//! The one `SdkConfig` every function builds at cold start: the usual
//! environment (region, credentials, `AWS_ENDPOINT_URL`) plus retry and
//! timeout settings chosen for a request that must finish inside API
//! Gateway's and Lambda's limits.
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

/// As [`sdk_config`], but talking to `endpoint` (tests put a fault-injecting proxy there).
pub async fn sdk_config_with_endpoint(endpoint: &str) -> SdkConfig {
    loader().endpoint_url(endpoint).load().await
}

fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config()).timeout_config(timeout_config())
}

#[cfg(test)]
mod tests {
    use super::*;

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
