//! Lambda entry point for redeem-link.

use std::sync::Arc;

use profile_link_core::{Env, telemetry};
use profile_link_redeem_link::{RedeemApp, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Env::from_process();
    telemetry::init(&env);
    let sdk = profile_link_core::aws::sdk_config().await;
    let app = RedeemApp::from_env(&env, &sdk).await?;
    lambda_http::run(router(Arc::new(app))).await
}
