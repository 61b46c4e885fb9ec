//! What the cost model assumes where this machine cannot measure AWS itself.

/// A DynamoDB call from Lambda in the same region.
pub const DYNAMODB_MS: f64 = 6.0;
/// An SES v2 SendEmail.
pub const SES_MS: f64 = 40.0;
/// An SSM GetParameters (once per cold start).
pub const SSM_MS: f64 = 15.0;
/// The provider's token endpoint or discovery, over the internet.
pub const PROVIDER_MS: f64 = 120.0;
/// Lambda gives a function CPU in proportion to memory: one vCPU at 1,769 MB.
pub const FULL_VCPU_MB: f64 = 1769.0;
/// Lambda's platform log lines per invocation (START, END, REPORT as JSON).
pub const PLATFORM_LOG_BYTES: f64 = 600.0;
