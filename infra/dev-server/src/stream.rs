//! Plays the DynamoDB-stream event source mappings locally: reads the table's
//! stream from the emulator through the harness's reader (template.yaml's
//! filter, batch size and retries), and invokes the function (send-emails,
//! notify-portals) with the same event JSON Lambda delivers, honouring partial
//! batch responses the way Lambda does (retry from the first failed record, a
//! bounded number of times).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::DynamoDbEventResponse;
pub use profile_link_harness::stream::{EMPTY_PAGES_MEAN_CAUGHT_UP, StreamError};
use profile_link_harness::stream::{Mapping, StreamReader};
use profile_link_notify_portals::NotifyPortalsApp;
use profile_link_send_emails::{SendEmailsApp, handle};

type Invocation = Pin<Box<dyn Future<Output = DynamoDbEventResponse> + Send>>;
/// The function a mapping invokes: an event and Lambda's request id in, its partial batch response out.
type Invoke = Arc<dyn Fn(Event, String) -> Invocation + Send + Sync>;

pub struct StreamPoller {
    reader: StreamReader,
    invoke: Invoke,
    /// Records the last invocations reported as failed and gave up on (the on-failure destination).
    pub discarded: DeadLetters,
}

/// A mapping's on-failure destination: the event ids of the records it gave
/// up on. Shared, so it can be read while the poller runs (`/dev/dead-letters`).
#[derive(Debug, Clone, Default)]
pub struct DeadLetters(Arc<Mutex<Vec<String>>>);

impl DeadLetters {
    pub fn ids(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(crate) fn push(&self, id: String) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(id);
    }
}

impl StreamPoller {
    /// send-emails' mapping.
    pub async fn new(sdk: &aws_config::SdkConfig, table: &str, app: Arc<SendEmailsApp>) -> Result<Self, StreamError> {
        let invoke: Invoke = Arc::new(move |event, request_id| {
            let app = app.clone();
            Box::pin(async move { handle(&app, event, &request_id).await })
        });
        Ok(Self { reader: StreamReader::new(sdk, table).await?, invoke, discarded: DeadLetters::default() })
    }

    /// notify-portals' mapping.
    pub async fn notify_portals(
        sdk: &aws_config::SdkConfig,
        table: &str,
        app: Arc<NotifyPortalsApp>,
    ) -> Result<Self, StreamError> {
        let invoke: Invoke = Arc::new(move |event, request_id| {
            let app = app.clone();
            Box::pin(async move { profile_link_notify_portals::handle(&app, event, &request_id).await })
        });
        let reader = StreamReader::with_mapping(sdk, table, Mapping::notify_portals()).await?;
        Ok(Self { reader, invoke, discarded: DeadLetters::default() })
    }

    /// Reads everything available now and delivers it; returns how many
    /// records reached the function.
    pub async fn poll_once(&mut self) -> Result<usize, StreamError> {
        let records = self.read_available().await?;
        for batch in records.chunks(self.reader.mapping().batch_size) {
            self.invoke(batch.to_vec()).await;
        }
        Ok(records.len())
    }

    /// Every record written since the last read that passes the mapping's
    /// filter, as Lambda's event records; moves the checkpoint past them.
    pub async fn read_available(&mut self) -> Result<Vec<EventRecord>, StreamError> {
        self.reader
            .read_new()
            .await?
            .into_iter()
            // Parsed with the same types Lambda's runtime uses.
            .map(|record| {
                serde_json::from_value(record)
                    .map_err(|e| StreamError::Sdk(format!("stream record does not parse as Lambda's event: {e}")))
            })
            .collect()
    }

    /// Invokes the function; on a partial failure retries from the first failed
    /// record (Lambda's checkpointing), after a crashed invocation (a panic)
    /// retries the whole batch, and after the last retry sends the first failed
    /// record to the on-failure destination and goes on with the rest.
    async fn invoke(&mut self, mut batch: Vec<EventRecord>) {
        let maximum_retry_attempts = self.reader.mapping().maximum_retry_attempts;
        let mut retries = 0;
        while !batch.is_empty() {
            let mut event = Event::default();
            event.records = batch.clone();
            let request_id = profile_link_core::random::token(12);
            // Its own task, so a panicking invocation is a failed one, as in Lambda.
            let first_failed = match tokio::spawn((self.invoke)(event, request_id)).await {
                Ok(response) => response
                    .batch_item_failures
                    .iter()
                    .filter_map(|f| f.item_identifier.as_deref())
                    .filter_map(|seq| batch.iter().position(|r| r.change.sequence_number.as_deref() == Some(seq)))
                    .min(),
                Err(crash) => {
                    tracing::error!(error = %crash, "stream invocation crashed; the whole batch is retried");
                    Some(0)
                }
            };
            let Some(first_failed) = first_failed else { return };
            if retries == maximum_retry_attempts {
                let id = batch[first_failed].event_id.clone();
                tracing::error!(event_id = %id, "stream record failed after retries; sent to the on-failure destination");
                self.discarded.push(id);
                batch.drain(..=first_failed);
                retries = 0;
                continue;
            }
            batch.drain(..first_failed);
            retries += 1;
            tokio::time::sleep(Duration::from_millis(100 << retries)).await;
        }
    }

    /// Polls until `shutdown` fires.
    pub async fn run(mut self, interval: Duration) {
        loop {
            if let Err(error) = self.poll_once().await {
                tracing::warn!(%error, "stream poll failed; retrying");
            }
            tokio::time::sleep(interval).await;
        }
    }
}
