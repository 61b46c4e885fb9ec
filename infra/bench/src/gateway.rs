//! Plays API Gateway and a browser: turns a person's request into the HTTP
//! API (v2) event Lambda delivers, invokes the function that owns the route
//! through its Runtime API, and reads the answer back (status, headers,
//! cookies, body); signs in at the dev identity provider like a person. The
//! event, the answer, the browser's form parser and cookie jar are the
//! harness's (`infra/harness`), shared with the tests and the dev server.
//! Every invocation is recorded with its latency, CPU time and the calls
//! the function made while it ran.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use profile_link_harness::browser::SiteCookies;
use profile_link_harness::{self as harness, apigw};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::process::Function;
use crate::proxy::{Call, Proxy, Service};

/// Which function serves a path (template.yaml's routes).
pub fn function_for(path: &str) -> &'static str {
    match path {
        "/associate" => "request-association",
        p if p == "/redeem" || p.starts_with("/redeem/") || p == "/profiles/unlink" => "redeem-link",
        "/authorize" | "/end-session" => "authorize",
        "/token" | "/userinfo" | "/.well-known/openid-configuration" => "token",
        _ => "login",
    }
}

/// One invocation, as the bench measured it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invocation {
    pub function: String,
    pub endpoint: String,
    /// Part of the onboarding being costed (not the clean-up after it).
    pub onboarding: bool,
    pub status: u16,
    /// From the event's delivery to the function until its answer arrived.
    pub latency_ms: f64,
    /// Time inside calls to the emulator and the identity provider (at the proxy).
    pub upstream_ms: f64,
    pub cpu_ms: f64,
    pub calls: Vec<CallRecord>,
    /// Sequential waves of calls: overlapping calls count once.
    pub round_trips: usize,
    pub aws_round_trips: usize,
    pub response_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallRecord {
    pub service: Service,
    pub operation: String,
    pub ms: f64,
    pub read_units: f64,
    pub write_units: f64,
}

impl Invocation {
    pub fn handler_ms(&self) -> f64 {
        (self.latency_ms - self.upstream_ms).max(0.0)
    }
}

/// Summarises the calls made during one invocation.
pub fn call_records(calls: &[Call]) -> (Vec<CallRecord>, f64, usize, usize) {
    let records = calls
        .iter()
        .map(|c| CallRecord {
            service: c.service,
            operation: c.operation.clone(),
            ms: ms(c.duration()),
            read_units: c.read_units,
            write_units: c.write_units,
        })
        .collect();
    // Busy time: the union of the calls' intervals, so parallel calls count once.
    let mut spans: Vec<_> = calls.iter().map(|c| (c.started, c.finished)).collect();
    spans.sort();
    let mut busy = Duration::ZERO;
    let mut current: Option<(std::time::Instant, std::time::Instant)> = None;
    for (start, end) in spans {
        match &mut current {
            Some((_, e)) if start <= *e => *e = (*e).max(end),
            _ => {
                if let Some((s, e)) = current {
                    busy += e - s;
                }
                current = Some((start, end));
            }
        }
    }
    if let Some((s, e)) = current {
        busy += e - s;
    }
    (records, ms(busy), waves(calls.iter()), waves(calls.iter().filter(|c| c.service.is_aws())))
}

/// How many calls had to wait for another to finish first, plus one: the
/// number of sequential round trips.
fn waves<'a>(calls: impl Iterator<Item = &'a Call>) -> usize {
    let mut spans: Vec<_> = calls.map(|c| (c.started, c.finished)).collect();
    spans.sort();
    let mut count = 0;
    let mut end: Option<std::time::Instant> = None;
    for (s, e) in spans {
        match end {
            Some(current) if s < current => end = Some(current.max(e)),
            _ => {
                count += 1;
                end = Some(e);
            }
        }
    }
    count
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A person's browser: cookies for the service, and a browser of its own at the identity provider.
#[derive(Default)]
pub struct Browser {
    cookies: SiteCookies,
    /// Made at the first sign-in; its cookie jar is the provider's session.
    provider: Option<harness::browser::Browser>,
    pub source_ip: String,
}

impl Browser {
    pub fn new(source_ip: impl Into<String>) -> Self {
        Self { source_ip: source_ip.into(), ..Self::default() }
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.set(name, value);
    }
}

/// A function's answer to an HTTP event.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl HttpAnswer {
    pub fn location(&self) -> anyhow::Result<&str> {
        self.headers.get("location").map(String::as_str).with_context(|| {
            format!("expected a redirect, got {} {}", self.status, self.body.chars().take(300).collect::<String>())
        })
    }

    pub fn expect(self, status: u16, what: &str) -> anyhow::Result<Self> {
        if self.status != status {
            bail!("{what}: expected {status}, got {} {}", self.status, self.body.chars().take(500).collect::<String>());
        }
        Ok(self)
    }
}

