//! A timing proxy in front of the local AWS servers (DynamoDB Local for the
//! table and its stream, moto for SES and SSM). Each function gets its own
//! listener as every `AWS_ENDPOINT_URL_<SERVICE>`, and as `HTTP_PROXY`, so
//! its calls to the identity provider pass through it too. Every call is
//! named (DynamoDB and SSM by `X-Amz-Target`, SES v2 by path), timed from
//! the moment its request arrives until its answer is sent back, and
//! costed in DynamoDB request units. The emulator's and the provider's time
//! can then be taken out of a handler's, and every AWS request counted.
//!
//! Each AWS answer is held back [`AWS_NETWORK`] before it is sent, as a
//! region's network would: DynamoDB Local on loopback answers a read in about
//! a millisecond, less than the gap (up to 2.2 ms measured here, on 2 busy
//! cores) between two requests a function issues together, so without the
//! hold two reads issued side by side could look sequential. The hold is
//! part of the calls' time, which handler time excludes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Whom a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Service {
    DynamoDb,
    Ses,
    Ssm,
    /// The OpenID provider (discovery, JWKS, token endpoint).
    Provider,
    Other,
}

impl Service {
    pub fn label(self) -> &'static str {
        match self {
            Self::DynamoDb => "DynamoDB",
            Self::Ses => "SES",
            Self::Ssm => "SSM",
            Self::Provider => "provider",
            Self::Other => "other",
        }
    }

    pub fn is_aws(self) -> bool {
        matches!(self, Self::DynamoDb | Self::Ses | Self::Ssm)
    }
}

/// One call a function made.
#[derive(Debug, Clone)]
pub struct Call {
    /// The function whose listener it came through.
    pub caller: String,
    pub service: Service,
    pub operation: String,
    pub started: Instant,
    pub finished: Instant,
    pub status: u16,
    /// DynamoDB request units, estimated from the items in the request and answer.
    pub read_units: f64,
    pub write_units: f64,
    /// The request body of an SES `SendEmail` (the bench reads the link in it).
    pub email: Option<Bytes>,
}

impl Call {
    pub fn duration(&self) -> Duration {
        self.finished - self.started
    }
}

/// How long each AWS answer is held: about what a call from Lambda to
/// DynamoDB in the same region takes on the network.
pub const AWS_NETWORK: Duration = Duration::from_millis(4);

pub struct Proxy {
    dynamodb: String,
    moto: String,
    client: reqwest::Client,
    calls: Mutex<Vec<Call>>,
}

struct Listener {
    proxy: Arc<Proxy>,
    caller: String,
    /// This listener's own `host:port`: a request naming it in absolute form
    /// came through `HTTP_PROXY` but is meant for the AWS servers.
    own: String,
}

impl Proxy {
    pub fn new(aws: &profile_link_core::aws::Endpoints) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("HTTP client builds");
        Arc::new(Self {
            dynamodb: aws.dynamodb.trim_end_matches('/').to_owned(),
            moto: aws.sesv2.trim_end_matches('/').to_owned(),
            client,
            calls: Mutex::default(),
        })
    }

    /// A new listener on a free loopback port for `caller`'s calls.
    pub async fn listen(self: &Arc<Self>, caller: &str) -> anyhow::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Listener { proxy: self.clone(), caller: caller.to_owned(), own: addr.to_string() });
        let app = Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(addr)
    }

    /// Every call recorded since the last `take`.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().expect("not poisoned"))
    }
}

const HOP_BY_HOP: [HeaderName; 6] = [
    header::HOST,
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::CONTENT_LENGTH,
    header::PROXY_AUTHORIZATION,
    header::UPGRADE,
];

