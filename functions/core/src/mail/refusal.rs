//! Why SES did not take an email, and what the outbox does about it: wait a
//! little (a throttle), wait longer (a spent quota, a paused account), never
//! send it (a permanent refusal), or never send it again (no answer: it may
//! have gone). SES v2 names most of these by error code; a spent daily quota
//! comes as a throttle whose message says so (SES's "Errors related to the
//! sending quotas": `Daily message quota exceeded`).

use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;

/// What kind of "no" a `SendEmail` got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendRefusal {
    /// Over the account's maximum sending rate (`TooManyRequestsException`,
    /// "Maximum sending rate exceeded"): nothing was sent; soon it will be.
    Throttled,
    /// The account's 24-hour quota is spent (`LimitExceededException`, or a
    /// throttle saying "Daily message quota exceeded"): nothing was sent, and
    /// sending comes back as the rolling 24 hours move on.
    QuotaSpent,
    /// The account or its configuration set may not send now
    /// (`SendingPausedException`, `AccountSuspendedException`): nothing was
    /// sent until an operator or AWS resumes it.
    SendingPaused,
    /// SES will never send this email as it is (`MessageRejected`,
    /// `BadRequestException`, `MailFromDomainNotVerifiedException`,
    /// `NotFoundException`, or any other client error).
    Permanent,
    /// SES answered with a server error, or could not be reached: nothing was
    /// sent, and a later attempt may well go through.
    Unavailable,
    /// No answer came (a timeout, a connection lost mid-request): SES may
    /// have sent it, and it has no idempotency key, so it is not sent again.
    Unanswered,
}

impl SendRefusal {
    /// Classifies a failed `SendEmail`; `may_have_been_sent` says whether the
    /// request could have reached SES without its answer reaching us.
    pub fn of<R>(error: &SdkError<SendEmailError, R>, may_have_been_sent: bool) -> Self {
        if may_have_been_sent {
            return Self::Unanswered;
        }
        match error.as_service_error() {
            Some(service) => Self::of_answer(service),
            None => Self::Unavailable,
        }
    }

    /// Classifies SES's answer refusing a `SendEmail`.
    pub fn of_answer(service: &SendEmailError) -> Self {
        // The modelled errors carry their message in their own field, the others in their metadata.
        let says_quota = [service.to_string(), service.message().unwrap_or_default().to_owned()]
            .iter()
            .any(|m| m.to_ascii_lowercase().contains("quota"));
        match service {
            SendEmailError::LimitExceededException(_) => Self::QuotaSpent,
            SendEmailError::TooManyRequestsException(_) if says_quota => Self::QuotaSpent,
            SendEmailError::TooManyRequestsException(_) => Self::Throttled,
            SendEmailError::SendingPausedException(_) | SendEmailError::AccountSuspendedException(_) => {
                Self::SendingPaused
            }
            SendEmailError::MessageRejected(_)
            | SendEmailError::BadRequestException(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_)
            | SendEmailError::NotFoundException(_) => Self::Permanent,
            other => Self::by_code(other.code(), says_quota),
        }
    }

    /// An error the SDK does not model for `SendEmail` (e.g. the generic
    /// `ThrottlingException`), by its code.
    fn by_code(code: Option<&str>, says_quota: bool) -> Self {
        match code {
            Some("ThrottlingException" | "Throttling" | "TooManyRequestsException") if says_quota => Self::QuotaSpent,
            Some("ThrottlingException" | "Throttling" | "TooManyRequestsException") => Self::Throttled,
            Some(code) if code.contains("InternalFailure") || code.contains("ServiceUnavailable") => Self::Unavailable,
            Some(code) if code.contains("InternalServer") => Self::Unavailable,
            Some(_) => Self::Permanent,
            None => Self::Unavailable,
        }
    }

    /// How logs, metrics, the item and the audit trail name it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::QuotaSpent => "quota_spent",
            Self::SendingPaused => "sending_paused",
            Self::Permanent => "refused",
            Self::Unavailable => "unavailable",
            Self::Unanswered => "unanswered",
        }
    }

    /// Nothing was sent and a later attempt may go through: the item stays
    /// pending in the outbox with its next attempt time.
    pub const fn is_for_now(self) -> bool {
        matches!(self, Self::Throttled | Self::QuotaSpent | Self::SendingPaused | Self::Unavailable)
    }

    /// The whole account cannot send for a while: the invocation stops
    /// sending (every other email would meet the same refusal).
    pub const fn stops_sending(self) -> bool {
        matches!(self, Self::QuotaSpent | Self::SendingPaused)
    }

    /// The bounds of the wait before attempt `attempts + 1`, after `attempts`
    /// refused ones: doubling from a first wait, up to a ceiling (SES's advice
    /// for a spent quota is to wait up to 10 minutes).
    pub fn backoff_bounds(self, attempts: u32) -> (i64, i64) {
        let (first, ceiling) = match self {
            Self::Throttled | Self::Unavailable => (10, 120),
            Self::QuotaSpent | Self::SendingPaused => (60, 600),
            Self::Permanent | Self::Unanswered => (0, 0),
        };
        let doublings = attempts.saturating_sub(1).min(16);
        let full = (first << doublings).min(ceiling);
        // Jitter takes off up to half, so senders refused together come back apart.
        (full - full / 2, full)
    }

    /// The wait before the next attempt, jittered within [`Self::backoff_bounds`].
    pub fn backoff_seconds(self, attempts: u32) -> i64 {
        let (low, high) = self.backoff_bounds(attempts);
        low + crate::random::below((high - low + 1) as u64) as i64
    }
}