/// The API Gateway v2 event for one request.
pub fn http_event(
    base: &Url,
    method: &str,
    path_and_query: &str,
    browser: &Browser,
    form: Option<&[(String, String)]>,
) -> Value {
    let host = base.host_str().unwrap_or("127.0.0.1").to_owned();
    let host_header = match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let port = base.port_or_known_default().unwrap_or(443).to_string();
    let mut headers = HeaderMap::new();
    let mut add = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.append(name, value);
        }
    };
    add("host", &host_header);
    add("accept", "text/html,application/xhtml+xml");
    add("accept-language", "en-GB,en;q=0.9");
    add("user-agent", "profile-link-bench");
    add("x-forwarded-for", &browser.source_ip);
    add("x-forwarded-port", &port);
    add("x-forwarded-proto", base.scheme());
    if form.is_some() {
        add("content-type", "application/x-www-form-urlencoded");
    }
    if !browser.cookies.is_empty() {
        add("cookie", &browser.cookies.pairs().join("; "));
    }
    let body = form.map(|fields| url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish());
    apigw::event(&apigw::Request {
        method,
        path_and_query,
        headers: &headers,
        source_ip: &browser.source_ip,
        body: body.as_deref().unwrap_or("").as_bytes(),
    })
}

/// Sets (or replaces) one request header of an HTTP event, as API Gateway passes it: lower-case.
pub fn set_header(event: &mut Value, name: &str, value: &str) {
    event["headers"][name.to_ascii_lowercase()] = json!(value);
}

/// API Gateway in front of the running functions, recording every invocation.
pub struct Gateway {
    pub base: Url,
    pub functions: HashMap<String, Function>,
    pub proxy: Arc<Proxy>,
    pub records: Vec<Invocation>,
    /// Whether invocations are being recorded (the first onboarding only warms up).
    pub recording: bool,
    /// Whether the invocations now belong to the onboarding being costed.
    pub onboarding: bool,
    /// Every `SendEmail` body seen, newest last.
    pub emails: Vec<Bytes>,
}

impl Gateway {
    pub fn new(base: Url, functions: HashMap<String, Function>, proxy: Arc<Proxy>) -> Self {
        Self { base, functions, proxy, records: Vec::new(), recording: false, onboarding: true, emails: Vec::new() }
    }

    /// Invokes `function` with `event` and records it under `endpoint`.
    pub async fn invoke(&mut self, function: &str, endpoint: &str, event: Value) -> anyhow::Result<Bytes> {
        let process = self.functions.get_mut(function).with_context(|| format!("{function} is not running"))?;
        self.proxy.take();
        let before = process.cpu();
        let answer = process.invoke(Bytes::from(event.to_string())).await?;
        let after = process.cpu();
        let calls = self.proxy.take();
        self.emails.extend(calls.iter().filter_map(|c| c.email.clone()));
        if answer.error {
            bail!("{function} answered {endpoint} with an error: {}", String::from_utf8_lossy(&answer.body));
        }
        if let Some(failed) = calls.iter().find(|c| c.status >= 400 && c.service != Service::Provider) {
            // Conditional-check failures are part of some flows; anything else is a broken run.
            if !(failed.status == 400 && failed.operation == "TransactWriteItems") {
                eprintln!(
                    "warning: {function} {endpoint}: {} {} answered {}",
                    failed.operation, failed.caller, failed.status
                );
            }
        }
        if self.recording {
            let (records, upstream_ms, round_trips, aws_round_trips) = call_records(&calls);
            self.records.push(Invocation {
                function: function.to_owned(),
                endpoint: endpoint.to_owned(),
                onboarding: self.onboarding,
                status: 0,
                latency_ms: ms(answer.answered - answer.delivered),
                upstream_ms,
                cpu_ms: ms(after.since(&before)),
                calls: records,
                round_trips,
                aws_round_trips,
                response_bytes: answer.body.len(),
            });
        }
        Ok(answer.body)
    }

