//! The `notify-portals` function: OpenID Connect Back-Channel Logout 1.0.
//! A sign-out, "sign out everywhere", or a profile unlinked, revoked or
//! taken over writes a logout event in the same transaction as the change
//! (`store::logouts`); the table's stream brings it here. Each event is
//! expanded into the portal sessions it concerns (those that got a code in
//! the session, or were told about the profile), one delivery item each, and
//! each is posted a logout token (`logout_token=<jwt>`, form-encoded) at once.
//!
//! Nothing is lost when a portal is down: a delivery is claimed before each
//! attempt (its attempt counted and its next attempt moved on by the
//! backoff, [`retry_delay`]), so a failure, a crash or a timeout leaves it
//! pending in the table, and the scheduled sweep (the same function, invoked
//! every minute) posts the due ones again until the portal answers 200 or
//! 204, or [`GIVE_UP_SECONDS`] after the event, when it is abandoned. Each
//! delivery and each give-up is audited and counted.
//!
//! Delivery is at least once: a stream redelivery finds the deliveries
//! already there and posts only those still pending and due; a portal may
//! receive a second token (a new `jti`) only when an invocation died between
//! the portal's answer and the write that records it. Logout tokens are
//! never logged.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::downstream::{self, LOGOUT_TOKEN_TYPE, LogoutTokenClaims, PortalClients};
use profile_link_core::metrics::Emf;
use profile_link_core::session::{SessionKeys, SigningAlg};
use profile_link_core::startup::{self, StartupError};
use profile_link_core::store::StoreError;
use profile_link_core::store::logouts::{LogoutCause, LogoutDelivery, LogoutEvent, LogoutOutcome};
use profile_link_core::telemetry::ColdStart;
use profile_link_core::{Clock, Store, SystemClock};

/// This function's name in logs and metrics.
pub const FUNCTION: &str = "notify-portals";
/// A delivery is retried for this long after its event, then abandoned.
pub const GIVE_UP_SECONDS: i64 = 24 * 3600;
/// How long a portal has to answer one logout token.
pub const POST_TIMEOUT: Duration = Duration::from_secs(5);
/// Deliveries one sweep takes at most (the schedule's next run takes the rest).
pub const SWEEP_BATCH: i32 = 50;

/// Seconds from an attempt to the next after `attempts` attempts: 10 s,
/// doubling, at most an hour (about 30 attempts in a day).
pub fn retry_delay(attempts: i64) -> i64 {
    let doublings = (attempts - 1).clamp(0, 9) as u32;
    (10i64 << doublings).min(3600)
}

static COLD_START: ColdStart = ColdStart::new();

/// What posting needs: the issuer and its signing key, the portals (their
/// back-channel logout URIs), the table, an HTTP client and the clock.
pub struct NotifyPortalsApp {
    pub site: SiteConfig,
    pub store: Store,
    pub keys: Arc<SessionKeys>,
    pub clients: Arc<PortalClients>,
    pub clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

impl NotifyPortalsApp {
    /// The signing key and the client list in one SSM call.
    pub async fn from_env(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let site = SiteConfig::from_env(env)?;
        let (keys, mut others) =
            startup::session_keys_and_secrets(env, sdk, &site, &[downstream::PORTAL_CLIENTS]).await?;
        let clients = startup::portal_clients(&others.remove(0), FUNCTION)?;
        let store = Store::from_sdk_config(sdk, site.table_name.clone());
        Ok(Self::new(site, store, Arc::new(keys), Arc::new(clients), Arc::new(SystemClock)))
    }

    pub fn new(
        site: SiteConfig,
        store: Store,
        keys: Arc<SessionKeys>,
        clients: Arc<PortalClients>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let http = reqwest::Client::builder()
            // A redirect would carry the token to wherever the portal's answer points.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(POST_TIMEOUT)
            .build()
            .expect("an HTTP client with rustls");
        Self { site, store, keys, clients, clock, http }
    }

    fn issuer(&self) -> String {
        self.site.public_base_url.origin()
    }
}

/// How many deliveries came to what, in one invocation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub delivered: u64,
    pub failed: u64,
    pub abandoned: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.abandoned += other.abandoned;
    }
}

