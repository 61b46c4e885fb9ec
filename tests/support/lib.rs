//! Test harness: every test gets its own fresh table on the shared AWS
//! emulator and its own app on a free port, running the same router the dev
//! server runs (API Gateway event conversion included). A `Browser` follows
//! redirects and forms like a person's browser would.

pub mod browser;
pub mod fake_provider;

use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use profile_link_admin::table::TableDefinition;
use profile_link_core::clock::ManualClock;
use profile_link_core::config::{Env, SiteConfig};
use profile_link_core::oidc::{OidcClient, OidcConfig};
use profile_link_core::secrets::Secret;
use profile_link_core::{SessionKeys, Store};
use profile_link_dev_server::{Functions, router, serve};
use profile_link_login::LoginApp;

pub use browser::Browser;

/// The dev identity provider `scripts/test` started.
pub fn dev_idp() -> String {
    std::env::var("PROFILE_LINK_TEST_IDP")
        .expect("PROFILE_LINK_TEST_IDP is not set: run the tests through scripts/test")
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub async fn sdk_config() -> aws_config::SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| u.starts_with("http://127.0.0.1")),
        "AWS_ENDPOINT_URL must point at the local emulator: run the tests through scripts/test"
    );
    aws_config::load_from_env().await
}

/// A fresh table created from template.yaml's definition.
pub async fn fresh_table(sdk: &aws_config::SdkConfig) -> String {
    let name = format!("test-{}", profile_link_core::random::token(9).replace(['-', '_'], "x"));
    let definition = TableDefinition::from_template(&workspace_root().join("template.yaml"))
        .expect("template.yaml defines the table");
    assert!(definition.create(&Client::new(sdk), &name).await.expect("table created"));
    name
}

/// Which identity provider an app under test trusts.
pub struct ProviderSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl ProviderSettings {
    pub fn dev_idp() -> Self {
        Self { issuer: dev_idp(), client_id: "profile-link-local".into(), client_secret: "local-dev-secret".into() }
    }
}

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub clock: ManualClock,
    pub sessions: Arc<SessionKeys>,
    pub issuer: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(ProviderSettings::dev_idp()).await
    }

    pub async fn spawn_with(provider: ProviderSettings) -> Self {
        let sdk = sdk_config().await;
        let table = fresh_table(&sdk).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());

        let env = Env::from_pairs([
            ("TABLE_NAME", table.as_str()),
            ("PUBLIC_BASE_URL", base.as_str()),
            ("SUPPORT_EMAIL", "support@example.com"),
            ("OPERATOR_NAME", "Example Ltd"),
            ("OIDC_ISSUER", provider.issuer.as_str()),
            ("OIDC_CLIENT_ID", provider.client_id.as_str()),
        ]);
        let site = SiteConfig::from_env(&env).unwrap();
        let oidc = OidcConfig::from_env(&env, &site.public_base_url, Secret::new(provider.client_secret)).unwrap();
        let sessions = Arc::new(SessionKeys::from_pem(&base, &SessionKeys::generate_pem()).unwrap());
        let clock = ManualClock::default();
        let store = Store::from_sdk_config(&sdk, table);
        let login =
            LoginApp::new(site, store.clone(), OidcClient::new(oidc), sessions.clone(), Arc::new(clock.clone()), 600);

        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(Functions { login: Arc::new(login) });
        tokio::spawn(serve(listener, app, async move {
            let _ = rx.await;
        }));
        Self { base, store, clock, sessions, issuer: provider.issuer, shutdown: Some(tx) }
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
        let mut pages = self.store.client().scan().table_name(self.store.table()).into_paginator().items().send();
        while let Some(item) = pages.next().await {
            let item = item.unwrap();
            let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            keys.push((get("pk"), get("sk")));
        }
        keys.sort();
        keys
    }

    pub async fn count_with_prefix(&self, prefix: &str) -> usize {
        self.keys().await.iter().filter(|(pk, _)| pk.starts_with(prefix)).count()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
