//! The fault plan: which calls a rule matches, what it does to them, how
//! often it fires, and its command-line syntax.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::inspect::{Call, Service};
use crate::limits::{Limiter, Quota, Rate};

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
    /// Forwards at once, then holds the answer this long: a write that took
    /// effect but whose answer came too late for the caller's attempt timeout.
    LateAnswer(Duration),
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
    /// What DynamoDB answers a batch call when a partition is over its
    /// capacity: 200, with every item (`BatchWriteItem`) or key
    /// (`BatchGetItem`) of the request handed back unprocessed; nothing done.
    Unprocessed,
    /// Forwards with the request's `Limit` set to n (pages of at most n
    /// records or shards, so a reader must follow the pagination).
    Limit(u32),
    /// Refuses calls beyond this rate with the service's throttling answer
    /// (SES: `TooManyRequestsException`, "Maximum sending rate exceeded.").
    RateLimit(Rate),
    /// Refuses calls once the allowance is spent, for the quota's period
    /// (SES: `LimitExceededException`, "Daily message quota exceeded.").
    Quota(Quota),
}

impl Fault {
    /// A limit is state over time, not a share of calls: it takes no share.
    fn is_limit(self) -> bool {
        matches!(self, Self::RateLimit(_) | Self::Quota(_))
    }
}

/// How often a matching rule fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Share {
    Always,
    /// Every n-th matching call (the n-th, 2n-th, …).
    EveryNth(u64),
    /// The first n matching calls, then none (an outage that ends).
    FirstN(u64),
    /// Every matching call after the first n (an outage that starts).
    AfterN(u64),
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
    /// A limit's state, one per `service/operation` it has seen (a rule for
    /// all of SES limits each operation on its own).
    limiters: HashMap<String, Limiter>,
}

impl Rule {
    pub fn new(service: Option<Service>, operation: Option<&str>, fault: Fault, share: Share) -> Self {
        Self { service, operation: operation.map(str::to_owned), fault, share, matched: 0, limiters: HashMap::new() }
    }

    /// The limit's state for this call's `service/operation`, made on first use.
    fn limiter(&mut self, call: &Call, new: impl FnOnce() -> Limiter) -> &mut Limiter {
        self.limiters.entry(format!("{}/{}", call.service.name(), call.operation)).or_insert_with(new)
    }

    fn matches(&self, call: &Call) -> bool {
        self.service.is_none_or(|s| s == call.service)
            && self.operation.as_deref().is_none_or(|op| op.eq_ignore_ascii_case(&call.operation))
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "fault rule {0:?}: {1} (expected SERVICE[/OPERATION]:KIND:SHARE, e.g. dynamodb:throttle:0.2, ses/SendEmail:error:every3, any:delay=300ms:1, or SERVICE[/OPERATION]:LIMIT, e.g. ses/SendEmail:ratelimit=14/s, ses/SendEmail:quota=500/60s)"
)]
pub struct RuleSyntaxError(String, &'static str);

/// `SERVICE[/OPERATION]:KIND:SHARE`, where SERVICE is dynamodb, streams, ses, ssm or any;
/// KIND is throttle, error, drop, delay=<n>ms, late=<n>ms, conflict, cancelthrottle, empty, unprocessed or limit=<n>;
/// SHARE is a probability (0–1), `every<n>`, `first<n>`, `after<n>` or `always`. Or
/// `SERVICE[/OPERATION]:LIMIT`, where LIMIT is ratelimit=<n>/s or quota=<n>/<period> (period <n>s,
/// <n>m or <n>h); it applies to every matching call.
impl FromStr for Rule {
    type Err = RuleSyntaxError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let error = |why| RuleSyntaxError(spec.to_owned(), why);
        let mut parts = spec.split(':');
        let (Some(target), Some(kind), share, None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(error("needs three parts separated by ':' (two for a limit)"));
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
            rate if rate.starts_with("ratelimit=") => Fault::RateLimit(
                Rate::parse(&rate["ratelimit=".len()..])
                    .ok_or_else(|| error("ratelimit=<n>/s needs 1 ≤ n ≤ 100000"))?,
            ),
            quota if quota.starts_with("quota=") => Fault::Quota(
                Quota::parse(&quota["quota=".len()..])
                    .ok_or_else(|| error("quota=<n>/<period> needs n ≥ 1 and a period such as 60s, 5m or 24h"))?,
            ),
            "unprocessed" => Fault::Unprocessed,
            limit if limit.starts_with("limit=") => {
                let n = limit["limit=".len()..].parse::<u32>().ok().filter(|n| *n > 0);
                Fault::Limit(n.ok_or_else(|| error("limit=<n> needs n ≥ 1"))?)
            }
            other => {
                let (kind, millis) = other.split_once('=').ok_or_else(|| error("unknown fault kind"))?;
                let millis = millis
                    .strip_suffix("ms")
                    .and_then(|d| d.parse::<u64>().ok())
                    .filter(|ms| *ms <= 60_000)
                    .ok_or_else(|| error("a delay is <n>ms, at most 60000ms"))?;
                match kind {
                    "delay" => Fault::Delay(Duration::from_millis(millis)),
                    "late" => Fault::LateAnswer(Duration::from_millis(millis)),
                    _ => return Err(error("unknown fault kind")),
                }
            }
        };
        let share = match share.map(str::to_ascii_lowercase).as_deref() {
            None | Some("always") if fault.is_limit() => Share::Always,
            _ if fault.is_limit() => return Err(error("a limit applies to every matching call: give no share")),
            None => return Err(error("needs three parts separated by ':'")),
            Some(share) => Self::parse_share(share).map_err(error)?,
        };
        Ok(Self::new(service, operation, fault, share))
    }
}

