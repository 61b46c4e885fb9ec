//! Lambda entry point for send-emails (DynamoDB stream and a schedule → SES).

use lambda_runtime::{LambdaEvent, service_fn};
use profile_link_core::startup::OrExit;
use profile_link_core::{Env, telemetry};
use profile_link_send_emails::{SendEmailsApp, handle_invocation};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = Env::from_process();
    telemetry::init(&env).or_exit();
    let sdk = profile_link_core::aws::sdk_config().await;
    let app = SendEmailsApp::from_env(&env, &sdk).await.or_exit();
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        Ok::<_, lambda_runtime::Error>(handle_invocation(app, event.payload, &event.context.request_id).await)
    }))
    .await
}
