//! Plays the table's stream event source mapping: reads new records from the
//! emulator's DynamoDB Streams, keeps what template.yaml's filter passes
//! (INSERTs of `LINK#` and `NOTICE#` items) and shapes them as the event
//! Lambda delivers to send-emails.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use serde_json::{Value, json};

pub struct StreamReader {
    streams: aws_sdk_dynamodbstreams::Client,
    arn: String,
    region: String,
    /// The last sequence number read per shard; fresh iterators are taken from
    /// here on every read (the emulator restores a table copy when a
    /// transaction is cancelled, which strands old iterators).
    checkpoints: HashMap<String, Option<String>>,
}

impl StreamReader {
    pub async fn new(sdk: &aws_config::SdkConfig, table: &str) -> anyhow::Result<Self> {
        let described = aws_sdk_dynamodb::Client::new(sdk)
            .describe_table()
            .table_name(table)
            .send()
            .await
            .with_context(|| format!("describing table {table}"))?;
        let arn = described.table().and_then(|t| t.latest_stream_arn()).context("the table has no stream")?.to_owned();
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        Ok(Self { streams: aws_sdk_dynamodbstreams::Client::new(sdk), arn, region, checkpoints: HashMap::new() })
    }

    /// Every record written since the last read that the mapping's filter passes.
    pub async fn read_new(&mut self) -> anyhow::Result<Vec<Value>> {
        let described = self.streams.describe_stream().stream_arn(&self.arn).send().await?;
        let shards: Vec<String> = described
            .stream_description()
            .map(|d| d.shards())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.shard_id().map(str::to_owned))
            .collect();
        let mut out = Vec::new();
        for shard in shards {
            let request = self.streams.get_shard_iterator().stream_arn(&self.arn).shard_id(&shard);
            let request = match self.checkpoints.get(&shard).cloned().flatten() {
                Some(sequence) => {
                    request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(sequence)
                }
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let mut iterator = request.send().await?.shard_iterator;
            while let Some(current) = iterator {
                let output = self.streams.get_records().shard_iterator(current).limit(1000).send().await?;
                let Some(last) = output.records().last() else { break };
                let sequence = last.dynamodb().and_then(|d| d.sequence_number()).map(str::to_owned);
                out.extend(output.records().iter().filter(|r| passes_filter(r)).map(|r| self.event_record(r)));
                self.checkpoints.insert(shard.clone(), sequence);
                iterator = output.next_shard_iterator;
            }
        }
        Ok(out)
    }

    fn event_record(&self, record: &Record) -> Value {
        let change = record.dynamodb();
        let image = |item: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| -> Value {
            item.map(|i| serde_json::to_value(serde_dynamo::Item::from(i.clone())).unwrap_or(Value::Null))
                .unwrap_or(json!({}))
        };
        json!({
            "eventID": record.event_id().unwrap_or_default(),
            "eventName": record.event_name().map(|n| n.as_str()).unwrap_or_default(),
            "eventVersion": record.event_version().unwrap_or("1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "eventSourceARN": self.arn,
            "dynamodb": {
                "ApproximateCreationDateTime": change.and_then(|c| c.approximate_creation_date_time()).map(|t| t.as_secs_f64()).unwrap_or(0.0),
                "Keys": image(change.and_then(|c| c.keys.as_ref())),
                "NewImage": image(change.and_then(|c| c.new_image.as_ref())),
                "SequenceNumber": change.and_then(|c| c.sequence_number()).unwrap_or_default(),
                "SizeBytes": change.and_then(|c| c.size_bytes()).unwrap_or_default(),
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            }
        })
    }
}

/// template.yaml's FilterCriteria: INSERTs whose `pk` starts with `LINK#` or `NOTICE#`.
fn passes_filter(record: &Record) -> bool {
    let inserted = record.event_name().map(|n| n.as_str()) == Some("INSERT");
    let pk = record.dynamodb().and_then(|d| d.keys()).and_then(|k| k.get("pk")).and_then(|v| v.as_s().ok());
    inserted && pk.is_some_and(|pk| pk.starts_with("LINK#") || pk.starts_with("NOTICE#"))
}

/// The event send-emails receives for a batch of records.
pub fn event(records: &[Value]) -> Value {
    json!({ "Records": records })
}