impl Rule {
    fn parse_share(share: &str) -> Result<Share, &'static str> {
        Ok(match share {
            "always" => Share::Always,
            every if every.starts_with("every") => {
                let n = every["every".len()..].parse::<u64>().ok().filter(|n| *n > 0);
                Share::EveryNth(n.ok_or("every<n> needs n ≥ 1")?)
            }
            first if first.starts_with("first") => {
                let n = first["first".len()..].parse::<u64>().ok();
                Share::FirstN(n.ok_or("first<n> needs a number")?)
            }
            after if after.starts_with("after") => {
                let n = after["after".len()..].parse::<u64>().ok();
                Share::AfterN(n.ok_or("after<n> needs a number")?)
            }
            probability => {
                let p = probability.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p));
                Share::Probability(p.ok_or("share must be a probability between 0 and 1")?)
            }
        })
    }
}

/// The SES account these rules play: the rate and quota of the first rules
/// limiting `SendEmail`, if a rate limits it (what `GetAccount` answers).
pub(crate) fn ses_account_limits(rules: &[Rule]) -> Option<(Rate, Option<Quota>)> {
    let send = Call { service: Service::Ses, operation: "SendEmail".to_owned() };
    let limiting: Vec<Fault> = rules.iter().filter(|r| r.matches(&send)).map(|r| r.fault).collect();
    let rate = limiting.iter().find_map(|f| if let Fault::RateLimit(rate) = f { Some(*rate) } else { None })?;
    let quota = limiting.iter().find_map(|f| if let Fault::Quota(quota) = f { Some(*quota) } else { None });
    Some((rate, quota))
}

/// What the first quota limiting `SendEmail` has spent at `now` (the account's
/// `SentLast24Hours`), if a quota limits it.
pub(crate) fn ses_quota_spent(rules: &[Rule], now: Instant) -> Option<u64> {
    let send = Call { service: Service::Ses, operation: "SendEmail".to_owned() };
    let rule = rules.iter().find(|r| r.matches(&send) && matches!(r.fault, Fault::Quota(_)))?;
    let Fault::Quota(quota) = rule.fault else { return None };
    let key = format!("{}/{}", send.service.name(), send.operation);
    Some(rule.limiters.get(&key).map_or(0, |limiter| limiter.spent(quota, now)))
}

