//! A fault-injecting HTTP proxy for the local AWS servers. The functions' SDK
//! clients point every service at it; it forwards each call to the server for
//! its service (DynamoDB and its stream to DynamoDB Local, the rest to moto)
//! and, for a chosen share of them, answers the way a struggling AWS service
//! does: a throttling error, a 500, a connection closed without an answer, a
//! delay before forwarding, or what only real DynamoDB produces: a
//! transaction cancelled by a conflicting one (`TransactionConflict`), and
//! stream pages that are empty or cut short.
//!
//! Faults happen *before* a call reaches the emulator, so an injected fault
//! never leaves a half-applied write behind: a lost *response* to an applied
//! write is DynamoDB's idempotency token's job (the SDK fills
//! `ClientRequestToken` on `TransactWriteItems`; the emulator ignores it), and
//! the proxy records those tokens so tests can check they survive retries.
//!
//! Rules are matched in order; the first rule that matches a call *and* whose
//! share fires decides the fault. Shares are drawn from a seeded generator, or
//! taken as "every n-th matching call", so runs are repeatable.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

/// Which AWS API a call is for, from its headers and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    DynamoDb,
    Streams,
    Ses,
    Other,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::DynamoDb => "dynamodb",
            Self::Streams => "streams",
            Self::Ses => "ses",
            Self::Other => "other",
        }
    }
}

/// One call as the proxy sees it.
#[derive(Debug, Clone)]
pub struct Call {
    pub service: Service,
    /// `PutItem`, `TransactWriteItems`, `SendEmail` …
    pub operation: String,
}

impl Call {
    fn classify(request: &Request<Incoming>) -> Self {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let target = header("x-amz-target");
        if let Some(operation) = target.strip_prefix("DynamoDB_20120810.") {
            return Self { service: Service::DynamoDb, operation: operation.to_owned() };
        }
        if let Some(operation) = target.strip_prefix("DynamoDBStreams_20120810.") {
            return Self { service: Service::Streams, operation: operation.to_owned() };
        }
        let path = request.uri().path();
        if let Some(rest) = path.strip_prefix("/v2/email/") {
            let operation = match rest.split('/').next().unwrap_or("") {
                "outbound-emails" => "SendEmail",
                "identities" => "EmailIdentity",
                "configuration-sets" => "ConfigurationSet",
                other => other,
            };
            return Self { service: Service::Ses, operation: operation.to_owned() };
        }
        Self { service: Service::Other, operation: path.to_owned() }
    }
}

/// What the proxy does instead of (or before) forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// DynamoDB's `ThrottlingException` (400) or SES's `TooManyRequestsException` (429).
    Throttle,
    /// A 500 `InternalServerError`.
    ServerError,
    /// The connection closes without an answer (the call never reaches the emulator).
    Drop,
    /// Waits this long, then forwards (even if the caller has given up by then).
    Delay(Duration),
    /// What DynamoDB answers a write that met a concurrent transaction on the
    /// same item: `TransactWriteItems` is cancelled with a `TransactionConflict`
    /// reason, any other write fails with `TransactionConflictException`.
    Conflict,
    /// A `GetRecords` page with no records and an iterator at the same place
    /// (DynamoDB returns such pages before a shard's records).
    EmptyPage,
    /// Forwards with the request's `Limit` set to n (pages of at most n
    /// records or shards, so a reader must follow the pagination).
    Limit(u32),
}

/// How often a matching rule fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Share {
    Always,
    /// Every n-th matching call (the n-th, 2n-th, …).
    EveryNth(u64),
    /// The first n matching calls, then none (an outage that ends).
    FirstN(u64),
    /// Each matching call with this probability (seeded).
    Probability(f64),
}

/// "Throttle 20% of DynamoDB `TransactWriteItems` calls."
#[derive(Debug, Clone)]
pub struct Rule {
    pub service: Option<Service>,
    pub operation: Option<String>,
    pub fault: Fault,
    pub share: Share,
    matched: u64,
}

