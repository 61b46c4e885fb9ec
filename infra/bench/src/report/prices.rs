//! List prices used by the cost model: AWS us-east-1, on-demand, checked
//! when this model was written. Change them here; the report states them.

pub const CHECKED: &str = "2025; AWS us-east-1 list prices";
/// Lambda, arm64 (the template's default), per GB-second of duration (init included).
pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
/// Lambda, x86_64, per GB-second (what this machine builds).
pub const LAMBDA_X86_GB_SECOND: f64 = 0.000_016_666_7;
pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// API Gateway HTTP API, first 300 million requests a month.
pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
/// DynamoDB on-demand (after the November 2024 price cut).
pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
pub const DYNAMODB_STORAGE_GB_MONTH: f64 = 0.25;
pub const DYNAMODB_PITR_GB_MONTH: f64 = 0.20;
pub const SES_EMAIL: f64 = 0.10 / 1000.0;
/// CloudWatch Logs, standard class: ingestion per GB, storage per GB-month.
pub const LOGS_INGESTED_GB: f64 = 0.50;
pub const LOGS_STORED_GB_MONTH: f64 = 0.03;
/// A standard-resolution CloudWatch alarm per month (10 free per account).
pub const ALARM_MONTH: f64 = 0.10;
/// Data transfer out to the internet after the first 100 GB a month.
pub const TRANSFER_OUT_GB: f64 = 0.09;
/// Managed alternatives, per monthly active user (MAU).
pub const COGNITO_ESSENTIALS_MAU: f64 = 0.015;
pub const COGNITO_FREE_MAU: f64 = 10_000.0;
pub const ENTRA_EXTERNAL_ID_MAU: f64 = 0.03;
pub const ENTRA_FREE_MAU: f64 = 50_000.0;
/// Auth0 B2C Essentials' published monthly bands work out at about this per MAU.
pub const AUTH0_ESSENTIALS_MAU: f64 = 0.07;
pub const AUTH0_SELF_SERVE_MAX_MAU: f64 = 20_000.0;
