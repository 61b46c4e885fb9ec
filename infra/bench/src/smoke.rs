//! `profile-link-bench smoke`: every function's bootstrap, as built for one
//! Lambda architecture, started as Lambda starts it (its own Runtime API, a
//! clean environment; through a launcher such as `qemu-aarch64` when the
//! binary is not for this machine) answers one request correctly.
//!
//! Each request is one whose right answer is known exactly and that needs no
//! AWS service, so the smoke runs without a local stack: it proves that the
//! binary starts, reads its configuration, loads its TLS roots and session
//! key, runs its router or event handler and signs or verifies with aws-lc-rs
//! on that architecture. The AWS endpoints are the `AWS_ENDPOINT_URL_<SERVICE>`
//! variables of this process when set (the local stack's), and otherwise a
//! closed loopback port: nothing the functions do at init (the table
//! connection they open early) can reach AWS, and the dummy credentials could
//! not sign a real request anyway.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::Bytes;
use profile_link_core::domain::link_token::{LinkId, LinkToken, Verifier};
use profile_link_core::downstream::OpenIdConfiguration;
use profile_link_core::session::SessionKeys;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::gateway::{Browser, http_event};
use crate::process::{Function, Launcher, Spec};
use crate::runtime_api::Answer;

/// Every function of template.yaml, in the order they are reported.
pub const FUNCTIONS: [&str; 7] =
    ["login", "request-association", "redeem-link", "send-emails", "ses-events", "authorize", "token"];

/// The endpoint variables the functions' SDK reads (functions/core/src/aws.rs).
const ENDPOINT_VARIABLES: [&str; 4] = [
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
    "AWS_ENDPOINT_URL_SESV2",
    "AWS_ENDPOINT_URL_SSM",
];

/// A Lambda architecture (template.yaml's `Architecture` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "arm64")]
    Arm64,
}

impl Arch {
    pub fn label(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    /// The ELF `e_machine` of a binary built for it.
    fn elf_machine(self) -> u16 {
        match self {
            Self::X86_64 => 62,
            Self::Arm64 => 183,
        }
    }

    fn is_this_machine(self) -> bool {
        match self {
            Self::X86_64 => std::env::consts::ARCH == "x86_64",
            Self::Arm64 => std::env::consts::ARCH == "aarch64",
        }
    }
}

pub struct Settings {
    /// Holds `<function>/bootstrap` (an unpacked deployment zip) or `<function>` (cargo's output).
    pub bin_dir: PathBuf,
    pub arch: Arch,
    pub launcher: Option<Launcher>,
    pub log_dir: PathBuf,
    /// How long one function may take from exec to its answer.
    pub timeout: Duration,
    /// The functions to run (all of [`FUNCTIONS`] when empty).
    pub functions: Vec<String>,
}

/// Runs every function once and prints one line each; fails if any failed.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    if settings.launcher.is_none() && !settings.arch.is_this_machine() {
        bail!(
            "{} binaries do not run on this {} machine by themselves: pass --launcher (e.g. \"qemu-aarch64 -L /usr/aarch64-linux-gnu\")",
            settings.arch.label(),
            std::env::consts::ARCH
        );
    }
    for name in &settings.functions {
        if !FUNCTIONS.contains(&name.as_str()) {
            bail!("unknown function {name:?} (one of {})", FUNCTIONS.join(", "));
        }
    }
    std::fs::create_dir_all(&settings.log_dir).with_context(|| format!("creating {}", settings.log_dir.display()))?;
    let stack = Stack::new()?;
    let selected: Vec<&str> = FUNCTIONS
        .into_iter()
        .filter(|f| settings.functions.is_empty() || settings.functions.iter().any(|s| s == f))
        .collect();
    let mut failed = Vec::new();
    // Interrupted, the run in progress is dropped, and with it its process (Function kills it on drop).
    let stop = interrupted();
    tokio::pin!(stop);
    for name in &selected {
        let outcome = tokio::select! {
            outcome = smoke_one(&settings, &stack, name) => outcome,
            signal = &mut stop => bail!("{signal} during {name}"),
        };
        match outcome {
            Ok(passed) => println!(
                "ok {} {name}: {} in {} ms (init {} ms), {}",
                settings.arch.label(),
                passed.answer,
                passed.total.as_millis(),
                passed.init.as_millis(),
                passed.sizes
            ),
            Err(error) => {
                println!("FAIL {} {name}: {error:#}", settings.arch.label());
                print_log_tail(&settings.log_dir.join(format!("{name}.log")));
                failed.push(*name);
            }
        }
    }
    if !failed.is_empty() {
        bail!("{} of {} functions failed the smoke test: {}", failed.len(), selected.len(), failed.join(", "));
    }
    Ok(())
}

