//! Test harness: every test gets its own fresh table on the shared AWS
//! emulator and its own app on a free port, running the same router the dev
//! server runs (API Gateway event conversion included). A `Browser` follows
//! redirects and forms like a person's browser would.

pub mod backchannel;
pub mod dynamodb_local;
pub mod fake_provider;
pub mod faults;
pub mod flow;
pub mod log_capture;
mod options;
pub mod portal;

use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use profile_link_admin::table::TableDefinition;
use profile_link_authorize::AuthorizeApp;
use profile_link_core::aws::Endpoints;
use profile_link_core::clock::ManualClock;
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::downstream::PortalClients;
use profile_link_core::mail::{MailConfig, Mailer};
use profile_link_core::secrets::Secret;
use profile_link_core::upstream::Providers;
use profile_link_core::upstream::{IdentityProviders, OidcClient, OidcConfig};
use profile_link_core::{SessionKeys, SessionVerifier, Store};
use profile_link_dev_server::mailbox::{SentMessage, sent_messages};
use profile_link_dev_server::stream::StreamPoller;
use profile_link_dev_server::{DevRoutes, Functions, router, serve, verify_sender_in_emulator};
use profile_link_login::LoginApp;
use profile_link_notify_portals::{NotifyPortalsApp, Tally};
use profile_link_redeem_link::RedeemApp;
use profile_link_request_association::AssociationApp;
use profile_link_send_emails::SendEmailsApp;
use profile_link_ses_events::SesEventsApp;
use profile_link_token::TokenApp;
use tokio::sync::Mutex;

/// The browser, its forms and the SES fixtures are the shared harness's (`infra/harness`).
pub use profile_link_harness::{browser, ses_events};

pub use browser::Browser;
pub use options::{CALLBACK, PORTAL_CLIENTS, PROVIDER_ID, ProviderSettings, TestOptions, unhurried_pace};

/// The dev identity provider `scripts/test` started.
pub fn dev_idp() -> String {
    std::env::var("PROFILE_LINK_TEST_IDP")
        .expect("PROFILE_LINK_TEST_IDP is not set: run the tests through scripts/test")
}

/// The checkout under test. Read when the test runs, never baked in at compile
/// time: a binary built in another checkout must not read that checkout's files.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("CARGO_MANIFEST_DIR is not set: run the tests with cargo test (scripts/test)");
    PathBuf::from(manifest_dir).join("..")
}

/// A binary of this workspace that `scripts/test` builds before the tests
/// (`profile-link-admin`, `profile-link-dev-server`), beside the test's own executable.
pub fn built_binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe().expect("the test's own path").parent().expect("target/debug/deps").to_owned();
    let binary = deps.parent().expect("target/debug").join(name);
    assert!(binary.exists(), "{} is missing: cargo build -p {name}", binary.display());
    binary
}

/// The local AWS servers scripts/test started: DynamoDB Local for the table
/// and its stream, moto for SES v2 and SSM, each named by its own variable.
pub fn local_aws() -> Endpoints {
    let endpoints = Endpoints::from_env()
        .unwrap_or_else(|e| panic!("{e}: run the tests through scripts/test, which starts the local AWS servers"));
    for endpoint in [&endpoints.dynamodb, &endpoints.dynamodb_streams, &endpoints.sesv2, &endpoints.ssm] {
        assert!(
            endpoint.starts_with("http://127.0.0.1"),
            "{endpoint} is not a local server: the tests never reach real AWS"
        );
    }
    endpoints
}

pub async fn sdk_config() -> aws_config::SdkConfig {
    profile_link_core::aws::sdk_config_with_endpoints(&local_aws()).await
}

/// Writes `value` as the SecureString `name`, as an operator's deploy does.
/// Overwriting makes it idempotent: the SDK's retry of a put that timed out
/// (moto on a busy machine) cannot fail on the first attempt's parameter.
pub async fn put_secure_string(ssm: &aws_sdk_ssm::Client, name: &str, value: &str) {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("putting {name}: {e}"));
}

/// A fresh table created from template.yaml's definition.
pub async fn fresh_table(sdk: &aws_config::SdkConfig) -> String {
    let name = format!("test-{}", profile_link_core::random::token(9).replace(['-', '_'], "x"));
    let definition = TableDefinition::from_template(&workspace_root().join("template.yaml"))
        .expect("template.yaml defines the table");
    // The functions' 2 s attempt timeout is for requests people wait on. A
    // CreateTable on a busy machine can take longer; retried after a timeout,
    // it met the table its first attempt had made ("already existed", seen
    // with two suites running at once). The fixture waits instead.
    let patient = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(60))
        .operation_timeout(std::time::Duration::from_secs(120))
        .build();
    let client = Client::from_conf(aws_sdk_dynamodb::config::Builder::from(sdk).timeout_config(patient).build());
    assert!(definition.create(&client, &name).await.expect("table created"), "table {name} already existed");
    name
}

