//! Lambda entry point for the portals' token endpoint: builds the state once per cold start.

use std::sync::Arc;

use profile_link_core::startup::OrExit;
use profile_link_core::{Env, telemetry};
use profile_link_token::{TokenApp, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Env::from_process();
    telemetry::init(&env).or_exit();
    let sdk = profile_link_core::aws::sdk_config().await;
    // Opens the table's connection while init waits for SSM.
    let (app, ()) = tokio::join!(TokenApp::from_env(&env, &sdk), TokenApp::warm_up(&env, &sdk));
    lambda_http::run(router(Arc::new(app.or_exit()))).await
}