    /// One HTTP request from `browser`, routed as API Gateway routes it.
    pub async fn http(
        &mut self,
        browser: &mut Browser,
        endpoint: &str,
        method: &str,
        path_and_query: &str,
        form: Option<&[(String, String)]>,
    ) -> anyhow::Result<HttpAnswer> {
        self.http_with_headers(browser, endpoint, method, path_and_query, form, &[]).await
    }

    /// [`http`](Self::http) with request headers of its own (a portal's `Authorization`).
    pub async fn http_with_headers(
        &mut self,
        browser: &mut Browser,
        endpoint: &str,
        method: &str,
        path_and_query: &str,
        form: Option<&[(String, String)]>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<HttpAnswer> {
        let path = path_and_query.split('?').next().unwrap_or("/");
        let function = function_for(path);
        let mut event = http_event(&self.base, method, path_and_query, browser, form);
        for (name, value) in headers {
            set_header(&mut event, name, value);
        }
        let body = self.invoke(function, endpoint, event).await?;
        let answer = apigw::Answer::parse(&body).context("the function's answer")?;
        if let Some(record) = self.records.last_mut().filter(|_| self.recording) {
            record.status = answer.status;
            record.response_bytes = answer.body.len();
        }
        for cookie in &answer.cookies {
            browser.cookies.store(cookie);
        }
        Ok(HttpAnswer { status: answer.status, headers: answer.headers.into_iter().collect(), body: answer.body })
    }

    /// Signs `user` in at the identity provider, starting from the authorization
    /// URL `GET /login` redirected to; returns the path and query of the callback.
    pub async fn sign_in(&self, browser: &mut Browser, authorize: &str, user: &str) -> anyhow::Result<String> {
        let home = self.base.origin();
        // The callback is answered through the Runtime API, never on the base's port: stop before it.
        let callback = format!("{}/", home.ascii_serialization());
        let provider = browser.provider.get_or_insert_with(|| harness::browser::Browser::new().stopping_at(&callback));
        let page = provider
            .try_sign_in_back_to(authorize, &home, user, "demo")
            .await
            .with_context(|| format!("identity provider: {authorize}"))?;
        if page.url.origin() != home {
            bail!(
                "the sign-in at the identity provider did not come back to the service: {} {}",
                page.url,
                page.body.chars().take(400).collect::<String>()
            );
        }
        let query = page.url.query().map(|q| format!("?{q}")).unwrap_or_default();
        Ok(format!("{}{query}", page.url.path()))
    }
}

/// The first `<form method="post">` of a page: its action (as written) and
/// its named inputs, read by the harness's form parser.
pub fn first_post_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    harness::browser::post_forms_as_written(html).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_like_the_template() {
        assert_eq!(function_for("/associate"), "request-association");
        assert_eq!(function_for("/redeem"), "redeem-link");
        assert_eq!(function_for("/profiles/unlink"), "redeem-link");
        assert_eq!(function_for("/login/callback"), "login");
        assert_eq!(function_for("/"), "login");
        assert_eq!(function_for("/.well-known/jwks.json"), "login");
        assert_eq!(function_for("/authorize"), "authorize");
        assert_eq!(function_for("/end-session"), "authorize");
        assert_eq!(function_for("/token"), "token");
        assert_eq!(function_for("/userinfo"), "token");
        assert_eq!(function_for("/.well-known/openid-configuration"), "token");
    }
}
