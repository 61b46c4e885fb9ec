//! The measurements: warm onboardings through the four functions a
//! person's onboarding reaches, each followed by a portal's sign-in through
//! the two OpenID Provider functions; then alternating cold starts of each
//! function and the hello-world floor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::Bytes;
use profile_link_core::config::CookiePolicy;
use profile_link_core::domain::identity::{Identity, IdentityProfile};
use profile_link_core::session::{NewSession, SessionKeys};
use profile_link_core::web::{Cookies, SESSION};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::gateway::{Browser, Gateway, HttpAnswer, Invocation, call_records, ms, set_header};
use crate::portal::{self, Attempt};
use crate::process::{Function, Spec};
use crate::proxy::Proxy;
use crate::stream::{self, StreamReader};

/// The functions, in the order they are reported.
pub const FUNCTIONS: [&str; 6] = ["login", "request-association", "redeem-link", "send-emails", "authorize", "token"];
/// Those an onboarding goes through: the ones the cost model counts.
pub const ONBOARDING_FUNCTIONS: [&str; 4] = ["login", "request-association", "redeem-link", "send-emails"];
pub const HELLO: &str = "hello";

/// The address of bench profile `n` (one profile each; see `profiles`).
pub fn bench_address(n: usize) -> String {
    format!("bench-{n:04}@example.com")
}

/// The bench profile linked for the portal's cold runs: the one after the
/// warm-up's and the recorded onboardings' (`scripts/bench` imports them all).
fn portal_fixture_address(onboardings: usize) -> String {
    bench_address(onboardings + 1)
}

/// The CSV `scripts/bench` imports: `count` profiles, one per address.
pub fn profiles_csv(count: usize) -> String {
    let mut csv = String::from("profile_id,email,display_name,organization\n");
    for n in 0..count {
        csv.push_str(&format!("BENCH-{n:04},{},Bench Person {n},Bench Organisation {n}\n", bench_address(n)));
    }
    csv
}

/// The demo profile (one profile under its address) the cold-start fixtures ask for.
const FIXTURE_ADDRESS: &str = "alex@example.net";
const SSM_SESSION_KEY: &str = "/profile-link/bench/session-signing-key";
const SSM_SESSION_PUBLIC_KEYS: &str = "/profile-link/bench/session-public-keys";
const SSM_PROVIDERS: &str = "/profile-link/bench/providers";
const SSM_PROVIDER_SECRETS: &str = "/profile-link/bench/providers/";
const SSM_CLIENT_SECRET: &str = "/profile-link/bench/providers/dev-client-secret";
const SSM_PORTAL_CLIENTS: &str = "/profile-link/bench/portal-clients";
const SSM_PORTAL_SECRETS: &str = "/profile-link/bench/portals/";
const SSM_PORTAL_SECRET: &str = "/profile-link/bench/portals/bench-portal";

pub struct Settings {
    pub bin_dir: PathBuf,
    pub zip_dir: Option<PathBuf>,
    pub log_dir: PathBuf,
    pub pairs: usize,
    pub onboardings: usize,
    /// The local AWS servers the functions' calls are forwarded to.
    pub aws: profile_link_core::aws::Endpoints,
    pub table: String,
    pub base: Url,
    pub issuer: String,
    pub client_secret: String,
    pub session_key_pem: String,
    pub mail_from: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub generated: String,
    pub environment: BTreeEnv,
    pub pairs: usize,
    pub onboardings: usize,
    pub cold: Vec<ColdFunction>,
    pub warm: Warm,
    pub sizes: Vec<Size>,
}

