//! What real DynamoDB does under contention and load, and no local engine
//! shows: a transaction that meets a concurrent one on the same item is
//! cancelled (`TransactionCanceledException` with a `TransactionConflict`
//! reason); one that meets a throttled partition or table is cancelled with a
//! `ThrottlingError` (on-demand) or `ProvisionedThroughputExceeded`
//! (provisioned) reason; a plain write that meets an ongoing transaction
//! fails with `TransactionConflictException`. Each means "nothing was
//! written, try again", and the SDK's standard retry retries none of them
//! (it retries a whole call's `ThrottlingException`, not a cancellation's
//! reasons). Here:
//!
//! - plain writes are retried by the SDK itself ([`TransactionConflictIsTransient`]
//!   on the store's client: same backoff, same attempt limit as throttling);
//! - transactions are sent again by [`SendRetryingConflicts`], each time as a
//!   new request with a new idempotency token (a retry inside the SDK would
//!   reuse the cancelled request's token, and DynamoDB documents that token's
//!   replay only for a request that succeeded), with the backoff of the
//!   cancellation's [`TransientCancellation`]: a conflict clears in
//!   milliseconds, throttling needs the partition's capacity to come back.
//!
//! A cancellation that outlasts the retries is reported as unavailable (503,
//! try again), never as a failed condition.

use std::pin::Pin;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::types::CancellationReason;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ErrorKind;

use crate::aws::Backoff;

/// Sends of one transaction cancelled by conflicts, the first included.
pub const CONFLICT_ATTEMPTS: u32 = 4;
/// The backoff ceiling before the n-th resend after a conflict is this doubled n−1 times.
pub const CONFLICT_BACKOFF: Duration = Duration::from_millis(25);
/// Sends of one transaction cancelled by throttling, the first included.
pub const THROTTLED_ATTEMPTS: u32 = 5;
/// Throttling clears as capacity comes back (DynamoDB's burst and adaptive
/// capacity act within a second or so), so its waits start longer.
pub const THROTTLED_BACKOFF: Duration = Duration::from_millis(50);

/// Why DynamoDB cancelled a transaction when no condition failed and the
/// same transaction sent again may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransientCancellation {
    /// A concurrent transaction held one of its items (`TransactionConflict`).
    Conflict,
    /// The table or a partition was over its capacity (`ThrottlingError`,
    /// `ProvisionedThroughputExceeded`).
    Throttled,
}

impl TransientCancellation {
    /// The transient kind of a failed `TransactWriteItems`: `None` when a
    /// condition failed (an answer, not an accident) or when no reason is
    /// transient. Throttling wins over a conflict: its waits are the longer.
    pub fn of(error: &SdkError<TransactWriteItemsError, HttpResponse>) -> Option<Self> {
        match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                Self::of_reasons(cancelled.cancellation_reasons())
            }
            _ if is_conflict(error) => Some(Self::Conflict),
            _ => None,
        }
    }

    /// [`Self::of`] for a cancellation's reasons.
    pub fn of_reasons(reasons: &[CancellationReason]) -> Option<Self> {
        let any = |codes: &[&str]| reasons.iter().any(|r| r.code().is_some_and(|c| codes.contains(&c)));
        if any(&["ConditionalCheckFailed"]) {
            None
        } else if any(&["ThrottlingError", "ProvisionedThroughputExceeded"]) {
            Some(Self::Throttled)
        } else if any(&["TransactionConflict"]) {
            Some(Self::Conflict)
        } else {
            None
        }
    }

    /// How often and how patiently a transaction cancelled this way is sent again.
    pub fn backoff(self) -> Backoff {
        match self {
            Self::Conflict => Backoff { attempts: CONFLICT_ATTEMPTS, first: CONFLICT_BACKOFF },
            Self::Throttled => Backoff { attempts: THROTTLED_ATTEMPTS, first: THROTTLED_BACKOFF },
        }
    }
}

/// Whether a write failed only because it met a concurrent transaction.
pub fn is_conflict<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    let Some(service_error) = error.as_service_error() else { return false };
    service_error.code() == Some("TransactionConflictException")
}

/// A transaction cancelled because one of its conditions failed (and not by a conflict).
pub fn condition_failed(error: &SdkError<TransactWriteItemsError, HttpResponse>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}

/// Makes the SDK retry `TransactionConflictException` like throttling.
#[derive(Debug)]
pub struct TransactionConflictIsTransient;

