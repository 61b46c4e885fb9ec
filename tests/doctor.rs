//! [15] `profile-link-admin doctor`: the real binary against a test's stack
//! on the local servers (its parameters in moto's SSM, its table on
//! DynamoDB Local, its functions serving the JWKS). It passes on a healthy
//! stack and names each break in one line, with exit status 1.
//!
//! What the local servers cannot answer is a warning, by design: moto knows
//! neither SES's GetAccount nor Lambda's GetAccountSettings (HTTP 404), and
//! DynamoDB Local not DescribeContinuousBackups. Each says plainly that it
//! could not check and how to check by hand.

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};

use profile_link_core::SessionKeys;
use profile_link_core::downstream::PortalClients;
use profile_link_core::session::generate_ec_pem;
use profile_link_tests::fake_provider::FakeProvider;
use profile_link_tests::{MAIL_FROM, ProviderSettings, TestApp, TestOptions, built_binary, local_aws};
use serde_json::{Value, json};

/// A test app whose configuration is in SSM under a prefix of its own, as a deployed stack's is.
struct Stack {
    app: TestApp,
    prefix: String,
    ssm: aws_sdk_ssm::Client,
}

const PORTAL_SECRET: &str = "a-portal-secret-of-more-than-16-characters";

impl Stack {
    async fn healthy() -> Self {
        let pem = SessionKeys::generate_pem();
        let app =
            TestApp::spawn_with_options(TestOptions { session_keys_pem: Some(pem.clone()), ..TestOptions::default() })
                .await;
        let prefix = format!("/doctor-{}", profile_link_core::random::token(9).replace(['-', '_'], "x"));
        let stack = Self { app, prefix, ssm: aws_sdk_ssm::Client::new(&profile_link_tests::sdk_config().await) };
        // The dev provider, its secret in SSM under the providers' path.
        let mut dev: Vec<Value> = serde_json::from_str(&ProviderSettings::dev_idp().list()).unwrap();
        dev[0]["client_secret"] = Value::Null;
        dev[0]["client_secret_parameter"] = json!(stack.name("providers/dev"));
        stack.put("providers/dev", "local-dev-secret").await;
        stack.providers(&json!(dev)).await;
        stack.put("portals/demo-portal", PORTAL_SECRET).await;
        stack.portals(&stack.portal_list(&[])).await;
        stack.keys(&pem).await;
        stack
    }

    fn name(&self, path: &str) -> String {
        format!("{}/{path}", self.prefix)
    }

    async fn put(&self, path: &str, value: &str) {
        profile_link_tests::put_secure_string(&self.ssm, &self.name(path), value).await;
    }

    async fn providers(&self, list: &Value) {
        self.put("providers", &list.to_string()).await;
    }

    /// A confidential portal with its secret in SSM, a public one, and `more`.
    fn portal_list(&self, more: &[Value]) -> Value {
        let mut list = vec![
            json!({"id": "demo-portal", "name": "Demo portal", "redirect_uris": ["http://127.0.0.1:3100/callback"],
                   "client_secret_parameter": self.name("portals/demo-portal")}),
            json!({"id": "spa", "name": "SPA", "redirect_uris": ["https://spa.example.com/cb"],
                   "token_endpoint_auth_method": "none"}),
        ];
        list.extend_from_slice(more);
        json!(list)
    }

    async fn portals(&self, list: &Value) {
        self.put("portal-clients", &list.to_string()).await;
    }

    /// The signing keys and their public part, as keys rotate writes them.
    async fn keys(&self, pem: &str) {
        self.put("session-signing-key", pem).await;
        let public = SessionKeys::from_pem("", pem).unwrap();
        self.put("session-public-keys", &serde_json::to_string(public.jwks()).unwrap()).await;
    }