/// The fault for this call at `now`, if a rule matching it fires: rules are
/// tried in order, and each matching rule counts the call whether it fires or
/// not. A limit fires when it refuses the call; one that lets it pass has
/// counted it (a token taken, a send spent) even if a later rule faults it.
pub(crate) fn choose(rules: &mut [Rule], rng: &mut fastrand::Rng, call: &Call, now: Instant) -> Option<Fault> {
    let mut chosen = None;
    for rule in rules.iter_mut().filter(|r| r.matches(call)) {
        rule.matched += 1;
        let fires = match (rule.fault, rule.share) {
            (Fault::RateLimit(rate), _) => !rule.limiter(call, || Limiter::bucket(rate, now)).take_token(rate, now),
            (Fault::Quota(quota), _) => !rule.limiter(call, || Limiter::allowance(quota)).spend(quota, now),
            (_, Share::Always) => true,
            (_, Share::EveryNth(n)) => rule.matched % n == 0,
            (_, Share::FirstN(n)) => rule.matched <= n,
            (_, Share::Probability(p)) => rng.f64() < p,
            (_, Share::AfterN(n)) => rule.matched > n,
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
        let rule: Rule = "dynamodb/UpdateItem:late=2500ms:first1".parse().unwrap();
        assert_eq!((rule.fault, rule.share), (Fault::LateAnswer(Duration::from_millis(2500)), Share::FirstN(1)));
        let rule: Rule = "ses:drop:first4".parse().unwrap();
        assert_eq!(rule.share, Share::FirstN(4));
        let rule: Rule = "dynamodb/BatchWriteItem:unprocessed:after3".parse().unwrap();
        assert_eq!((rule.fault, rule.share), (Fault::Unprocessed, Share::AfterN(3)));
        let rule: Rule = "ses:error:always".parse().unwrap();
        assert_eq!((rule.service, rule.fault, rule.share), (Some(Service::Ses), Fault::ServerError, Share::Always));
        for bad in [
            "dynamodb:throttle",
            "s3:drop:1",
            "ses:explode:1",
            "ses:drop:1.5",
            "ses:drop:every0",
            "ses:drop:after",
            "ses/:drop:1",
            "any:delay=5s:1",
            "any:late=70000ms:1",
            "any:soon=5ms:1",
            "a:b:c:d",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn the_ses_account_is_the_first_rate_and_quota_limiting_send_email() {
        let parse = |specs: &[&str]| specs.iter().map(|s| s.parse().unwrap()).collect::<Vec<Rule>>();
        assert_eq!(ses_account_limits(&parse(&["ses:throttle:0.5", "ses/SendEmail:quota=9/1h"])), None, "no rate");
        let rules =
            parse(&["dynamodb:ratelimit=5/s", "ses/SendEmail:ratelimit=14/s", "any:quota=9/1h", "ses:ratelimit=1/s"]);
        let quota = Quota { allowance: 9, period: Duration::from_secs(3600) };
        assert_eq!(ses_account_limits(&rules), Some((Rate { per_second: 14 }, Some(quota))));
        let rules = parse(&["ses:ratelimit=3/s", "ses/EmailIdentity:quota=1/1h"]);
        assert_eq!(ses_account_limits(&rules), Some((Rate { per_second: 3 }, None)), "another operation's quota");
    }

    #[test]
    fn limits_parse_without_a_share() {
        let rule: Rule = "ses/SendEmail:ratelimit=14/s".parse().unwrap();
        assert_eq!((rule.service, rule.operation.as_deref()), (Some(Service::Ses), Some("SendEmail")));
        assert_eq!((rule.fault, rule.share), (Fault::RateLimit(Rate { per_second: 14 }), Share::Always));
        let rule: Rule = "ses:quota=500/60s".parse().unwrap();
        assert_eq!(rule.fault, Fault::Quota(Quota { allowance: 500, period: Duration::from_secs(60) }));
        let rule: Rule = "any:ratelimit=40/s:always".parse().unwrap();
        assert_eq!((rule.service, rule.share), (None, Share::Always));
        for (bad, why) in [
            ("ses:ratelimit=14/s:0.5", "a limit applies to every matching call"),
            ("ses:quota=500/60s:first3", "a limit applies to every matching call"),
            ("ses:ratelimit=14/m", "ratelimit=<n>/s"),
            ("ses:ratelimit=0/s", "ratelimit=<n>/s"),
            ("ses:quota=500", "quota=<n>/<period>"),
            ("ses:quota=0/60s", "quota=<n>/<period>"),
            ("ses:throttle", "needs three parts"),
        ] {
            let error = bad.parse::<Rule>().expect_err(bad).to_string();
            assert!(error.contains(why), "{bad}: saw {error:?}");
        }
    }
}