impl ClassifyRetry for TransactionConflictIsTransient {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        if error.as_operation_error().and_then(error_code) == Some("TransactionConflictException") {
            RetryAction::retryable_error(ErrorKind::TransientError)
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "TransactionConflictIsTransient"
    }
}

/// The error code of a plain write's modeled error (each operation has its own error type).
fn error_code(error: &aws_smithy_runtime_api::client::interceptors::context::Error) -> Option<&str> {
    use aws_sdk_dynamodb::operation::{
        delete_item::DeleteItemError, put_item::PutItemError, update_item::UpdateItemError,
    };
    let code = if let Some(e) = error.downcast_ref::<PutItemError>() {
        e.code()
    } else if let Some(e) = error.downcast_ref::<UpdateItemError>() {
        e.code()
    } else if let Some(e) = error.downcast_ref::<DeleteItemError>() {
        e.code()
    } else {
        None
    };
    code
}

type TransactionResult = Result<TransactWriteItemsOutput, SdkError<TransactWriteItemsError, HttpResponse>>;

/// `TransactWriteItems`, sent again after a conflict with another transaction.
pub trait SendRetryingConflicts {
    /// Boxed: the SDK's send future is deep, and the handlers' futures nest it further.
    fn send_retrying_conflicts(self) -> Pin<Box<dyn Future<Output = TransactionResult> + Send>>;
}

impl SendRetryingConflicts for TransactWriteItemsFluentBuilder {
    fn send_retrying_conflicts(self) -> Pin<Box<dyn Future<Output = TransactionResult> + Send>> {
        Box::pin(async move {
            let mut attempt = 1;
            loop {
                // A clone carries no token: the SDK fills a new one for each send.
                let result = self.clone().send().await;
                let backoff = match &result {
                    Err(error) => TransientCancellation::of(error).map(TransientCancellation::backoff),
                    Ok(_) => None,
                };
                match backoff {
                    Some(backoff) if attempt < backoff.attempts => {
                        tokio::time::sleep(backoff.wait(attempt)).await;
                        attempt += 1;
                    }
                    _ => return result,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    #[test]
    fn a_conflict_or_throttling_without_a_failed_condition_is_transient() {
        use TransientCancellation::{Conflict, Throttled};
        let of =
            |codes: &[&str]| TransientCancellation::of_reasons(&codes.iter().map(|c| reason(c)).collect::<Vec<_>>());
        assert_eq!(of(&["TransactionConflict", "None"]), Some(Conflict));
        assert_eq!(of(&["None", "TransactionConflict"]), Some(Conflict));
        assert_eq!(of(&["ThrottlingError", "None"]), Some(Throttled));
        assert_eq!(of(&["None", "ProvisionedThroughputExceeded"]), Some(Throttled));
        assert_eq!(of(&["TransactionConflict", "ThrottlingError"]), Some(Throttled), "the longer waits win");
        assert_eq!(of(&["ConditionalCheckFailed", "TransactionConflict"]), None);
        assert_eq!(of(&["ThrottlingError", "ConditionalCheckFailed"]), None);
        assert_eq!(of(&["ConditionalCheckFailed", "None"]), None);
        assert_eq!(of(&["ValidationError"]), None);
        assert_eq!(of(&[]), None);
    }

    #[test]
    fn the_backoff_is_jittered_and_bounded() {
        let conflict = TransientCancellation::Conflict.backoff();
        let waits: Vec<Duration> = (0..200).map(|_| conflict.wait(3)).collect();
        assert!(waits.iter().all(|w| *w <= CONFLICT_BACKOFF * 4), "{waits:?}");
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(distinct.len() > 150, "jittered: {} distinct waits of 200", distinct.len());
        assert!(
            conflict.worst_case() < Duration::from_millis(200),
            "all retries wait {:?} at most",
            conflict.worst_case()
        );
        // Throttling waits longer, and still well inside a request's time.
        let throttled = TransientCancellation::Throttled.backoff();
        assert!(throttled.worst_case() > conflict.worst_case() * 3, "{throttled:?} against {conflict:?}");
        assert!(
            throttled.worst_case() <= Duration::from_millis(750),
            "all retries wait {:?} at most",
            throttled.worst_case()
        );
    }
}

/// The reason code of each item of a cancelled transaction (`None` where it had none).
pub(super) fn cancellation_codes(error: &TransactWriteItemsError) -> Vec<Option<String>> {
    match error {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            e.cancellation_reasons().iter().map(|r| r.code().filter(|c| *c != "None").map(str::to_owned)).collect()
        }
        _ => Vec::new(),
    }
}