impl std::fmt::Display for SendRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sesv2::error::ErrorMetadata;
    use aws_sdk_sesv2::types::error::{
        AccountSuspendedException, BadRequestException, LimitExceededException, MailFromDomainNotVerifiedException,
        MessageRejected, NotFoundException, SendingPausedException, TooManyRequestsException,
    };

    fn refused(error: SendEmailError) -> SendRefusal {
        let error: SdkError<SendEmailError, ()> = SdkError::service_error(error, ());
        SendRefusal::of(&error, false)
    }

    #[test]
    fn each_ses_refusal_has_its_kind() {
        let cases = [
            (
                SendEmailError::TooManyRequestsException(
                    TooManyRequestsException::builder().message("Maximum sending rate exceeded.").build(),
                ),
                SendRefusal::Throttled,
            ),
            (
                SendEmailError::TooManyRequestsException(
                    TooManyRequestsException::builder().message("Daily message quota exceeded.").build(),
                ),
                SendRefusal::QuotaSpent,
            ),
            (
                SendEmailError::LimitExceededException(LimitExceededException::builder().build()),
                SendRefusal::QuotaSpent,
            ),
            (
                SendEmailError::SendingPausedException(SendingPausedException::builder().build()),
                SendRefusal::SendingPaused,
            ),
            (
                SendEmailError::AccountSuspendedException(AccountSuspendedException::builder().build()),
                SendRefusal::SendingPaused,
            ),
            (SendEmailError::MessageRejected(MessageRejected::builder().build()), SendRefusal::Permanent),
            (SendEmailError::BadRequestException(BadRequestException::builder().build()), SendRefusal::Permanent),
            (
                SendEmailError::MailFromDomainNotVerifiedException(
                    MailFromDomainNotVerifiedException::builder().build(),
                ),
                SendRefusal::Permanent,
            ),
            (SendEmailError::NotFoundException(NotFoundException::builder().build()), SendRefusal::Permanent),
        ];
        for (error, expected) in cases {
            let shown = format!("{error:?}");
            assert_eq!(refused(error), expected, "{shown}");
        }
    }

    #[test]
    fn unmodelled_codes_are_read_by_name() {
        let generic = |code: &str, message: &str| {
            SendEmailError::generic(ErrorMetadata::builder().code(code).message(message).build())
        };
        let cases = [
            (generic("ThrottlingException", "Maximum sending rate exceeded"), SendRefusal::Throttled),
            (generic("Throttling", "Daily message quota exceeded"), SendRefusal::QuotaSpent),
            (generic("InternalFailure", "oops"), SendRefusal::Unavailable),
            (generic("AccessDeniedException", "not allowed"), SendRefusal::Permanent),
        ];
        for (error, expected) in cases {
            let shown = format!("{error:?}");
            assert_eq!(refused(error), expected, "{shown}");
        }
    }

    #[test]
    fn an_unanswered_send_is_unanswered_whatever_else_it_says() {
        let error: SdkError<SendEmailError, ()> = SdkError::timeout_error("no answer");
        assert_eq!(SendRefusal::of(&error, true), SendRefusal::Unanswered);
        assert_eq!(SendRefusal::of(&error, false), SendRefusal::Unavailable, "a timeout before sending");
    }

    #[test]
    fn backoff_doubles_to_its_ceiling_and_spent_quotas_wait_longer() {
        let throttled: Vec<i64> = (1..=6).map(|a| SendRefusal::Throttled.backoff_bounds(a).1).collect();
        assert_eq!(throttled, [10, 20, 40, 80, 120, 120], "throttle waits: {throttled:?}");
        let quota: Vec<i64> = (1..=6).map(|a| SendRefusal::QuotaSpent.backoff_bounds(a).1).collect();
        assert_eq!(quota, [60, 120, 240, 480, 600, 600], "quota waits: {quota:?}");
        assert_eq!(SendRefusal::SendingPaused.backoff_bounds(1), (30, 60), "jitter takes off up to half");
        assert_eq!(SendRefusal::Throttled.backoff_bounds(200), (60, 120), "no overflow after many attempts");
        for attempts in 1..=8 {
            let (low, high) = SendRefusal::QuotaSpent.backoff_bounds(attempts);
            let drawn = SendRefusal::QuotaSpent.backoff_seconds(attempts);
            assert!((low..=high).contains(&drawn), "attempt {attempts}: {drawn} outside {low}..={high}");
        }
    }

    #[test]
    fn only_refusals_for_now_stay_pending_and_only_account_wide_ones_stop_the_batch() {
        let for_now: Vec<SendRefusal> = [
            SendRefusal::Throttled,
            SendRefusal::QuotaSpent,
            SendRefusal::SendingPaused,
            SendRefusal::Permanent,
            SendRefusal::Unavailable,
            SendRefusal::Unanswered,
        ]
        .into_iter()
        .filter(|r| r.is_for_now())
        .collect();
        assert_eq!(
            for_now,
            [SendRefusal::Throttled, SendRefusal::QuotaSpent, SendRefusal::SendingPaused, SendRefusal::Unavailable]
        );
        assert!(SendRefusal::QuotaSpent.stops_sending() && SendRefusal::SendingPaused.stops_sending());
        assert!(!SendRefusal::Throttled.stops_sending(), "a throttle is the rate, not the account");
    }
}