/// Resolves when this process is asked to stop (Ctrl-C, or SIGTERM from a script's clean-up).
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "interrupted";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = terminate.recv() => "terminated",
    }
}

/// What every function is given: a session key made for this run, an
/// identity provider and AWS endpoints nobody listens at (unless this
/// process names the local stack's).
struct Stack {
    keys: Arc<SessionKeys>,
    key_pem: String,
    base: Url,
    /// A loopback origin that refuses connections.
    closed: String,
}

impl Stack {
    fn new() -> anyhow::Result<Self> {
        let closed = format!("http://{}", closed_port()?);
        // The origin pages and cookies name; the smoke delivers events itself, so nothing serves it.
        let base = Url::parse(&closed)?;
        let key_pem = SessionKeys::generate_pem();
        let keys = SessionKeys::from_pem(&base.origin().ascii_serialization(), &key_pem)
            .context("the generated session key does not load")?;
        Ok(Self { keys: Arc::new(keys), key_pem, base, closed })
    }

    /// The variables template.yaml sets (secrets inline instead of in SSM), and Lambda's AWS ones.
    fn function_env(&self) -> Vec<(String, String)> {
        let origin = self.base.origin().ascii_serialization();
        let public_keys = serde_json::to_string(self.keys.jwks()).expect("a JWKS serialises");
        let providers = serde_json::json!([{
            "id": "smoke", "label": "Smoke", "issuer": self.closed, "issuer_policy": {"kind": "exact"},
            "client_id": "profile-link-smoke", "client_auth": "client_secret_basic", "client_secret": "smoke-client-secret",
            "reauthentication": {"request": "prompt_login", "proof": "auth_time"},
        }])
        .to_string();
        let portal_clients = serde_json::json!([{
            "id": "smoke-portal", "name": "Smoke portal", "redirect_uris": [SMOKE_PORTAL_REDIRECT],
            "client_secret": "smoke-portal-client-secret",
        }])
        .to_string();
        let mut env: Vec<(String, String)> = [
            ("TABLE_NAME", "profile-link-smoke"),
            ("PUBLIC_BASE_URL", origin.as_str()),
            ("SUPPORT_EMAIL", "support@example.com"),
            ("SESSION_SIGNING_KEY", &self.key_pem),
            ("SESSION_PUBLIC_KEYS", &public_keys),
            ("PROVIDERS", &providers),
            ("PORTAL_CLIENTS", &portal_clients),
            ("MAIL_FROM", "Example Ltd <no-reply@example.com>"),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
            // Dummy credentials: nothing here may sign a request real AWS would accept.
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-west-1".into());
        env.push(("AWS_REGION".into(), region));
        for name in ENDPOINT_VARIABLES {
            let endpoint = std::env::var(name).unwrap_or_else(|_| self.closed.clone());
            env.push((name.into(), endpoint));
        }
        env
    }
}

/// The one redirect URI the smoke's portal registered.
const SMOKE_PORTAL_REDIRECT: &str = "https://portal.example.com/callback";

/// A loopback port that was free a moment ago and now refuses connections:
/// a call to it fails at once instead of waiting for a timeout.
fn closed_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    Ok(listener.local_addr()?)
}

