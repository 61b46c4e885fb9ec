//! Lambda entry point for request-association.

use std::sync::Arc;

use profile_link_core::startup::OrExit;
use profile_link_core::{Env, telemetry};
use profile_link_request_association::{AssociationApp, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Env::from_process();
    telemetry::init(&env).or_exit();
    let sdk = profile_link_core::aws::sdk_config().await;
    // The table's connection opens while init waits for the secrets.
    let (app, ()) = tokio::join!(AssociationApp::from_env(&env, &sdk), AssociationApp::warm_up(&env, &sdk));
    let app = app.or_exit();
    lambda_http::run(router(Arc::new(app))).await
}