async fn forward(State(listener): State<Arc<Listener>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 32 << 20).await else {
        return (StatusCode::BAD_REQUEST, "unreadable body").into_response();
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let to_aws = parts.uri.authority().is_none_or(|a| a.as_str() == listener.own);
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    // DynamoDB and its stream (`DynamoDB_20120810.*`, `DynamoDBStreams_20120810.*`) are DynamoDB Local's.
    let aws_server = if target.starts_with("DynamoDB") { &listener.proxy.dynamodb } else { &listener.proxy.moto };
    let url = match parts.uri.authority() {
        Some(authority) if !to_aws => format!("http://{authority}{path}"),
        _ => format!("{aws_server}{path}"),
    };
    let (service, operation) =
        if to_aws { name_aws_call(target, parts.uri.path()) } else { name_provider_call(parts.uri.path()) };

    let mut upstream = listener.proxy.client.request(parts.method.clone(), &url);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(name) && name.as_str() != "proxy-connection" {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.body(body.clone()).send().await {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, format!("upstream: {error}")).into_response(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let answer_body = answer.bytes().await.unwrap_or_default();
    if to_aws {
        tokio::time::sleep(AWS_NETWORK).await;
    }

    let (read_units, write_units) =
        if service == Service::DynamoDb { request_units(&operation, &body, &answer_body) } else { (0.0, 0.0) };
    let email = (service == Service::Ses && operation == "SendEmail").then(|| body.clone());
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(name) {
            response = response.header(name, value);
        }
    }
    let response = response.body(Body::from(answer_body)).expect("valid response parts");
    listener.proxy.calls.lock().expect("not poisoned").push(Call {
        caller: listener.caller.clone(),
        service,
        operation,
        started,
        finished: Instant::now(),
        status: status.as_u16(),
        read_units,
        write_units,
        email,
    });
    response
}

/// `DynamoDB_20120810.PutItem` → (DynamoDB, PutItem); SES v2 by its REST path.
fn name_aws_call(target: &str, path: &str) -> (Service, String) {
    if let Some((prefix, operation)) = target.split_once('.') {
        let service = match prefix {
            p if p.starts_with("DynamoDB_") => Service::DynamoDb,
            "AmazonSSM" => Service::Ssm,
            _ => Service::Other,
        };
        return (service, operation.to_owned());
    }
    match path {
        "/v2/email/outbound-emails" => (Service::Ses, "SendEmail".to_owned()),
        p if p.starts_with("/v2/email/") => (Service::Ses, p.to_owned()),
        p => (Service::Other, p.to_owned()),
    }
}

fn name_provider_call(path: &str) -> (Service, String) {
    let operation = if path.ends_with("/.well-known/openid-configuration") {
        "discovery"
    } else if path.contains("jwks") {
        "JWKS"
    } else if path.contains("token") {
        "token"
    } else {
        path
    };
    (Service::Provider, operation.to_owned())
}

/// DynamoDB on-demand request units for one call, as DynamoDB bills them:
/// writes 1 unit per KB of item (2 in a transaction), strongly consistent
/// reads 1 unit per 4 KB read (eventually consistent: half), every call at
/// least the minimum. Item sizes follow DynamoDB's rules (attribute names plus
/// values); items only named by key in a request (updates, deletes and
/// condition checks in a transaction) count as one KB, which every item this
/// service writes is below (the Put sizes in the same run show it).
pub fn request_units(operation: &str, request: &[u8], answer: &[u8]) -> (f64, f64) {
    let request: Value = serde_json::from_slice(request).unwrap_or(Value::Null);
    let answer: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
    let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
    let reads = |bytes: usize| {
        let units = bytes.div_ceil(4096).max(1) as f64;
        if consistent { units } else { units / 2.0 }
    };
    let kb = |bytes: usize| bytes.div_ceil(1024).max(1) as f64;
    // A write to an item carrying the index's keys is written to the index too.
    let index_writes = |item: &Value| if item.get("gsi1pk").is_some() { kb(item_size(item)) } else { 0.0 };
    match operation {
        "PutItem" => (0.0, kb(item_size(&request["Item"])) + index_writes(&request["Item"])),
        "UpdateItem" | "DeleteItem" => (0.0, kb(item_size(&answer["Attributes"]))),
        "GetItem" => (reads(item_size(&answer["Item"])), 0.0),
        "Query" | "Scan" => {
            let bytes = answer["Items"].as_array().map(|items| items.iter().map(item_size).sum()).unwrap_or(0);
            (reads(bytes), 0.0)
        }
        "TransactWriteItems" => {
            let units = request["TransactItems"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|item| match item.get("Put") {
                            Some(put) => 2.0 * (kb(item_size(&put["Item"])) + index_writes(&put["Item"])),
                            None => 2.0,
                        })
                        .sum()
                })
                .unwrap_or(0.0);
            (0.0, units)
        }
        "BatchWriteItem" => {
            let units = request["RequestItems"]
                .as_object()
                .map(|tables| {
                    tables
                        .values()
                        .flat_map(|writes| writes.as_array().cloned().unwrap_or_default())
                        .map(|w| kb(item_size(&w["PutRequest"]["Item"])))
                        .sum()
                })
                .unwrap_or(0.0);
            (0.0, units)
        }
        _ => (0.0, 0.0),
    }
}

