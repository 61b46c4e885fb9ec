//! Plays the DynamoDB-stream event source mapping locally: reads the table's
//! stream from the emulator, applies the template's filter (INSERT of `LINK#`
//! items), and invokes send-emails with the same event JSON Lambda delivers,
//! honouring partial batch responses the way Lambda does (retry from the
//! first failed record, a bounded number of times).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use profile_link_send_emails::{SendEmailsApp, handle};
use serde_json::{Value, json};

/// As in template.yaml's event source mapping.
pub const BATCH_SIZE: usize = 10;
pub const MAXIMUM_RETRY_ATTEMPTS: u32 = 3;
/// Consecutive empty `GetRecords` pages after which a shard counts as read to its end.
pub const EMPTY_PAGES_MEAN_CAUGHT_UP: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("table {0} has no stream")]
    NoStream(String),
    #[error("{0}")]
    Sdk(String),
}

fn sdk_error(e: impl std::error::Error + Send + Sync + 'static) -> StreamError {
    StreamError::Sdk(aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string())
}

pub struct StreamPoller {
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    region: String,
    app: Arc<SendEmailsApp>,
    /// The last sequence number delivered per shard (`None`: from the start).
    /// Iterators are taken afresh from here on every poll rather than kept:
    /// a resumable checkpoint, and the emulator (moto) restores a copy of the
    /// table when a transaction is cancelled, which leaves an old iterator
    /// reading a stale shard.
    checkpoints: HashMap<String, Option<String>>,
    /// Records the last invocations reported as failed and gave up on (the on-failure destination).
    pub discarded: Vec<String>,
}

