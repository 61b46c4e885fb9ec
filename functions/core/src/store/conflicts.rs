//! What real DynamoDB does under contention and no local engine shows:
//! a transaction that meets a concurrent one on the same item is cancelled
//! (`TransactionCanceledException` with a `TransactionConflict` reason), and a
//! plain write that meets an ongoing transaction fails with
//! `TransactionConflictException`. Both mean "nothing was written, try again",
//! and the SDK's standard retry retries neither. Here:
//!
//! - plain writes are retried by the SDK itself ([`TransactionConflictIsTransient`]
//!   on the store's client: same backoff, same attempt limit as throttling);
//! - transactions are sent again by [`SendRetryingConflicts`], each time as a
//!   new request with a new idempotency token: a retry inside the SDK would
//!   reuse the cancelled request's token, and DynamoDB documents that token's
//!   replay only for a request that succeeded.
//!
//! A conflict that outlasts the retries is reported as unavailable (503, try
//! again), never as a failed condition: see [`is_conflict`].

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

/// Sends of one transaction, the first included.
pub const CONFLICT_ATTEMPTS: u32 = 4;
/// The backoff ceiling before the n-th resend is this doubled n−1 times; the wait is a random share of it.
pub const CONFLICT_BACKOFF: Duration = Duration::from_millis(25);

/// Whether a transaction's cancellation was (also) a conflict, and no condition failed.
pub fn cancelled_by_conflict(reasons: &[CancellationReason]) -> bool {
    reasons.iter().any(|r| r.code() == Some("TransactionConflict"))
        && !reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
}

/// Whether a write failed only because it met a concurrent transaction.
pub fn is_conflict<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    let Some(service_error) = error.as_service_error() else { return false };
    service_error.code() == Some("TransactionConflictException")
}

/// The cancellation of a transaction, by a conflict with another.
pub fn is_transaction_conflict(error: &SdkError<TransactWriteItemsError, HttpResponse>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled_by_conflict(cancelled.cancellation_reasons())
        }
        _ => is_conflict(error),
    }
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
                match result {
                    Err(error) if attempt < CONFLICT_ATTEMPTS && is_transaction_conflict(&error) => {
                        tokio::time::sleep(conflict_backoff(attempt)).await;
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        })
    }
}

/// Full jitter: a random wait up to the attempt's ceiling, so contenders spread out.
fn conflict_backoff(attempt: u32) -> Duration {
    let ceiling = CONFLICT_BACKOFF * 2u32.pow(attempt - 1);
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the OS random source");
    ceiling.mul_f64(f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    #[test]
    fn only_a_conflict_without_a_failed_condition_is_retried() {
        assert!(cancelled_by_conflict(&[reason("TransactionConflict"), reason("None")]));
        assert!(cancelled_by_conflict(&[reason("None"), reason("TransactionConflict")]));
        assert!(!cancelled_by_conflict(&[reason("ConditionalCheckFailed"), reason("TransactionConflict")]));
        assert!(!cancelled_by_conflict(&[reason("ConditionalCheckFailed"), reason("None")]));
        assert!(!cancelled_by_conflict(&[]));
    }

    #[test]
    fn the_backoff_is_jittered_and_bounded() {
        let waits: Vec<Duration> = (0..200).map(|_| conflict_backoff(3)).collect();
        assert!(waits.iter().all(|w| *w <= CONFLICT_BACKOFF * 4), "{waits:?}");
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(distinct.len() > 150, "jittered: {} distinct waits of 200", distinct.len());
        let worst: Duration = (1..CONFLICT_ATTEMPTS).map(|a| CONFLICT_BACKOFF * 2u32.pow(a - 1)).sum();
        assert!(worst < Duration::from_millis(200), "all retries wait {worst:?} at most");
    }
}
