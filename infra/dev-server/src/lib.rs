//! The local dev server: one port that routes requests to the Lambda
//! functions' routers the way API Gateway's HTTP API does.
//!
//! Every request is turned into the API Gateway v2 (HTTP API) event that
//! Lambda would deliver and converted back with `lambda_http`'s own
//! conversion, so handlers see exactly what they see in Lambda: the cookies
//! array, the raw query string, the request context with the source IP.

pub mod mailbox;
pub mod stream;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::request::LambdaRequest;
use profile_link_authorize::AuthorizeApp;
use profile_link_core::domain::mail_subject::MailSubject;
use profile_link_core::store::Feedback;
use profile_link_core::store::deliveries::Delivery;
use profile_link_harness::apigw;
use profile_link_harness::ses_events::{example_delivery_event, example_ses_event, sns_event};
use profile_link_login::LoginApp;
use profile_link_redeem_link::RedeemApp;
use profile_link_request_association::AssociationApp;
use profile_link_ses_events::SesEventsApp;
use profile_link_token::TokenApp;
use tower::ServiceExt;

/// The functions this dev server mounts, each built as its `main.rs` builds it.
pub struct Functions {
    pub login: Arc<LoginApp>,
    pub request_association: Arc<AssociationApp>,
    pub redeem_link: Arc<RedeemApp>,
    /// The portals' OpenID Provider: its browser side and its token side.
    pub authorize: Arc<AuthorizeApp>,
    pub token: Arc<TokenApp>,
}

/// Pages that exist only on the dev server, never in a Lambda build.
#[derive(Default)]
pub struct DevRoutes {
    /// The emulator whose sent mail `/dev/mailbox` shows.
    pub mailbox_endpoint: Option<String>,
    /// A clock that `POST /dev/clock?advance=SECONDS` moves (browser tests of expiry).
    pub clock: Option<profile_link_core::clock::ManualClock>,
    /// The ses-events function, reached by `POST /dev/ses-event` (moto never bounces).
    pub ses_events: Option<Arc<SesEventsApp>>,
    /// The stream mappings' on-failure destinations, shown at `GET /dev/dead-letters`.
    pub dead_letters: Option<DeadLetterQueues>,
}

/// What each stream mapping gave up on, as the dead-letter queues in AWS hold it.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterQueues {
    pub send_emails: stream::DeadLetters,
    pub notify_portals: stream::DeadLetters,
}

/// One router over every HTTP function, behind the API Gateway event
/// conversion, plus the dev-only routes.
pub fn router(functions: Functions, dev: DevRoutes) -> Router {
    let functions = Router::new()
        .merge(profile_link_login::router(functions.login))
        .merge(profile_link_request_association::router(functions.request_association))
        .merge(profile_link_redeem_link::router(functions.redeem_link))
        .merge(profile_link_authorize::router(functions.authorize))
        .merge(profile_link_token::router(functions.token));
    let mut dev_only = Router::new();
    if let Some(endpoint) = dev.mailbox_endpoint {
        dev_only =
            dev_only.merge(Router::new().route("/dev/mailbox", axum::routing::get(mailbox::page)).with_state(endpoint));
    }
    if let Some(clock) = dev.clock {
        dev_only =
            dev_only.merge(Router::new().route("/dev/clock", axum::routing::post(advance_clock)).with_state(clock));
    }
    if let Some(ses_events) = dev.ses_events {
        dev_only = dev_only
            .merge(Router::new().route("/dev/ses-event", axum::routing::post(ses_event)).with_state(ses_events));
    }
    if let Some(queues) = dev.dead_letters {
        dev_only = dev_only
            .merge(Router::new().route("/dev/dead-letters", axum::routing::get(dead_letters)).with_state(queues));
    }
    dev_only.merge(Router::new().fallback(as_api_gateway).with_state(functions))
}

/// `GET /dev/dead-letters`: the event ids each mapping sent to its on-failure
/// destination (a load run's "nothing in a dead-letter queue").
async fn dead_letters(State(queues): State<DeadLetterQueues>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "send_emails": queues.send_emails.ids(),
        "notify_portals": queues.notify_portals.ids(),
    }))
}

#[derive(serde::Deserialize)]
struct Advance {
    advance: i64,
}

async fn advance_clock(
    State(clock): State<profile_link_core::clock::ManualClock>,
    axum::extract::Query(Advance { advance }): axum::extract::Query<Advance>,
) -> String {
    use profile_link_core::Clock;
    clock.advance(advance);
    clock.now().to_string()
}

