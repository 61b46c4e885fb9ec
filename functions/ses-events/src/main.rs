//! Lambda entry point for ses-events (SNS topic of SES bounces and complaints).

use lambda_runtime::{LambdaEvent, service_fn};
use profile_link_core::startup::OrExit;
use profile_link_core::{Env, telemetry};
use profile_link_ses_events::{SesEventsApp, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = Env::from_process();
    telemetry::init(&env).or_exit();
    let sdk = profile_link_core::aws::sdk_config().await;
    let app = SesEventsApp::from_env(&env, &sdk).or_exit();
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        handle(app, event.payload, &event.context.request_id).await.map(|_| ()).map_err(lambda_runtime::Error::from)
    }))
    .await
}
