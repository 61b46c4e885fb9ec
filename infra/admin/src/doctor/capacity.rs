//! The account's throughput against the peak the onboarding expects
//! (docs/capacity.md): Parameter Store's throughput, which every cold start
//! draws on, and the table's warm write throughput, which every onboarding
//! writes to. SES's quota and rate are in `ses.rs`, Lambda's concurrency in
//! `lambda.rs`.

use super::{Check, Stack, aws_problem};

/// Write units one person's onboarding costs (docs/performance.md, "write units").
pub(super) const WRITE_UNITS_PER_PERSON: f64 = 55.0;
/// The busiest minutes of an hour run at about four times its average (docs/capacity.md).
pub(super) const BUSY_MINUTE_FACTOR: f64 = 4.0;
/// Parameter Store's default throughput, shared by the whole account and region.
const STANDARD_SSM_CALLS_PER_SECOND: u64 = 40;
/// From this peak on, a mass click on an invitation can start more execution
/// environments a second than standard throughput serves (docs/capacity.md).
const SSM_STANDARD_UP_TO_PEOPLE_PER_HOUR: u64 = 10_000;
const HIGH_THROUGHPUT_SETTING: &str = "/ssm/parameter-store/high-throughput-enabled";

pub(super) async fn checks(sdk: &aws_config::SdkConfig, stack: &Stack) -> Vec<Check> {
    let people = stack.expected_people_per_hour();
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let throughput = match ssm.get_service_setting().setting_id(HIGH_THROUGHPUT_SETTING).send().await {
        Ok(read) => Ok(read.service_setting().and_then(|s| s.setting_value()) == Some("true")),
        Err(error) => Err(aws_problem(&error)),
    };
    let mut checks = vec![parameter_store(throughput, people)];
    if let Some(table) = stack.table.as_deref() {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let warm = match dynamodb.describe_table().table_name(table).send().await {
            Ok(described) => {
                Ok(described.table().and_then(|t| t.warm_throughput()).and_then(|w| w.write_units_per_second()))
            }
            Err(error) => Err(aws_problem(&error)),
        };
        checks.push(table_writes(warm, people));
    }
    checks
}

/// Whether Parameter Store's throughput carries the cold starts of the peak.
pub(super) fn parameter_store(high_throughput: Result<bool, String>, people_per_hour: u64) -> Check {
    const CHECK: &str = "SSM throughput";
    let enable = "for the onboarding, enable higher throughput (billed per call; turn it off after): aws ssm \
                  update-service-setting --setting-id arn:aws:ssm:<region>:<account>:servicesetting/ssm/parameter-store/high-throughput-enabled \
                  --setting-value true";
    match high_throughput {
        Ok(true) => Check::ok(CHECK, "higher throughput: cold starts are not limited by Parameter Store"),
        Ok(false) if people_per_hour >= SSM_STANDARD_UP_TO_PEOPLE_PER_HOUR => Check::warn(
            CHECK,
            format!(
                "standard throughput ({STANDARD_SSM_CALLS_PER_SECOND} calls a second for the whole account): at {people_per_hour} people an hour a mass click can start more functions a second than that, and a start that is throttled past its retries shows the person an error"
            ),
            enable,
        ),
        Ok(false) => Check::ok(
            CHECK,
            format!(
                "standard throughput ({STANDARD_SSM_CALLS_PER_SECOND} calls a second; a cold start makes one or two) carries {people_per_hour} people an hour"
            ),
        ),
        Err(problem) => Check::warn(
            CHECK,
            format!("could not read the setting ({problem})"),
            format!(
                "check by hand: aws ssm get-service-setting --setting-id {HIGH_THROUGHPUT_SETTING} (from {SSM_STANDARD_UP_TO_PEOPLE_PER_HOUR} people an hour, enable higher throughput)"
            ),
        ),
    }
}

/// Whether the table's warm write throughput carries the peak's busiest minutes.
pub(super) fn table_writes(warm: Result<Option<i64>, String>, people_per_hour: u64) -> Check {
    const CHECK: &str = "table writes";
    let needed = (people_per_hour as f64 * WRITE_UNITS_PER_PERSON / 3600.0 * BUSY_MINUTE_FACTOR).ceil() as i64;
    match warm {
        Ok(Some(warm)) if warm >= needed => Check::ok(
            CHECK,
            format!(
                "warm for {warm} write units a second; {people_per_hour} people an hour need about {needed} in busy minutes"
            ),
        ),
        Ok(Some(warm)) => Check::warn(
            CHECK,
            format!(
                "warm for {warm} write units a second; {people_per_hour} people an hour need about {needed} in busy minutes, and an on-demand table throttles past twice its previous peak"
            ),
            format!(
                "pre-warm the table a day before: aws dynamodb update-table --table-name <table> --warm-throughput WriteUnitsPerSecond={needed}"
            ),
        ),
        Ok(None) => Check::ok(
            CHECK,
            format!(
                "no warm throughput reported (a new on-demand table takes 4000 write units a second); {people_per_hour} people an hour need about {needed} in busy minutes"
            ),
        ),
        Err(problem) => Check::warn(
            CHECK,
            format!("could not describe the table ({problem})"),
            "check by hand: aws dynamodb describe-table (WarmThroughput)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn standard_parameter_store_throughput_is_a_warning_only_at_a_large_peak() {
        let small = parameter_store(Ok(false), 1_000);
        assert_eq!(small.status, Status::Ok, "{}", small.line());
        let large = parameter_store(Ok(false), 10_000);
        assert_eq!(large.status, Status::Warn, "{}", large.line());
        assert!(large.line().contains("high-throughput-enabled --setting-value true"), "{}", large.line());
        let high = parameter_store(Ok(true), 50_000);
        assert_eq!(high.status, Status::Ok, "{}", high.line());
        let unknown = parameter_store(Err("UnknownOperation".into()), 1_000);
        assert_eq!(unknown.status, Status::Warn, "{}", unknown.line());
    }

    #[test]
    fn the_table_must_be_warm_for_the_busy_minutes_writes() {
        // 10,000 an hour × 55 units ÷ 3600 × 4 = 612 a second.
        let ok = table_writes(Ok(Some(4_000)), 10_000);
        assert_eq!(ok.status, Status::Ok, "{}", ok.line());
        assert!(ok.line().contains("need about 612"), "{}", ok.line());
        let cold = table_writes(Ok(Some(4_000)), 100_000);
        assert_eq!(cold.status, Status::Warn, "{}", cold.line());
        assert!(cold.line().contains("WriteUnitsPerSecond=6112"), "{}", cold.line());
        assert_eq!(table_writes(Ok(None), 10_000).status, Status::Ok);
    }
}