/// An item's size by DynamoDB's rules: each attribute's name plus its value.
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .map(|attributes| attributes.iter().map(|(name, value)| name.len() + value_size(value)).sum())
        .unwrap_or(0)
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else { return 0 };
    let number =
        |n: &Value| n.as_str().map(|s| s.trim_start_matches('-').replace('.', "").len().div_ceil(2) + 1).unwrap_or(1);
    let text = |s: &Value| s.as_str().map(str::len).unwrap_or(0);
    let binary = |b: &Value| b.as_str().map(|s| s.len() * 3 / 4).unwrap_or(0);
    let list = |f: &dyn Fn(&Value) -> usize| inner.as_array().map(|a| a.iter().map(f).sum()).unwrap_or(0);
    match kind.as_str() {
        "S" => text(inner),
        "N" => number(inner),
        "B" => binary(inner),
        "BOOL" | "NULL" => 1,
        "SS" => list(&text),
        "NS" => list(&number),
        "BS" => list(&binary),
        "L" => 3 + inner.as_array().map(|a| a.iter().map(|v| 1 + value_size(v)).sum()).unwrap_or(0),
        "M" => 3 + inner.as_object().map(|m| m.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum()).unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aws_and_provider_calls() {
        assert_eq!(name_aws_call("DynamoDB_20120810.Query", "/"), (Service::DynamoDb, "Query".into()));
        assert_eq!(name_aws_call("AmazonSSM.GetParameters", "/"), (Service::Ssm, "GetParameters".into()));
        assert_eq!(name_aws_call("", "/v2/email/outbound-emails"), (Service::Ses, "SendEmail".into()));
        assert_eq!(name_provider_call("/.well-known/openid-configuration").1, "discovery");
        assert_eq!(name_provider_call("/token").1, "token");
    }

    #[test]
    fn request_units_follow_dynamodb_billing() {
        let put = br#"{"Item":{"pk":{"S":"LOGIN#abc"},"sk":{"S":"LOGIN"}}}"#;
        assert_eq!(request_units("PutItem", put, b"{}"), (0.0, 1.0));
        let transact = br#"{"TransactItems":[{"Put":{"Item":{"pk":{"S":"a"}}}},{"Update":{}},{"ConditionCheck":{}}]}"#;
        assert_eq!(request_units("TransactWriteItems", transact, b"{}"), (0.0, 6.0));
        let get = br#"{"ConsistentRead":true}"#;
        assert_eq!(request_units("GetItem", get, br#"{"Item":{"pk":{"S":"x"}}}"#), (1.0, 0.0));
        assert_eq!(request_units("Query", b"{}", br#"{"Items":[]}"#), (0.5, 0.0));
        assert_eq!(item_size(&serde_json::json!({"ab": {"S": "xyz"}, "n": {"N": "123"}})), 2 + 3 + 1 + 3);
    }
}
