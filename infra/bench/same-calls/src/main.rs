//! Lambda entry point for the same-calls baseline: the function's init calls,
//! then its first request's calls for every event, answered with a fixed body.

use lambda_http::{Body, Request, Response};
use lambda_runtime::LambdaEvent;
use profile_link_bench_same_calls::{EventKind, SameCalls};
use profile_link_core::startup::OrExit;
use profile_link_core::{Env, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = Env::from_process();
    telemetry::init(&env).or_exit();
    let sdk = profile_link_core::aws::sdk_config().await;
    let calls = SameCalls::from_env(&env, sdk).or_exit();
    calls.run(&calls.init).await.or_exit();
    let calls = &calls;
    match calls.event {
        EventKind::Http => {
            lambda_http::run(lambda_http::service_fn(move |_: Request| async move {
                calls.run(&calls.first).await?;
                Ok::<_, lambda_http::Error>(Response::builder().status(200).body(Body::from("same calls made"))?)
            }))
            .await
        }
        EventKind::Stream => {
            lambda_runtime::run(lambda_runtime::service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
                calls.run(&calls.first).await?;
                Ok::<_, lambda_runtime::Error>(serde_json::json!({ "batchItemFailures": [] }))
            }))
            .await
        }
    }
}