/// Lambda's entry: a stream batch (`Records`), or the schedule's event (a sweep).
pub async fn handle_invocation(
    app: &NotifyPortalsApp,
    payload: serde_json::Value,
    request_id: &str,
) -> serde_json::Value {
    if payload.get("Records").is_some() {
        let response = match serde_json::from_value::<Event>(payload) {
            Ok(event) => handle(app, event, request_id).await,
            Err(error) => {
                tracing::error!(%error, "a stream batch that does not parse");
                DynamoDbEventResponse::default()
            }
        };
        return serde_json::to_value(response).unwrap_or_default();
    }
    match sweep(app, request_id).await {
        Ok(tally) => serde_json::json!({
            "delivered": tally.delivered, "failed": tally.failed, "abandoned": tally.abandoned,
        }),
        Err(error) => {
            tracing::error!(%error, "sweep failed; the next one retries");
            serde_json::json!({ "error": error.to_string() })
        }
    }
}

/// The stream's batch: each new logout event expanded and posted; a record
/// whose expansion failed (the table unavailable) is reported for retry.
pub async fn handle(app: &NotifyPortalsApp, event: Event, request_id: &str) -> DynamoDbEventResponse {
    let started = std::time::Instant::now();
    let cold_start = COLD_START.take();
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    for record in &event.records {
        match notify(app, record).await {
            Ok(done) => tally.add(done),
            Err(error) => {
                tracing::warn!(%error, event_id = %record.event_id, "stream record failed; reported for retry");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                failures.push(failure);
            }
        }
    }
    report(&tally, "stream", event.records.len(), failures.len(), started, cold_start, request_id);
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    response
}

/// The schedule's run: every delivery whose next attempt is due, posted again.
pub async fn sweep(app: &NotifyPortalsApp, request_id: &str) -> Result<Tally, StoreError> {
    let started = std::time::Instant::now();
    let cold_start = COLD_START.take();
    let due = app.store.due_logout_deliveries(app.clock.now(), SWEEP_BATCH).await?;
    let count = due.len();
    let tally = attempt_all(app, due).await?;
    report(&tally, "sweep", count, 0, started, cold_start, request_id);
    Ok(tally)
}

fn report(
    tally: &Tally,
    source: &'static str,
    records: usize,
    failed_records: usize,
    started: std::time::Instant,
    cold_start: bool,
    request_id: &str,
) {
    tracing::info!(
        target: "invocation",
        function = FUNCTION,
        source,
        records,
        delivered = tally.delivered,
        failed = tally.failed,
        abandoned = tally.abandoned,
        failed_records,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        cold_start,
        request_id,
        "invocation"
    );
    Emf::new(FUNCTION)
        .count("PortalLogoutsDelivered", tally.delivered)
        .count("PortalLogoutsFailed", tally.failed)
        .count("PortalLogoutsAbandoned", tally.abandoned)
        .emit();
}

/// The logout event a record inserts, if it is one (the template's filter
/// names the same; checked again so a misconfigured mapping cannot make
/// this function act on other items).
fn inserted_event(record: &EventRecord) -> Option<Result<LogoutEvent, StoreError>> {
    let key = |name: &str| match record.change.keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    if record.event_name != "INSERT" || !key("pk")?.starts_with("LOGOUT#") || key("sk")? != "EVENT" {
        return None;
    }
    Some(
        serde_dynamo::from_item(record.change.new_image.clone())
            .map_err(|e| StoreError::Corrupt { key: key("pk").unwrap_or_default().to_owned(), problem: e.to_string() }),
    )
}

/// One event: a delivery for each portal session it concerns (added once,
/// however often the record comes), then every one still due, posted.
pub async fn notify(app: &NotifyPortalsApp, record: &EventRecord) -> Result<Tally, StoreError> {
    let Some(event) = inserted_event(record) else { return Ok(Tally::default()) };
    let event = event?;
    let cause = event.cause()?;
    let now = app.clock.now();
    let of_session = match &cause {
        LogoutCause::SignedOut { session_id } => Some(session_id.as_str()),
        _ => None,
    };
    for session in app.store.portal_sessions(&event.identity(), of_session, now).await? {
        let takes_logouts =
            app.clients.get(&session.client_id).is_some_and(|client| client.backchannel_logout_uri.is_some());
        if takes_logouts && cause.concerns(&session) {
            app.store.add_logout_delivery(&event, &cause, &session, now).await?;
        }
    }
    let due = app
        .store
        .logout_deliveries(event.event_id())
        .await?
        .into_iter()
        .filter(|d| d.pending && d.next_attempt_at <= now)
        .collect();
    attempt_all(app, due).await
}

