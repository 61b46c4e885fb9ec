//! Plays the table's stream event source mapping: template.yaml's mapping
//! (its filter, batch size and retries) read from the template itself, the
//! stream read from the emulator's DynamoDB Streams, and each record that
//! the filter passes shaped as the event record Lambda delivers to
//! send-emails. The dev server (and so the tests) and the bench read the
//! stream through this one reader.

use std::collections::HashMap;
use std::sync::LazyLock;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Value, json};

/// The template this checkout deploys, read when the harness is built.
const TEMPLATE: &str = include_str!("../../../template.yaml");

/// Consecutive empty `GetRecords` pages after which a shard counts as read to its end.
pub const EMPTY_PAGES_MEAN_CAUGHT_UP: u32 = 5;

/// One of the template's DynamoDB-stream event source mappings (send-emails', notify-portals').
#[derive(Debug, Clone)]
pub struct Mapping {
    pub batch_size: usize,
    pub maximum_retry_attempts: u32,
    /// The `FilterCriteria` patterns, as JSON; a record passes if any one matches.
    patterns: Vec<Value>,
}

/// The function resource whose stream mapping sends the emails.
pub const SEND_EMAILS: &str = "SendEmailsFunction";
/// The function resource whose stream mapping posts logout tokens to portals.
pub const NOTIFY_PORTALS: &str = "NotifyPortalsFunction";

static SEND_EMAILS_MAPPING: LazyLock<Mapping> = LazyLock::new(|| mapping_of(SEND_EMAILS));
static NOTIFY_PORTALS_MAPPING: LazyLock<Mapping> = LazyLock::new(|| mapping_of(NOTIFY_PORTALS));

fn mapping_of(function: &str) -> Mapping {
    Mapping::from_template_text(TEMPLATE, function)
        .unwrap_or_else(|problem| panic!("template.yaml's stream mapping of {function}: {problem}"))
}

impl Mapping {
    /// send-emails' mapping as template.yaml declares it.
    pub fn template() -> &'static Mapping {
        &SEND_EMAILS_MAPPING
    }

    /// notify-portals' mapping as template.yaml declares it.
    pub fn notify_portals() -> &'static Mapping {
        &NOTIFY_PORTALS_MAPPING
    }

    /// The mapping of `function`'s only event of `Type: DynamoDB`.
    pub fn from_template_text(text: &str, function: &str) -> Result<Self, String> {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let resources = doc.get("Resources").and_then(|r| r.as_mapping()).ok_or("no Resources section")?;
        let resource = resources.get(function).ok_or_else(|| format!("no resource {function}"))?;
        let sources: Vec<&serde_yaml_ng::Value> = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(|e| e.as_mapping())
            .into_iter()
            .flat_map(|events| events.values())
            .filter(|event| event.get("Type").and_then(|t| t.as_str()) == Some("DynamoDB"))
            .filter_map(|event| event.get("Properties"))
            .collect();
        let [source] = sources.as_slice() else {
            return Err(format!("expected exactly one DynamoDB event source, found {}", sources.len()));
        };
        // A number, or `!Ref` to a parameter: its default, as a stack deployed with the defaults has it.
        let number = |name: &str| {
            let value = source.get(name).ok_or(format!("no {name}"))?;
            let value = match value {
                serde_yaml_ng::Value::Tagged(tagged) if tagged.tag == "Ref" => {
                    let parameter = tagged.value.as_str().ok_or(format!("{name}: !Ref without a name"))?;
                    doc.get("Parameters")
                        .and_then(|p| p.get(parameter))
                        .and_then(|p| p.get("Default"))
                        .ok_or(format!("{name}: parameter {parameter} has no Default"))?
                }
                plain => plain,
            };
            value.as_u64().ok_or(format!("{name} is not a whole number"))
        };
        let filters = source
            .get("FilterCriteria")
            .and_then(|c| c.get("Filters"))
            .and_then(|f| f.as_sequence())
            .ok_or("no FilterCriteria.Filters")?;
        let patterns = filters
            .iter()
            .map(|filter| {
                let text = filter.get("Pattern").and_then(|p| p.as_str()).ok_or("a filter without a Pattern")?;
                let pattern: Value = serde_json::from_str(text).map_err(|e| format!("pattern {text}: {e}"))?;
                check_pattern(&pattern).map_err(|problem| format!("pattern {text}: {problem}"))?;
                Ok(pattern)
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            batch_size: number("BatchSize")? as usize,
            maximum_retry_attempts: number("MaximumRetryAttempts")? as u32,
            patterns,
        })
    }

    /// Whether the filter passes `record` (an event record as Lambda's JSON, keys DynamoDB-typed).
    pub fn passes(&self, record: &Value) -> bool {
        self.patterns.iter().any(|pattern| matches(pattern, record))
    }
}