struct Passed {
    /// What was answered, briefly (`200`, `303 → /redeem`, `{"batchItemFailures":[]}`).
    answer: String,
    total: Duration,
    init: Duration,
    sizes: String,
}

async fn smoke_one(settings: &Settings, stack: &Stack, name: &str) -> anyhow::Result<Passed> {
    // The log is appended to by the process: start it empty so its tail is this run's.
    let _ = std::fs::remove_file(settings.log_dir.join(format!("{name}.log")));
    let (binary, zip) = locate(&settings.bin_dir, name)?;
    check_architecture(&binary, settings.arch)?;
    let case = case_for(name, stack);
    let spec = Spec { name: name.to_owned(), binary: binary.clone(), env: stack.function_env() };
    let event = Bytes::from(case.event.to_string());
    let (mut function, answer) =
        Function::spawn_with_event_via(&spec, &settings.log_dir, event, settings.launcher.as_ref()).await?;
    let answer = function.wait(answer, settings.timeout).await?;
    let spawned = function.spawned;
    let init = function.api.first_poll().unwrap_or(answer.delivered) - spawned;
    function.stop();
    let seen = (case.check)(&answer).with_context(|| format!("{} answered unexpectedly", case.request))?;
    Ok(Passed { answer: seen, total: answer.answered - spawned, init, sizes: sizes(&binary, zip.as_deref()) })
}

/// The binary for `name` in `dir`, and its deployment zip when one lies beside it.
fn locate(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let unpacked = dir.join(name).join("bootstrap");
    if unpacked.is_file() {
        let zip = dir.join(name).join("bootstrap.zip");
        return Ok((unpacked, zip.is_file().then_some(zip)));
    }
    let built = dir.join(name);
    if built.is_file() {
        return Ok((built, None));
    }
    bail!("neither {} nor {} exists: build the functions first", unpacked.display(), built.display())
}

/// Refuses a binary built for another architecture than the one being tested,
/// so a mix-up cannot pass as an arm64 smoke.
fn check_architecture(binary: &Path, arch: Arch) -> anyhow::Result<()> {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(binary)
        .and_then(|mut f| f.read_exact(&mut header))
        .with_context(|| format!("reading the ELF header of {}", binary.display()))?;
    if &header[..4] != b"\x7fELF" {
        bail!("{} is not an ELF binary", binary.display());
    }
    // e_machine, little-endian (both Lambda architectures are).
    let machine = u16::from_le_bytes([header[18], header[19]]);
    if machine != arch.elf_machine() {
        bail!("{} is not an {} binary (ELF machine {machine})", binary.display(), arch.label());
    }
    Ok(())
}

fn sizes(binary: &Path, zip: Option<&Path>) -> String {
    let mib = |path: &Path| std::fs::metadata(path).map(|m| m.len() as f64 / (1024.0 * 1024.0)).unwrap_or(0.0);
    match zip {
        Some(zip) => format!("bootstrap {:.1} MiB, zip {:.1} MiB", mib(binary), mib(zip)),
        None => format!("bootstrap {:.1} MiB", mib(binary)),
    }
}

/// Judges an answer: a short description of it, or what was wrong with it.
type Check = Box<dyn Fn(&Answer) -> anyhow::Result<String>>;

/// One function's request and the check of its answer.
struct Case {
    request: &'static str,
    event: Value,
    check: Check,
}

