//! `profile-link-dev-server`: the Lambda handlers on one local port.
//! Configured by the same environment variables as the functions in AWS,
//! plus `DEV_SERVER_PORT` (default 3000).

use std::sync::Arc;

use anyhow::Context;
use profile_link_core::{Env, telemetry};
use profile_link_dev_server::{Functions, router, serve};
use profile_link_login::LoginApp;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let env = Env::from_process();
    let port: u16 = env.number_in("DEV_SERVER_PORT", 3000, 1..=65535)?;
    let sdk = aws_config::load_from_env().await;
    let login = LoginApp::from_env(&env, &sdk).await.context("login function configuration")?;
    login.warm_up().await;

    let address = format!("127.0.0.1:{port}");
    let listener = tokio::net::TcpListener::bind(&address).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("port {port} is already in use: stop whatever listens there or set DEV_SERVER_PORT")
        } else {
            anyhow::anyhow!("cannot listen on {address}: {e}")
        }
    })?;
    tracing::info!("dev server listening on http://{address}");
    let app = router(Functions { login: Arc::new(login) });
    serve(listener, app, shutdown_signal()).await.context("dev server")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
