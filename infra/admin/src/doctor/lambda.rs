//! Lambda: the account's concurrency against what the stack reserves for
//! send-emails. AWS keeps at least 10 executions unreserved, so on a new
//! account (a limit of 10) any reservation fails the deploy.

use super::{Check, Stack, aws_problem};

/// Lambda always keeps this many executions unreserved.
const KEPT_UNRESERVED: i32 = 10;

const CHECK: &str = "Lambda concurrency";

pub(super) async fn concurrency(sdk: &aws_config::SdkConfig, stack: &Stack) -> Check {
    let lambda = aws_sdk_lambda::Client::new(sdk);
    match lambda.get_account_settings().send().await {
        Ok(settings) => {
            let limit = settings.account_limit();
            let total = limit.map_or(0, |l| l.concurrent_executions());
            let unreserved = limit.and_then(|l| l.unreserved_concurrent_executions()).unwrap_or(total);
            judge(total, unreserved, stack.send_emails_reserved_concurrency)
        }
        Err(error) => Check::warn(
            CHECK,
            format!("could not read the account's settings ({})", aws_problem(&error)),
            "check by hand: aws lambda get-account-settings (ConcurrentExecutions less SendEmailsReservedConcurrency must leave 10)",
        ),
    }
}

/// `total` and `unreserved` are the account's; `reserved` what send-emails asks.
pub(super) fn judge(total: i32, unreserved: i32, reserved: i32) -> Check {
    if total - reserved < KEPT_UNRESERVED {
        Check::fail(
            CHECK,
            format!(
                "the account runs {total} at once; reserving {reserved} for send-emails would leave fewer than {KEPT_UNRESERVED} unreserved"
            ),
            "the deploy fails: ask for a higher Lambda concurrency quota (Service Quotas), or wait for it before deploying",
        )
    } else if unreserved - reserved < KEPT_UNRESERVED {
        Check::warn(
            CHECK,
            format!(
                "{unreserved} of {total} executions are unreserved; unless send-emails already holds its {reserved}, reserving them leaves fewer than {KEPT_UNRESERVED}"
            ),
            "if this is the first deploy, free reserved concurrency elsewhere or ask for a higher quota",
        )
    } else {
        Check::ok(CHECK, format!("{unreserved} of {total} executions unreserved: room for send-emails' {reserved}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn a_new_account_of_ten_cannot_reserve_any() {
        let check = judge(10, 10, 2);
        assert_eq!(check.status, Status::Fail, "{}", check.line());
        assert_eq!(judge(1000, 1000, 2).status, Status::Ok);
        assert_eq!(judge(1000, 11, 2).status, Status::Warn, "others reserved nearly everything");
        assert_eq!(judge(12, 12, 2).status, Status::Ok, "exactly 10 left");
    }
}
