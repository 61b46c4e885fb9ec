//! A local Lambda Runtime API (the `2018-06-01` interface a custom runtime
//! polls): one per function process. It hands the process one queued event
//! per `invocation/next` and notes when each answer arrives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

/// How one invocation went, as the Runtime API saw it.
#[derive(Debug)]
pub struct Answer {
    /// When the runtime took the event (its `next` call returned it).
    pub delivered: Instant,
    /// When its response (or error) arrived.
    pub answered: Instant,
    pub body: Bytes,
    /// The runtime reported an error instead of a response.
    pub error: bool,
}

struct Pending {
    id: String,
    event: Bytes,
    done: oneshot::Sender<Answer>,
}

struct InFlight {
    delivered: Instant,
    done: oneshot::Sender<Answer>,
}

struct ApiState {
    function_arn: String,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    /// The first `next` call: the end of the process's init phase.
    first_poll: OnceLock<Instant>,
    init_error: Mutex<Option<String>>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    state: Arc<ApiState>,
    queue: mpsc::UnboundedSender<Pending>,
    server: tokio::task::JoinHandle<()>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> anyhow::Result<Self> {
        let (queue, rx) = mpsc::unbounded_channel();
        let state = Arc::new(ApiState {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            queue: tokio::sync::Mutex::new(rx),
            in_flight: Mutex::default(),
            first_poll: OnceLock::new(),
            init_error: Mutex::default(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, queue, server, next_id: Default::default() })
    }

    /// When the process first asked for an event (its init was over).
    pub fn first_poll(&self) -> Option<Instant> {
        self.state.first_poll.get().copied()
    }

    /// Queues an event now; the returned receiver resolves with the answer.
    pub fn enqueue(&self, event: Bytes) -> oneshot::Receiver<Answer> {
        let n = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (done, answer) = oneshot::channel();
        let id = format!("bench-{n:06}-{}", std::process::id());
        let _ = self.queue.send(Pending { id, event, done });
        answer
    }

    /// What the process reported through `init/error`, if it failed its init.
    pub fn init_error(&self) -> Option<String> {
        self.state.init_error.lock().expect("not poisoned").clone()
    }
}

async fn next(State(state): State<Arc<ApiState>>) -> Response {
    state.first_poll.get_or_init(Instant::now);
    let Some(pending) = state.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let delivered = Instant::now();
    let deadline_ms = (SystemTime::now() + Duration::from_secs(10)).duration_since(UNIX_EPOCH).unwrap_or_default();
    state
        .in_flight
        .lock()
        .expect("not poisoned")
        .insert(pending.id.clone(), InFlight { delivered, done: pending.done });
    (
        [
            ("lambda-runtime-aws-request-id", pending.id.clone()),
            ("lambda-runtime-deadline-ms", deadline_ms.as_millis().to_string()),
            ("lambda-runtime-invoked-function-arn", state.function_arn.clone()),
            ("lambda-runtime-trace-id", format!("Root=1-00000000-{:024x};Sampled=0", deadline_ms.as_nanos())),
            ("content-type", "application/json".to_owned()),
        ],
        pending.event,
    )
        .into_response()
}

fn finish(state: &ApiState, id: &str, body: Bytes, error: bool) -> Response {
    let answered = Instant::now();
    match state.in_flight.lock().expect("not poisoned").remove(id) {
        Some(in_flight) => {
            let _ = in_flight.done.send(Answer { delivered: in_flight.delivered, answered, body, error });
            (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
        }
        None => (StatusCode::BAD_REQUEST, r#"{"errorMessage":"unknown request id"}"#).into_response(),
    }
}

async fn respond(State(state): State<Arc<ApiState>>, Path(id): Path<String>, body: Bytes) -> Response {
    finish(&state, &id, body, false)
}

async fn fail(State(state): State<Arc<ApiState>>, Path(id): Path<String>, body: Bytes) -> Response {
    finish(&state, &id, body, true)
}

async fn init_error(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    *state.init_error.lock().expect("not poisoned") = Some(String::from_utf8_lossy(&body).into_owned());
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}
