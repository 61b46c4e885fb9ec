//! The answers the proxy gives instead of the emulator's: AWS errors as the
//! SDK parses them, DynamoDB's conflicts and empty stream pages, and the
//! rewritten request of a `Limit` fault.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::inspect::{Call, Service};
use crate::limits::{Quota, Rate};

/// A conflict as DynamoDB reports it: a cancelled transaction, or any other
/// write failing with `TransactionConflictException`.
pub(crate) fn conflict(call: &Call, body: &Bytes) -> Response<Full<Bytes>> {
    if call.service != Service::DynamoDb || call.operation != "TransactWriteItems" {
        return aws_error(
            Service::DynamoDb,
            StatusCode::BAD_REQUEST,
            "TransactionConflictException",
            "Transaction is ongoing for the item (injected)",
        );
    }
    cancelled_transaction(body, "TransactionConflict", "Transaction is ongoing for the item")
}

/// A transaction cancelled because the table was throttled (DynamoDB names
/// it in the reasons, not in the error's code); any other call is throttled
/// as [`throttled`] answers.
pub(crate) fn cancelled_by_throttling(call: &Call, body: &Bytes) -> Response<Full<Bytes>> {
    if call.service != Service::DynamoDb || call.operation != "TransactWriteItems" {
        return throttled(call.service);
    }
    cancelled_transaction(body, "ThrottlingError", "Throughput exceeds the current capacity of your table or index.")
}

/// A `TransactionCanceledException` naming a reason per action, in order:
/// the first met `code`, the others were not tried.
fn cancelled_transaction(body: &Bytes, code: &str, message: &str) -> Response<Full<Bytes>> {
    let actions = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("TransactItems").and_then(|items| items.as_array()).map(Vec::len))
        .unwrap_or(1)
        .max(1);
    let reasons: Vec<serde_json::Value> = (0..actions)
        .map(|i| match i {
            0 => serde_json::json!({ "Code": code, "Message": message }),
            _ => serde_json::json!({ "Code": "None" }),
        })
        .collect();
    let codes: Vec<&str> = (0..actions).map(|i| if i == 0 { code } else { "None" }).collect();
    let body = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
        "CancellationReasons": reasons,
    });
    dynamodb_answer(StatusCode::BAD_REQUEST, &body)
}

/// No records, and an iterator that reads from the same place again.
pub(crate) fn empty_page(body: &Bytes) -> Response<Full<Bytes>> {
    let iterator = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("ShardIterator").cloned())
        .unwrap_or(serde_json::Value::Null);
    dynamodb_answer(StatusCode::OK, &serde_json::json!({ "Records": [], "NextShardIterator": iterator }))
}

/// A batch call answered with nothing done: the request's items (or keys)
/// handed back as unprocessed, as DynamoDB does when a partition is throttled.
/// Any other call is throttled outright.
pub(crate) fn unprocessed(call: &Call, body: &Bytes) -> Response<Full<Bytes>> {
    let requested = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("RequestItems").cloned())
        .unwrap_or_else(|| serde_json::json!({}));
    match (call.service, call.operation.as_str()) {
        (Service::DynamoDb, "BatchWriteItem") => {
            dynamodb_answer(StatusCode::OK, &serde_json::json!({ "UnprocessedItems": requested }))
        }
        (Service::DynamoDb, "BatchGetItem") => {
            dynamodb_answer(StatusCode::OK, &serde_json::json!({ "Responses": {}, "UnprocessedKeys": requested }))
        }
        _ => throttled(call.service),
    }
}

/// The request with its `Limit` replaced (left as it was if it is not a JSON object).
pub(crate) fn with_limit(body: &Bytes, limit: u32) -> Bytes {
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

pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

/// An error the SDK parses as the service's own: DynamoDB's awsJson1.0 and
/// SSM's awsJson1.1 `__type`, SES v2's restJson `x-amzn-ErrorType` header.
fn aws_error(service: Service, status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = match service {
        Service::DynamoDb | Service::Streams => {
            serde_json::json!({ "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": message })
        }
        Service::Ssm => serde_json::json!({ "__type": code, "message": message }),
        _ => serde_json::json!({ "message": message }),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let content_type = match service {
        Service::DynamoDb | Service::Streams => "application/x-amz-json-1.0",
        Service::Ssm => "application/x-amz-json-1.1",
        _ => "application/json",
    };
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-amzn-errortype", HeaderValue::from_str(code).expect("ascii code"));
    headers.insert("x-amzn-requestid", HeaderValue::from_static("injected-fault"));
    response
}

pub(crate) fn throttled(service: Service) -> Response<Full<Bytes>> {
    match service {
        Service::Ses => aws_error(service, StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", "injected"),
        _ => aws_error(service, StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded (injected)"),
    }
}

/// A call over the account's rate, as the service words it.
pub(crate) fn over_rate(service: Service) -> Response<Full<Bytes>> {
    match service {
        Service::Ses => aws_error(
            service,
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Maximum sending rate exceeded.",
        ),
        _ => aws_error(service, StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded"),
    }
}

/// A call after the account's quota is spent. SES v2 models no error of its
/// own for the daily quota: its guide says the refusal says "Daily message
/// quota exceeded", and `SendEmail`'s documented errors include
/// `LimitExceededException` (400), which carries it here.
pub(crate) fn quota_spent(service: Service) -> Response<Full<Bytes>> {
    let message = match service {
        Service::Ses => "Daily message quota exceeded.",
        _ => "Quota exceeded",
    };
    aws_error(service, StatusCode::BAD_REQUEST, "LimitExceededException", message)
}

/// SES v2 `GetAccount` for an account with these limits (moto has no
/// `GetAccount`): what a sender reads to pace itself. A quota of -1 is SES's
/// "unlimited".
pub(crate) fn ses_account(rate: Rate, quota: Option<Quota>, sent: u64) -> Response<Full<Bytes>> {
    let max_24_hour_send = quota.map_or(-1.0, |q| q.allowance as f64);
    let body = serde_json::json!({
        "SendQuota": {
            "MaxSendRate": f64::from(rate.per_second),
            "Max24HourSend": max_24_hour_send,
            "SentLast24Hours": sent as f64,
        },
        "SendingEnabled": true,
        "ProductionAccessEnabled": true,
        "DedicatedIpAutoWarmupEnabled": false,
        "EnforcementStatus": "HEALTHY",
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(crate) fn server_error(service: Service) -> Response<Full<Bytes>> {
    aws_error(service, StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "injected")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Fault, Rule, Share};

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

        let rule: Rule = "dynamodb/TransactWriteItems:cancelthrottle:first1".parse().unwrap();
        assert_eq!(rule.fault, Fault::CancelledByThrottling);
        let text = format!("{:?}", cancelled_by_throttling(&transaction, &body).body());
        assert!(text.contains("TransactionCanceledException"), "{text}");
        assert!(text.contains("[ThrottlingError, None, None]"), "{text}");
        let text = format!("{:?}", cancelled_by_throttling(&put, &Bytes::new()).body());
        assert!(text.contains("ThrottlingException") && !text.contains("Cancel"), "{text}");

        let limited = with_limit(&Bytes::from(r#"{"ShardIterator":"abc","Limit":1000}"#), 1);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&limited).unwrap()["Limit"], 1);
        let empty = format!("{:?}", empty_page(&Bytes::from(r#"{"ShardIterator":"abc"}"#)).body());
        assert!(empty.contains(r#"\"NextShardIterator\":\"abc\""#) && empty.contains("Records"), "{empty}");
    }
}
