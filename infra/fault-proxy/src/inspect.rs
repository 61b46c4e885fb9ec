//! What a request is: the AWS API and operation it calls, and the
//! idempotency token a transaction carries.

use bytes::Bytes;
use http::Request;
use hyper::body::Incoming;
use serde::Serialize;

/// Which AWS API a call is for, from its headers and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    DynamoDb,
    Streams,
    Ses,
    /// Parameter Store (read at cold start).
    Ssm,
    Other,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::DynamoDb => "dynamodb",
            Self::Streams => "streams",
            Self::Ses => "ses",
            Self::Ssm => "ssm",
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
    pub(crate) fn classify(request: &Request<Incoming>) -> Self {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let target = header("x-amz-target");
        if let Some(operation) = target.strip_prefix("DynamoDB_20120810.") {
            return Self { service: Service::DynamoDb, operation: operation.to_owned() };
        }
        if let Some(operation) = target.strip_prefix("DynamoDBStreams_20120810.") {
            return Self { service: Service::Streams, operation: operation.to_owned() };
        }
        if let Some(operation) = target.strip_prefix("AmazonSSM.") {
            return Self { service: Service::Ssm, operation: operation.to_owned() };
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

/// The `ClientRequestToken` of a DynamoDB `TransactWriteItems` call (empty if
/// it has none); `None` for any other call.
pub(crate) fn transaction_token(call: &Call, body: &Bytes) -> Option<String> {
    if call.service == Service::DynamoDb && call.operation == "TransactWriteItems" {
        let token = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("ClientRequestToken").and_then(|t| t.as_str()).map(str::to_owned))
            .unwrap_or_default();
        return Some(token);
    }
    None
}
