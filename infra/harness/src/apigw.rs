//! API Gateway's HTTP API (payload format 2.0) as a function in Lambda sees
//! it: the event for one request, and the function's answer read back. The
//! dev server turns every request it serves into this event and hands it to
//! `lambda_http`'s own conversion; the bench sends it to the functions'
//! processes through the Runtime API, where the same conversion reads it.

use std::collections::BTreeMap;

use base64::Engine;
use http::HeaderMap;
use http::header::{COOKIE, HOST, USER_AGENT};
use serde_json::{Map, Value, json};

/// One request as API Gateway receives it from a client.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The request target as sent: the raw path and, after `?`, the query string.
    pub path_and_query: &'a str,
    /// The headers as the client sent them; `Cookie` becomes the event's `cookies`.
    pub headers: &'a HeaderMap,
    pub source_ip: &'a str,
    pub body: &'a [u8],
}

/// The event Lambda delivers for `request`: header names lower-case and
/// repeated values joined with commas, cookies in their own list, the query
/// both raw and as parameters, text bodies as they are and binary ones
/// base64-encoded, and a request context naming the caller's address.
pub fn event(request: &Request<'_>) -> Value {
    let (path, query) = request.path_and_query.split_once('?').unwrap_or((request.path_and_query, ""));
    let text = |value: &http::HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned();
    let mut headers = Map::new();
    for name in request.headers.keys().filter(|name| **name != COOKIE) {
        let values: Vec<String> = request.headers.get_all(name).iter().map(text).collect();
        headers.insert(name.as_str().to_owned(), json!(values.join(",")));
    }
    let cookies: Vec<String> = request
        .headers
        .get_all(COOKIE)
        .iter()
        .map(text)
        .flat_map(|v| v.split(';').map(|c| c.trim().to_owned()).collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect();
    let mut parameters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()).into_owned() {
        parameters.entry(name).or_default().push(value);
    }
    let host = request.headers.get(HOST).map(text);
    let domain_prefix = host.as_deref().and_then(|h| h.split(['.', ':']).next()).map(str::to_owned);
    let now = time::OffsetDateTime::now_utc();
    let clock = time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": domain_prefix,
            "http": {
                "method": request.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": request.headers.get(USER_AGENT).map(text),
            },
            "requestId": profile_link_core::random::token(12),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format(clock).unwrap_or_default(),
            "timeEpoch": (now.unix_timestamp_nanos() / 1_000_000) as i64,
        },
        "isBase64Encoded": false,
    });
    if !parameters.is_empty() {
        let joined: Map<String, Value> = parameters.into_iter().map(|(k, v)| (k, json!(v.join(",")))).collect();
        event["queryStringParameters"] = Value::Object(joined);
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !request.body.is_empty() {
        // API Gateway passes text bodies as they are and binary ones base64-encoded.
        match std::str::from_utf8(request.body) {
            Ok(body) => event["body"] = json!(body),
            Err(_) => {
                event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(request.body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    event
}

/// Why a function's answer does not read as an HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("the answer has no statusCode")]
    NoStatus,
    #[error("the body is not base64: {0}")]
    NotBase64(#[from] base64::DecodeError),
}

/// A function's answer to an HTTP event, as `lambda_http` writes it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// The body, decoded if it came base64-encoded.
    pub body: String,
}

impl Answer {
    pub fn parse(json: &[u8]) -> Result<Self, AnswerError> {
        Self::from_value(&serde_json::from_slice(json)?)
    }

    pub fn from_value(value: &Value) -> Result<Self, AnswerError> {
        let status = value["statusCode"].as_u64().ok_or(AnswerError::NoStatus)? as u16;
        let headers = value["headers"]
            .as_object()
            .map(|h| h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_owned())).collect())
            .unwrap_or_default();
        let cookies = value["cookies"]
            .as_array()
            .map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok(Self { status, headers, cookies, body: body_text(value)? })
    }

    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The body of an answer, decoded if it is base64.
pub fn body_text(answer: &Value) -> Result<String, AnswerError> {
    let body = answer["body"].as_str().unwrap_or("");
    if answer["isBase64Encoded"].as_bool() == Some(true) {
        let bytes = base64::engine::general_purpose::STANDARD.decode(body)?;
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, http::HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn a_request_becomes_the_v2_event() {
        let headers = headers(&[
            ("host", b"127.0.0.1:3000"),
            ("cookie", b"a=1; b=2"),
            ("cookie", b"c=3"),
            ("accept", b"text/html"),
            ("accept", b"*/*"),
            ("user-agent", b"ua"),
            ("x-odd", b"caf\xe9"),
        ]);
        let request = Request {
            method: "POST",
            path_and_query: "/redeem/resend?x=1&y=%20&x=2",
            headers: &headers,
            source_ip: "203.0.113.7",
            body: b"token=t",
        };
        let event = event(&request);
        assert_eq!(event["rawPath"], "/redeem/resend");
        assert_eq!(event["rawQueryString"], "x=1&y=%20&x=2");
        assert_eq!(event["queryStringParameters"], json!({"x": "1,2", "y": " "}));
        assert_eq!(event["cookies"], json!(["a=1", "b=2", "c=3"]));
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["headers"]["accept"], "text/html,*/*");
        assert_eq!(event["headers"]["x-odd"], "caf\u{fffd}");
        assert_eq!(event["body"], "token=t");
        assert_eq!(event["isBase64Encoded"], false);
        let context = &event["requestContext"];
        assert_eq!(context["http"]["method"], "POST");
        assert_eq!(context["http"]["sourceIp"], "203.0.113.7");
        assert_eq!(context["http"]["userAgent"], "ua");
        assert_eq!(context["domainName"], "127.0.0.1:3000");
        assert_eq!(context["domainPrefix"], "127");
        assert!(context["timeEpoch"].as_i64().unwrap() > 1_700_000_000_000);
    }

    #[test]
    fn binary_bodies_are_base64_and_nothing_is_sent_empty() {
        let none = HeaderMap::new();
        let request =
            Request { method: "PUT", path_and_query: "/", headers: &none, source_ip: "::1", body: b"\xff\x00" };
        let event = event(&request);
        assert_eq!(event["body"], "/wA=");
        assert_eq!(event["isBase64Encoded"], true);
        for absent in ["cookies", "queryStringParameters"] {
            assert!(event.get(absent).is_none(), "{absent}: {event}");
        }
        let empty = super::event(&Request { body: b"", ..request });
        assert!(empty.get("body").is_none());
    }

    #[test]
    fn answers_are_read_back() {
        let answer = Answer::parse(
            br#"{"statusCode": 303, "headers": {"Location": "/x"}, "cookies": ["a=1; Path=/"],
                 "body": "aGk=", "isBase64Encoded": true}"#,
        )
        .unwrap();
        assert_eq!((answer.status, answer.header("location"), answer.body.as_str()), (303, Some("/x"), "hi"));
        assert_eq!(answer.cookies, ["a=1; Path=/"]);
        assert!(matches!(Answer::parse(b"{}"), Err(AnswerError::NoStatus)));
        assert!(matches!(Answer::parse(b"nope"), Err(AnswerError::NotJson(_))));
    }
}