    /// `profile-link-admin doctor` with the stack's parameters named as the functions' environment names them.
    fn doctor(&self) -> Output {
        let aws = local_aws();
        Command::new(built_binary("profile-link-admin"))
            .arg("doctor")
            .env("PROVIDERS_SSM_PARAMETER", self.name("providers"))
            .env("PROVIDER_SECRETS_PATH", self.name("providers/"))
            .env("PORTAL_CLIENTS_SSM_PARAMETER", self.name("portal-clients"))
            .env("PORTAL_SECRETS_PATH", self.name("portals/"))
            .env("SESSION_SIGNING_KEY_SSM_PARAMETER", self.name("session-signing-key"))
            .env("SESSION_PUBLIC_KEYS_SSM_PARAMETER", self.name("session-public-keys"))
            .env("PUBLIC_BASE_URL", &self.app.base)
            .env("MAIL_FROM", MAIL_FROM)
            .env("TABLE_NAME", self.app.store.table())
            .env("AWS_ENDPOINT_URL_SSM", &aws.ssm)
            .env("AWS_ENDPOINT_URL_SESV2", &aws.sesv2)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &aws.dynamodb)
            // moto, which does not know GetAccountSettings: never real AWS.
            .env("AWS_ENDPOINT_URL_LAMBDA", &aws.sesv2)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn report(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Asserts the run failed (exit 1) and printed exactly `line`.
fn assert_failed_with(output: &Output, line: &str) {
    let report = report(output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.lines().any(|l| l == line), "expected the line\n{line}\nin\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_against_the_local_stack_and_says_what_it_could_not_check() {
    let stack = Stack::healthy().await;
    let output = stack.doctor();
    let report = report(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    let statuses: BTreeMap<String, String> =
        report.lines().map(|l| (l[6..26].trim().to_owned(), l[..4].trim().to_owned())).collect();
    let expected: BTreeMap<String, String> = [
        ("providers list", "ok"),
        ("provider secrets", "ok"),
        ("provider dev", "ok"),
        ("portal clients", "ok"),
        ("signing keys", "ok"),
        ("public keys", "ok"),
        ("published JWKS", "ok"),
        ("SES identity", "ok"),
        ("SES account", "warn"),
        ("Lambda concurrency", "warn"),
        ("table TTL", "ok"),
        ("table stream", "ok"),
        ("table backups", "warn"),
        ("SSM throughput", "warn"),
        ("table writes", "ok"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(statuses, expected, "{report}");
    let table = stack.app.store.table();
    for line in [
        format!("ok    portal clients        {}: 2 client(s) work: demo-portal, spa", stack.name("portal-clients")),
        "ok    table TTL             on expires_at".to_owned(),
        "ok    table stream          NEW_AND_OLD_IMAGES".to_owned(),
        "warn  SES account           could not read the account (HTTP 404): check production access, quota and rate by hand: aws sesv2 get-account".to_owned(),
        "warn  Lambda concurrency    could not read the account's settings (HTTP 404): check by hand: aws lambda get-account-settings (ConcurrentExecutions less SendEmailsReservedConcurrency must leave 10)".to_owned(),
        "warn  SSM throughput        could not read the setting (HTTP 500): check by hand: aws ssm get-service-setting --setting-id /ssm/parameter-store/high-throughput-enabled (from 10000 people an hour, enable higher throughput)".to_owned(),
        "ok    table writes          no warm throughput reported (a new on-demand table takes 4000 write units a second); 1000 people an hour need about 62 in busy minutes".to_owned(),
        format!("warn  table backups         could not read point-in-time recovery (UnknownOperationException: An unknown operation was requested.): check it by hand: aws dynamodb describe-continuous-backups --table-name {table}"),
    ] {
        assert!(report.lines().any(|l| l == line), "expected the line\n{line}\nin\n{report}");
    }
    assert!(!report.contains("local-dev-secret") && !report.contains(PORTAL_SECRET), "no secret printed: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_parameter_is_named() {
    let stack = Stack::healthy().await;
    stack.ssm.delete_parameter().name(stack.name("providers")).send().await.unwrap();
    assert_failed_with(
        &stack.doctor(),
        &format!(
            "FAIL  providers list        {} is not in SSM, or has no value: create it as a String with the provider list (docs/operating.md#identity-providers)",
            stack.name("providers")
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparseable_parameter_is_named_with_the_functions_own_reason() {
    let stack = Stack::healthy().await;
    stack.put("session-signing-key", "not a key").await;
    let reason = SessionKeys::from_pem("", "not a key").unwrap_err();
    assert_failed_with(
        &stack.doctor(),
        &format!(
            "FAIL  signing keys          {}: SESSION_SIGNING_KEY: {reason}: no function that signs starts: put the output of profile-link-admin keys generate there",
            stack.name("session-signing-key")
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_discovery_is_named() {
    let stack = Stack::healthy().await;
    let nowhere = format!("{}/nowhere", stack.app.base);
    let mut dev: Vec<Value> =
        serde_json::from_str(&ProviderSettings { issuer: nowhere.clone(), ..ProviderSettings::dev_idp() }.list())
            .unwrap();
    dev[0]["client_secret"] = Value::Null;
    dev[0]["client_secret_parameter"] = json!(stack.name("providers/dev"));
    stack.providers(&json!(dev)).await;
    assert_failed_with(
        &stack.doctor(),
        &format!(
            "FAIL  provider dev          identity provider unavailable: GET {nowhere}/.well-known/openid-configuration: HTTP 404 Not Found: \
             nobody signs in with it: check the issuer in the provider list, and that the provider is up and reachable from AWS"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovery_that_contradicts_the_listed_authentication_is_named() {
    let stack = Stack::healthy().await;
    let fake = FakeProvider::start().await;
    stack.put("providers/fake", &generate_ec_pem()).await;
    let entry = fake.listed(
        "fake",
        json!({"client_auth": "private_key_jwt", "client_secret": null, "private_key_parameter": stack.name("providers/fake")}),
    );
    stack.providers(&json!([entry])).await;
    assert_failed_with(
        &stack.doctor(),
        "FAIL  provider fake         identity provider misconfigured: client_auth private_key_jwt is not among the provider's \
         token_endpoint_auth_methods_supported [\"client_secret_basic\", \"client_secret_post\"]: its sign-in fails: change the entry's \
         issuer, client_auth or response_mode to what the provider offers, or enable it at the provider",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_that_is_not_the_signing_keys_is_named() {
    let stack = Stack::healthy().await;
    let published = SessionKeys::from_pem("", &stack_keys(&stack).await).unwrap();
    // The keys in SSM change; the running functions still serve the old ones.
    let other = SessionKeys::generate_pem();
    stack.keys(&other).await;
    let other = SessionKeys::from_pem("", &other).unwrap();
    let kids = |keys: &SessionKeys| -> Vec<(String, String)> {
        let mut kids: Vec<(String, String)> = keys
            .jwks()
            .keys
            .iter()
            .map(|k| {
                let jwk = serde_json::to_value(k).unwrap();
                (jwk["kid"].as_str().unwrap()[..12].to_owned(), jwk["kty"].as_str().unwrap().to_owned())
            })
            .collect();
        kids.sort();
        kids
    };
    let short = |keys: &SessionKeys| kids(keys).into_iter().map(|(kid, _)| kid).collect::<Vec<_>>().join(", ");
    let described = kids(&other).into_iter().map(|(kid, kty)| format!("{kty} {kid}")).collect::<Vec<_>>().join(", ");
    assert_failed_with(
        &stack.doctor(),
        &format!(
            "FAIL  published JWKS        {}/.well-known/jwks.json lacks {}; has {} not among the signing keys (the signing keys: 2 key(s): {described}): \
             functions started before the keys changed serve the old set until their next cold start: redeploy (or update the \
             functions' configuration) so they restart, then run doctor again",
            stack.app.base,
            short(&other),
            short(&published),
        ),
    );
}

/// The signing keys the stack's parameter holds now.
async fn stack_keys(stack: &Stack) -> String {
    let got =
        stack.ssm.get_parameter().name(stack.name("session-signing-key")).with_decryption(true).send().await.unwrap();
    got.parameter.unwrap().value.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_portal_client_is_named() {
    let stack = Stack::healthy().await;
    let bad = json!({"id": "bad", "name": "Bad", "redirect_uris": ["http://bad.example/cb"], "token_endpoint_auth_method": "none"});
    let list = stack.portal_list(&[bad]);
    stack.portals(&list).await;
    let (_, refused) = PortalClients::parse_each(&list.to_string()).unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_failed_with(
        &stack.doctor(),
        &format!(
            "FAIL  portal client         {}: the functions leave it out (alarm PortalClientRefused): correct the entry, or remove it with profile-link-admin portals remove",
            refused[0]
        ),
    );
}