/// What `/dev/ses-event?event=…` plays: SES feedback, or a delivery event.
enum Play {
    Feedback(Feedback),
    Delivery(Delivery),
}

#[derive(serde::Deserialize)]
struct SesEventQuery {
    link: Option<String>,
    event: Option<String>,
}

/// `POST /dev/ses-event`: delivers to the ses-events function what SNS would.
/// The body is an SES event record (the `Message` SES publishes) or a whole
/// SNS Lambda event (`{"Records": …}`); anything else is passed on as the
/// message text, as a broken publisher would. Or, with no body,
/// `?link=<link id>&event=hard-bounce|soft-bounce|complaint|delivery|delay|reject` builds the
/// record SES would publish for that link's email. Answers the handler's summary.
async fn ses_event(
    State(app): State<Arc<SesEventsApp>>,
    axum::extract::Query(query): axum::extract::Query<SesEventQuery>,
    body: axum::body::Bytes,
) -> Response {
    use axum::http::StatusCode;
    let event = match (query.link, query.event) {
        (Some(link_id), Some(kind)) => {
            let play = match kind.as_str() {
                "hard-bounce" => Play::Feedback(Feedback::HardBounce),
                "soft-bounce" => Play::Feedback(Feedback::SoftBounce),
                "complaint" => Play::Feedback(Feedback::Complaint),
                "delivery" => Play::Delivery(Delivery::Delivered),
                "delay" => Play::Delivery(Delivery::Delayed),
                "reject" => Play::Delivery(Delivery::Rejected),
                _ => {
                    return (
                        StatusCode::BAD_REQUEST,
                        "event: hard-bounce, soft-bounce, complaint, delivery, delay or reject",
                    )
                        .into_response();
                }
            };
            let link = match app.store.get_link(&link_id).await {
                Ok(Some(link)) => link,
                Ok(None) => return (StatusCode::NOT_FOUND, "no such link").into_response(),
                Err(error) => return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
            };
            let (Some(link_id), Some(profile_id)) = (
                profile_link_core::domain::link_token::LinkId::parse(&link.record.link_id),
                profile_link_core::domain::profile::ProfileId::parse(&link.record.profile_id),
            ) else {
                return (StatusCode::BAD_REQUEST, "the link item is malformed").into_response();
            };
            let about = MailSubject::Link { link_id, profile_id };
            // The id SES gave the email, as its events carry it (so playing one twice is a redelivery).
            let message_id = link
                .record
                .ses_message_id
                .clone()
                .unwrap_or_else(|| format!("local-{}", profile_link_core::random::token(12)));
            let record = match play {
                Play::Feedback(feedback) => example_ses_event(feedback, &link.record.email, &message_id, &about),
                Play::Delivery(delivery) => example_delivery_event(delivery, &link.record.email, &message_id, &about),
            };
            sns_event(&[record.to_string()])
        }
        _ => {
            let text = String::from_utf8_lossy(&body).into_owned();
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(event) if event.get("Records").is_some() => event,
                _ => sns_event(&[text]),
            }
        }
    };
    let request_id = profile_link_core::random::token(12);
    match profile_link_ses_events::handle(&app, event, &request_id).await {
        Ok(summary) => axum::Json(summary).into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

/// Largest body API Gateway would pass on (payload limit is 10 MB; functions enforce their own, smaller limits).
const MAX_EVENT_BODY: usize = 10 * 1024 * 1024;
/// HTTP API's quota for the request line and all header values together.
const MAX_REQUEST_LINE_AND_HEADERS: usize = 10_240;

async fn as_api_gateway(
    State(functions): State<Router>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let head =
        parts.uri.to_string().len() + parts.headers.iter().map(|(n, v)| n.as_str().len() + v.len()).sum::<usize>();
    if head > MAX_REQUEST_LINE_AND_HEADERS {
        return (axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "Request Header Fields Too Large")
            .into_response();
    }
    let bytes = match http_body_util::Limited::new(body, MAX_EVENT_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return (axum::http::StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large").into_response(),
    };
    let event = match api_gateway_event(&parts, &bytes, peer) {
        Ok(event) => event,
        Err(_) => return (axum::http::StatusCode::BAD_REQUEST, "Bad Request").into_response(),
    };
    let lambda_request: lambda_http::Request = LambdaRequest::ApiGatewayV2(event).into();
    match functions.oneshot(lambda_request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The request as API Gateway's HTTP API event, read into `lambda_http`'s
/// type as the function's runtime reads the JSON Lambda delivers.
fn api_gateway_event(
    parts: &axum::http::request::Parts,
    body: &[u8],
    peer: SocketAddr,
) -> Result<ApiGatewayV2httpRequest, serde_json::Error> {
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let source_ip = peer.ip().to_string();
    let request = apigw::Request {
        method: parts.method.as_str(),
        path_and_query,
        headers: &parts.headers,
        source_ip: &source_ip,
        body,
    };
    serde_json::from_value(apigw::event(&request))
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Plays notify-portals' schedule (EventBridge's `rate(1 minute)` in AWS):
/// every `interval`, the deliveries whose next attempt is due are posted again.
pub async fn sweep_logouts(app: Arc<profile_link_notify_portals::NotifyPortalsApp>, interval: std::time::Duration) {
    on_schedule(interval, "logout sweep", move |request_id| {
        let app = app.clone();
        async move { profile_link_notify_portals::sweep(&app, &request_id).await.map(drop) }
    })
    .await
}

/// Plays send-emails' schedule (EventBridge's `rate(1 minute)` in AWS): every
/// `interval`, the links and notices due in the outbox are sent.
pub async fn sweep_mail(app: Arc<profile_link_send_emails::SendEmailsApp>, interval: std::time::Duration) {
    on_schedule(interval, "mail sweep", move |request_id| {
        let app = app.clone();
        async move { profile_link_send_emails::sweep(&app, &request_id).await.map(drop) }
    })
    .await
}

/// Runs `job` every `interval` with a fresh request id; a failed run is logged, and the next one retries.
async fn on_schedule<F, Fut>(interval: std::time::Duration, what: &'static str, job: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), profile_link_core::store::StoreError>>,
{
    loop {
        tokio::time::sleep(interval).await;
        if let Err(error) = job(profile_link_core::random::token(12)).await {
            tracing::warn!(%error, "{what} failed; the next one retries");
        }
    }
}

/// The emulator's SES refuses to send until the sender is a verified identity,
/// as real SES does; locally we verify it at start-up.
pub async fn verify_sender_in_emulator(sdk: &aws_config::SdkConfig, from: &str) -> Result<(), String> {
    let address = from.rsplit_once('<').map(|(_, a)| a.trim_end_matches('>')).unwrap_or(from).trim();
    let result = aws_sdk_sesv2::Client::new(sdk).create_email_identity().email_identity(address).send().await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_already_exists_exception()) => Ok(()),
        Err(e) => Err(aws_sdk_sesv2::error::DisplayErrorContext(e).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reaches_the_functions_as_lambda_delivers_it() {
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/redeem?token=a.b&x=%20")
            .header("host", "127.0.0.1:3000")
            .header("cookie", "pl_session=s; pl_clicked=c")
            .header("user-agent", "ua")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let event = api_gateway_event(&parts, b"csrf=t&action=confirm", "203.0.113.7:5000".parse().unwrap()).unwrap();
        assert_eq!(event.cookies.as_deref(), Some(&["pl_session=s".to_owned(), "pl_clicked=c".to_owned()][..]));
        assert_eq!(event.request_context.http.source_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(event.request_context.domain_name.as_deref(), Some("127.0.0.1:3000"));
        let converted: lambda_http::Request = LambdaRequest::ApiGatewayV2(event).into();
        assert_eq!(converted.method(), "POST");
        assert_eq!(converted.uri().path(), "/redeem");
        assert_eq!(converted.uri().query(), Some("token=a.b&x=%20"));
        assert_eq!(converted.headers()["cookie"], "pl_session=s; pl_clicked=c");
        assert_eq!(converted.headers()["user-agent"], "ua");
        assert_eq!(converted.body().as_ref(), b"csrf=t&action=confirm");
    }

    #[tokio::test]
    async fn dead_letters_lists_what_each_mapping_gave_up_on() {
        let queues = DeadLetterQueues::default();
        let axum::Json(empty) = dead_letters(State(queues.clone())).await;
        assert_eq!(empty, serde_json::json!({ "send_emails": [], "notify_portals": [] }));
        queues.notify_portals.push("event-7".into());
        let axum::Json(page) = dead_letters(State(queues)).await;
        assert_eq!(page, serde_json::json!({ "send_emails": [], "notify_portals": ["event-7"] }));
    }
}
