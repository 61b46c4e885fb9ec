//! The fault plan: which calls a rule matches, what it does to them, how
//! often it fires, and its command-line syntax.

use std::str::FromStr;
use std::time::Duration;

use crate::inspect::{Call, Service};

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
    /// What DynamoDB answers a transaction that met a throttled table or
    /// partition: `TransactWriteItems` cancelled with a `ThrottlingError`
    /// reason (any other call is throttled as [`Fault::Throttle`] does).
    CancelledByThrottling,
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

/// `SERVICE[/OPERATION]:KIND:SHARE`, where SERVICE is dynamodb, streams, ses, ssm or any;
/// KIND is throttle, error, drop, delay=<n>ms, conflict, cancelthrottle, empty or limit=<n>; SHARE is a probability (0–1),
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
            "ssm" => Some(Service::Ssm),
            _ => return Err(error("unknown service")),
        };
        let fault = match kind.to_ascii_lowercase().as_str() {
            "throttle" => Fault::Throttle,
            "error" => Fault::ServerError,
            "drop" => Fault::Drop,
            "conflict" => Fault::Conflict,
            "cancelthrottle" => Fault::CancelledByThrottling,
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

/// The fault for this call, if a rule matching it fires: rules are tried in
/// order, and each matching rule counts the call whether it fires or not.
pub(crate) fn choose(rules: &mut [Rule], rng: &mut fastrand::Rng, call: &Call) -> Option<Fault> {
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
    chosen
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
}
