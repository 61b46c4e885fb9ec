//! `profile-link-dev-server`: the Lambda handlers on one local port, the
//! stream → send-emails and stream → notify-portals event source mappings
//! (and both functions' scheduled sweeps), and a mailbox page. Configured
//! by the same environment variables as the functions in AWS, plus
//! `DEV_SERVER_PORT` (default 3000).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use profile_link_authorize::AuthorizeApp;
use profile_link_core::Clock;
use profile_link_core::clock::ManualClock;
use profile_link_core::startup::OrExit;
use profile_link_core::{Env, telemetry};
use profile_link_dev_server::stream::StreamPoller;
use profile_link_dev_server::{DeadLetterQueues, DevRoutes, Functions, router, serve};
use profile_link_login::LoginApp;
use profile_link_notify_portals::NotifyPortalsApp;
use profile_link_redeem_link::RedeemApp;
use profile_link_request_association::AssociationApp;
use profile_link_send_emails::SendEmailsApp;
use profile_link_ses_events::SesEventsApp;
use profile_link_token::TokenApp;

#[tokio::main]
async fn main() {
    // A configuration error is one line, never main's Debug print and backtrace.
    run().await.or_exit();
}

async fn run() -> anyhow::Result<()> {
    let env = Env::from_process();
    telemetry::init(&env)?;
    let port: u16 = env.number_in("DEV_SERVER_PORT", 3000, 1..=65535)?;
    // The local mailbox reads moto's record of the mail its SES accepted.
    let aws_endpoint = env.get("AWS_ENDPOINT_URL_SESV2").map(str::to_owned);
    let sdk = profile_link_core::aws::sdk_config().await;
    let mut login = LoginApp::from_env(&env, &sdk).await.context("login function configuration")?;
    login.warm_up().await;
    let mut request_association =
        AssociationApp::from_env(&env, &sdk).await.context("request-association configuration")?;
    let mut redeem_link = RedeemApp::from_env(&env, &sdk).await.context("redeem-link configuration")?;
    let mut authorize = AuthorizeApp::from_env(&env, &sdk).await.context("authorize configuration")?;
    let mut token = TokenApp::from_env(&env, &sdk).await.context("token configuration")?;
    if aws_endpoint.is_some() {
        let from = env.required("MAIL_FROM")?;
        profile_link_dev_server::verify_sender_in_emulator(&sdk, from)
            .await
            .map_err(|e| anyhow::anyhow!("verifying {from} in the emulator's SES: {e}"))?;
    }
    let mut send_emails = SendEmailsApp::from_env(&env, &sdk).await.context("send-emails configuration")?;
    let mut notify_portals = NotifyPortalsApp::from_env(&env, &sdk).await.context("notify-portals configuration")?;
    // DEV_CLOCK_CONTROL=1 (browser tests only): one clock for every function, moved by POST /dev/clock.
    let clock = (env.get("DEV_CLOCK_CONTROL") == Some("1")).then(ManualClock::default);
    if let Some(clock) = &clock {
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        login.clock = shared.clone();
        request_association.clock = shared.clone();
        redeem_link.clock = shared.clone();
        authorize.clock = shared.clone();
        token.clock = shared.clone();
        notify_portals.clock = shared.clone();
        send_emails.clock = shared;
    }
    // DEV_SES_EVENTS=1: POST /dev/ses-event plays SES's events: bounces, complaints, deliveries, delays, rejects (moto sends none).
    let ses_events = (env.get("DEV_SES_EVENTS") == Some("1"))
        .then(|| SesEventsApp::from_env(&env, &sdk))
        .transpose()
        .context("ses-events configuration")?
        .map(|mut app| {
            if let Some(clock) = &clock {
                app.clock = Arc::new(clock.clone());
            }
            Arc::new(app)
        });
    let send_emails = Arc::new(send_emails);
    let table = env.required("TABLE_NAME")?.to_owned();
    let poller = StreamPoller::new(&sdk, &table, send_emails.clone()).await.context("reading the table's stream")?;
    // notify-portals: its own mapping of the stream, and its schedule's sweep.
    let notify_portals = Arc::new(notify_portals);
    let logouts = StreamPoller::notify_portals(&sdk, &table, notify_portals.clone())
        .await
        .context("reading the table's stream for notify-portals")?;

    let address = format!("127.0.0.1:{port}");
    let listener = tokio::net::TcpListener::bind(&address).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("port {port} is already in use: stop whatever listens there or set DEV_SERVER_PORT")
        } else {
            anyhow::anyhow!("cannot listen on {address}: {e}")
        }
    })?;
    tracing::info!("dev server listening on http://{address}");
    let dead_letters =
        DeadLetterQueues { send_emails: poller.discarded.clone(), notify_portals: logouts.discarded.clone() };
    tokio::spawn(poller.run(Duration::from_millis(300)));
    tokio::spawn(logouts.run(Duration::from_millis(300)));
    tokio::spawn(profile_link_dev_server::sweep_logouts(notify_portals, Duration::from_secs(10)));
    // send-emails' schedule: what the stream path left pending in the outbox.
    tokio::spawn(profile_link_dev_server::sweep_mail(send_emails, Duration::from_secs(10)));
    let app = router(
        Functions {
            login: Arc::new(login),
            request_association: Arc::new(request_association),
            redeem_link: Arc::new(redeem_link),
            authorize: Arc::new(authorize),
            token: Arc::new(token),
        },
        DevRoutes { mailbox_endpoint: aws_endpoint, clock, ses_events, dead_letters: Some(dead_letters) },
    );
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