impl Rule {
    pub fn new(service: Option<Service>, operation: Option<&str>, fault: Fault, share: Share) -> Self {
        Self { service, operation: operation.map(str::to_owned), fault, share, matched: 0 }
    }

    fn matches(&self, call: &Call) -> bool {
        self.service.is_none_or(|s| s == call.service)
            && self.operation.as_deref().is_none_or(|op| op.eq_ignore_ascii_case(&call.operation))
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "fault rule {0:?}: {1} (expected SERVICE[/OPERATION]:KIND:SHARE, e.g. dynamodb:throttle:0.2, ses/SendEmail:error:every3, any:delay=300ms:1)"
)]
pub struct RuleSyntaxError(String, &'static str);

/// `SERVICE[/OPERATION]:KIND:SHARE`, where SERVICE is dynamodb, streams, ses or any;
/// KIND is throttle, error, drop, delay=<n>ms, conflict, empty or limit=<n>; SHARE is a probability (0–1),
/// `every<n>`, `first<n>` or `always`.
impl FromStr for Rule {
    type Err = RuleSyntaxError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let error = |why| RuleSyntaxError(spec.to_owned(), why);
        let mut parts = spec.split(':');
        let (Some(target), Some(kind), Some(share), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(error("needs three parts separated by ':'"));
        };
        let (service, operation) = match target.split_once('/') {
            Some((service, operation)) if !operation.is_empty() => (service, Some(operation)),
            Some(_) => return Err(error("empty operation after '/'")),
            None => (target, None),
        };
        let service = match service.to_ascii_lowercase().as_str() {
            "any" => None,
            "dynamodb" => Some(Service::DynamoDb),
            "streams" => Some(Service::Streams),
            "ses" => Some(Service::Ses),
            _ => return Err(error("unknown service")),
        };
        let fault = match kind.to_ascii_lowercase().as_str() {
            "throttle" => Fault::Throttle,
            "error" => Fault::ServerError,
            "drop" => Fault::Drop,
            "conflict" => Fault::Conflict,
            "empty" => Fault::EmptyPage,
            limit if limit.starts_with("limit=") => {
                let n = limit["limit=".len()..].parse::<u32>().ok().filter(|n| *n > 0);
                Fault::Limit(n.ok_or_else(|| error("limit=<n> needs n ≥ 1"))?)
            }
            other => {
                let millis = other
                    .strip_prefix("delay=")
                    .and_then(|d| d.strip_suffix("ms"))
                    .and_then(|d| d.parse::<u64>().ok())
                    .filter(|ms| *ms <= 60_000)
                    .ok_or_else(|| error("unknown fault kind (or a delay over 60000ms)"))?;
                Fault::Delay(Duration::from_millis(millis))
            }
        };
        let share = match share.to_ascii_lowercase().as_str() {
            "always" => Share::Always,
            every if every.starts_with("every") => {
                let n = every["every".len()..].parse::<u64>().ok().filter(|n| *n > 0);
                Share::EveryNth(n.ok_or_else(|| error("every<n> needs n ≥ 1"))?)
            }
            first if first.starts_with("first") => {
                let n = first["first".len()..].parse::<u64>().ok();
                Share::FirstN(n.ok_or_else(|| error("first<n> needs a number"))?)
            }
            probability => {
                let p = probability.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p));
                Share::Probability(p.ok_or_else(|| error("share must be a probability between 0 and 1"))?)
            }
        };
        Ok(Self::new(service, operation, fault, share))
    }
}

/// What happened to calls, by `service/operation` and outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// `"dynamodb/PutItem" → {"forwarded": 3, "throttle": 1}`
    pub calls: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// `ClientRequestToken` of every `TransactWriteItems` call seen, in order (faulted ones included).
    pub transaction_tokens: Vec<String>,
}

impl Stats {
    pub fn count(&self, service_operation: &str, outcome: &str) -> u64 {
        self.calls.get(service_operation).and_then(|o| o.get(outcome)).copied().unwrap_or(0)
    }