/// A test app whose functions reach AWS only through a fault proxy (no
/// faults yet: the test sets them once its fixtures are in place). The
/// proxy routes each call to the local server for its service.
pub async fn behind_fault_proxy() -> (TestApp, profile_link_fault_proxy::FaultProxy) {
    behind_fault_proxy_with(TestOptions::default()).await
}

/// [`behind_fault_proxy`] with the test's other choices.
pub async fn behind_fault_proxy_with(options: TestOptions) -> (TestApp, profile_link_fault_proxy::FaultProxy) {
    let local = local_aws();
    let upstreams = profile_link_fault_proxy::Upstreams { dynamodb: local.dynamodb, other: local.sesv2 };
    let proxy = profile_link_fault_proxy::FaultProxy::new(&upstreams, Vec::new(), 7).unwrap();
    let (address, _serving) = proxy.listen("127.0.0.1:0").await.unwrap();
    let options = TestOptions { aws_proxy: Some(format!("http://{address}")), ..options };
    (TestApp::spawn_with_options(options).await, proxy)
}

pub const MAIL_FROM: &str = "Example Ltd <no-reply@example.com>";

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub clock: ManualClock,
    pub sessions: Arc<SessionKeys>,
    pub issuer: String,
    /// A mail domain of this test's own, so tests sharing the emulator never read each other's mail.
    pub mail_domain: String,
    pub send_emails: Arc<SendEmailsApp>,
    /// The ses-events function, also reachable at `POST /dev/ses-event` as on the dev server.
    pub ses_events: Arc<SesEventsApp>,
    pub faults: faults::SesFaults,
    /// Every DynamoDB call the functions make (not the test's own reads).
    pub calls: faults::CallCounter,
    /// The local AWS servers, and a client reading the table directly (not through any proxy).
    pub local_aws: Endpoints,
    direct: Client,
    poller: Mutex<StreamPoller>,
    /// notify-portals, and its own mapping of the stream.
    pub notify_portals: Arc<NotifyPortalsApp>,
    logout_poller: Mutex<StreamPoller>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with_options(TestOptions::default()).await
    }

    pub async fn spawn_with(provider: ProviderSettings) -> Self {
        Self::spawn_with_options(TestOptions { provider, ..TestOptions::default() }).await
    }

    pub async fn spawn_with_options(options: TestOptions) -> Self {
        let provider = options.provider;
        let local_aws = options.local_aws.unwrap_or_else(local_aws);
        let direct = profile_link_core::aws::sdk_config_with_endpoints(&local_aws).await;
        let table = fresh_table(&direct).await;
        verify_sender_in_emulator(&direct, MAIL_FROM).await.unwrap();
        let sdk = match &options.aws_proxy {
            Some(proxy) => profile_link_core::aws::sdk_config_with_endpoints(&Endpoints::all(proxy)).await,
            None => direct.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let public_base_url = options.public_base_url.clone().unwrap_or_else(|| base.clone());

        let env = Env::from_pairs([
            ("TABLE_NAME", table.as_str()),
            ("PUBLIC_BASE_URL", public_base_url.as_str()),
            ("SUPPORT_EMAIL", "support@example.com"),
            ("OPERATOR_NAME", "Example Ltd"),
        ]);
        let site = SiteConfig::from_env(&env).unwrap();
        let providers = options.providers.clone().unwrap_or_else(|| provider.list());
        let listed = Providers::parse(&providers).unwrap_or_else(|e| panic!("{e}: {providers}"));
        let clients = listed
            .iter()
            .map(|p| {
                let secret = match &p.credential {
                    profile_link_core::secrets::SecretSource::Inline(v) => Secret::new(v.as_str()),
                    other => panic!("tests give their secrets inline, not {other:?}"),
                };
                OidcClient::new(OidcConfig::new(p.clone(), secret, &site.public_base_url).unwrap())
            })
            .collect();
        let pem = options.session_keys_pem.clone().unwrap_or_else(SessionKeys::generate_pem);
        let sessions = Arc::new(SessionKeys::from_pem(&public_base_url, &pem).unwrap());
        let clock = ManualClock::default();
        let calls = faults::CallCounter::default();
        let dynamo =
            Client::from_conf(aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(calls.clone()).build());
        let store = Store::new(dynamo, table);
        let mut login = LoginApp::new(
            site.clone(),
            store.clone(),
            IdentityProviders::new(clients),
            sessions.clone(),
            Arc::new(clock.clone()),
            600,
            options.limits,
        );
        login.client_addresses = options.client_addresses.clone();
        // Verify-only, from the published keys, as in AWS.
        let published = serde_json::to_string(sessions.jwks()).unwrap();
        let mut association = AssociationApp::new(
            site.clone(),
            store.clone(),
            Arc::new(SessionVerifier::from_jwks(&public_base_url, &published).unwrap()),
            Arc::new(clock.clone()),
            options.limits,
            options.link_ttl_seconds,
        );
        let mut redeem = RedeemApp::new(
            site.clone(),
            store.clone(),
            sessions.clone(),
            Arc::new(clock.clone()),
            options.limits,
            options.link_ttl_seconds,
        );
        association.client_addresses = options.client_addresses.clone();
        redeem.client_addresses = options.client_addresses.clone();

        let portals = PortalClients::parse(options.portals.as_deref().unwrap_or(PORTAL_CLIENTS)).unwrap();
        let portal_secrets = portals
            .iter()
            .filter_map(|c| match &c.secret {
                Some(profile_link_core::secrets::SecretSource::Inline(v)) => {
                    Some((c.id.clone(), Secret::new(v.as_str())))
                }
                None => None,
                Some(other) => panic!("tests give their secrets inline, not {other:?}"),
            })
            .collect();
        let portals = Arc::new(portals);
        let authorize = AuthorizeApp::new(
            site.clone(),
            store.clone(),
            Arc::new(SessionVerifier::from_jwks(&public_base_url, &published).unwrap()),
            portals.clone(),
            Arc::new(clock.clone()),
        );
        let notify_portals = Arc::new(NotifyPortalsApp::new(
            site.clone(),
            store.clone(),
            sessions.clone(),
            portals.clone(),
            Arc::new(clock.clone()),
        ));
        let logout_poller = StreamPoller::notify_portals(&sdk, store.table(), notify_portals.clone()).await.unwrap();
        let token = TokenApp::new(
            site.clone(),
            store.clone(),
            sessions.clone(),
            portals,
            portal_secrets,
            Arc::new(clock.clone()),
        );

        let faults = faults::SesFaults::default();
        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(&sdk).interceptor(faults.clone()).build(),
        );
        let mailer = Mailer::new(ses, MailConfig { from: MAIL_FROM.into(), configuration_set: None });
        let send_emails = Arc::new(SendEmailsApp {
            site,
            store: store.clone(),
            mailer,
            pace: options.send_pace.clone().unwrap_or_else(unhurried_pace),
            concurrent_sends: profile_link_core::linking::send::DEFAULT_CONCURRENT_SENDS,
            clock: Arc::new(clock.clone()),
        });
        let poller = StreamPoller::new(&sdk, store.table(), send_emails.clone()).await.unwrap();
        let ses_events = Arc::new(SesEventsApp { store: store.clone(), clock: Arc::new(clock.clone()) });

        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(
            Functions {
                login: Arc::new(login),
                request_association: Arc::new(association),
                redeem_link: Arc::new(redeem),
                authorize: Arc::new(authorize),
                token: Arc::new(token),
            },
            DevRoutes {
                mailbox_endpoint: Some(local_aws.sesv2.clone()),
                clock: None,
                ses_events: Some(ses_events.clone()),
                dead_letters: None,
            },
        );
        tokio::spawn(serve(listener, app, async move {
            let _ = rx.await;
        }));
        let mail_domain =
            format!("{}.example.com", profile_link_core::random::token(8).to_lowercase().replace(['-', '_'], "x"));
        Self {
            base,
            store,
            clock,
            sessions,
            issuer: provider.issuer,
            mail_domain,
            send_emails,
            ses_events,
            faults,
            calls,
            local_aws,
            direct: Client::new(&direct),
            poller: Mutex::new(poller),
            notify_portals,
            logout_poller: Mutex::new(logout_poller),
            shutdown: Some(tx),
        }
    }

    /// Signs `user` in at the dev identity provider in a fresh browser.
    pub async fn signed_in(&self, user: &str) -> Browser {
        let browser = Browser::new();
        let page = browser.sign_in(&self.url("/login"), user, "demo").await;
        assert_eq!(page.status, reqwest::StatusCode::OK, "{user} could not sign in: {}", page.body);
        browser
    }

    /// The CSRF token of `browser`'s session, as the forms carry it.
    pub async fn csrf(&self, browser: &Browser) -> String {
        let page = browser.get(&self.url("/associate")).await;
        let form = browser::first_post_form(&page).expect("the association form");
        form.fields.iter().find(|(n, _)| n == "csrf").map(|(_, v)| v.clone()).expect("csrf field")
    }

    /// The person in `browser` unlinks `profile_id` from the account page's form; its answer.
    pub async fn unlink(&self, browser: &Browser, profile_id: &str) -> browser::Page {
        let csrf = self.csrf(browser).await;
        let fields = [("profile_id".to_owned(), profile_id.to_owned()), ("csrf".to_owned(), csrf)];
        browser.post_form(&self.url("/profiles/unlink"), &fields).await
    }

    /// `local@<this test's domain>`.
    pub fn address(&self, local: &str) -> String {
        format!("{local}@{}", self.mail_domain)
    }

    /// Imports profiles through the admin CLI's import code: (id, local part, name, organization).
    pub async fn import_profiles(&self, rows: &[(&str, &str, &str, &str)]) {
        let mut csv = String::from("profile_id,email,display_name,organization\n");
        for (id, local, name, org) in rows {
            csv.push_str(&format!("{id},{},{name},{org}\n", self.address(local)));
        }
        let report = profile_link_admin::import::import(&self.store, csv.as_bytes(), false, &()).await.unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    }

    /// Plays the stream's event source mapping once: everything written so far reaches send-emails.
    pub async fn deliver_stream(&self) -> usize {
        self.poller.lock().await.poll_once().await.unwrap()
    }

    /// A second mapping reading the stream from its start, as Lambda does when
    /// it redelivers every record; how many it delivered to send-emails.
    pub async fn replay_stream(&self) -> usize {
        let mut replay = StreamPoller::new(&sdk_config().await, self.store.table(), self.send_emails.clone())
            .await
            .expect("a stream mapping for the table");
        replay.poll_once().await.expect("the replay reads the stream")
    }

    /// Another send-emails instance over this app's table and SES (as a
    /// second Lambda instance is), with its own DynamoDB client, mail
    /// settings or clock where given.
    pub fn other_sender(
        &self,
        dynamodb: Option<Client>,
        mail: Option<MailConfig>,
        clock: Option<Arc<dyn profile_link_core::Clock>>,
    ) -> Arc<SendEmailsApp> {
        let this = &self.send_emails;
        let mailer = mail.map_or_else(|| this.mailer.clone(), |config| this.mailer.with_config(config));
        Arc::new(SendEmailsApp {
            site: this.site.clone(),
            store: dynamodb.map_or_else(|| this.store.clone(), |client| Store::new(client, this.store.table())),
            mailer,
            pace: this.pace.clone(),
            concurrent_sends: this.concurrent_sends,
            clock: clock.unwrap_or_else(|| this.clock.clone()),
        })
    }

    /// send-emails as deployed but sending a batch one email at a time, for a
    /// test that counts SES's calls in the batch's order (concurrent sends
    /// reach SES in an order a test cannot choose).
    pub fn sequential_sender(&self) -> Arc<SendEmailsApp> {
        let mut sender = self.other_sender(None, None, None);
        Arc::get_mut(&mut sender).expect("a new sender, not shared yet").concurrent_sends = 1;
        sender
    }

    /// Plays send-emails' schedule once: the links and notices due in the outbox are sent.
    pub async fn sweep_mail(&self) -> profile_link_send_emails::Tally {
        profile_link_send_emails::sweep(&self.send_emails, "test-sweep").await.unwrap()
    }

    /// The keys (`pk`) of the items in the outbox's due index, due or not.
    pub async fn outbox(&self) -> Vec<String> {
        let output = self
            .direct
            .query()
            .table_name(self.store.table())
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :due")
            .expression_attribute_values(":due", aws_sdk_dynamodb::types::AttributeValue::S("MAIL#DUE".into()))
            .send()
            .await
            .unwrap();
        output.items().iter().filter_map(|item| item.get("pk")?.as_s().ok().cloned()).collect()
    }

    /// Plays notify-portals' stream mapping once: every logout event written so far is posted to its portals.
    pub async fn notify_portals(&self) -> usize {
        self.logout_poller.lock().await.poll_once().await.unwrap()
    }

    /// Plays notify-portals' schedule once: the deliveries due now are posted again.
    pub async fn sweep_logouts(&self) -> Tally {
        profile_link_notify_portals::sweep(&self.notify_portals, "test-sweep").await.unwrap()
    }

    /// notify-portals' mapping reading the stream from its start (Lambda redelivering every record).
    pub async fn replay_logout_events(&self) -> usize {
        let mut replay =
            StreamPoller::notify_portals(&sdk_config().await, self.store.table(), self.notify_portals.clone())
                .await
                .expect("a stream mapping for the table");
        replay.poll_once().await.expect("the replay reads the stream")
    }

    /// The records the mapping would deliver now, without invoking send-emails
    /// (tests that play a crashed invocation deliver them themselves).
    pub async fn read_stream(&self) -> Vec<aws_lambda_events::dynamodb::EventRecord> {
        self.poller.lock().await.read_available().await.unwrap()
    }

    /// Records the mapping gave up on (its on-failure destination).
    pub async fn discarded_records(&self) -> Vec<String> {
        self.poller.lock().await.discarded.ids()
    }

    /// Emails the emulator's SES accepted for `address`, oldest first.
    pub async fn emails_to(&self, address: &str) -> Vec<SentMessage> {
        sent_messages(&self.local_aws.sesv2)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.recipients().iter().any(|r| r == address))
            .collect()
    }

    pub fn clock_now(&self) -> i64 {
        use profile_link_core::Clock;
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Every item in the table, as (pk, sk) pairs: "nothing was written" is checked against this.
    pub async fn keys(&self) -> Vec<(String, String)> {
        let mut keys = Vec::new();
        let mut pages = self.direct.scan().table_name(self.store.table()).into_paginator().items().send();
        while let Some(item) = pages.next().await {
            let item = item.unwrap();
            let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            keys.push((get("pk"), get("sk")));
        }
        keys.sort();
        keys
    }

    /// The items whose `pk` starts with `prefix` and that meet `condition` (a
    /// DynamoDB filter expression over their attributes; "" for all of them).
    pub async fn items_with_prefix(
        &self,
        prefix: &str,
        condition: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let filter = if condition.is_empty() {
            "begins_with(pk, :prefix)".to_owned()
        } else {
            format!("begins_with(pk, :prefix) AND ({condition})")
        };
        let pages = self
            .direct
            .scan()
            .table_name(self.store.table())
            .filter_expression(filter)
            .expression_attribute_values(":prefix", aws_sdk_dynamodb::types::AttributeValue::S(prefix.to_owned()))
            .into_paginator()
            .items()
            .send();
        pages.collect::<Result<Vec<_>, _>>().await.unwrap()
    }

    /// Every item with every attribute, in key order: "nothing changed" is checked against this.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut items: Vec<String> = self
            .direct
            .scan()
            .table_name(self.store.table())
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap()
            .into_iter()
            .map(|item| format!("{:?}", item.into_iter().collect::<std::collections::BTreeMap<_, _>>()))
            .collect();
        items.sort();
        items
    }

    /// A link item's attributes, by its id (the token's selector).
    pub async fn link_item(
        &self,
        link_id: &str,
    ) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        self.store
            .client()
            .get_item()
            .table_name(self.store.table())
            .key("pk", S(format!("LINK#{link_id}")))
            .key("sk", S("LINK".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("no link {link_id}"))
    }

    /// Posts `body` to `/dev/ses-event` (as SNS would deliver it to ses-events); the handler's summary.
    pub async fn ses_event(&self, body: &str) -> serde_json::Value {
        self.post_ses_event(&self.url("/dev/ses-event"), body.to_owned()).await
    }

    /// The event SES would publish for `event` (`hard-bounce`, `soft-bounce`, `complaint`) on a link's email.
    pub async fn ses_event_for_link(&self, link_id: &str, event: &str) -> serde_json::Value {
        self.post_ses_event(&self.url(&format!("/dev/ses-event?link={link_id}&event={event}")), String::new()).await
    }

    async fn post_ses_event(&self, url: &str, body: String) -> serde_json::Value {
        let response = reqwest::Client::new().post(url).body(body).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK, "POST {url}");
        response.json().await.unwrap()
    }

    pub async fn count_with_prefix(&self, prefix: &str) -> usize {
        self.keys().await.iter().filter(|(pk, _)| pk.starts_with(prefix)).count()
    }

    /// What a rate counter (`RATE#…`) holds, over every window it has counted in.
    pub async fn rate_counted(&self, pk: &str) -> i64 {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        let windows = self
            .direct
            .query()
            .table_name(self.store.table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", S(pk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default();
        windows.iter().map(|w| w["count"].as_n().unwrap().parse::<i64>().unwrap()).sum()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