/// Posts each delivery side by side (one slow portal does not hold up the others).
async fn attempt_all(app: &NotifyPortalsApp, deliveries: Vec<LogoutDelivery>) -> Result<Tally, StoreError> {
    let outcomes = futures::future::join_all(deliveries.iter().map(|d| attempt(app, d))).await;
    let mut tally = Tally::default();
    for outcome in outcomes {
        match outcome? {
            Some(LogoutOutcome::Delivered) => tally.delivered += 1,
            Some(LogoutOutcome::Failed { .. }) => tally.failed += 1,
            Some(LogoutOutcome::Abandoned { .. }) => tally.abandoned += 1,
            // Another invocation has it, or it is settled.
            None => {}
        }
    }
    Ok(tally)
}

/// One attempt: claimed (so no one else tries it before its next attempt
/// time), posted, and settled with what the portal answered.
async fn attempt(app: &NotifyPortalsApp, delivery: &LogoutDelivery) -> Result<Option<LogoutOutcome>, StoreError> {
    let now = app.clock.now();
    let retry_at = now + retry_delay(delivery.attempts + 1);
    let Some(claimed) = app.store.claim_logout_delivery(delivery, now, retry_at).await? else { return Ok(None) };
    let client_id = delivery.client_id.as_str();
    let client = app.clients.get(client_id);
    let answered = match client.and_then(|c| c.backchannel_logout_uri.as_deref().map(|uri| (c, uri))) {
        Some((client, uri)) => post(app, &claimed, client.id_token_signed_response_alg, uri, now).await,
        None => Err("the portal no longer registers a backchannel_logout_uri".to_owned()),
    };
    let outcome = match answered {
        Ok(()) => LogoutOutcome::Delivered,
        Err(problem) if retry_at >= claimed.created_at + GIVE_UP_SECONDS => LogoutOutcome::Abandoned { problem },
        Err(problem) => LogoutOutcome::Failed { problem },
    };
    app.store.settle_logout_delivery(&claimed, &outcome, app.clock.now()).await?;
    let attempts = claimed.attempts;
    match &outcome {
        LogoutOutcome::Delivered => tracing::info!(client_id, attempts, "logout token delivered"),
        LogoutOutcome::Failed { problem } => {
            tracing::warn!(client_id, attempts, problem, retry_at, "logout token not delivered; retried later")
        }
        LogoutOutcome::Abandoned { problem } => {
            tracing::error!(client_id, attempts, problem, "logout token never delivered; given up")
        }
    }
    Ok(Some(outcome))
}

/// Posts a fresh logout token; `Err` says why it did not land (never the token).
/// Signed like the portal's ID tokens (its registered algorithm).
async fn post(
    app: &NotifyPortalsApp,
    delivery: &LogoutDelivery,
    alg: SigningAlg,
    uri: &str,
    now: i64,
) -> Result<(), String> {
    let claims = LogoutTokenClaims::new(&app.issuer(), &delivery.client_id, &delivery.sub, &delivery.sid, now);
    let token = app.keys.sign_for_portal_typed(alg, LOGOUT_TOKEN_TYPE, &claims);
    match app.http.post(uri).form(&[("logout_token", token.as_str())]).send().await {
        // Back-Channel Logout 1.0 §2.8: 200 OK (204 is also success in practice).
        Ok(answer) if matches!(answer.status().as_u16(), 200 | 204) => Ok(()),
        Ok(answer) => Err(format!("HTTP {}", answer.status().as_u16())),
        Err(error) if error.is_timeout() => Err("no answer in time".into()),
        Err(error) if error.is_connect() => Err("could not connect".into()),
        Err(_) => Err("the request failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        let delays: Vec<i64> = (1..=12).map(retry_delay).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600], "{delays:?}");
        let attempts_in_a_day = (1..)
            .scan(0, |t, a| {
                *t += retry_delay(a);
                Some(*t)
            })
            .take_while(|t| *t < GIVE_UP_SECONDS)
            .count();
        assert!((20..40).contains(&attempts_in_a_day), "{attempts_in_a_day} attempts in a day");
    }
}