    /// Faults injected of one kind (`throttle`, `error`, `drop`, `delay`), over all calls.
    pub fn faults(&self, kind: &str) -> u64 {
        self.calls.values().filter_map(|o| o.get(kind)).sum()
    }

    pub fn forwarded(&self) -> u64 {
        self.faults("forwarded")
    }
}

struct State {
    rules: Vec<Rule>,
    rng: fastrand::Rng,
    stats: Stats,
}

/// Where calls go: DynamoDB and DynamoDB Streams to one server, SES and SSM to another.
#[derive(Debug, Clone)]
pub struct Upstreams {
    pub dynamodb: String,
    pub other: String,
}

/// A running proxy; cheap to clone, shared with the task serving it.
#[derive(Clone)]
pub struct FaultProxy {
    dynamodb: url::Url,
    other: url::Url,
    state: Arc<Mutex<State>>,
    client: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "upstream {0} must be an http URL on 127.0.0.1 or localhost: this proxy only sits in front of a local emulator"
    )]
    NotLocal(String),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
}

impl FaultProxy {
    pub fn new(upstreams: &Upstreams, rules: Vec<Rule>, seed: u64) -> Result<Self, ProxyError> {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let state = State { rules, rng: fastrand::Rng::with_seed(seed), stats: Stats::default() };
        Ok(Self {
            dynamodb: local_url(&upstreams.dynamodb)?,
            other: local_url(&upstreams.other)?,
            state: Arc::new(Mutex::new(state)),
            client,
        })
    }

    /// Replaces the rules (counters of "every n-th" start again).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.state.lock().unwrap().rules = rules;
    }

    /// No more faults: every call is forwarded.
    pub fn heal(&self) {
        self.set_rules(Vec::new());
    }

    pub fn stats(&self) -> Stats {
        self.state.lock().unwrap().stats.clone()
    }

    /// Listens on `address` (use port 0 for a free one) and serves until the task is dropped.
    pub async fn listen(&self, address: &str) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ProxyError> {
        let listener = TcpListener::bind(address).await?;
        let local = listener.local_addr()?;
        let proxy = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let proxy = proxy.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let proxy = proxy.clone();
                        async move { proxy.handle(request).await }
                    });
                    // An Err from the service (a `Drop` fault) closes the connection unanswered.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok((local, task))
    }

    /// The fault for this call, if any, and the bookkeeping for it.
    fn decide(&self, call: &Call) -> Option<Fault> {
        let mut state = self.state.lock().unwrap();
        let State { rules, rng, .. } = &mut *state;
        let mut chosen = None;
        for rule in rules.iter_mut().filter(|r| r.matches(call)) {
            rule.matched += 1;
            let fires = match rule.share {
                Share::Always => true,
                Share::EveryNth(n) => rule.matched % n == 0,
                Share::FirstN(n) => rule.matched <= n,
                Share::Probability(p) => rng.f64() < p,
            };
            if fires {
                chosen = Some(rule.fault);
                break;
            }
        }
        let outcome = match chosen {
            None => "forwarded",
            Some(Fault::Throttle) => "throttle",
            Some(Fault::ServerError) => "error",
            Some(Fault::Drop) => "drop",
            Some(Fault::Delay(_)) => "delay",
            Some(Fault::Conflict) => "conflict",
            Some(Fault::EmptyPage) => "empty",
            Some(Fault::Limit(_)) => "limit",
        };
        let key = format!("{}/{}", call.service.name(), call.operation);
        *state.stats.calls.entry(key.clone()).or_default().entry(outcome).or_default() += 1;
        if matches!(chosen, Some(Fault::Delay(_) | Fault::Limit(_))) {
            // A delayed or limited call is forwarded too.
            *state.stats.calls.entry(key).or_default().entry("forwarded").or_default() += 1;
        }
        chosen
    }

    async fn handle(&self, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, DroppedConnection> {
        let call = Call::classify(&request);
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Err(DroppedConnection),
        };
        if call.service == Service::DynamoDb && call.operation == "TransactWriteItems" {
            let token = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("ClientRequestToken").and_then(|t| t.as_str()).map(str::to_owned))
                .unwrap_or_default();
            self.state.lock().unwrap().stats.transaction_tokens.push(token);
        }
        let body = match self.decide(&call) {
            Some(Fault::Drop) => return Err(DroppedConnection),
            Some(Fault::Throttle) => return Ok(throttled(call.service)),
            Some(Fault::ServerError) => return Ok(server_error(call.service)),
            Some(Fault::Conflict) => return Ok(conflict(&call, &body)),
            Some(Fault::EmptyPage) => return Ok(empty_page(&body)),
            Some(Fault::Delay(delay)) => {
                // A slow service still does the work when the caller gives up
                // waiting: the call is forwarded after the delay even if the
                // caller's connection is gone by then.
                let proxy = self.clone();
                let late = tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    proxy.forward(call.service, parts, body).await
                });
                return Ok(late.await.unwrap_or_else(|_| plain(StatusCode::BAD_GATEWAY, "the delayed call failed")));
            }
            Some(Fault::Limit(limit)) => with_limit(&body, limit),
            None => body,
        };
        Ok(self.forward(call.service, parts, body).await)
    }

    async fn forward(&self, service: Service, parts: http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
        let mut url = match service {
            Service::DynamoDb | Service::Streams => self.dynamodb.clone(),
            Service::Ses | Service::Other => self.other.clone(),
        };
        url.set_path(parts.uri.path());
        url.set_query(parts.uri.query());
        let mut upstream = self.client.request(parts.method, url).body(body);
        for (name, value) in &parts.headers {
            if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
                upstream = upstream.header(name, value);
            }
        }
        let answer = match upstream.send().await {
            Ok(answer) => answer,
            // The server is down: what a client sees from an unreachable endpoint.
            Err(_) => return plain(StatusCode::BAD_GATEWAY, "the local server did not answer"),
        };
        let mut response = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
                response = response.header(name, value);
            }
        }
        let bytes = answer.bytes().await.unwrap_or_default();
        response.body(Full::new(bytes)).unwrap_or_else(|_| plain(StatusCode::BAD_GATEWAY, "unreadable answer"))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("connection dropped (injected fault)")]