pub type BTreeEnv = std::collections::BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdFunction {
    pub name: String,
    pub first_request: String,
    pub runs: Vec<ColdPair>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdPair {
    pub hello_first: bool,
    pub hello: ColdSample,
    pub function: ColdSample,
}

/// One process from exec to its first answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdSample {
    /// exec → first answer received by the Runtime API.
    pub total_ms: f64,
    /// exec → first `invocation/next` (Lambda's init phase).
    pub init_ms: f64,
    /// first event delivered → answered.
    pub first_invocation_ms: f64,
    /// Time inside emulator and provider calls, init and first invocation together.
    pub upstream_ms: f64,
    /// The part of `upstream_ms` spent during init.
    #[serde(default)]
    pub init_upstream_ms: f64,
    pub init_calls: Vec<String>,
    pub invocation_calls: Vec<String>,
    pub peak_rss_kib: u64,
    pub cpu_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Warm {
    pub invocations: Vec<Invocation>,
    pub functions: Vec<WarmFunction>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarmFunction {
    pub name: String,
    pub invocations: usize,
    /// Process CPU over the recorded onboardings (runtime loop included) per invocation.
    pub cpu_ms_per_invocation: f64,
    pub peak_rss_after_init_kib: u64,
    pub peak_rss_kib: u64,
    /// Bytes the function logged during the recorded onboardings.
    pub log_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Size {
    pub name: String,
    pub binary_bytes: u64,
    pub zip_bytes: Option<u64>,
}

pub async fn run(settings: Settings) -> anyhow::Result<Results> {
    std::fs::create_dir_all(&settings.log_dir)?;
    let sdk = profile_link_core::aws::sdk_config_with_endpoints(&settings.aws).await;
    prepare_emulator(&sdk, &settings).await?;
    let keys =
        Arc::new(SessionKeys::from_pem(&settings.base.origin().ascii_serialization(), &settings.session_key_pem)?);
    let proxy = Proxy::new(&settings.aws);
    let mut stream = StreamReader::new(&sdk, &settings.table).await?;

    eprintln!("==> warm: {} onboardings, each followed by a portal's sign-in", settings.onboardings);
    let (warm, mut fixtures) = warm_phase(&settings, &proxy, &keys, &mut stream).await?;
    eprintln!("==> cold: {} alternating pairs per first request (hello world / function)", settings.pairs);
    let cold = cold_phase(&settings, &proxy, &keys, &mut fixtures).await;
    for function in fixtures.portal.functions.into_values() {
        function.stop();
    }
    let cold = cold?;

    let mut sizes = Vec::new();
    for name in FUNCTIONS.iter().chain([&HELLO]) {
        let binary_bytes = std::fs::metadata(settings.bin_dir.join(name)).map(|m| m.len()).unwrap_or(0);
        let zip_bytes = settings
            .zip_dir
            .as_ref()
            .and_then(|dir| std::fs::metadata(dir.join(format!("{name}.zip"))).ok())
            .map(|m| m.len());
        sizes.push(Size { name: (*name).to_owned(), binary_bytes, zip_bytes });
    }
    Ok(Results {
        generated: String::new(),
        environment: BTreeEnv::new(),
        pairs: settings.pairs,
        onboardings: settings.onboardings,
        cold,
        warm,
        sizes,
    })
}

/// The sender verified in the emulator's SES, and the secrets in its SSM
/// Parameter Store, where the template has the functions read them.
async fn prepare_emulator(sdk: &aws_config::SdkConfig, settings: &Settings) -> anyhow::Result<()> {
    let from = &settings.mail_from;
    let address = from.rsplit_once('<').map(|(_, a)| a.trim_end_matches('>')).unwrap_or(from).trim();
    let created = aws_sdk_sesv2::Client::new(sdk).create_email_identity().email_identity(address).send().await;
    if let Err(error) = created
        && !error.as_service_error().is_some_and(|e| e.is_already_exists_exception())
    {
        bail!("verifying {address} in the emulator's SES: {}", aws_sdk_sesv2::error::DisplayErrorContext(error));
    }
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let public_keys = serde_json::to_string(SessionKeys::from_pem("", &settings.session_key_pem)?.jwks())?;
    use aws_sdk_ssm::types::ParameterType::{SecureString, String as Plain};
    // One provider, as an operator lists it: the dev provider's root.
    let providers = serde_json::json!([{
        "id": "dev", "label": "Dev provider", "issuer": settings.issuer, "issuer_policy": {"kind": "exact"},
        "client_id": "profile-link-local", "client_auth": "client_secret_basic",
        "client_secret_parameter": SSM_CLIENT_SECRET,
        "reauthentication": {"request": "prompt_login_and_max_age_0", "proof": "auth_time"},
    }])
    .to_string();
    // The portal's list as a String, its secret a SecureString under the path the token function may read.
    let portal_clients = portal::clients_json(SSM_PORTAL_SECRET);
    let portal_secret = portal::CLIENT_SECRET.to_owned();
    for (name, value, kind) in [
        (SSM_PROVIDERS, &providers, Plain),
        (SSM_SESSION_KEY, &settings.session_key_pem, SecureString),
        (SSM_SESSION_PUBLIC_KEYS, &public_keys, Plain),
        (SSM_CLIENT_SECRET, &settings.client_secret, SecureString),
        (SSM_PORTAL_CLIENTS, &portal_clients, Plain),
        (SSM_PORTAL_SECRET, &portal_secret, SecureString),
    ] {
        ssm.put_parameter()
            .name(name)
            .value(value)
            .r#type(kind)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_ssm::error::DisplayErrorContext(e)))?;
    }
    Ok(())
}

/// The variables a function reads, taken from this process's environment,
/// with the secrets moved to SSM as in AWS and every AWS endpoint (and the
/// HTTP proxy, for the identity provider) pointed at `proxy`.
fn function_env(proxy: std::net::SocketAddr) -> Vec<(String, String)> {
    const NAMES: [&str; 13] = [
        "TABLE_NAME",
        "PUBLIC_BASE_URL",
        "SUPPORT_EMAIL",
        "OPERATOR_NAME",
        "PRODUCT_NAME",
        "PORTAL_URL",
        "LOGO_URL",
        "ACCENT_COLOR",
        "SESSION_TTL_SECONDS",
        "LOGIN_TTL_SECONDS",
        "LINK_TTL_SECONDS",
        "MAIL_FROM",
        "SES_CONFIGURATION_SET",
    ];
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            NAMES.contains(&name.as_str())
                || [
                    "AWS_REGION",
                    "AWS_DEFAULT_REGION",
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN",
                ]
                .contains(&name.as_str())
        })
        .collect();
    let proxy = format!("http://{proxy}");
    env.extend(
        [
            ("SESSION_SIGNING_KEY_SSM_PARAMETER", SSM_SESSION_KEY),
            ("SESSION_PUBLIC_KEYS_SSM_PARAMETER", SSM_SESSION_PUBLIC_KEYS),
            ("PROVIDERS_SSM_PARAMETER", SSM_PROVIDERS),
            ("PROVIDER_SECRETS_PATH", SSM_PROVIDER_SECRETS),
            ("PORTAL_CLIENTS_SSM_PARAMETER", SSM_PORTAL_CLIENTS),
            ("PORTAL_SECRETS_PATH", SSM_PORTAL_SECRETS),
            ("AWS_ENDPOINT_URL_DYNAMODB", &proxy),
            ("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", &proxy),
            ("AWS_ENDPOINT_URL_SESV2", &proxy),
            ("AWS_ENDPOINT_URL_SSM", &proxy),
            ("HTTP_PROXY", &proxy),
            ("http_proxy", &proxy),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
            // The bench repeats requests far faster than people do; the counters
            // are written in the same transaction whatever the limit.
            ("RATE_LIMIT_PER_IDENTITY", "10000"),
            ("RATE_LIMIT_PER_ADDRESS", "10000"),
            ("RATE_LIMIT_PER_IP", "100000"),
            ("RATE_LIMIT_PER_ADDRESS_PER_DAY", "100000"),
            ("RATE_LIMIT_SIGN_INS_PER_IP", "1000000"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    env
}

async fn spec(settings: &Settings, proxy: &Arc<Proxy>, name: &str) -> anyhow::Result<Spec> {
    let listener = proxy.listen(name).await?;
    let binary = settings.bin_dir.join(name);
    if !binary.is_file() {
        bail!("{} is missing: build the release binaries first (scripts/bench does)", binary.display());
    }
    Ok(Spec { name: name.to_owned(), binary, env: function_env(listener) })
}

/// What the cold runs need from the warm functions: sent links and pending
/// ones, an identity with a profile, and the two functions that issue codes
/// and access tokens (a code is good for a minute: each cold run of token
/// gets its own, just before).
struct Fixtures {
    /// A sent link's token, requested by `FIXTURE_SUBJECT`.
    sent_token: String,
    /// One unsent `LINK#` stream record per cold run of send-emails.
    pending_records: Vec<Value>,
    /// authorize and token, still warm, with recording off.
    portal: Gateway,
}

const FIXTURE_SUBJECT: &str = "bench-fixture";
/// The identity with a linked profile that signs in to the portal in the cold runs.
const PORTAL_SUBJECT: &str = "bench-portal-fixture";
/// Where the portal's server calls `/token` and `/userinfo` from.
const PORTAL_SERVER_IP: &str = "192.0.2.80";

fn mint_session(keys: &SessionKeys, issuer: &str, subject: &str) -> (String, String) {
    let now = now();
    let (token, claims) = keys.issue(NewSession {
        identity: &Identity::new(issuer, subject),
        provider: ("dev", "Dev provider"),
        profile: IdentityProfile {
            name: Some("Bench Person".into()),
            email: Some(format!("{subject}@mail.example.net")),
            preferred_username: None,
            email_verified: false,
            ..IdentityProfile::default()
        },
        auth_time: Some(now),
        profiles: Vec::new(),
        now,
        ttl_seconds: 3600,
        generation: 0,
        csrf: None,
    });
    (token, claims.csrf)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn session_cookie_name(base: &Url) -> String {
    let policy = if base.scheme() == "https" { CookiePolicy::Secure } else { CookiePolicy::LocalPlainHttp };
    Cookies::new(policy).name(SESSION)
}

/// A browser signed in (by a minted session) as `subject`; its CSRF token.
fn minted_browser(settings: &Settings, keys: &SessionKeys, subject: &str, ip: &str) -> (Browser, String) {
    let (token, csrf) = mint_session(keys, &settings.issuer, subject);
    let mut browser = Browser::new(ip);
    browser.set_cookie(&session_cookie_name(&settings.base), &token);
    (browser, csrf)
}

async fn warm_phase(
    settings: &Settings,
    proxy: &Arc<Proxy>,
    keys: &SessionKeys,
    stream: &mut StreamReader,
) -> anyhow::Result<(Warm, Fixtures)> {
    let mut functions = HashMap::new();
    for name in FUNCTIONS {
        let spec = spec(settings, proxy, name).await?;
        functions.insert(name.to_owned(), Function::spawn(&spec, &settings.log_dir).await?);
    }
    let mut after_init = HashMap::new();
    for (name, function) in &mut functions {
        function.ready().await?;
        after_init.insert(name.clone(), function.peak_rss_kib());
    }
    let mut gw = Gateway::new(settings.base.clone(), functions, proxy.clone());
    stream.read_new().await?;

    // One onboarding to warm every function up, then the recorded ones.
    onboarding(&mut gw, stream, 0).await.context("the warm-up onboarding")?;
    let before: HashMap<String, _> = gw.functions.iter().map(|(n, f)| (n.clone(), (f.cpu(), f.log_bytes()))).collect();
    gw.recording = true;
    for n in 1..=settings.onboardings {
        onboarding(&mut gw, stream, n).await.with_context(|| format!("onboarding {n}"))?;
        if n % 25 == 0 {
            eprintln!("    {n} onboardings");
        }
    }
    gw.recording = false;
    let mut warm_functions = Vec::new();
    for name in FUNCTIONS {
        let function = &gw.functions[name];
        let (cpu_before, log_before) = before[name];
        let invocations = gw.records.iter().filter(|r| r.function == name).count();
        warm_functions.push(WarmFunction {
            name: name.to_owned(),
            invocations,
            cpu_ms_per_invocation: ms(function.cpu().since(&cpu_before)) / invocations.max(1) as f64,
            peak_rss_after_init_kib: after_init[name],
            peak_rss_kib: function.peak_rss_kib(),
            log_bytes: function.log_bytes() - log_before,
        });
    }

    // Fixtures for the cold runs, made by the warm functions.
    let (mut fixture, csrf) = minted_browser(settings, keys, FIXTURE_SUBJECT, "203.0.113.9");
    request_link(&mut gw, &mut fixture, &csrf, FIXTURE_ADDRESS).await?;
    let records = one_record(stream, "LINK#").await?;
    gw.invoke("send-emails", "fixture", stream::event(&records)).await?;
    let sent_token = link_in_last_email(&gw)?;
    let mut pending_records = Vec::new();
    for n in 0..settings.pairs {
        let (mut person, csrf) = minted_browser(settings, keys, &format!("bench-cold-{n}"), "203.0.113.10");
        request_link(&mut gw, &mut person, &csrf, FIXTURE_ADDRESS).await?;
        pending_records.extend(one_record(stream, "LINK#").await?);
    }
    link_portal_fixture(&mut gw, settings, keys, stream).await.context("linking the portal fixture's profile")?;
    let records = std::mem::take(&mut gw.records);
    let mut portal_functions = HashMap::new();
    for name in ["authorize", "token"] {
        portal_functions.insert(name.to_owned(), gw.functions.remove(name).expect("started"));
    }
    for function in gw.functions.into_values() {
        function.stop();
    }
    let portal = Gateway::new(settings.base.clone(), portal_functions, proxy.clone());
    Ok((Warm { invocations: records, functions: warm_functions }, Fixtures { sent_token, pending_records, portal }))
}

/// Links `PORTAL_SUBJECT` to its own bench profile as a person does (the
/// request, the email, the click, the confirmation), so that `/authorize`
/// finds a profile to put in the code. Its sessions are minted, the one that
/// confirms just before the click: redeem-link wants a sign-in after it.
async fn link_portal_fixture(
    gw: &mut Gateway,
    settings: &Settings,
    keys: &SessionKeys,
    stream: &mut StreamReader,
) -> anyhow::Result<()> {
    let (mut requester, csrf) = minted_browser(settings, keys, PORTAL_SUBJECT, "203.0.113.11");
    request_link(gw, &mut requester, &csrf, &portal_fixture_address(settings.onboardings)).await?;
    let records = one_record(stream, "LINK#").await?;
    expect_no_failures(&gw.invoke("send-emails", "fixture", stream::event(&records)).await?)?;
    let token = link_in_last_email(gw)?;
    let (mut holder, _) = minted_browser(settings, keys, PORTAL_SUBJECT, "203.0.113.11");
    let clicked = gw.http(&mut holder, "fixture", "GET", &format!("/redeem?token={token}"), None).await?;
    let redeem_path = clicked.location()?.to_owned();
    let page =
        gw.http(&mut holder, "fixture", "GET", &redeem_path, None).await?.expect(200, "the confirmation page")?;
    let mut fields = form_fields(&page.body)?;
    fields.push(("action".into(), "confirm".into()));
    gw.http(&mut holder, "fixture", "POST", "/redeem", Some(&fields)).await?.expect(200, "POST /redeem")?;
    let records = one_record(stream, "NOTICE#").await?;
    expect_no_failures(&gw.invoke("send-emails", "fixture", stream::event(&records)).await?)?;
    Ok(())
}

async fn request_link(gw: &mut Gateway, browser: &mut Browser, csrf: &str, address: &str) -> anyhow::Result<()> {
    let form = [("csrf".to_owned(), csrf.to_owned()), ("email".to_owned(), address.to_owned())];
    gw.http(browser, "fixture", "POST", "/associate", Some(&form)).await?.expect(200, "POST /associate")?;
    Ok(())
}

/// The stream records written since the last read: exactly one, of `kind`.
async fn one_record(stream: &mut StreamReader, kind: &str) -> anyhow::Result<Vec<Value>> {
    let records = stream.read_new().await?;
    let matching = records
        .iter()
        .filter(|r| r["dynamodb"]["Keys"]["pk"]["S"].as_str().is_some_and(|pk| pk.starts_with(kind)))
        .count();
    if records.len() != 1 || matching != 1 {
        bail!(
            "expected one new {kind} item on the stream, found {} records (are the bench profiles imported?)",
            records.len()
        );
    }
    Ok(records)
}

fn link_in_last_email(gw: &Gateway) -> anyhow::Result<String> {
    let email = gw.emails.last().context("no email was sent")?;
    let text = String::from_utf8_lossy(email);
    let start = text.find("/redeem?token=").context("the email holds no link")? + "/redeem?token=".len();
    let token: String =
        text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
    Ok(token)
}

fn form_fields(page: &str) -> anyhow::Result<Vec<(String, String)>> {
    crate::gateway::first_post_form(page).map(|(_, fields)| fields).context("the page has no form")
}

/// One person's onboarding with one profile, as a person goes through it:
/// asked to sign in, requests the link, the email is sent, opens it later
/// on another device (so signs in afresh), confirms; the notice is sent.
/// Afterwards (not part of the costed onboarding) the account page, `/me`,
/// a portal's sign-in, and an unlink that returns the identity to where it started.
async fn onboarding(gw: &mut Gateway, stream: &mut StreamReader, n: usize) -> anyhow::Result<()> {
    gw.onboarding = true;
    let ip = format!("198.51.100.{}", n % 250 + 1);
    let mut person = Browser::new(&ip);
    let to_login = gw.http(&mut person, "GET /associate (signed out)", "GET", "/associate", None).await?;
    let login = to_login.expect(303, "GET /associate signed out")?;
    let login_path = login.location()?.to_owned();
    sign_in(gw, &mut person, "GET /login", &login_path).await?;

    let form =
        gw.http(&mut person, "GET /associate", "GET", "/associate", None).await?.expect(200, "GET /associate")?;
    let mut fields = form_fields(&form.body)?;
    fields.retain(|(name, _)| name != "email");
    fields.push(("email".into(), bench_address(n)));
    gw.http(&mut person, "POST /associate", "POST", "/associate", Some(&fields))
        .await?
        .expect(200, "POST /associate")?;

    let records = one_record(stream, "LINK#").await?;
    let answer = gw.invoke("send-emails", "link email (stream)", stream::event(&records)).await?;
    expect_no_failures(&answer)?;
    let token = link_in_last_email(gw)?;

    let mut later = Browser::new(format!("198.51.100.{}", (n + 125) % 250 + 1));
    let click = format!("/redeem?token={token}");
    let to_redeem = gw.http(&mut later, "GET /redeem?token=…", "GET", &click, None).await?;
    let redeem_path = to_redeem.location()?.to_owned();
    let to_fresh = gw.http(&mut later, "GET /redeem (not signed in)", "GET", &redeem_path, None).await?;
    let fresh_login = to_fresh.location()?.to_owned();
    sign_in(gw, &mut later, "GET /login?fresh=1", &fresh_login).await?;
    let confirm_page =
        gw.http(&mut later, "GET /redeem (confirm page)", "GET", "/redeem", None).await?.expect(200, "GET /redeem")?;
    let mut fields = form_fields(&confirm_page.body)?;
    fields.push(("action".into(), "confirm".into()));
    gw.http(&mut later, "POST /redeem", "POST", "/redeem", Some(&fields)).await?.expect(200, "POST /redeem")?;

    let records = one_record(stream, "NOTICE#").await?;
    let answer = gw.invoke("send-emails", "notice email (stream)", stream::event(&records)).await?;
    expect_no_failures(&answer)?;

    // After the onboarding: the account page, /me, and an unlink (clean-up).
    gw.onboarding = false;
    let account = gw.http(&mut later, "GET / (account)", "GET", "/", None).await?.expect(200, "GET /")?;
    gw.http(&mut later, "GET /me", "GET", "/me", None).await?.expect(200, "GET /me")?;
    portal_sign_in(gw, &mut later).await?;
    let (_, unlink) = crate::gateway::first_post_form(&account.body).context("the account page has no unlink form")?;
    let redirect = gw.http(&mut later, "POST /profiles/unlink", "POST", "/profiles/unlink", Some(&unlink)).await?;
    redirect.location()?;
    Ok(())
}

/// `GET /login…` → the provider → `GET /login/callback…` → where it sends the person.
async fn sign_in(gw: &mut Gateway, browser: &mut Browser, endpoint: &str, login_path: &str) -> anyhow::Result<()> {
    let to_provider = gw.http(browser, endpoint, "GET", login_path, None).await?;
    let authorize = to_provider.location()?.to_owned();
    let callback = gw.sign_in(browser, &authorize, "pat").await?;
    let back = gw.http(browser, "GET /login/callback", "GET", &callback, None).await?;
    back.location().context("the callback did not sign in")?;
    Ok(())
}

/// A portal's sign-in for a person signed in here with a linked profile:
/// `/authorize` answers with a code at once; the portal's server exchanges
/// it at `/token` and reads `/userinfo` with the access token.
async fn portal_sign_in(gw: &mut Gateway, browser: &mut Browser) -> anyhow::Result<()> {
    let attempt = Attempt::new();
    let code = portal_code(gw, browser, &attempt, "GET /authorize").await?;
    let access_token = portal_access_token(gw, &attempt, &code, "POST /token").await?;
    let person = portal_userinfo(gw, &access_token, "GET /userinfo").await?;
    if person["profiles"].as_array().is_none_or(Vec::is_empty) {
        bail!("GET /userinfo: no profiles for a person who just linked one: {person}");
    }
    Ok(())
}

/// `GET /authorize` for a signed-in `browser`: the code in its redirect to the portal.
async fn portal_code(
    gw: &mut Gateway,
    browser: &mut Browser,
    attempt: &Attempt,
    endpoint: &str,
) -> anyhow::Result<String> {
    let answer = gw.http(browser, endpoint, "GET", &attempt.authorize_path(), None).await?.expect(303, endpoint)?;
    attempt.code_from(answer.location()?, &gw.base.origin().ascii_serialization())
}

/// `POST /token` from the portal's server: the access token for `code`.
async fn portal_access_token(
    gw: &mut Gateway,
    attempt: &Attempt,
    code: &str,
    endpoint: &str,
) -> anyhow::Result<String> {
    let mut server = Browser::new(PORTAL_SERVER_IP);
    let form = attempt.token_form(code);
    let headers = portal::server_headers(&portal::basic_authorization());
    let answer = gw.http_with_headers(&mut server, endpoint, "POST", "/token", Some(&form), &headers).await?;
    let tokens = json_body(answer.expect(200, endpoint)?, endpoint)?;
    tokens["access_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{endpoint}: no access_token in {tokens}"))
}

/// `GET /userinfo` from the portal's server with `access_token`: the person.
async fn portal_userinfo(gw: &mut Gateway, access_token: &str, endpoint: &str) -> anyhow::Result<Value> {
    let mut server = Browser::new(PORTAL_SERVER_IP);
    let headers = portal::server_headers(&format!("Bearer {access_token}"));
    let answer = gw.http_with_headers(&mut server, endpoint, "GET", "/userinfo", None, &headers).await?;
    json_body(answer.expect(200, endpoint)?, endpoint)
}

fn json_body(answer: HttpAnswer, endpoint: &str) -> anyhow::Result<Value> {
    serde_json::from_str(&answer.body).with_context(|| format!("{endpoint}: the answer is not JSON: {}", answer.body))
}

fn expect_no_failures(answer: &Bytes) -> anyhow::Result<()> {
    let value: Value = serde_json::from_slice(answer)?;
    if value["batchItemFailures"].as_array().is_some_and(|f| !f.is_empty()) {
        bail!("send-emails reported failed records: {value}");
    }
    Ok(())
}

/// The first request a function gets after its cold start: one that needs
/// the AWS SDK where the function has one. token has two, its code exchange
/// and `/userinfo`: a portal's server may call either first.
#[derive(Debug, Clone, Copy)]
enum FirstRequest {
    Login,
    Associate,
    ConfirmPage,
    LinkEmail,
    Authorize,
    Token,
    UserInfo,
}

impl FirstRequest {
    /// In the order they are reported: [`FUNCTIONS`]'.
    const ALL: [Self; 7] = [
        Self::Login,
        Self::Associate,
        Self::ConfirmPage,
        Self::LinkEmail,
        Self::Authorize,
        Self::Token,
        Self::UserInfo,
    ];

    fn function(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Associate => "request-association",
            Self::ConfirmPage => "redeem-link",
            Self::LinkEmail => "send-emails",
            Self::Authorize => "authorize",
            Self::Token | Self::UserInfo => "token",
        }
    }

    /// What it is and the AWS calls it makes, for the report.
    fn label(self) -> &'static str {
        match self {
            Self::Login => "GET /login (TransactWriteItems)",
            Self::Associate => "POST /associate (Query, TransactWriteItems)",
            Self::ConfirmPage => "GET /redeem, confirm page (GetItem)",
            Self::LinkEmail => "one link email (TransactWriteItems, SendEmail, TransactWriteItems)",
            Self::Authorize => "GET /authorize, signed in with a profile (Query, PutItem)",
            Self::Token => "POST /token, a code from /authorize (UpdateItem)",
            Self::UserInfo => "GET /userinfo, an access token from /token (GetItem, Query)",
        }
    }

    /// Its event and what the answer must be; the portal's codes and access
    /// tokens are fetched from the warm authorize and token now, not earlier.
    async fn event(
        self,
        settings: &Settings,
        keys: &SessionKeys,
        fixtures: &mut Fixtures,
        run: usize,
    ) -> anyhow::Result<(Value, Expected)> {
        let base = &settings.base;
        let event = |method: &str, path: &str, browser: &Browser, form: Option<&[(String, String)]>| {
            crate::gateway::http_event(base, method, path, browser, form)
        };
        Ok(match self {
            Self::Login => (event("GET", "/login", &Browser::new("203.0.113.1"), None), Expected::Status(303)),
            Self::Associate => {
                let (browser, csrf) = minted_browser(settings, keys, &format!("bench-cold-ra-{run}"), "203.0.113.2");
                let form = [("csrf".to_owned(), csrf), ("email".to_owned(), FIXTURE_ADDRESS.to_owned())];
                (event("POST", "/associate", &browser, Some(&form)), Expected::Status(200))
            }
            Self::ConfirmPage => {
                let (mut browser, _) = minted_browser(settings, keys, FIXTURE_SUBJECT, "203.0.113.3");
                #[derive(Serialize)]
                struct ClickedLink<'a> {
                    token: &'a str,
                    clicked_at: i64,
                    exp: i64,
                }
                let clicked = ClickedLink { token: &fixtures.sent_token, clicked_at: now(), exp: now() + 900 };
                browser.set_cookie("pl_redeem", &keys.sign_for("redeem", &clicked));
                (event("GET", "/redeem", &browser, None), Expected::Status(200))
            }
            Self::LinkEmail => (stream::event(&fixtures.pending_records[run..=run]), Expected::NoFailures),
            Self::Authorize => {
                let (browser, _) = minted_browser(settings, keys, PORTAL_SUBJECT, "203.0.113.5");
                let path = Attempt::new().authorize_path();
                (event("GET", &path, &browser, None), Expected::Redirect(portal::CODE_REDIRECT))
            }
            Self::Token => {
                let attempt = Attempt::new();
                let code = fixture_code(settings, keys, fixtures, &attempt).await?;
                let mut request =
                    event("POST", "/token", &Browser::new(PORTAL_SERVER_IP), Some(&attempt.token_form(&code)));
                for (name, value) in portal::server_headers(&portal::basic_authorization()) {
                    set_header(&mut request, name, &value);
                }
                (request, Expected::JsonWith(200, "access_token"))
            }
            Self::UserInfo => {
                let attempt = Attempt::new();
                let code = fixture_code(settings, keys, fixtures, &attempt).await?;
                let access_token = portal_access_token(&mut fixtures.portal, &attempt, &code, "fixture").await?;
                let mut request = event("GET", "/userinfo", &Browser::new(PORTAL_SERVER_IP), None);
                for (name, value) in portal::server_headers(&format!("Bearer {access_token}")) {
                    set_header(&mut request, name, &value);
                }
                (request, Expected::JsonWith(200, "profiles"))
            }
        })
    }
}

/// A fresh code for `attempt`, from the warm authorize, for the portal fixture's identity.
async fn fixture_code(
    settings: &Settings,
    keys: &SessionKeys,
    fixtures: &mut Fixtures,
    attempt: &Attempt,
) -> anyhow::Result<String> {
    let (mut browser, _) = minted_browser(settings, keys, PORTAL_SUBJECT, "203.0.113.6");
    portal_code(&mut fixtures.portal, &mut browser, attempt, "fixture").await
}

#[derive(Clone, Copy)]
enum Expected {
    Status(u16),
    NoFailures,
    /// A 303 whose `Location` starts with this.
    Redirect(&'static str),
    /// This status, and a JSON body whose field is there and not empty.
    JsonWith(u16, &'static str),
}

impl Expected {
    fn check(self, who: &str, body: &[u8]) -> anyhow::Result<()> {
        let value: Value = serde_json::from_slice(body).with_context(|| format!("{who}: answer is not JSON"))?;
        let status = |status: u16| value["statusCode"].as_u64() == Some(u64::from(status));
        let ok = match self {
            Self::Status(expected) => status(expected),
            Self::NoFailures => value["batchItemFailures"].as_array().is_some_and(Vec::is_empty),
            Self::Redirect(prefix) => {
                let location = value["headers"]
                    .as_object()
                    .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")))
                    .and_then(|(_, v)| v.as_str());
                status(303) && location.is_some_and(|l| l.starts_with(prefix))
            }
            Self::JsonWith(expected, field) => {
                let body: Value = serde_json::from_str(&http_body_text(&value)).unwrap_or(Value::Null);
                let present = match &body[field] {
                    Value::Null => false,
                    Value::String(s) => !s.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    _ => true,
                };
                status(expected) && present
            }
        };
        if !ok {
            let text = value.to_string();
            bail!("{who}: unexpected first answer: {}", text.chars().take(600).collect::<String>());
        }
        Ok(())
    }
}

/// The body of lambda_http's API Gateway v2 answer, decoded if it is base64.
fn http_body_text(answer: &Value) -> String {
    let body = answer["body"].as_str().unwrap_or("");
    if answer["isBase64Encoded"].as_bool() == Some(true) {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_default();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    body.to_owned()
}

async fn cold_phase(
    settings: &Settings,
    proxy: &Arc<Proxy>,
    keys: &SessionKeys,
    fixtures: &mut Fixtures,
) -> anyhow::Result<Vec<ColdFunction>> {
    let hello = spec(settings, proxy, HELLO).await?;
    let hello_event = crate::gateway::http_event(&settings.base, "GET", "/", &Browser::new("203.0.113.4"), None);
    let mut out = Vec::new();
    for first in FirstRequest::ALL {
        let name = first.function();
        let spec = spec(settings, proxy, name).await?;
        let mut runs = Vec::new();
        for run in 0..settings.pairs {
            let hello_first = run % 2 == 0;
            let (event, expected) = first.event(settings, keys, fixtures, run).await?;
            let mut hello_sample = None;
            let mut function_sample = None;
            for hello_turn in [hello_first, !hello_first] {
                if hello_turn {
                    hello_sample =
                        Some(cold_once(&hello, &settings.log_dir, proxy, &hello_event, Expected::Status(200)).await?);
                } else {
                    function_sample = Some(cold_once(&spec, &settings.log_dir, proxy, &event, expected).await?);
                }
            }
            runs.push(ColdPair {
                hello_first,
                hello: hello_sample.expect("ran"),
                function: function_sample.expect("ran"),
            });
        }
        eprintln!("    {name}, {}: {} pairs", first.label(), runs.len());
        out.push(ColdFunction { name: name.to_owned(), first_request: first.label().to_owned(), runs });
    }
    Ok(out)
}

/// Starts the process with `event` already queued and times it to its first answer.
async fn cold_once(
    spec: &Spec,
    log_dir: &Path,
    proxy: &Arc<Proxy>,
    event: &Value,
    expected: Expected,
) -> anyhow::Result<ColdSample> {
    // Let the previous process's exit settle before the next exec.
    tokio::time::sleep(Duration::from_millis(50)).await;
    proxy.take();
    let (mut function, answer) = Function::spawn_with_event(spec, log_dir, Bytes::from(event.to_string())).await?;
    let answer = function.wait(answer, Duration::from_secs(30)).await?;
    let cpu = function.cpu();
    let peak_rss_kib = function.peak_rss_kib();
    let init_done = function.api.first_poll().unwrap_or(answer.delivered);
    let spawned = function.spawned;
    function.stop();
    expected.check(&spec.name, &answer.body)?;
    let calls = proxy.take();
    let (init, invocation): (Vec<_>, Vec<_>) = calls.iter().partition(|c| c.finished <= init_done);
    let (_, upstream_ms, _, _) = call_records(&calls);
    let init_calls: Vec<crate::proxy::Call> = init.iter().map(|c| (*c).clone()).collect();
    let (_, init_upstream_ms, _, _) = call_records(&init_calls);
    let name = |c: &&crate::proxy::Call| format!("{} {}", c.service.label(), c.operation);
    Ok(ColdSample {
        total_ms: ms(answer.answered - spawned),
        init_ms: ms(init_done - spawned),
        first_invocation_ms: ms(answer.answered - answer.delivered),
        upstream_ms,
        init_upstream_ms,
        init_calls: init.iter().map(name).collect(),
        invocation_calls: invocation.iter().map(name).collect(),
        peak_rss_kib,
        cpu_ms: ms(cpu.ticks.max(cpu.sched)),
    })
}