/// A pattern the harness can play: objects whose leaves are lists of exact
/// values or `{"prefix": "…"}` (Lambda's other operators are refused, not ignored).
fn check_pattern(pattern: &Value) -> Result<(), String> {
    let Value::Object(fields) = pattern else { return Err("a pattern level is not an object".into()) };
    for (name, expected) in fields {
        match expected {
            Value::Object(_) => check_pattern(expected)?,
            Value::Array(matchers) => {
                for matcher in matchers {
                    match matcher {
                        Value::Object(o) if o.len() == 1 && o.get("prefix").is_some_and(Value::is_string) => {}
                        Value::Object(o) => {
                            return Err(format!("{name}: an operator the harness does not play: {o:?}"));
                        }
                        Value::Array(_) => return Err(format!("{name}: a list inside a list")),
                        _ => {}
                    }
                }
            }
            _ => return Err(format!("{name}: a value that is not a list or an object")),
        }
    }
    Ok(())
}

fn matches(pattern: &Value, value: &Value) -> bool {
    let (Value::Object(fields), Value::Object(actual)) = (pattern, value) else { return false };
    fields.iter().all(|(name, expected)| {
        let Some(actual) = actual.get(name) else { return false };
        match expected {
            Value::Object(_) => matches(expected, actual),
            Value::Array(matchers) => {
                let values = match actual {
                    Value::Array(values) => values.iter().collect(),
                    single => vec![single],
                };
                values.iter().any(|v| matchers.iter().any(|m| matches_one(m, v)))
            }
            _ => false,
        }
    })
}

fn matches_one(matcher: &Value, value: &Value) -> bool {
    match (matcher, value) {
        (Value::Object(o), Value::String(s)) => {
            o.get("prefix").and_then(Value::as_str).is_some_and(|p| s.starts_with(p))
        }
        (Value::Object(_), _) => false,
        (literal, value) => literal == value,
    }
}

/// The record as the event record Lambda delivers: images DynamoDB-typed
/// (`{"pk": {"S": "LINK#…"}}`), from the stream named `stream_arn` in `region`.
pub fn event_record(record: &Record, region: &str, stream_arn: &str) -> Value {
    let change = record.dynamodb();
    let image = |item: Option<&HashMap<String, AttributeValue>>| -> Value {
        item.map(|i| serde_json::to_value(serde_dynamo::Item::from(i.clone())).unwrap_or(Value::Null))
            .unwrap_or(json!({}))
    };
    json!({
        "eventID": record.event_id().unwrap_or_default(),
        "eventName": record.event_name().map(|n| n.as_str()).unwrap_or_default(),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
        "dynamodb": {
            "ApproximateCreationDateTime": change.and_then(|c| c.approximate_creation_date_time()).map(|t| t.as_secs_f64()).unwrap_or(0.0),
            "Keys": image(change.and_then(|c| c.keys.as_ref())),
            "NewImage": image(change.and_then(|c| c.new_image.as_ref())),
            "OldImage": image(change.and_then(|c| c.old_image.as_ref())),
            "SequenceNumber": change.and_then(|c| c.sequence_number()).unwrap_or_default(),
            "SizeBytes": change.and_then(|c| c.size_bytes()).unwrap_or_default(),
            "StreamViewType": change.and_then(|c| c.stream_view_type()).map(|v| v.as_str()).unwrap_or("NEW_AND_OLD_IMAGES"),
        }
    })
}

/// The event send-emails receives for a batch of records.
pub fn event(records: &[Value]) -> Value {
    json!({ "Records": records })
}

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

/// Reads a table's stream as the event source mapping does.
pub struct StreamReader {
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    region: String,
    mapping: &'static Mapping,
    /// The last sequence number read per shard (`None`: from the start).
    /// Iterators are taken afresh from here on every read rather than kept:
    /// a resumable checkpoint, and an emulator that restores a copy of the
    /// table when a transaction is cancelled (moto did) leaves an old
    /// iterator reading a stale shard.
    checkpoints: HashMap<String, Option<String>>,
}

impl StreamReader {
    pub async fn new(sdk: &aws_config::SdkConfig, table: &str) -> Result<Self, StreamError> {
        Self::with_mapping(sdk, table, Mapping::template()).await
    }