struct DroppedConnection;

fn local_url(upstream: &str) -> Result<url::Url, ProxyError> {
    let parsed = url::Url::parse(upstream).map_err(|_| ProxyError::NotLocal(upstream.to_owned()))?;
    let local = parsed.scheme() == "http" && matches!(parsed.host_str(), Some("127.0.0.1" | "localhost"));
    if !local {
        return Err(ProxyError::NotLocal(upstream.to_owned()));
    }
    Ok(parsed)
}

/// A conflict as DynamoDB reports it. A cancelled transaction names a reason
/// per action, in order: the first met the conflict, the others were not tried.
fn conflict(call: &Call, body: &Bytes) -> Response<Full<Bytes>> {
    if call.service != Service::DynamoDb || call.operation != "TransactWriteItems" {
        return aws_error(
            Service::DynamoDb,
            StatusCode::BAD_REQUEST,
            "TransactionConflictException",
            "Transaction is ongoing for the item (injected)",
        );
    }
    let actions = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("TransactItems").and_then(|items| items.as_array()).map(Vec::len))
        .unwrap_or(1)
        .max(1);
    let reasons: Vec<serde_json::Value> = (0..actions)
        .map(|i| match i {
            0 => serde_json::json!({ "Code": "TransactionConflict", "Message": "Transaction is ongoing for the item" }),
            _ => serde_json::json!({ "Code": "None" }),
        })
        .collect();
    let codes: Vec<&str> = (0..actions).map(|i| if i == 0 { "TransactionConflict" } else { "None" }).collect();
    let body = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
        "CancellationReasons": reasons,
    });
    dynamodb_answer(StatusCode::BAD_REQUEST, &body)
}

