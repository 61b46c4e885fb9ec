//! The proxy server: where calls go, the state the rules and counters are
//! kept in, and serving, faulting and forwarding each request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::answers::{
    cancelled_by_throttling, conflict, empty_page, over_rate, plain, quota_spent, server_error, ses_account, throttled,
    unprocessed, with_limit,
};
use crate::inspect::{Call, Service, transaction_token};
use crate::plan::{Fault, Rule, choose, ses_account_limits, ses_quota_spent};
use crate::stats::Stats;

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
        self.decide_at(call, Instant::now())
    }

    fn decide_at(&self, call: &Call, now: Instant) -> Option<Fault> {
        let mut state = self.state.lock().unwrap();
        let State { rules, rng, stats } = &mut *state;
        let chosen = choose(rules, rng, call, now);
        stats.record(call, chosen);
        chosen
    }

    async fn handle(&self, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, DroppedConnection> {
        if request.uri().path() == STATS_PATH {
            return Ok(self.stats_page());
        }
        let call = Call::classify(&request);
        if call.service == Service::Ses && call.operation == "account" && request.method() == http::Method::GET {
            if let Some(answer) = self.ses_account() {
                return Ok(answer);
            }
        }
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Err(DroppedConnection),
        };
        if let Some(token) = transaction_token(&call, &body) {
            self.state.lock().unwrap().stats.transaction_tokens.push(token);
        }
        let body = match self.decide(&call) {
            Some(Fault::Drop) => return Err(DroppedConnection),
            Some(Fault::Throttle) => return Ok(throttled(call.service)),
            Some(Fault::RateLimit(_)) => return Ok(over_rate(call.service)),
            Some(Fault::Quota(_)) => return Ok(quota_spent(call.service)),
            Some(Fault::ServerError) => return Ok(server_error(call.service)),
            Some(Fault::Conflict) => return Ok(conflict(&call, &body)),
            Some(Fault::CancelledByThrottling) => return Ok(cancelled_by_throttling(&call, &body)),
            Some(Fault::EmptyPage) => return Ok(empty_page(&body)),
            Some(Fault::Unprocessed) => return Ok(unprocessed(&call, &body)),
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
            Some(Fault::LateAnswer(delay)) => {
                // Done at once, answered late: the caller's attempt times out
                // after the write took effect, as when DynamoDB's answer is slow.
                let answer = self.forward(call.service, parts, body).await;
                tokio::time::sleep(delay).await;
                return Ok(answer);
            }
            Some(Fault::Limit(limit)) => with_limit(&body, limit),
            None => body,
        };
        Ok(self.forward(call.service, parts, body).await)
    }

    /// `GetAccount` for the account the SES rules play, when a rate limits
    /// `SendEmail` (counted as `answered`); `None` forwards it.
    fn ses_account(&self) -> Option<Response<Full<Bytes>>> {
        let mut state = self.state.lock().unwrap();
        let (rate, quota) = ses_account_limits(&state.rules)?;
        // SES's SentLast24Hours: what the quota has spent (nothing once its
        // period is over, as SES's rolling 24 hours free room), or every send.
        let sent = ses_quota_spent(&state.rules, Instant::now())
            .unwrap_or_else(|| state.stats.count("ses/SendEmail", "forwarded"));
        state.stats.answered(&Call { service: Service::Ses, operation: "account".into() });
        Some(ses_account(rate, quota, sent))
    }

    /// What the proxy did so far, as JSON: a load run reads it while it runs.
    fn stats_page(&self) -> Response<Full<Bytes>> {
        let body = serde_json::to_vec(&self.stats()).unwrap_or_default();
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        response
    }

    async fn forward(&self, service: Service, parts: http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
        let mut url = match service {
            Service::DynamoDb | Service::Streams => self.dynamodb.clone(),
            Service::Ses | Service::Ssm | Service::Other => self.other.clone(),
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

/// The proxy's own page (no AWS API has this path): [`FaultProxy::stats`] as JSON.
pub const STATS_PATH: &str = "/fault-proxy/stats";

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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_rate_limit_keeps_a_bucket_per_operation_and_refusals_are_counted_by_kind() {
        let rules = vec!["ses:ratelimit=2/s".parse().unwrap()];
        let proxy = FaultProxy::new(&nowhere(), rules, 1).unwrap();
        let send = Call { service: Service::Ses, operation: "SendEmail".into() };
        let account = Call { service: Service::Ses, operation: "account".into() };
        let start = Instant::now();
        let sends: Vec<bool> = (0..4).map(|_| proxy.decide_at(&send, start).is_none()).collect();
        assert_eq!(sends, [true, true, false, false], "2 sends a second pass");
        assert!(proxy.decide_at(&account, start).is_none(), "another operation has its own bucket");
        let later = start + std::time::Duration::from_millis(500);
        assert!(proxy.decide_at(&send, later).is_none(), "half a second later, one more");
        let stats = proxy.stats();
        assert_eq!(stats.count("ses/SendEmail", "ratelimit"), 2, "saw {:?}", stats.calls);
        assert_eq!(stats.count("ses/SendEmail", "forwarded"), 3, "saw {:?}", stats.calls);
        assert_eq!(stats.faults("ratelimit"), 2);
    }

    #[test]
    fn a_quota_outage_ends_after_its_period_and_rules_after_a_limit_still_apply() {
        let rules = vec!["ses/SendEmail:quota=2/60s".parse().unwrap(), "ses/SendEmail:error:every2".parse().unwrap()];
        let proxy = FaultProxy::new(&nowhere(), rules, 1).unwrap();
        let send = Call { service: Service::Ses, operation: "SendEmail".into() };
        let start = Instant::now();
        let at = |s: u64| start + std::time::Duration::from_secs(s);
        let outcomes: Vec<Option<Fault>> =
            [0, 1, 2, 59, 61, 62].iter().map(|s| proxy.decide_at(&send, at(*s))).collect();
        let quota = Fault::Quota(crate::Quota { allowance: 2, period: std::time::Duration::from_secs(60) });
        assert_eq!(
            outcomes,
            [None, Some(Fault::ServerError), Some(quota), Some(quota), None, Some(Fault::ServerError)],
            "spent at 1 s (the send a 500 answered counts too), refused until 61 s, then 2 more"
        );
        assert_eq!(proxy.stats().count("ses/SendEmail", "quota"), 2);
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
}