    /// A reader playing another function's mapping (its own filter, its own checkpoints).
    pub async fn with_mapping(
        sdk: &aws_config::SdkConfig,
        table: &str,
        mapping: &'static Mapping,
    ) -> Result<Self, StreamError> {
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
            mapping,
            checkpoints: HashMap::new(),
        })
    }

    /// The mapping this reader plays (template.yaml's).
    pub fn mapping(&self) -> &'static Mapping {
        self.mapping
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

    /// Every record written since the last read that passes the mapping's
    /// filter, as Lambda's event records; moves the checkpoint past them.
    pub async fn read_new(&mut self) -> Result<Vec<Value>, StreamError> {
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
                let shaped = output.records().iter().map(|r| event_record(r, &self.region, &self.stream_arn));
                records.extend(shaped.filter(|r| self.mapping.passes(r)));
                self.checkpoints.insert(shard.clone(), last_sequence);
            }
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event_name: &str, pk: &str) -> Value {
        json!({ "eventName": event_name, "dynamodb": { "Keys": { "pk": { "S": pk }, "sk": { "S": "LINK" } } } })
    }

    #[test]
    fn the_template_maps_inserts_of_links_and_notices_in_small_batches() {
        let mapping = Mapping::template();
        assert_eq!((mapping.batch_size, mapping.maximum_retry_attempts), (10, 3));
        assert!(mapping.passes(&record("INSERT", "LINK#abc")));
        assert!(mapping.passes(&record("INSERT", "NOTICE#abc")));
        for (event_name, pk) in
            [("MODIFY", "LINK#abc"), ("REMOVE", "NOTICE#abc"), ("INSERT", "IDENTITY#x"), ("INSERT", "XLINK#")]
        {
            assert!(!mapping.passes(&record(event_name, pk)), "{event_name} {pk}");
        }
        assert!(!mapping.passes(&json!({ "eventName": "INSERT", "dynamodb": { "Keys": { "pk": { "N": "1" } } } })));
        assert!(!mapping.passes(&json!({ "eventName": "INSERT" })));
    }

    #[test]
    fn notify_portals_maps_only_new_logout_events() {
        let mapping = Mapping::notify_portals();
        let event = |name: &str, pk: &str, sk: &str| json!({ "eventName": name, "dynamodb": { "Keys": { "pk": { "S": pk }, "sk": { "S": sk } } } });
        assert!(mapping.passes(&event("INSERT", "LOGOUT#abc", "EVENT")));
        for (name, pk, sk) in [
            ("INSERT", "LOGOUT#abc", "TO#s#portal"),
            ("MODIFY", "LOGOUT#abc", "EVENT"),
            ("INSERT", "LINK#abc", "LINK"),
            ("INSERT", "PORTALS#x", "EVENT"),
        ] {
            assert!(!mapping.passes(&event(name, pk, sk)), "{name} {pk} {sk}");
        }
        assert!(!Mapping::template().passes(&event("INSERT", "LOGOUT#abc", "EVENT")), "not send-emails'");
    }

    #[test]
    fn a_stream_record_becomes_the_event_record_the_filter_reads() {
        use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord};
        let keys = HashMap::from([("pk".to_owned(), AttributeValue::S("LINK#abc".into()))]);
        let change = StreamRecord::builder()
            .set_keys(Some(keys.clone()))
            .set_new_image(Some(keys))
            .sequence_number("42")
            .build();
        let record = Record::builder().event_id("e-1").event_name(OperationType::Insert).dynamodb(change).build();
        let shaped = event_record(&record, "local", "arn:stream");
        assert_eq!(shaped["dynamodb"]["Keys"]["pk"]["S"], "LINK#abc");
        assert_eq!(shaped["dynamodb"]["SequenceNumber"], "42");
        assert_eq!((shaped["eventID"].as_str(), shaped["eventName"].as_str()), (Some("e-1"), Some("INSERT")));
        assert!(Mapping::template().passes(&shaped));
        assert_eq!(event(&[shaped.clone()])["Records"][0], shaped);
    }

    #[test]
    fn operators_the_harness_does_not_play_are_refused() {
        let template = |pattern: &str| {
            format!(
                "Resources:\n  F:\n    Properties:\n      Events:\n        S:\n          Type: DynamoDB\n          Properties:\n            BatchSize: 5\n            MaximumRetryAttempts: 1\n            FilterCriteria:\n              Filters:\n                - Pattern: '{pattern}'\n"
            )
        };
        let mapping = Mapping::from_template_text(&template(r#"{"eventName": ["INSERT", "MODIFY"]}"#), "F").unwrap();
        assert_eq!(mapping.batch_size, 5);
        assert!(mapping.passes(&json!({"eventName": "MODIFY"})));
        for refused in [r#"{"eventName": [{"anything-but": "REMOVE"}]}"#, r#"{"eventName": "INSERT"}"#, "[1]"] {
            assert!(Mapping::from_template_text(&template(refused), "F").is_err(), "{refused}");
        }
        assert!(Mapping::from_template_text("Resources: {}", "F").is_err());
        assert!(Mapping::from_template_text(&template(r#"{"eventName": ["INSERT"]}"#), "G").is_err());
    }

    #[test]
    fn a_batch_size_from_a_parameter_is_its_default() {
        let text = "Parameters:\n  Batch: { Type: Number, Default: 7 }\nResources:\n  F:\n    Properties:\n      Events:\n        S:\n          Type: DynamoDB\n          Properties:\n            BatchSize: !Ref Batch\n            MaximumRetryAttempts: 1\n            FilterCriteria:\n              Filters:\n                - Pattern: '{\"eventName\": [\"INSERT\"]}'\n";
        assert_eq!(Mapping::from_template_text(text, "F").unwrap().batch_size, 7);
        let undefaulted = text.replace("Default: 7", "MinValue: 1");
        let problem = Mapping::from_template_text(&undefaulted, "F").unwrap_err();
        assert_eq!(problem, "BatchSize: parameter Batch has no Default");
        assert_eq!(Mapping::template().batch_size, 10, "template.yaml's SendEmailsBatchSize default");
    }
}