/// No records, and an iterator that reads from the same place again.
fn empty_page(body: &Bytes) -> Response<Full<Bytes>> {
    let iterator = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("ShardIterator").cloned())
        .unwrap_or(serde_json::Value::Null);
    dynamodb_answer(StatusCode::OK, &serde_json::json!({ "Records": [], "NextShardIterator": iterator }))
}

/// The request with its `Limit` replaced (left as it was if it is not a JSON object).
fn with_limit(body: &Bytes, limit: u32) -> Bytes {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut request)) => {
            request.insert("Limit".into(), limit.into());
            Bytes::from(serde_json::Value::Object(request).to_string())
        }
        _ => body.clone(),
    }
}

fn dynamodb_answer(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.0"));
    headers.insert("x-amzn-requestid", HeaderValue::from_static("injected-fault"));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

/// An error the SDK parses as the service's own: DynamoDB's awsJson1.0 `__type`,
/// SES v2's restJson `x-amzn-ErrorType` header.
fn aws_error(service: Service, status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = match service {
        Service::DynamoDb | Service::Streams => {
            serde_json::json!({ "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": message })
        }
        _ => serde_json::json!({ "message": message }),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let content_type = match service {
        Service::DynamoDb | Service::Streams => "application/x-amz-json-1.0",
        _ => "application/json",
    };
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-amzn-errortype", HeaderValue::from_str(code).expect("ascii code"));
    headers.insert("x-amzn-requestid", HeaderValue::from_static("injected-fault"));
    response
}

fn throttled(service: Service) -> Response<Full<Bytes>> {
    match service {
        Service::Ses => aws_error(service, StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", "injected"),
        _ => aws_error(service, StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded (injected)"),
    }
}

fn server_error(service: Service) -> Response<Full<Bytes>> {
    aws_error(service, StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "injected")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_from_the_command_line_syntax() {
        let rule: Rule = "dynamodb/TransactWriteItems:throttle:0.25".parse().unwrap();
        assert_eq!(rule.service, Some(Service::DynamoDb));
        assert_eq!(rule.operation.as_deref(), Some("TransactWriteItems"));
        assert_eq!(rule.fault, Fault::Throttle);
        assert_eq!(rule.share, Share::Probability(0.25));
        let rule: Rule = "any:delay=300ms:every4".parse().unwrap();
        assert_eq!(
            (rule.service, rule.fault, rule.share),
            (None, Fault::Delay(Duration::from_millis(300)), Share::EveryNth(4))
        );
        let rule: Rule = "ses:drop:first4".parse().unwrap();
        assert_eq!(rule.share, Share::FirstN(4));
        let rule: Rule = "ses:error:always".parse().unwrap();
        assert_eq!((rule.service, rule.fault, rule.share), (Some(Service::Ses), Fault::ServerError, Share::Always));
        for bad in [
            "dynamodb:throttle",
            "s3:drop:1",
            "ses:explode:1",
            "ses:drop:1.5",
            "ses:drop:every0",
            "ses/:drop:1",
            "any:delay=5s:1",
            "a:b:c:d",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn every_nth_fires_on_exactly_the_nth_matching_calls() {
        let proxy = FaultProxy::new(&nowhere(), vec!["dynamodb/PutItem:throttle:every3".parse().unwrap()], 1).unwrap();
        let put = Call { service: Service::DynamoDb, operation: "PutItem".into() };
        let query = Call { service: Service::DynamoDb, operation: "Query".into() };
        let fired: Vec<bool> = (0..6).map(|_| proxy.decide(&put).is_some()).collect();
        assert_eq!(fired, [false, false, true, false, false, true]);
        assert!(proxy.decide(&query).is_none(), "another operation never matches");
        let stats = proxy.stats();
        assert_eq!(stats.count("dynamodb/PutItem", "throttle"), 2);
        assert_eq!(stats.count("dynamodb/PutItem", "forwarded"), 4);
        assert_eq!(stats.count("dynamodb/Query", "forwarded"), 1);
    }

    #[test]
    fn first_n_is_an_outage_that_ends() {
        let proxy = FaultProxy::new(&nowhere(), vec!["ses:throttle:first2".parse().unwrap()], 1).unwrap();
        let send = Call { service: Service::Ses, operation: "SendEmail".into() };
        let fired: Vec<bool> = (0..5).map(|_| proxy.decide(&send).is_some()).collect();
        assert_eq!(fired, [true, true, false, false, false]);
    }

    #[test]
    fn probabilities_are_repeatable_for_a_seed() {
        let run = |seed| {
            let proxy = FaultProxy::new(&nowhere(), vec!["any:error:0.3".parse().unwrap()], seed).unwrap();
            let call = Call { service: Service::Ses, operation: "SendEmail".into() };
            (0..200).map(|_| proxy.decide(&call).is_some()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        let share = run(7).iter().filter(|f| **f).count();
        assert!((30..=90).contains(&share), "about 30% of 200 calls fail, got {share}");
    }

    fn nowhere() -> Upstreams {
        Upstreams { dynamodb: "http://127.0.0.1:1".into(), other: "http://127.0.0.1:2".into() }
    }

    #[test]
    fn only_local_servers_may_be_upstreams() {
        for upstream in ["https://dynamodb.eu-west-1.amazonaws.com", "http://10.0.0.5:4566", "not a url"] {
            let upstreams = [
                Upstreams { dynamodb: upstream.into(), other: "http://127.0.0.1:4566".into() },
                Upstreams { dynamodb: "http://127.0.0.1:8000".into(), other: upstream.into() },
            ];
            for upstreams in upstreams {
                let refused = FaultProxy::new(&upstreams, vec![], 1);
                assert!(matches!(refused, Err(ProxyError::NotLocal(_))), "{upstreams:?} was accepted");
            }
        }
        let local = Upstreams { dynamodb: "http://localhost:8000".into(), other: "http://127.0.0.1:4566".into() };
        assert!(FaultProxy::new(&local, vec![], 1).is_ok());
    }

    #[test]
    fn dynamodb_only_faults_parse_and_answer_as_dynamodb_does() {
        let rule: Rule = "dynamodb/TransactWriteItems:conflict:first2".parse().unwrap();
        assert_eq!((rule.fault, rule.share), (Fault::Conflict, Share::FirstN(2)));
        let rule: Rule = "streams/GetRecords:empty:first3".parse().unwrap();
        assert_eq!(rule.fault, Fault::EmptyPage);
        let rule: Rule = "streams/GetRecords:limit=1:always".parse().unwrap();
        assert_eq!(rule.fault, Fault::Limit(1));
        assert!("streams:limit=0:always".parse::<Rule>().is_err());

        let transaction = Call { service: Service::DynamoDb, operation: "TransactWriteItems".into() };
        let body = Bytes::from(r#"{"TransactItems":[{"Put":{}},{"Update":{}},{"ConditionCheck":{}}]}"#);
        let answer = conflict(&transaction, &body);
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        let text = format!("{:?}", answer.body());
        assert!(text.contains("TransactionCanceledException"), "{text}");
        assert!(text.contains("[TransactionConflict, None, None]"), "{text}");
        let put = Call { service: Service::DynamoDb, operation: "PutItem".into() };
        let text = format!("{:?}", conflict(&put, &Bytes::new()).body());
        assert!(text.contains("TransactionConflictException"), "{text}");

        let limited = with_limit(&Bytes::from(r#"{"ShardIterator":"abc","Limit":1000}"#), 1);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&limited).unwrap()["Limit"], 1);
        let empty = format!("{:?}", empty_page(&Bytes::from(r#"{"ShardIterator":"abc"}"#)).body());
        assert!(empty.contains(r#"\"NextShardIterator\":\"abc\""#) && empty.contains("Records"), "{empty}");
    }
}
