//! Sending a rendered [`Email`] through SES v2, tagged with what it is about.

use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::{Email, MailConfig, SendRefusal};
use crate::domain::mail_subject::MailSubject;

#[derive(Debug, thiserror::Error)]
#[error("SES SendEmail failed ({refusal}): {detail}")]
pub struct SendError {
    /// What kind of refusal it was, and so what the outbox does next.
    pub refusal: SendRefusal,
    /// SES's error code (e.g. `MessageRejected`), or what went wrong on the
    /// way (a timeout, a refused connection). Never SES's message, which can
    /// quote the recipient's address.
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    config: MailConfig,
    /// Until when (epoch seconds) SES said the account cannot send (a spent
    /// quota, a paused account): shared by every clone, so the rest of a
    /// batch, and later invocations of this instance, wait instead of asking.
    held_until: Arc<AtomicI64>,
}

/// SES has no idempotency token: a `SendEmail` that got no answer (an attempt
/// timed out, the connection was lost) may have been sent, and the SDK's
/// standard retry would send it again, so the person would get the same email
/// twice. Retries stay for answers that say nothing was sent (throttling, 5xx)
/// and for requests that never left (no connection could be made).
#[derive(Debug)]
pub struct UnansweredSendIsNotRetried;

impl aws_sdk_sesv2::config::retry::ClassifyRetry for UnansweredSendIsNotRetried {
    fn classify_retry(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_sdk_sesv2::config::retry::RetryAction {
        use aws_sdk_sesv2::config::retry::RetryAction;
        let Some(Err(error)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        let lost_in_transit = error.is_timeout_error()
            || error.is_response_error()
            || error.as_connector_error().is_some_and(|connector| lost_in_transmission(connector));
        if lost_in_transit { RetryAction::RetryForbidden } else { RetryAction::NoActionIndicated }
    }

    fn name(&self) -> &'static str {
        "UnansweredSendIsNotRetried"
    }
}

/// A spent quota or a paused account is a throttle by the SDK's lights (it
/// retries `LimitExceededException` at once, twice), but no answer will
/// differ for minutes: asking again only spends SES's patience. The outbox
/// waits instead ([`SendRefusal::backoff_seconds`]).
#[derive(Debug)]
pub struct AccountRefusalIsNotRetried;

impl aws_sdk_sesv2::config::retry::ClassifyRetry for AccountRefusalIsNotRetried {
    fn classify_retry(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_sdk_sesv2::config::retry::RetryAction {
        use aws_sdk_sesv2::config::retry::RetryAction;
        let Some(Err(error)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        let answer = error.as_operation_error().and_then(|e| e.downcast_ref::<SendEmailError>());
        if answer.is_some_and(|answer| SendRefusal::of_answer(answer).stops_sending()) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "AccountRefusalIsNotRetried"
    }
}

/// A transmission that failed after a connection was made (an I/O error or a
/// timeout on it): the request may have reached SES.
fn lost_in_transmission(connector: &aws_smithy_runtime_api::client::result::ConnectorError) -> bool {
    (connector.is_io() || connector.is_timeout()) && !never_connected(connector)
}

/// Whether the error says no connection was made, so the request never left.
fn never_connected(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.downcast_ref::<hyper_util::client::legacy::Error>().is_some_and(|e| e.is_connect()) {
            return true;
        }
        source = error.source();
    }
    false
}

/// Whether a send's failure leaves it open whether SES sent the email.
fn may_have_been_sent<E, R>(error: &aws_sdk_sesv2::error::SdkError<E, R>) -> bool {
    use aws_sdk_sesv2::error::SdkError;
    match error {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(failure) => failure.as_connector_error().is_some_and(lost_in_transmission),
        _ => false,
    }
}

impl Mailer {
    /// Every SES client the mailer uses gets [`UnansweredSendIsNotRetried`]
    /// and [`AccountRefusalIsNotRetried`].
    pub fn new(client: aws_sdk_sesv2::Client, config: MailConfig) -> Self {
        let client = aws_sdk_sesv2::Client::from_conf(
            client
                .config()
                .to_builder()
                .retry_classifier(UnansweredSendIsNotRetried)
                .retry_classifier(AccountRefusalIsNotRetried)
                .build(),
        );
        Self { client, config, held_until: Arc::default() }
    }

    /// The same SES client (and hold) sending as another identity or configuration set.
    pub fn with_config(&self, config: MailConfig) -> Self {
        Self { config, ..self.clone() }
    }

    /// When sending may be tried again, if SES said the account cannot send until then.
    pub fn held_until(&self, now: i64) -> Option<i64> {
        Some(self.held_until.load(Ordering::Relaxed)).filter(|until| *until > now)
    }

    /// Holds every send of this instance until `until` (an account-wide refusal).
    pub fn hold_until(&self, until: i64) {
        self.held_until.fetch_max(until, Ordering::Relaxed);
    }

    /// Sends one email, tagged with what it is about; the SES message id on success.
    pub async fn send(&self, email: &Email, about: &MailSubject) -> Result<String, SendError> {
        let content = |text: &str| Content::builder().data(text).charset("UTF-8").build().expect("data set");
        let message = Message::builder()
            .subject(content(&email.subject))
            .body(Body::builder().text(content(&email.text)).html(content(&email.html)).build())
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&self.config.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.config.configuration_set.clone())
            .set_email_tags(Some(
                about
                    .tags()
                    .into_iter()
                    .map(|(name, value)| {
                        MessageTag::builder().name(name).value(value).build().expect("name and value set")
                    })
                    .collect(),
            ))
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.message_id.unwrap_or_default()),
            Err(error) => {
                use aws_sdk_sesv2::error::ProvideErrorMetadata;
                let refusal = SendRefusal::of(&error, may_have_been_sent(&error));
                let detail = match error.as_service_error() {
                    Some(service) => service.code().unwrap_or("an unnamed SES error").to_owned(),
                    None => aws_sdk_sesv2::error::DisplayErrorContext(error).to_string(),
                };
                Err(SendError { refusal, detail })
            }
        }
    }
}
