//! Failure injection at the AWS SDK boundary: an interceptor on the SES client
//! that fails `SendEmail` calls for chosen recipients, the way a throttled or
//! broken SES would, while every other call goes to the emulator.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use aws_sdk_sesv2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sesv2::config::{ConfigBag, Intercept, RuntimeComponents};

#[derive(Debug, Clone, Default)]
pub struct SesFaults {
    failing: Arc<Mutex<HashSet<String>>>,
    pub failed_calls: Arc<Mutex<u32>>,
    sent_calls: Arc<Mutex<u32>>,
    /// The JSON body of every `SendEmail` that went on to the emulator (which drops message tags).
    sent_bodies: Arc<Mutex<Vec<String>>>,
}

impl SesFaults {
    pub fn fail_sends_to(&self, address: &str) {
        self.failing.lock().unwrap().insert(address.to_owned());
    }

    pub fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }
}

impl Intercept for SesFaults {
    fn name(&self) -> &'static str {
        "SesFaults"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sesv2::error::BoxError> {
        let body =
            context.request().body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        let failing = self.failing.lock().unwrap();
        if failing.iter().any(|address| body.contains(address.as_str())) {
            *self.failed_calls.lock().unwrap() += 1;
            return Err("injected fault: SES unavailable for this recipient".into());
        }
        *self.sent_calls.lock().unwrap() += 1;
        self.sent_bodies.lock().unwrap().push(body);
        Ok(())
    }
}

/// Counts DynamoDB operations by name (from the `X-Amz-Target` header), so
/// tests can pin how many calls each endpoint makes.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<Vec<String>>>,
}

impl CallCounter {
    /// The operations since the last `take`, in order.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

/// `PutItem`, `Query` …: the operation a DynamoDB request is for (its `X-Amz-Target`).
fn dynamodb_operation<'a>(
    context: &'a aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
) -> &'a str {
    let target = context.request().headers().get("x-amz-target").unwrap_or("?");
    target.rsplit('.').next().unwrap_or(target)
}

impl aws_sdk_dynamodb::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.calls.lock().unwrap().push(dynamodb_operation(context).to_owned());
        Ok(())
    }
}

impl SesFaults {
    /// SendEmail calls that reached the emulator.
    pub fn sent(&self) -> u32 {
        *self.sent_calls.lock().unwrap()
    }

    /// The message tags (`EmailTags`) of each email sent to `address`, oldest first.
    pub fn tags_sent_to(&self, address: &str) -> Vec<std::collections::HashMap<String, String>> {
        let bodies = self.sent_bodies.lock().unwrap();
        bodies
            .iter()
            .filter_map(|body| serde_json::from_str::<serde_json::Value>(body).ok())
            .filter(|request| {
                request["Destination"]["ToAddresses"].as_array().is_some_and(|to| to.iter().any(|a| a == address))
            })
            .map(|request| {
                request["EmailTags"]
                    .as_array()
                    .map(|tags| {
                        tags.iter()
                            .filter_map(|t| Some((t["Name"].as_str()?.to_owned(), t["Value"].as_str()?.to_owned())))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Kills the invocation it is part of (a panic, as a Lambda runtime sees a
/// crash) just before the n-th DynamoDB `TransactWriteItems` call leaves,
/// once. In send-emails the calls alternate claim, record, claim, record …,
/// so n picks the moment: odd n before a link is claimed, even n after SES
/// accepted its email but before the send was recorded.
#[derive(Debug, Clone)]
pub struct CrashBeforeTransaction {
    n: u32,
    seen: Arc<Mutex<u32>>,
}

impl CrashBeforeTransaction {
    pub fn at(n: u32) -> Self {
        Self { n, seen: Arc::default() }
    }
}

impl aws_sdk_dynamodb::config::Intercept for CrashBeforeTransaction {
    fn name(&self) -> &'static str {
        "CrashBeforeTransaction"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if dynamodb_operation(context) == "TransactWriteItems" {
            let mut seen = self.seen.lock().unwrap();
            *seen += 1;
            if *seen == self.n {
                drop(seen);
                panic!("injected crash before TransactWriteItems #{}", self.n);
            }
        }
        Ok(())
    }
}