impl StreamPoller {
    pub async fn new(sdk: &aws_config::SdkConfig, table: &str, app: Arc<SendEmailsApp>) -> Result<Self, StreamError> {
        let described =
            aws_sdk_dynamodb::Client::new(sdk).describe_table().table_name(table).send().await.map_err(sdk_error)?;
        let stream_arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| StreamError::NoStream(table.to_owned()))?
            .to_owned();
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "local".into());
        Ok(Self {
            streams: aws_sdk_dynamodbstreams::Client::new(sdk),
            stream_arn,
            region,
            app,
            checkpoints: HashMap::new(),
            discarded: Vec::new(),
        })
    }

    /// Every shard of the stream, following `DescribeStream`'s pages (a
    /// stream that has lived for hours has many: DynamoDB rolls shards over).
    async fn shard_ids(&mut self) -> Result<Vec<String>, StreamError> {
        let mut ids = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let described = self
                .streams
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            let Some(description) = described.stream_description() else { break };
            ids.extend(description.shards().iter().filter_map(|shard| shard.shard_id().map(str::to_owned)));
            match description.last_evaluated_shard_id() {
                Some(last) => start = Some(last.to_owned()),
                None => break,
            }
        }
        for id in &ids {
            self.checkpoints.entry(id.clone()).or_insert(None);
        }
        Ok(ids)
    }

    async fn iterator(&self, shard: &str) -> Result<Option<String>, StreamError> {
        let request = self.streams.get_shard_iterator().stream_arn(&self.stream_arn).shard_id(shard);
        let request = match self.checkpoints.get(shard).cloned().flatten() {
            Some(sequence) => {
                request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(sequence)
            }
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        Ok(request.send().await.map_err(sdk_error)?.shard_iterator)
    }

    /// Reads everything available now and delivers it; returns how many
    /// records reached send-emails.
    pub async fn poll_once(&mut self) -> Result<usize, StreamError> {
        let records = self.read_available().await?;
        for batch in records.chunks(BATCH_SIZE) {
            self.invoke(batch.to_vec()).await;
        }
        Ok(records.len())
    }

    /// Every record written since the last read that passes the mapping's
    /// filter, as Lambda's event records; moves the checkpoint past them.
    pub async fn read_available(&mut self) -> Result<Vec<EventRecord>, StreamError> {
        let mut records = Vec::new();
        for shard in self.shard_ids().await? {
            let mut iterator = self.iterator(&shard).await?;
            // DynamoDB may answer empty pages before a shard's records; Lambda's
            // poller reads on, so a few empty pages in a row mean "caught up".
            let mut empty_pages = 0;
            while let Some(current) = iterator {
                let output =
                    self.streams.get_records().shard_iterator(current).limit(100).send().await.map_err(sdk_error)?;
                iterator = output.next_shard_iterator.clone();
                let Some(last) = output.records().last() else {
                    empty_pages += 1;
                    if empty_pages == EMPTY_PAGES_MEAN_CAUGHT_UP {
                        break;
                    }
                    continue;
                };
                empty_pages = 0;
                let last_sequence = last.dynamodb().and_then(|d| d.sequence_number()).map(str::to_owned);
                for record in output.records().iter().filter(|r| matches_filter(r)) {
                    records.push(self.to_event_record(record)?);
                }
                self.checkpoints.insert(shard.clone(), last_sequence);
            }
        }
        Ok(records)
    }

    /// Invokes send-emails; on a partial failure retries from the first failed
    /// record (Lambda's checkpointing), after a crashed invocation (a panic)
    /// retries the whole batch, and after the last retry sends the first failed
    /// record to the on-failure destination and goes on with the rest.
    async fn invoke(&mut self, mut batch: Vec<EventRecord>) {
        let mut retries = 0;
        while !batch.is_empty() {
            let mut event = Event::default();
            event.records = batch.clone();
            let app = self.app.clone();
            let request_id = profile_link_core::random::token(12);
            // Its own task, so a panicking invocation is a failed one, as in Lambda.
            let first_failed = match tokio::spawn(async move { handle(&app, event, &request_id).await }).await {
                Ok(response) => response
                    .batch_item_failures
                    .iter()
                    .filter_map(|f| f.item_identifier.as_deref())
                    .filter_map(|seq| batch.iter().position(|r| r.change.sequence_number.as_deref() == Some(seq)))
                    .min(),
                Err(crash) => {
                    tracing::error!(error = %crash, "send-emails invocation crashed; the whole batch is retried");
                    Some(0)
                }
            };
            let Some(first_failed) = first_failed else { return };
            if retries == MAXIMUM_RETRY_ATTEMPTS {
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

    /// The record as Lambda's event JSON, parsed with the same types Lambda's runtime uses.
    fn to_event_record(&self, record: &Record) -> Result<EventRecord, StreamError> {
        let change = record.dynamodb().ok_or_else(|| StreamError::Sdk("record without dynamodb section".into()))?;
        let image = |item: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| -> Value {
            item.map(|i| serde_json::to_value(serde_dynamo::Item::from(i.clone())).unwrap_or(Value::Null))
                .unwrap_or(json!({}))
        };
        let created = change.approximate_creation_date_time().map(|t| t.as_secs_f64()).unwrap_or(0.0);
        let json = json!({
            "eventID": record.event_id().unwrap_or_default(),
            "eventName": record.event_name().map(|n| n.as_str()).unwrap_or_default(),
            "eventVersion": record.event_version().unwrap_or("1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "eventSourceARN": self.stream_arn,
            "dynamodb": {
                "ApproximateCreationDateTime": created,
                "Keys": image(change.keys.as_ref()),
                "NewImage": image(change.new_image.as_ref()),
                "OldImage": image(change.old_image.as_ref()),
                "SequenceNumber": change.sequence_number().unwrap_or_default(),
                "SizeBytes": change.size_bytes().unwrap_or_default(),
                "StreamViewType": change.stream_view_type().map(|v| v.as_str()).unwrap_or("NEW_AND_OLD_IMAGES"),
            }
        });
        serde_json::from_value(json)
            .map_err(|e| StreamError::Sdk(format!("stream record does not parse as Lambda's event: {e}")))
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

/// template.yaml's FilterCriteria: INSERTs whose `pk` starts with `LINK#` or `NOTICE#`.
fn matches_filter(record: &Record) -> bool {
    let insert = record.event_name().map(|n| n.as_str()) == Some("INSERT");
    let mail_item = record
        .dynamodb()
        .and_then(|d| d.keys())
        .and_then(|k| k.get("pk"))
        .and_then(|v| v.as_s().ok())
        .is_some_and(|pk| profile_link_send_emails::MAIL_ITEM_PREFIXES.iter().any(|p| pk.starts_with(p)));
    insert && mail_item
}