fn case_for(name: &str, stack: &Stack) -> Case {
    let browser = Browser::new("203.0.113.20");
    let get = |path: &str| http_event(&stack.base, "GET", path, &browser, None);
    match name {
        // The session keys' JWKS: the key made for this run, as portals read it.
        "login" => {
            let expected = serde_json::to_value(stack.keys.jwks()).expect("a JWKS serializes");
            Case {
                request: "GET /.well-known/jwks.json",
                event: get("/.well-known/jwks.json"),
                check: Box::new(move |answer| {
                    json_200(answer, &expected, "the JWKS")?;
                    Ok("200 with the session key's JWKS".into())
                }),
            }
        }
        // Signed out: sent to sign in first, back to the form afterwards.
        "request-association" => Case {
            request: "GET /associate (signed out)",
            event: get("/associate"),
            check: Box::new(|answer| {
                let reply = HttpReply::parse(answer)?;
                reply.status(303)?;
                reply.header("location", "/login?return_to=%2Fassociate")?;
                Ok("303 → /login?return_to=%2Fassociate".into())
            }),
        },
        // A clicked link: the token moves out of the URL into a cookie signed
        // with the session key, which must verify and hold the same token.
        "redeem-link" => {
            let token = LinkToken::new(LinkId::mint(), Verifier::mint()).expose();
            let keys = stack.keys.clone();
            Case {
                request: "GET /redeem?token=… (signed out)",
                event: get(&format!("/redeem?token={token}")),
                check: Box::new(move |answer| {
                    let reply = HttpReply::parse(answer)?;
                    reply.status(303)?;
                    reply.header("location", "/redeem")?;
                    let value = reply
                        .cookie("pl_redeem")
                        .with_context(|| format!("no pl_redeem cookie was set: {}", reply.seen()))?;
                    let clicked: ClickedLink = keys
                        .verify_for("redeem", value, now())
                        .with_context(|| format!("the pl_redeem cookie does not verify: {}", reply.seen()))?;
                    if clicked.token != token {
                        bail!("the pl_redeem cookie holds another token than the one clicked");
                    }
                    Ok("303 → /redeem with the clicked link signed in a cookie".into())
                }),
            }
        }
        // A client nobody registered: refused on a page of our own, never redirected to the URI it names.
        "authorize" => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("response_type", "code")
                .append_pair("client_id", "unknown-portal")
                .append_pair("redirect_uri", SMOKE_PORTAL_REDIRECT)
                .append_pair("scope", "openid")
                .append_pair("state", "smoke-state")
                .finish();
            Case {
                request: "GET /authorize (an unknown client_id)",
                event: get(&format!("/authorize?{query}")),
                check: Box::new(|answer| {
                    let reply = HttpReply::parse(answer)?;
                    reply.status(400)?;
                    if reply.headers.iter().any(|(k, _)| k == "location") {
                        bail!("an unknown client was redirected: {}", reply.seen());
                    }
                    if !reply.body.contains("not a registered portal") {
                        bail!("the page does not say why: {}", reply.seen());
                    }
                    Ok("400, a page saying the client is not a registered portal".into())
                }),
            }
        }
        // Discovery: the provider metadata for this origin, as portals' libraries read it.
        "token" => {
            let origin = stack.base.origin().ascii_serialization();
            let expected = serde_json::to_value(OpenIdConfiguration::for_issuer(&origin)).expect("metadata serializes");
            Case {
                request: "GET /.well-known/openid-configuration",
                event: get("/.well-known/openid-configuration"),
                check: Box::new(move |answer| {
                    json_200(answer, &expected, "the provider metadata")?;
                    Ok(format!("200 with the provider metadata of issuer {origin}"))
                }),
            }
        }
        // An empty batch from the table's stream: nothing to send, nothing failed.
        "send-emails" => {
            json_case("an empty DynamoDB stream batch", json!({ "Records": [] }), json!({ "batchItemFailures": [] }))
        }
        // An SNS notification that is not an SES event: dropped, not retried (answer `null`, not an error).
        _ => json_case(
            "an SNS record that is not an SES event",
            json!({ "Records": [{
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "Sns": { "Type": "Notification", "MessageId": "smoke-0001", "Message": "not an SES event" },
            }] }),
            Value::Null,
        ),
    }
}

/// A case whose answer is a JSON document equal to `expected`.
fn json_case(request: &'static str, event: Value, expected: Value) -> Case {
    Case {
        request,
        event,
        check: Box::new(move |answer| {
            let text = String::from_utf8_lossy(&answer.body);
            if answer.error {
                bail!("an invocation error instead of {expected}: {}", clip(&text));
            }
            let body: Value =
                serde_json::from_slice(&answer.body).with_context(|| format!("not JSON: {}", clip(&text)))?;
            if body != expected {
                bail!("expected {expected}, got {}", clip(&text));
            }
            Ok(expected.to_string())
        }),
    }
}

