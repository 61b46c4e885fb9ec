//! The fair floor `scripts/bench` holds each function's cold start against:
//! a Lambda built with the workspace's release profile and the functions'
//! own start-up pieces (the one `SdkConfig` of `profile_link_core::aws`, with
//! its HTTPS client and AWS-only roots; the same tracing set-up; for the
//! identity provider, an HTTP client built as login's OIDC client builds
//! its own) that makes the AWS calls a function makes at init and on its
//! first request, in the same order, and nothing else: no configuration
//! parsed, no page rendered, nothing signed or verified.
//!
//! Its configuration is the function's (the bench gives it the same
//! variables) plus `SAME_CALLS_INIT` and `SAME_CALLS_FIRST` ([`plan::Plan`]),
//! `SAME_CALLS_EVENT` (`http` for an API Gateway function, `stream` for a
//! DynamoDB stream consumer) and, for provider calls, `SAME_CALLS_ISSUER`
//! and `SAME_CALLS_PROVIDER_ROOTS` (`system`, as login; or `compiled`, roots
//! compiled in instead of the operating system's store, for comparison).
//! Every call is made against the function's own table, parameters and
//! sender, on keys no item has (`SAME-CALLS#…`) or items that expire.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use futures::future::{BoxFuture, FutureExt, join_all};
use profile_link_core::Env;

pub mod plan;

use plan::{Call, DynamoDbOperation, Plan};

/// Which event the function answers: how the runtime is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Http,
    Stream,
}

/// What the baseline calls, built once at init as a function builds its clients.
pub struct SameCalls {
    pub init: Plan,
    pub first: Plan,
    pub event: EventKind,
    sdk: aws_config::SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    ses: aws_sdk_sesv2::Client,
    table: String,
    parameters: Vec<String>,
    mail_from: String,
    provider: Option<(reqwest::Client, String)>,
}

impl SameCalls {
    pub fn from_env(env: &Env, sdk: aws_config::SdkConfig) -> Result<Self, String> {
        let plan = |name: &str| Plan::parse(env.get(name).unwrap_or_default()).map_err(|e| format!("{name}: {e}"));
        let (init, first) = (plan("SAME_CALLS_INIT")?, plan("SAME_CALLS_FIRST")?);
        let event = match env.get("SAME_CALLS_EVENT") {
            Some("http") | None => EventKind::Http,
            Some("stream") => EventKind::Stream,
            Some(other) => return Err(format!("SAME_CALLS_EVENT: expected http or stream, got {other:?}")),
        };
        // The parameters the functions read at init, each named by a `*_SSM_PARAMETER` variable.
        let parameters = [
            "SESSION_SIGNING_KEY_SSM_PARAMETER",
            "SESSION_PUBLIC_KEYS_SSM_PARAMETER",
            "PROVIDERS_SSM_PARAMETER",
            "PORTAL_CLIENTS_SSM_PARAMETER",
        ]
        .iter()
        .filter_map(|name| env.get(name).map(str::to_owned))
        .collect();
        let provider = if init.needs_provider() || first.needs_provider() {
            let issuer = env.get("SAME_CALLS_ISSUER").ok_or("SAME_CALLS_ISSUER is not set")?;
            let roots = match env.get("SAME_CALLS_PROVIDER_ROOTS") {
                Some("system") | None => ProviderRoots::System,
                Some("compiled") => ProviderRoots::Compiled,
                Some(other) => {
                    return Err(format!("SAME_CALLS_PROVIDER_ROOTS: expected system or compiled, got {other:?}"));
                }
            };
            Some((provider_client(roots), issuer.trim_end_matches('/').to_owned()))
        } else {
            None
        };
        Ok(Self {
            init,
            first,
            event,
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            ses: aws_sdk_sesv2::Client::new(&sdk),
            sdk,
            table: env.get("TABLE_NAME").ok_or("TABLE_NAME is not set")?.to_owned(),
            parameters,
            mail_from: env.get("MAIL_FROM").unwrap_or("profile-link <no-reply@example.com>").to_owned(),
            provider,
        })
    }

    /// Makes the plan's calls; the first failure ends it.
    pub async fn run(&self, plan: &Plan) -> Result<(), String> {
        for step in &plan.0 {
            let branches = step.iter().map(|branch| self.branch(branch));
            join_all(branches).await.into_iter().collect::<Result<Vec<()>, String>>()?;
        }
        Ok(())
    }

