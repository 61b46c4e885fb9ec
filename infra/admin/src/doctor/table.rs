//! The table: TTL on the attribute the items carry, the stream the
//! functions are mapped to, point-in-time recovery. What is expected is
//! template.yaml's definition, as this binary was built with it.

use aws_sdk_dynamodb::types::{PointInTimeRecoveryStatus, TimeToLiveStatus};

use super::{Check, Stack, aws_problem};
use crate::table::TableDefinition;

const TEMPLATE: &str = include_str!("../../../../template.yaml");

pub(super) async fn checks(sdk: &aws_config::SdkConfig, stack: &Stack) -> Vec<Check> {
    let Some(table) = stack.table.as_deref() else {
        return vec![Check::warn(
            "table",
            "not checked: no table",
            "give --table (the stack's TableName output) or TABLE_NAME",
        )];
    };
    let definition = TableDefinition::from_template_text(TEMPLATE)
        .expect("the template this binary was built with defines the table");
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let described = match dynamodb.describe_table().table_name(table).send().await {
        Ok(described) => described,
        Err(error) => {
            return vec![Check::fail(
                "table",
                format!("{table}: {}", aws_problem(&error)),
                "check --table (the stack's TableName output), the region and the credentials",
            )];
        }
    };
    let mut checks = vec![ttl(&dynamodb, table, &definition).await];
    let wanted = definition.stream_specification.map(|s| s.stream_view_type).unwrap_or_default();
    let stream = described.table().and_then(|t| t.stream_specification());
    checks.push(match stream {
        Some(s) if s.stream_enabled() && s.stream_view_type().map(|v| v.as_str()) == Some(wanted.as_str()) => {
            Check::ok("table stream", format!("{wanted}"))
        }
        other => Check::fail(
            "table stream",
            match other.filter(|s| s.stream_enabled()) {
                Some(s) => {
                    format!("is {}, not {wanted}", s.stream_view_type().map_or("of no view type", |v| v.as_str()))
                }
                None => "is off".into(),
            },
            format!(
                "no email is sent and no portal told of a logout: enable the stream with {wanted} (redeploy the stack)"
            ),
        ),
    });
    checks.push(backups(&dynamodb, table).await);
    checks
}

async fn ttl(dynamodb: &aws_sdk_dynamodb::Client, table: &str, definition: &TableDefinition) -> Check {
    let wanted = definition.time_to_live_specification.as_ref().map(|t| t.attribute_name.clone()).unwrap_or_default();
    let enable = format!(
        "expired links, sessions and audit entries are kept for ever: aws dynamodb update-time-to-live --table-name {table} \
         --time-to-live-specification Enabled=true,AttributeName={wanted}"
    );
    match dynamodb.describe_time_to_live().table_name(table).send().await {
        Ok(described) => {
            let ttl = described.time_to_live_description();
            let status = ttl.and_then(|t| t.time_to_live_status());
            let attribute = ttl.and_then(|t| t.attribute_name()).unwrap_or("");
            match status {
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) if attribute == wanted => {
                    Check::ok("table TTL", format!("on {wanted}"))
                }
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) => {
                    Check::fail("table TTL", format!("is on {attribute}, not {wanted}"), enable)
                }
                _ => Check::fail("table TTL", "is off", enable),
            }
        }
        Err(error) => Check::warn(
            "table TTL",
            format!("could not read it ({})", aws_problem(&error)),
            "check it by hand: aws dynamodb describe-time-to-live",
        ),
    }
}

async fn backups(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Check {
    const CHECK: &str = "table backups";
    let enable = format!(
        "aws dynamodb update-continuous-backups --table-name {table} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
    );
    match dynamodb.describe_continuous_backups().table_name(table).send().await {
        Ok(described) => {
            let status = described
                .continuous_backups_description()
                .and_then(|d| d.point_in_time_recovery_description())
                .and_then(|p| p.point_in_time_recovery_status());
            match status {
                Some(PointInTimeRecoveryStatus::Enabled) => Check::ok(CHECK, "point-in-time recovery is on"),
                _ => Check::warn(
                    CHECK,
                    "point-in-time recovery is off",
                    format!("no restore is possible: enable it: {enable}"),
                ),
            }
        }
        Err(error) => Check::warn(
            CHECK,
            format!("could not read point-in-time recovery ({})", aws_problem(&error)),
            format!("check it by hand: aws dynamodb describe-continuous-backups --table-name {table}"),
        ),
    }
}