/// The clicked link redeem-link signs into its cookie (its own type is private).
#[derive(Deserialize)]
struct ClickedLink {
    token: String,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// An API Gateway v2 response as lambda_http writes it.
struct HttpReply {
    status: u16,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    body: String,
    raw: String,
}

impl HttpReply {
    fn parse(answer: &Answer) -> anyhow::Result<Self> {
        let raw = String::from_utf8_lossy(&answer.body).into_owned();
        if answer.error {
            bail!("an invocation error instead of an HTTP response: {}", clip(&raw));
        }
        let value: Value = serde_json::from_str(&raw).with_context(|| format!("not JSON: {}", clip(&raw)))?;
        let status = value["statusCode"].as_u64().with_context(|| format!("no statusCode: {}", clip(&raw)))? as u16;
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
        };
        let headers = value["headers"]
            .as_object()
            .map(|h| h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_owned())).collect())
            .unwrap_or_default();
        let mut body = value["body"].as_str().unwrap_or("").to_owned();
        if value["isBase64Encoded"].as_bool() == Some(true) {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD.decode(&body).context("the body is not base64")?;
            body = String::from_utf8_lossy(&bytes).into_owned();
        }
        Ok(Self { status, headers, cookies: strings(&value["cookies"]), body, raw })
    }

    fn status(&self, expected: u16) -> anyhow::Result<()> {
        if self.status != expected {
            bail!("expected status {expected}, got {}", self.seen());
        }
        Ok(())
    }

    fn header(&self, name: &str, expected: &str) -> anyhow::Result<()> {
        let found = self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if found != Some(expected) {
            bail!("expected {name}: {expected}, got {}", self.seen());
        }
        Ok(())
    }

    /// A cookie's value from the response's `Set-Cookie`s.
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find_map(|c| c.split(';').next()?.trim().strip_prefix(name)?.strip_prefix('='))
    }

    /// The response as received, for a failure message.
    fn seen(&self) -> String {
        clip(&self.raw)
    }
}

fn clip(text: &str) -> String {
    const LIMIT: usize = 600;
    match text.char_indices().nth(LIMIT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The last lines the function logged, indented under its FAIL line.
fn print_log_tail(log: &Path) {
    let Ok(text) = std::fs::read_to_string(log) else { return };
    let lines: Vec<&str> = text.lines().collect();
    println!("    last lines of {}:", log.display());
    for line in &lines[lines.len().saturating_sub(12)..] {
        println!("    {}", clip(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_cookie_from_set_cookie_values() {
        let reply = HttpReply {
            status: 303,
            headers: Vec::new(),
            cookies: vec!["pl_other=1; Path=/".into(), "pl_redeem=a.b=c; Path=/redeem; HttpOnly".into()],
            body: String::new(),
            raw: String::new(),
        };
        assert_eq!(reply.cookie("pl_redeem"), Some("a.b=c"));
        assert_eq!(reply.cookie("pl"), None);
    }

    #[test]
    fn tells_the_architecture_of_a_binary() {
        let this = std::env::current_exe().unwrap();
        let (native, other) = match std::env::consts::ARCH {
            "aarch64" => (Arch::Arm64, Arch::X86_64),
            _ => (Arch::X86_64, Arch::Arm64),
        };
        check_architecture(&this, native).unwrap();
        assert!(check_architecture(&this, other).is_err());
    }
}

/// An answer of 200 whose body is the JSON `expected` (`what` names it in the failure).
fn json_200(answer: &Answer, expected: &Value, what: &str) -> anyhow::Result<()> {
    let reply = HttpReply::parse(answer)?;
    reply.status(200)?;
    let body: Value =
        serde_json::from_str(&reply.body).with_context(|| format!("the body is not JSON: {}", reply.seen()))?;
    if body != *expected {
        bail!("expected {what} {expected}, got {}", reply.seen());
    }
    Ok(())
}