    fn branch<'a>(&'a self, calls: &'a [Call]) -> BoxFuture<'a, Result<(), String>> {
        async move {
            let mut jwks_uri = None;
            for call in calls {
                match call {
                    Call::ProviderDiscovery => jwks_uri = Some(self.discovery().await?),
                    Call::ProviderJwks => {
                        let uri = jwks_uri.take().ok_or("provider:jwks needs provider:discovery before it")?;
                        self.provider_json(&uri).await?;
                    }
                    Call::SsmGetParameters => {
                        profile_link_core::secrets::fetch_existing_parameters(&self.sdk, &self.parameters)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    Call::SesSendEmail => self.send_email().await?,
                    Call::DynamoDb(operation) => self.dynamodb(*operation).await?,
                }
            }
            Ok(())
        }
        .boxed()
    }

    async fn discovery(&self) -> Result<String, String> {
        let (_, issuer) = self.provider.as_ref().ok_or("no provider configured")?;
        let document = self.provider_json(&format!("{issuer}/.well-known/openid-configuration")).await?;
        document["jwks_uri"].as_str().map(str::to_owned).ok_or_else(|| "the discovery document has no jwks_uri".into())
    }

    async fn provider_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let (client, _) = self.provider.as_ref().ok_or("no provider configured")?;
        let answer = client.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        answer.json().await.map_err(|e| format!("GET {url}: {e}"))
    }

    async fn send_email(&self) -> Result<(), String> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let text = |data: &str| Content::builder().data(data).charset("UTF-8").build().map_err(|e| e.to_string());
        let message = Message::builder()
            .subject(text("same-calls baseline")?)
            .body(Body::builder().text(text("One email, as a function's first batch sends one.")?).build())
            .build();
        self.ses
            .send_email()
            .from_email_address(&self.mail_from)
            .destination(Destination::builder().to_addresses("same-calls@example.com").build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| profile_link_core::aws::error_line(&e))?;
        Ok(())
    }

    async fn dynamodb(&self, operation: DynamoDbOperation) -> Result<(), String> {
        let s = |value: &str| AttributeValue::S(value.to_owned());
        let pk = s(&format!("SAME-CALLS#{}", std::process::id()));
        let expires = AttributeValue::N((now() + 300).to_string());
        let error = |e: &(dyn std::error::Error + 'static)| profile_link_core::aws::error_line(e);
        let db = &self.dynamodb;
        let table = self.table.as_str();
        match operation {
            DynamoDbOperation::GetItem => db
                .get_item()
                .table_name(table)
                .key("pk", pk)
                .key("sk", s("ITEM"))
                .send()
                .await
                .map(drop)
                .map_err(|e| error(&e)),
            DynamoDbOperation::Query => db
                .query()
                .table_name(table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", pk)
                .send()
                .await
                .map(drop)
                .map_err(|e| error(&e)),
            DynamoDbOperation::PutItem => db
                .put_item()
                .table_name(table)
                .item("pk", pk)
                .item("sk", s("ITEM"))
                .item("expires_at", expires)
                .send()
                .await
                .map(drop)
                .map_err(|e| error(&e)),
            DynamoDbOperation::UpdateItem => db
                .update_item()
                .table_name(table)
                .key("pk", pk)
                .key("sk", s("ITEM"))
                .update_expression("SET expires_at = :expires ADD calls :one")
                .expression_attribute_values(":expires", expires)
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .send()
                .await
                .map(drop)
                .map_err(|e| error(&e)),
            DynamoDbOperation::DeleteItem => db
                .delete_item()
                .table_name(table)
                .key("pk", pk)
                .key("sk", s("ITEM"))
                .send()
                .await
                .map(drop)
                .map_err(|e| error(&e)),
            DynamoDbOperation::TransactWriteItems => {
                let put = Put::builder()
                    .table_name(table)
                    .item("pk", pk)
                    .item("sk", s("TRANSACTION"))
                    .item("expires_at", expires)
                    .build()
                    .map_err(|e| error(&e))?;
                db.transact_write_items()
                    .transact_items(TransactWriteItem::builder().put(put).build())
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| error(&e))
            }
        }
    }
}

/// Where the provider client's trusted roots come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProviderRoots {
    /// The operating system's store, read and parsed when the client is built (login's).
    System,
    /// A few roots compiled in (AWS's five, standing in for a compiled-in list): no store read.
    Compiled,
}

/// As login's OIDC client builds its HTTP client (`upstream/client.rs`).
fn provider_client(roots: ProviderRoots) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(8))
        .user_agent(concat!("profile-link/", env!("CARGO_PKG_VERSION")));
    let builder = match roots {
        ProviderRoots::System => builder,
        ProviderRoots::Compiled => builder.tls_certs_only(
            reqwest::Certificate::from_pem_bundle(profile_link_core::aws::AWS_TRUST_ROOTS)
                .expect("the AWS roots parse"),
        ),
    };
    builder.build().expect("TLS backend initialises")
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
