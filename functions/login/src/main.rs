//! Lambda entry point for sign-in: builds the state once per cold start.

use std::sync::Arc;

use profile_link_core::startup::OrExit;
use profile_link_core::{Env, telemetry};
use profile_link_login::{LoginApp, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Env::from_process();
    telemetry::init(&env).or_exit();
    let sdk = profile_link_core::aws::sdk_config().await;
    let app = LoginApp::from_env(&env, &sdk).await.or_exit();
    app.warm_up().await;
    lambda_http::run(router(Arc::new(app))).await
}
