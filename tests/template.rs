//! template.yaml against the code: every route reaches a handler of the
//! function it names, every function crate has a resource, and every
//! environment variable a function reads is one the template sets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use profile_link_core::SessionKeys;
use profile_link_core::config::Env;
use profile_link_tests::workspace_root;
use serde_yaml_ng::Value;
use tower::ServiceExt;

fn template() -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap()).unwrap()
}

/// A plain value as text; `!Ref`, `!Sub` … (known only at deploy time) as `None`.
fn literal(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Function {
    resource: String,
    binary: String,
    env: BTreeMap<String, Option<String>>,
    routes: Vec<(String, String)>,
}

fn functions(template: &Value) -> Vec<Function> {
    let mut global = BTreeMap::new();
    if let Some(vars) = template["Globals"]["Function"]["Environment"]["Variables"].as_mapping() {
        for (k, v) in vars {
            global.insert(k.as_str().unwrap().to_owned(), literal(v));
        }
    }
    let mut out = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let mut env = global.clone();
        if let Some(vars) = resource["Properties"]["Environment"]["Variables"].as_mapping() {
            for (k, v) in vars {
                env.insert(k.as_str().unwrap().to_owned(), literal(v));
            }
        }
        let mut routes = Vec::new();
        if let Some(events) = resource["Properties"]["Events"].as_mapping() {
            for event in events.values().filter(|e| e["Type"].as_str() == Some("HttpApi")) {
                let props = &event["Properties"];
                routes.push((props["Method"].as_str().unwrap().to_owned(), props["Path"].as_str().unwrap().to_owned()));
            }
        }
        out.push(Function {
            resource: name.as_str().unwrap().to_owned(),
            binary: resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .expect("BuildProperties.Binary")
                .to_owned(),
            env,
            routes,
        });
    }
    out
}

/// The `[[bin]]` names of every crate under functions/ that is a Lambda function.
fn function_binaries() -> BTreeMap<String, String> {
    let mut binaries = BTreeMap::new();
    for entry in std::fs::read_dir(workspace_root().join("functions")).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        if let Some(section) = manifest.split("[[bin]]").nth(1) {
            let name =
                section.lines().find_map(|l| l.trim().strip_prefix("name = ")).unwrap().trim_matches('"').to_owned();
            binaries.insert(name, dir.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    binaries
}

/// Sample values for what the template only knows at deploy time.
fn sample(name: &str) -> String {
    match name {
        "TABLE_NAME" => "profile-link".into(),
        "PUBLIC_BASE_URL" => "https://link.example.com".into(),
        "PORTAL_URL" => "https://portal.example.com".into(),
        "SUPPORT_EMAIL" => "help@example.com".into(),
        "MAIL_FROM" => "no-reply@example.com".into(),
        "PROVIDER_SECRETS_PATH" => "/profile-link/providers/".into(),
        "PORTAL_SECRETS_PATH" => "/profile-link/portals/".into(),
        "LOGO_URL" => "https://cdn.example.com/logo.svg".into(),
        "ACCENT_COLOR" => "#1f5fbf".into(),
        // Behind CloudFront, as docs/operating.md sets it up.
        "CLIENT_ADDRESS_HEADER" => "CloudFront-Viewer-Address".into(),
        "CLIENT_ADDRESS_PROXIES" => "1".into(),
        "PROXY_ORIGIN_SECRET" => "5ad1e0c3a9f24b7e8c6d0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e".into(),
        n if n.starts_with("RATE_LIMIT_") || n.ends_with("_SECONDS") => "3600".into(),
        "RUST_LOG" => "info".into(),
        "SEND_EMAILS_INVOCATIONS" => "2".into(),
        "CONCURRENT_SENDS" => "10".into(),
        "SES_FALLBACK_SEND_RATE" => "14".into(),
        _ => "sample".into(),
    }
}

/// A provider list as an operator would keep in SSM (its secret inline here: no SSM in this test).
const SAMPLE_PROVIDERS: &str = r#"[{"id": "entra", "label": "Microsoft", "issuer": "http://127.0.0.1:1/organizations/v2.0",
  "issuer_policy": {"kind": "entra", "accounts": "work"}, "client_id": "sample", "client_auth": "client_secret_post",
  "client_secret": "sample-secret", "reauthentication": {"request": "prompt_login", "proof": "auth_time"}}]"#;

/// A client list as an operator would keep in SSM (the secret inline here: no SSM in this test).
const SAMPLE_PORTALS: &str = r#"[{"id": "portal", "name": "Portal", "redirect_uris": ["https://portal.example.com/cb"],
  "client_secret": "sample-secret-0123456789"}]"#;

/// The environment Lambda would give the function, with secrets inline instead of in SSM.
fn lambda_env(function: &Function) -> Env {
    let mut env = Env::default();
    for (name, value) in &function.env {
        match name.strip_suffix("_SSM_PARAMETER") {
            Some("SESSION_SIGNING_KEY") => {
                env.set("SESSION_SIGNING_KEY", profile_link_core::SessionKeys::generate_pem())
            }
            Some("SESSION_PUBLIC_KEYS") => {
                let keys = SessionKeys::from_pem("https://link.example.com", &SessionKeys::generate_pem()).unwrap();
                env.set("SESSION_PUBLIC_KEYS", serde_json::to_string(keys.jwks()).unwrap())
            }
            Some("PROVIDERS") => env.set("PROVIDERS", SAMPLE_PROVIDERS),
            Some("PORTAL_CLIENTS") => env.set("PORTAL_CLIENTS", SAMPLE_PORTALS),
            Some(secret) => env.set(secret, "sample-secret"),
            None => env.set(name, value.clone().unwrap_or_else(|| sample(name))),
        }
    }
    env
}

/// Names a function read that the template does not set. A secret `X` counts
/// as set when the template sets any of `X`, `X_FILE`, `X_SSM_PARAMETER`.
fn unset_reads(function: &Function, read: &BTreeSet<String>) -> Vec<String> {
    let set = |name: &str| function.env.contains_key(name);
    read.iter()
        .filter(|name| {
            let base = name.trim_end_matches("_SSM_PARAMETER").trim_end_matches("_FILE");
            !(set(name) || set(base) || set(&format!("{base}_FILE")) || set(&format!("{base}_SSM_PARAMETER")))
        })
        .cloned()
        .collect()
}

async fn sdk() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .build()
}

#[test]
fn every_function_crate_has_a_resource_and_every_resource_a_crate() {
    let template = template();
    let declared: BTreeSet<String> = functions(&template).into_iter().map(|f| f.binary).collect();
    let crates: BTreeSet<String> = function_binaries().into_keys().collect();
    assert_eq!(declared, crates, "template.yaml's functions and the crates under functions/ must match");
    assert!(crates.len() >= 4, "saw {crates:?}");
}

/// A function started as Lambda would start it from the template's
/// environment: what it read, and its router if it serves HTTP.
struct Started {
    env: Env,
    router: Option<axum::Router>,
}

async fn start(function: &Function) -> Started {
    try_start(function, lambda_env(function)).await.unwrap_or_else(|error| panic!("{}: {error}", function.resource))
}

/// Starts a function from `env`, or says why its cold start failed.
async fn try_start(function: &Function, env: Env) -> Result<Started, String> {
    profile_link_core::telemetry::init(&env).map_err(|e| e.to_string())?;
    let sdk = sdk().await;
    let router: Option<axum::Router> = match function.binary.as_str() {
        "login" => Some(profile_link_login::router(Arc::new(
            profile_link_login::LoginApp::from_env(&env, &sdk).await.map_err(|e| e.to_string())?,
        ))),
        "request-association" => Some(profile_link_request_association::router(Arc::new(
            profile_link_request_association::AssociationApp::from_env(&env, &sdk).await.map_err(|e| e.to_string())?,
        ))),
        "redeem-link" => Some(profile_link_redeem_link::router(Arc::new(
            profile_link_redeem_link::RedeemApp::from_env(&env, &sdk).await.map_err(|e| e.to_string())?,
        ))),
        "authorize" => Some(profile_link_authorize::router(Arc::new(
            profile_link_authorize::AuthorizeApp::from_env(&env, &sdk).await.map_err(|e| e.to_string())?,
        ))),
        "token" => Some(profile_link_token::router(Arc::new(
            profile_link_token::TokenApp::from_env(&env, &sdk).await.map_err(|e| e.to_string())?,
        ))),
        "send-emails" => {
            profile_link_send_emails::SendEmailsApp::from_env(&env, &sdk).await.map_err(|e| e.to_string())?;
            None
        }
        "notify-portals" => {
            profile_link_notify_portals::NotifyPortalsApp::from_env(&env, &sdk).await.map_err(|e| e.to_string())?;
            None
        }
        "ses-events" => {
            profile_link_ses_events::SesEventsApp::from_env(&env, &sdk).map_err(|e| e.to_string())?;
            None
        }
        other => panic!("{} names binary {other}, which no test here knows how to build", function.resource),
    };
    Ok(Started { env, router })
}

/// Held by the tests that send requests through a router: metrics go to one
/// process-wide sink, and a test that captures them must see only its own.
static METRICS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn every_route_reaches_its_function_and_every_read_variable_is_set() {
    let _metrics = METRICS.lock().await;
    let template = template();
    for function in functions(&template) {
        let Started { env, router } = start(&function).await;
        let unset = unset_reads(&function, &env.names_read());
        assert!(unset.is_empty(), "{} reads {unset:?}, which template.yaml does not set", function.resource);

        match router {
            None => assert!(function.routes.is_empty(), "{} has no HTTP handler but routes", function.resource),
            Some(router) => {
                assert!(!function.routes.is_empty(), "{} serves HTTP but has no routes", function.resource);
                for (method, path) in &function.routes {
                    let request = http::Request::builder()
                        .method(method.as_str())
                        .uri(path)
                        .body(axum::body::Body::empty())
                        .unwrap();
                    let status = router.clone().oneshot(request).await.unwrap().status();
                    assert!(
                        status != http::StatusCode::NOT_FOUND && status != http::StatusCode::METHOD_NOT_ALLOWED,
                        "{method} {path} is routed to {} in template.yaml, which has no such handler ({status})",
                        function.resource
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_route_to_the_wrong_function_would_be_caught() {
    // The check above must be able to fail: the login function has no /associate.
    let _metrics = METRICS.lock().await;
    let template = template();
    let login = functions(&template).into_iter().find(|f| f.binary == "login").unwrap();
    let env = lambda_env(&login);
    let app = profile_link_login::LoginApp::from_env(&env, &sdk().await).await.unwrap();
    let request = http::Request::builder().method("POST").uri("/associate").body(axum::body::Body::empty()).unwrap();
    let status = profile_link_login::router(Arc::new(app)).oneshot(request).await.unwrap().status();
    assert_eq!(status, http::StatusCode::NOT_FOUND);
    let mut without = Function { resource: "X".into(), binary: "x".into(), env: BTreeMap::new(), routes: vec![] };
    without.env.insert("TABLE_NAME".into(), None);
    assert_eq!(unset_reads(&without, &BTreeSet::from(["TABLE_NAME".into(), "PORTAL_URL".into()])), ["PORTAL_URL"]);
}

/// What each function may do, and to what: the one table to edit when a
/// function's calls change. A row is (action, resource, partitions): the
/// resource as the template names it (`Table`, `Table/index/gsi1`, an SSM
/// `parameter${…}`, …) and, for DynamoDB, every `dynamodb:LeadingKeys`
/// prefix the action may reach (on an index, that is the index's partition
/// key). template.yaml must grant exactly this: an action, resource or
/// partition that is not here fails the test, and so does one that is here
/// but not granted.
/// Signed-out sessions' partitions, as the store names them (`SESSION#<sid>`).
const ENDED_SESSION: &str = "SESSION#*";

const GRANTS: &[(&str, &[(&str, &str, &[&str])])] = &[
    (
        "LoginFunction",
        &[
            ("dynamodb:PutItem", "Table", &["LOGIN#*", ENDED_SESSION, "LOGOUT#*"]),
            ("dynamodb:UpdateItem", "Table", &["LOGIN#*", "RATE#*", "IDENTITY#*"]),
            ("dynamodb:Query", "Table", &["IDENTITY#*"]),
            ("dynamodb:GetItem", "Table", &[ENDED_SESSION]),
            ("ssm:GetParameters", "parameter${ProvidersParameter}", &[]),
            ("ssm:GetParameters", "parameter${ProviderSecretsPath}*", &[]),
            ("ssm:GetParameters", "parameter${SessionSigningKeyParameter}", &[]),
            ("kms:Decrypt", "alias/aws/ssm", &[]),
        ],
    ),
    (
        "RequestAssociationFunction",
        &[
            ("dynamodb:Query", "Table/index/gsi1", &["EMAIL#*"]),
            ("dynamodb:Query", "Table", &["IDENTITY#*"]),
            ("dynamodb:GetItem", "Table", &[ENDED_SESSION]),
            ("dynamodb:UpdateItem", "Table", &["RATE#*"]),
            ("dynamodb:PutItem", "Table", &["LINK#*", "IDENTITY#*", "AUDIT#*"]),
            ("ssm:GetParameters", "parameter${SessionPublicKeysParameter}", &[]),
        ],
    ),
    (
        "AuthorizeFunction",
        &[
            ("dynamodb:Query", "Table", &["IDENTITY#*"]),
            ("dynamodb:GetItem", "Table", &[ENDED_SESSION]),
            // Never an identity's items: the code and what its portal was told, the ended session and its logout event.
            ("dynamodb:PutItem", "Table", &["CODE#*", ENDED_SESSION, "PORTALS#*", "LOGOUT#*"]),
            ("ssm:GetParameters", "parameter${SessionPublicKeysParameter}", &[]),
            ("ssm:GetParameters", "parameter${PortalClientsParameter}", &[]),
        ],
    ),
    (
        "TokenFunction",
        &[
            ("dynamodb:UpdateItem", "Table", &["CODE#*"]),
            ("dynamodb:GetItem", "Table", &["CODE#*", ENDED_SESSION]),
            ("dynamodb:Query", "Table", &["IDENTITY#*"]),
            ("ssm:GetParameters", "parameter${SessionSigningKeyParameter}", &[]),
            ("ssm:GetParameters", "parameter${PortalClientsParameter}", &[]),
            ("ssm:GetParameters", "parameter${PortalSecretsPath}*", &[]),
            ("kms:Decrypt", "alias/aws/ssm", &[]),
        ],
    ),
    (
        "RedeemLinkFunction",
        &[
            ("dynamodb:GetItem", "Table", &["LINK#*", "OWNER#*", ENDED_SESSION]),
            ("dynamodb:UpdateItem", "Table", &["LINK#*", "RATE#*"]),
            ("dynamodb:PutItem", "Table", &["LINK#*", "IDENTITY#*", "OWNER#*", "AUDIT#*", "NOTICE#*", "LOGOUT#*"]),
            ("dynamodb:DeleteItem", "Table", &["IDENTITY#*", "OWNER#*"]),
            ("dynamodb:ConditionCheckItem", "Table", &["PROFILE#*", "IDENTITY#*"]),
            ("dynamodb:Query", "Table", &["IDENTITY#*"]),
            ("ssm:GetParameters", "parameter${SessionSigningKeyParameter}", &[]),
            ("kms:Decrypt", "alias/aws/ssm", &[]),
        ],
    ),
    (
        "SendEmailsFunction",
        &[
            ("dynamodb:UpdateItem", "Table", &["LINK#*", "NOTICE#*", "IDENTITY#*"]),
            ("dynamodb:Query", "Table/index/gsi1", &["MAIL#DUE"]),
            ("dynamodb:PutItem", "Table", &["AUDIT#*"]),
            ("dynamodb:ConditionCheckItem", "Table", &["IDENTITY#*", "SUPPRESSED#*"]),
            ("ses:SendEmail", "identity/${MailFromIdentity}", &[]),
            ("ses:SendEmail", "configuration-set/${MailConfigurationSet}", &[]),
            ("ses:GetAccount", "*", &[]),
            ("sqs:SendMessage", "SendEmailsDeadLetters", &[]),
        ],
    ),
    (
        "NotifyPortalsFunction",
        &[
            ("dynamodb:Query", "Table", &["PORTALS#*", "LOGOUT#*"]),
            ("dynamodb:Query", "Table/index/gsi1", &["LOGOUT#DUE"]),
            ("dynamodb:PutItem", "Table", &["LOGOUT#*", "AUDIT#*"]),
            ("dynamodb:UpdateItem", "Table", &["LOGOUT#*"]),
            ("ssm:GetParameters", "parameter${SessionSigningKeyParameter}", &[]),
            ("ssm:GetParameters", "parameter${PortalClientsParameter}", &[]),
            ("kms:Decrypt", "alias/aws/ssm", &[]),
            ("sqs:SendMessage", "NotifyPortalsDeadLetters", &[]),
        ],
    ),
    (
        "SesEventsFunction",
        &[
            ("dynamodb:PutItem", "Table", &["SUPPRESSED#*", "AUDIT#*"]),
            ("dynamodb:UpdateItem", "Table", &["LINK#*", "NOTICE#*"]),
        ],
    ),
];

/// One thing a policy allows: (function, action, resource, partition prefix or "").
type Grant = (String, String, String, String);

/// Stands for "any partition": a DynamoDB grant without a LeadingKeys condition.
const EVERY_PARTITION: &str = "<every partition: no dynamodb:LeadingKeys>";

fn expected_grants() -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for (function, rows) in GRANTS {
        for (action, resource, prefixes) in *rows {
            let grant = |p: &str| (function.to_string(), action.to_string(), resource.to_string(), p.to_owned());
            if action.starts_with("dynamodb:") {
                out.extend(prefixes.iter().map(|p| grant(p)));
            } else {
                assert!(prefixes.is_empty(), "{function} {action}: partitions only apply to DynamoDB");
                out.insert(grant(""));
            }
        }
    }
    out
}

/// A resource as the table names it: `!GetAtt X.Arn` is `X`; in `!Sub` ARNs the
/// partition, region and account are dropped (`parameter${…}`, `alias/aws/ssm`).
fn resource_name(value: &Value) -> String {
    let text = match value {
        Value::Tagged(tagged) => tagged.value.as_str().unwrap_or_else(|| panic!("resource {value:?}")).to_owned(),
        other => other.as_str().unwrap_or_else(|| panic!("resource {other:?}")).to_owned(),
    };
    let text = text.replace("${Table.Arn}", "Table").trim_end_matches(".Arn").to_owned();
    match text.strip_prefix("arn:") {
        Some(arn) => {
            let arn =
                arn.replace("${AWS::Partition}", "P").replace("${AWS::Region}", "R").replace("${AWS::AccountId}", "A");
            arn.splitn(5, ':').nth(4).unwrap_or_else(|| panic!("ARN {text}")).to_owned()
        }
        None => text,
    }
}

fn one_or_many(value: &Value) -> Vec<Value> {
    match value {
        Value::Sequence(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// The LeadingKeys prefixes a DynamoDB statement is limited to. Only
/// `ForAllValues:StringLike` limits every key a request touches (`ForAnyValue`
/// would let one matching key carry others), so any other condition fails.
fn leading_keys(function: &str, statement: &Value) -> Vec<String> {
    let Some(condition) = statement.get("Condition") else { return vec![EVERY_PARTITION.to_owned()] };
    let condition = condition.as_mapping().unwrap();
    let operators: Vec<&str> = condition.keys().filter_map(Value::as_str).collect();
    assert_eq!(
        operators,
        ["ForAllValues:StringLike"],
        "{function}: a DynamoDB condition must be ForAllValues:StringLike"
    );
    let keys = condition["ForAllValues:StringLike"].as_mapping().unwrap();
    let names: Vec<&str> = keys.keys().filter_map(Value::as_str).collect();
    assert_eq!(names, ["dynamodb:LeadingKeys"], "{function}: only dynamodb:LeadingKeys");
    one_or_many(&keys["dynamodb:LeadingKeys"]).iter().map(|p| p.as_str().unwrap().to_owned()).collect()
}

/// Everything the template's policies allow each function.
fn granted(template: &Value) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for function in functions(template) {
        let resource = &template["Resources"][function.resource.as_str()];
        for policy in resource["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            // SAM policy templates and managed policies grant more than they say here.
            let statements = policy
                .get("Statement")
                .and_then(Value::as_sequence)
                .unwrap_or_else(|| panic!("{}: only inline Statement policies, not {policy:?}", function.resource));
            for statement in statements {
                assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{}", function.resource);
                let resources: Vec<String> = one_or_many(&statement["Resource"]).iter().map(resource_name).collect();
                for action in one_or_many(&statement["Action"]) {
                    let action = action.as_str().unwrap().to_owned();
                    let prefixes = if action.starts_with("dynamodb:") {
                        leading_keys(&function.resource, statement)
                    } else {
                        vec![String::new()]
                    };
                    for resource in &resources {
                        for prefix in &prefixes {
                            out.insert((function.resource.clone(), action.clone(), resource.clone(), prefix.clone()));
                        }
                    }
                }
            }
        }
    }
    out
}

fn differences(expected: &BTreeSet<Grant>, granted: &BTreeSet<Grant>) -> (Vec<Grant>, Vec<Grant>) {
    (granted.difference(expected).cloned().collect(), expected.difference(granted).cloned().collect())
}

#[test]
fn each_function_is_granted_exactly_what_the_grants_table_lists() {
    let template = template();
    let listed: BTreeSet<&str> = GRANTS.iter().map(|(f, _)| *f).collect();
    let declared: BTreeSet<String> = functions(&template).into_iter().map(|f| f.resource).collect();
    assert_eq!(declared.iter().map(String::as_str).collect::<BTreeSet<_>>(), listed, "every function has a row");
    let (extra, missing) = differences(&expected_grants(), &granted(&template));
    assert!(extra.is_empty(), "template.yaml grants what GRANTS does not list: {extra:#?}");
    assert!(missing.is_empty(), "GRANTS lists what template.yaml does not grant: {missing:#?}");
}

#[test]
fn authorize_may_write_no_identity_item_and_ended_sessions_are_where_the_store_puts_them() {
    // authorize holds only public keys: it writes codes, what each portal was
    // told (for back-channel logout), the sessions a portal signed out and
    // their logout events, never an identity's associations or session generation.
    let writes: Vec<Grant> = granted(&template())
        .into_iter()
        .filter(|(function, action, _, _)| {
            function == "AuthorizeFunction"
                && ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"].contains(&action.as_str())
        })
        .collect();
    assert!(!writes.is_empty(), "authorize writes codes");
    assert!(
        writes
            .iter()
            .all(|(_, _, _, prefix)| ["CODE#*", ENDED_SESSION, "PORTALS#*", "LOGOUT#*"].contains(&prefix.as_str())),
        "authorize's writes reach further than codes, portal sessions, ended sessions and logout events: {writes:#?}"
    );
    assert_eq!(format!("{}*", profile_link_core::store::sessions::ENDED_SESSION_PREFIX), ENDED_SESSION);
}

#[test]
fn a_wider_grant_would_be_caught() {
    // The check above must be able to fail: redeem-link writing profile records,
    // request-association querying the index unscoped, and a private key's parameter.
    let mut template = template();
    let wider: Value = serde_yaml_ng::from_str(
        r#"
        - Statement:
            - Effect: Allow
              Action: [dynamodb:PutItem]
              Resource: !GetAtt Table.Arn
              Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["PROFILE#*"] } }
            - Effect: Allow
              Action: [dynamodb:Query]
              Resource: !Sub "${Table.Arn}/index/gsi1"
            - Effect: Allow
              Action: [ssm:GetParameters]
              Resource: !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SessionSigningKeyParameter}"
        "#,
    )
    .unwrap();
    let policies = template["Resources"]["RedeemLinkFunction"]["Properties"]["Policies"].as_sequence_mut().unwrap();
    policies.extend(wider.as_sequence().unwrap().iter().cloned());
    let (extra, _) = differences(&expected_grants(), &granted(&template));
    let redeem = |action: &str, resource: &str, prefix: &str| {
        ("RedeemLinkFunction".to_owned(), action.to_owned(), resource.to_owned(), prefix.to_owned())
    };
    assert_eq!(
        extra,
        [
            redeem("dynamodb:PutItem", "Table", "PROFILE#*"),
            redeem("dynamodb:Query", "Table/index/gsi1", EVERY_PARTITION),
        ]
    );
}

#[test]
fn each_function_may_read_exactly_the_ssm_parameters_it_is_told_to_read() {
    // The parameter a function's `*_SSM_PARAMETER` variable names is the one it may read, and
    // the path `PROVIDER_SECRETS_PATH` names is the path (the providers' secrets), and no other.
    let template = template();
    for function in functions(&template) {
        let resource = &template["Resources"][function.resource.as_str()];
        let told: BTreeSet<String> = resource["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(name, value)| {
                let name = name.as_str()?;
                let wildcard = match name {
                    n if n.ends_with("_SSM_PARAMETER") => "",
                    "PROVIDER_SECRETS_PATH" | "PORTAL_SECRETS_PATH" => "*",
                    _ => return None,
                };
                Some(match value {
                    Value::Tagged(tagged) => format!("parameter${{{}}}{wildcard}", tagged.value.as_str().unwrap()),
                    other => panic!("{}: an SSM parameter by !Ref, not {other:?}", function.resource),
                })
            })
            .collect();
        let may: BTreeSet<String> = granted(&template)
            .into_iter()
            .filter(|(f, action, _, _)| *f == function.resource && action == "ssm:GetParameters")
            .map(|(_, _, resource, _)| resource)
            .collect();
        assert_eq!(told, may, "{}", function.resource);
    }
    let association = functions(&template).into_iter().find(|f| f.binary == "request-association").unwrap();
    assert!(
        association.env.keys().all(|name| !name.starts_with("SESSION_SIGNING_KEY")),
        "request-association only verifies sessions: it gets the public keys, never the signing key"
    );
    let authorize = functions(&template).into_iter().find(|f| f.binary == "authorize").unwrap();
    assert!(
        authorize.env.keys().all(|name| !name.starts_with("SESSION_SIGNING_KEY")),
        "authorize only verifies sessions and hints: it gets the public keys, never the signing key"
    );
}

/// The route groups of docs/capacity.md ("Route limits"): each route named
/// here is throttled by its group's parameter; every other route the API
/// serves by `OtherRoutesRateLimit`, the default route settings'.
const ROUTE_LIMITS: &[(&str, &str)] = &[
    ("GET /login", "SignInRoutesRateLimit"),
    ("GET /login/callback/{provider}", "SignInRoutesRateLimit"),
    ("POST /login/callback/{provider}", "SignInRoutesRateLimit"),
    ("POST /associate", "LinkRoutesRateLimit"),
    ("POST /redeem", "LinkRoutesRateLimit"),
    ("POST /redeem/resend", "LinkRoutesRateLimit"),
    ("POST /not-me", "LinkRoutesRateLimit"),
    ("GET /authorize", "PortalRoutesRateLimit"),
    ("POST /authorize", "PortalRoutesRateLimit"),
    ("POST /token", "PortalRoutesRateLimit"),
];
const OTHER_ROUTES_LIMIT: &str = "OtherRoutesRateLimit";

/// The parameter a throttle's burst and rate both come from (`!Ref`), or what is wrong with it.
fn limit_parameter(settings: &Value) -> Result<String, String> {
    let of = |key: &str| match &settings[key] {
        Value::Tagged(tagged) if tagged.tag == "Ref" => Ok(tagged.value.as_str().unwrap_or_default().to_owned()),
        other => Err(format!("{key} is {other:?}, not a limit parameter")),
    };
    let (burst, rate) = (of("ThrottlingBurstLimit")?, of("ThrottlingRateLimit")?);
    if burst != rate {
        return Err(format!("burst from {burst} but rate from {rate}"));
    }
    Ok(rate)
}

/// Everything wrong with the API's route throttles: a route whose limit is no
/// parameter, a setting for a route nobody serves, a route in another group
/// than [`ROUTE_LIMITS`] says, a limit parameter without its arithmetic.
fn route_limit_problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let api = &template["Resources"]["HttpApi"]["Properties"];
    let served: BTreeSet<String> =
        functions(template).iter().flat_map(|f| f.routes.iter().map(|(m, p)| format!("{m} {p}"))).collect();
    let mut parameters = BTreeSet::new();
    match limit_parameter(&api["DefaultRouteSettings"]) {
        Ok(name) if name == OTHER_ROUTES_LIMIT => {
            parameters.insert(name);
        }
        Ok(name) => problems.push(format!("DefaultRouteSettings come from {name}, not {OTHER_ROUTES_LIMIT}")),
        Err(problem) => problems.push(format!("DefaultRouteSettings: {problem}")),
    }
    let mut set = BTreeMap::new();
    for (key, settings) in api["RouteSettings"].as_mapping().into_iter().flatten() {
        let key = key.as_str().unwrap().to_owned();
        // A setting for a route the API lacks fails the deployment.
        if !served.contains(&key) {
            problems.push(format!("RouteSettings names {key}, which no function serves"));
        }
        match limit_parameter(settings) {
            Ok(name) => {
                parameters.insert(name.clone());
                set.insert(key, name);
            }
            Err(problem) => problems.push(format!("{key}: {problem}")),
        }
    }
    for (route, group) in ROUTE_LIMITS {
        match set.get(*route) {
            Some(name) if name == group => {}
            Some(name) => problems.push(format!("{route} is limited by {name}, not its group's {group}")),
            None => problems.push(format!("{route} has no RouteSettings of its own (its group is {group})")),
        }
    }
    for (route, name) in &set {
        if !ROUTE_LIMITS.iter().any(|(r, _)| r == route) {
            problems.push(format!("{route} has its own limit ({name}) but no group in ROUTE_LIMITS"));
        }
    }
    for name in parameters {
        let parameter = &template["Parameters"][name.as_str()];
        let description = parameter["Description"].as_str().unwrap_or_default();
        if parameter["Type"].as_str() != Some("Number") || parameter["MinValue"].as_i64() != Some(1) {
            problems.push(format!("{name} is not a Number parameter of at least 1"));
        }
        if !(description.contains("people an hour") && description.contains("/ 3,600 s")) {
            problems.push(format!("{name}'s Description does not give its arithmetic: {description:?}"));
        }
    }
    problems
}

#[test]
fn every_route_is_throttled_by_a_campaign_parameter_with_its_arithmetic() {
    assert_eq!(route_limit_problems(&template()), Vec::<String>::new());
}

#[test]
fn a_route_limit_without_a_parameter_would_be_caught() {
    let mut template = template();
    let settings = template["Resources"]["HttpApi"]["Properties"]["RouteSettings"].as_mapping_mut().unwrap();
    settings.insert(
        Value::from("GET /login"),
        serde_yaml_ng::from_str("{ ThrottlingBurstLimit: 40, ThrottlingRateLimit: 20 }").unwrap(),
    );
    settings.insert(
        Value::from("GET /me"),
        serde_yaml_ng::from_str(
            "{ ThrottlingBurstLimit: !Ref LinkRoutesRateLimit, ThrottlingRateLimit: !Ref LinkRoutesRateLimit }",
        )
        .unwrap(),
    );
    settings.remove("POST /token");
    let problems = route_limit_problems(&template);
    let expected = [
        "GET /login: ThrottlingBurstLimit is Number(40), not a limit parameter",
        "GET /login has no RouteSettings of its own (its group is SignInRoutesRateLimit)",
        "POST /token has no RouteSettings of its own (its group is PortalRoutesRateLimit)",
        "GET /me has its own limit (LinkRoutesRateLimit) but no group in ROUTE_LIMITS",
    ];
    for problem in expected {
        assert!(problems.iter().any(|p| p == problem), "{problem:?} not among {problems:#?}");
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

#[test]
fn with_its_own_domain_the_api_is_reachable_only_there() {
    let template = template();
    let condition = "UseCustomDomain";
    assert!(template["Conditions"].get(condition).is_some());
    // `!If [UseCustomDomain, true, false]`: off exactly when the stack maps PublicBaseUrl's host.
    let Value::Tagged(disable) = &template["Resources"]["HttpApi"]["Properties"]["DisableExecuteApiEndpoint"] else {
        panic!("HttpApi DisableExecuteApiEndpoint must be conditional")
    };
    assert_eq!(disable.tag, "If");
    let branches = disable.value.as_sequence().unwrap();
    assert_eq!(branches.as_slice(), [Value::from(condition), Value::from(true), Value::from(false)]);
    for resource in ["CustomDomain", "CustomDomainMapping"] {
        assert_eq!(template["Resources"][resource]["Condition"].as_str(), Some(condition), "{resource}");
    }
    let domain = &template["Resources"]["CustomDomain"]["Properties"];
    assert!(format!("{:?}", domain["DomainName"]).contains("PublicBaseUrl"), "the domain is PublicBaseUrl's host");
    assert_eq!(template["Resources"]["CustomDomainMapping"]["Properties"]["ApiId"], template_ref("HttpApi"));
}

fn template_ref(name: &str) -> Value {
    serde_yaml_ng::from_str(&format!("!Ref {name}")).unwrap()
}

// ---------------------------------------------------------------------------
// Alarms, dashboard, logs: what customers feel, and where the runbook is.

/// A template value as text: a literal as itself, `!Ref X` as `${X}`,
/// `!GetAtt X.Y` as `${X.Y}`, `!Sub "…"` as its string: the dashboard's
/// `!Sub` body names things the same way, so the two compare as text.
fn expression(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => {
            let inner = tagged.value.as_str().unwrap_or_else(|| panic!("expression {value:?}"));
            if tagged.tag == "Ref" || tagged.tag == "GetAtt" {
                format!("${{{inner}}}")
            } else if tagged.tag == "Sub" {
                inner.to_owned()
            } else {
                panic!("unexpected !{} in {value:?}", tagged.tag)
            }
        }
        other => literal(other).unwrap_or_else(|| panic!("expression {other:?}")),
    }
}

/// What an alarm or a dashboard line watches: namespace, metric, dimensions.
type Watched = (String, String, BTreeMap<String, String>);

/// Every CloudWatch alarm: logical id → its properties.
fn alarms(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|(name, resource)| (name.as_str().unwrap().to_owned(), resource.clone()))
        .collect()
}

fn watched_by_alarm(alarm: &Value) -> Watched {
    let props = &alarm["Properties"];
    let dimensions = props["Dimensions"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|d| (d["Name"].as_str().unwrap().to_owned(), expression(&d["Value"])))
        .collect();
    (expression(&props["Namespace"]), props["MetricName"].as_str().unwrap().to_owned(), dimensions)
}

/// The alarms watching exactly this metric under exactly these dimensions.
fn alarms_on(template: &Value, watched: &Watched) -> Vec<String> {
    alarms(template).into_iter().filter(|(_, alarm)| watched_by_alarm(alarm) == *watched).map(|(id, _)| id).collect()
}

fn custom(metric: &str, dimensions: &[(&str, &str)]) -> Watched {
    let dimensions = dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ("${MetricsNamespace}".to_owned(), metric.to_owned(), dimensions)
}

/// The dimensions and metric names of captured EMF lines.
fn emitted(lines: &[serde_json::Value]) -> Vec<(BTreeMap<String, String>, Vec<String>)> {
    lines
        .iter()
        .map(|line| {
            let directive = &line["_aws"]["CloudWatchMetrics"][0];
            let dimensions = directive["Dimensions"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|name| name.as_str().unwrap().to_owned())
                .map(|name| {
                    let value = line[name.as_str()].as_str().unwrap().to_owned();
                    (name, value)
                })
                .collect();
            let metrics =
                directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap().to_owned());
            (dimensions, metrics.collect())
        })
        .collect()
}

#[tokio::test]
async fn every_http_function_has_a_5xx_alarm_on_the_metric_it_emits() {
    // The alarm's dimensions are learnt from what each function really emits
    // for a request (its `Function` name, the `Outcome` dimension), not typed twice.
    let _metrics = METRICS.lock().await;
    let template = template();
    let mut alarmed = BTreeSet::new();
    for function in functions(&template) {
        let Started { router: Some(router), .. } = start(&function).await else { continue };
        let captured = profile_link_core::metrics::capture("template-test");
        let (method, path) = &function.routes[0];
        let request =
            http::Request::builder().method(method.as_str()).uri(path).body(axum::body::Body::empty()).unwrap();
        router.oneshot(request).await.unwrap();
        let lines = emitted(&captured.take());
        let requests: Vec<&BTreeMap<String, String>> =
            lines.iter().filter(|(_, metrics)| metrics.contains(&"Requests".to_owned())).map(|(d, _)| d).collect();
        assert_eq!(requests.len(), 1, "{}: one Requests line per request, saw {lines:?}", function.resource);
        let mut dimensions = requests[0].clone();
        let names: Vec<&str> = dimensions.keys().map(String::as_str).collect();
        assert_eq!(names, ["Function", "Outcome"], "{}: the alarm below assumes these dimensions", function.resource);
        dimensions.insert("Outcome".into(), "5xx".into());
        let watched = ("${MetricsNamespace}".to_owned(), "Requests".to_owned(), dimensions);
        let ids = alarms_on(&template, &watched);
        assert_eq!(ids.len(), 1, "{}: exactly one alarm on {watched:?}, saw {ids:?}", function.resource);
        let props = &template["Resources"][ids[0].as_str()]["Properties"];
        assert_eq!(props["Statistic"].as_str(), Some("Sum"), "{}", ids[0]);
        assert_eq!(props["Period"].as_u64(), Some(300), "{}", ids[0]);
        assert_eq!(props["Threshold"], template_ref("ServerErrorsAlarmThreshold"), "{}", ids[0]);
        assert_eq!(props["ComparisonOperator"].as_str(), Some("GreaterThanOrEqualToThreshold"), "{}", ids[0]);
        alarmed.insert(ids[0].clone());
    }
    assert_eq!(alarmed.len(), 5, "login, request-association, redeem-link, authorize, token: {alarmed:?}");
}

#[tokio::test]
async fn failed_and_unconfirmed_emails_raise_alarms_on_the_metrics_send_emails_emits() {
    let _metrics = METRICS.lock().await;
    let template = template();
    let function = functions(&template).into_iter().find(|f| f.binary == "send-emails").unwrap();
    let app = profile_link_send_emails::SendEmailsApp::from_env(&lambda_env(&function), &sdk().await).await.unwrap();
    let captured = profile_link_core::metrics::capture("template-test");
    profile_link_send_emails::handle(&app, aws_lambda_events::dynamodb::Event::default(), "test").await;
    let lines = emitted(&captured.take());
    for metric in ["EmailsFailed", "EmailsUnconfirmed"] {
        let dimensions: Vec<_> =
            lines.iter().filter(|(_, metrics)| metrics.iter().any(|m| m == metric)).map(|(d, _)| d.clone()).collect();
        assert_eq!(dimensions.len(), 1, "{metric}: one line per invocation, saw {lines:?}");
        let watched = ("${MetricsNamespace}".to_owned(), metric.to_owned(), dimensions[0].clone());
        let ids = alarms_on(&template, &watched);
        assert_eq!(ids.len(), 1, "exactly one alarm on {watched:?}, saw {ids:?}");
        assert_eq!(template["Resources"][ids[0].as_str()]["Properties"]["Statistic"].as_str(), Some("Sum"));
    }
}

#[test]
fn every_dead_letter_queue_has_an_alarm() {
    let template = template();
    let queues: Vec<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::SQS::Queue"))
        .map(|(name, _)| name.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(queues.len(), 3, "send-emails', notify-portals' and ses-events' dead letters: {queues:?}");
    for queue in &queues {
        let dimensions = BTreeMap::from([("QueueName".to_owned(), format!("${{{queue}.QueueName}}"))]);
        let watched = ("AWS/SQS".to_owned(), "ApproximateNumberOfMessagesVisible".to_owned(), dimensions);
        let ids = alarms_on(&template, &watched);
        assert_eq!(ids.len(), 1, "{queue}: one alarm on its depth, saw {ids:?}");
        let props = &template["Resources"][ids[0].as_str()]["Properties"];
        assert_eq!(
            (props["Threshold"].as_u64(), props["ComparisonOperator"].as_str()),
            (Some(0), Some("GreaterThanThreshold"))
        );
    }
}

#[test]
fn ses_reputation_alarms_go_off_below_the_rates_aws_reviews_accounts_at() {
    // AWS places an account under review at a 5% bounce rate or a 0.1% complaint rate.
    let template = template();
    for (metric, review) in [("Reputation.BounceRate", 0.05), ("Reputation.ComplaintRate", 0.001)] {
        let watched = ("AWS/SES".to_owned(), metric.to_owned(), BTreeMap::new());
        let ids = alarms_on(&template, &watched);
        assert_eq!(ids.len(), 1, "{metric}: one account-level alarm, saw {ids:?}");
        let props = &template["Resources"][ids[0].as_str()]["Properties"];
        let threshold = props["Threshold"].as_f64().unwrap();
        assert!(threshold > 0.0 && threshold < review, "{metric} alarms at {threshold}, not below AWS's {review}");
        assert_eq!(props["ComparisonOperator"].as_str(), Some("GreaterThanOrEqualToThreshold"));
    }
}

/// docs/operating.md's `###` headings in the alarms section, by the anchor
/// GitHub gives them, with the text below each (up to the next heading).
fn runbook() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(workspace_root().join("docs/operating.md")).unwrap();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut entries = BTreeMap::new();
    let mut in_alarms = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        let heading = line.trim_start_matches('#');
        let level = line.len() - heading.len();
        if level > 0 && heading.starts_with(' ') {
            let slug = github_anchor(heading.trim(), &mut seen);
            if level == 2 {
                in_alarms = heading.trim() == "Alarms, the dashboard and the logs";
            }
            current = (in_alarms && level == 3).then(|| slug.clone());
            if let Some(slug) = &current {
                entries.insert(slug.clone(), String::new());
            }
        } else if let Some(slug) = &current {
            let body = entries.get_mut(slug).unwrap();
            body.push_str(line);
            body.push('\n');
        }
    }
    entries
}

/// GitHub's heading anchor: lower case, punctuation dropped, spaces as
/// hyphens, and `-1`, `-2` … for repeats.
fn github_anchor(heading: &str, seen: &mut BTreeMap<String, usize>) -> String {
    let slug: String = heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect();
    let n = seen.entry(slug.clone()).or_insert(0);
    let anchor = if *n == 0 { slug.clone() } else { format!("{slug}-{n}") };
    *n += 1;
    anchor
}

#[test]
fn every_alarm_notifies_the_chosen_topic_and_has_a_runbook_entry_that_names_it() {
    let template = template();
    let runbook = runbook();
    let actions: Value =
        serde_yaml_ng::from_str("[!If [HasAlarmTopicArn, !Ref AlarmTopicArn, !Ref AlarmTopic]]").unwrap();
    let alarms = alarms(&template);
    assert!(alarms.len() >= 30, "saw {}", alarms.len());
    for (id, alarm) in &alarms {
        assert_eq!(alarm["Condition"].as_str(), Some("NotifyAlarms"), "{id}: only when someone hears it");
        let props = &alarm["Properties"];
        assert_eq!(props["AlarmActions"], actions, "{id}");
        assert_eq!(props["OKActions"], actions, "{id}: a pager resolves the incident on recovery");
        assert_eq!(props["TreatMissingData"].as_str(), Some("notBreaching"), "{id}: no traffic is no trouble");
        let description = props["AlarmDescription"].as_str().unwrap();
        let anchor = description
            .split_once("Runbook: docs/operating.md#")
            .unwrap_or_else(|| panic!("{id}: its description names no runbook entry: {description}"))
            .1;
        let entry = runbook.get(anchor).unwrap_or_else(|| {
            panic!("{id}: docs/operating.md has no heading #{anchor} under \"Alarms, the dashboard and the logs\"")
        });
        assert!(entry.contains(id.as_str()), "{id}: its runbook entry #{anchor} does not name it");
        for part in ["What it means", "What customers feel", "First checks", "Resolve"] {
            assert!(entry.contains(part), "runbook entry #{anchor} lacks \"{part}\"");
        }
    }
}

#[test]
fn alarms_and_the_dashboard_exist_only_when_someone_hears_them_and_the_docs_say_what_they_cost() {
    let template = template();
    let conditions = &template["Conditions"];
    let parse = |yaml: &str| -> Value { serde_yaml_ng::from_str(yaml).unwrap() };
    assert_eq!(conditions["NotifyAlarms"], parse("!Or [!Condition HasAlarmEmail, !Condition HasAlarmTopicArn]"));
    assert_eq!(
        conditions["CreateAlarmTopic"],
        parse("!And [!Condition HasAlarmEmail, !Not [!Condition HasAlarmTopicArn]]"),
        "an existing topic wins over the email subscription"
    );
    assert_eq!(template["Resources"]["AlarmTopic"]["Condition"].as_str(), Some("CreateAlarmTopic"));
    assert_eq!(template["Resources"]["Dashboard"]["Condition"].as_str(), Some("NotifyAlarms"));
    let count = alarms(&template).len();
    let docs = std::fs::read_to_string(workspace_root().join("docs/operating.md")).unwrap();
    let cost = format!("{count} alarms (${:.2} a month", count as f64 * 0.10);
    assert!(docs.contains(&cost), "docs/operating.md must say \"{cost}\"");
}

#[test]
fn every_function_has_a_log_group_with_retention() {
    let template = template();
    let groups: BTreeMap<String, &Value> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Logs::LogGroup"))
        .map(|r| (expression(&r["Properties"]["LogGroupName"]), &r["Properties"]))
        .collect();
    for function in functions(&template) {
        let name = format!("/aws/lambda/${{{}}}", function.resource);
        let group = groups.get(&name).unwrap_or_else(|| panic!("{}: no log group {name}", function.resource));
        assert_eq!(group["RetentionInDays"], template_ref("LogRetentionDays"), "{name}");
    }
}

/// What an access log line may carry: none of these holds a query string,
/// a header or a client address.
const ACCESS_LOG_VARIABLES: &[&str] = &[
    "$context.requestId",
    "$context.requestTime",
    "$context.httpMethod",
    "$context.routeKey",
    "$context.path",
    "$context.status",
    "$context.responseLatency",
    "$context.responseLength",
    "$context.integrationStatus",
    "$context.integrationLatency",
    "$context.integrationErrorMessage",
    "$context.error.message",
];

/// The `$context.…` variables a format uses.
fn access_log_variables(format: &str) -> BTreeSet<String> {
    format
        .match_indices('$')
        .map(|(at, _)| {
            format[at..].chars().take_while(|c| c.is_alphanumeric() || matches!(c, '$' | '.' | '_')).collect::<String>()
        })
        .map(|v| v.trim_end_matches('.').to_owned())
        .collect()
}

#[test]
fn the_api_logs_every_request_without_its_query_string() {
    let template = template();
    let settings = &template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"];
    assert_eq!(expression(&settings["DestinationArn"]), "${HttpApiAccessLogs.Arn}");
    let group = &template["Resources"]["HttpApiAccessLogs"]["Properties"];
    assert_eq!(group["RetentionInDays"], template_ref("LogRetentionDays"));
    let format = settings["Format"].as_str().unwrap();
    let line: serde_json::Value = serde_json::from_str(format).expect("the format is one JSON object");
    assert!(line.as_object().unwrap().values().all(|v| v.is_string()), "quoted values keep a \"-\" valid JSON");
    let used = access_log_variables(format);
    let allowed: BTreeSet<String> = ACCESS_LOG_VARIABLES.iter().map(|v| v.to_string()).collect();
    let other: Vec<&String> = used.difference(&allowed).collect();
    assert!(other.is_empty(), "the access log uses {other:?}, which may carry a query string or a person");
    for needed in ["$context.requestId", "$context.routeKey", "$context.status", "$context.path"] {
        assert!(used.contains(needed), "the access log lacks {needed}");
    }
    // The check can fail: the full request line would carry a link's token.
    let leaky =
        access_log_variables(r#"{"q":"$context.requestOverride.querystring.token","ip":"$context.identity.sourceIp"}"#);
    assert_eq!(leaky.difference(&allowed).count(), 2, "{leaky:?}");
}

/// Everything a dashboard body's `metrics` lines name (expressions aside).
fn dashboard_metrics(body: &serde_json::Value) -> BTreeSet<Watched> {
    let mut out = BTreeSet::new();
    for widget in body["widgets"].as_array().unwrap() {
        for line in widget["properties"]["metrics"].as_array().into_iter().flatten() {
            let parts: Vec<&str> = line.as_array().unwrap().iter().filter_map(|p| p.as_str()).collect();
            if parts.len() < 2 {
                continue; // a metric-math expression
            }
            assert!(parts.len() % 2 == 0, "a metric line is namespace, metric, then name/value pairs: {line}");
            let dimensions = parts[2..].chunks(2).map(|pair| (pair[0].to_owned(), pair[1].to_owned())).collect();
            out.insert((parts[0].to_owned(), parts[1].to_owned(), dimensions));
        }
    }
    out
}

#[test]
fn the_dashboard_is_json_once_substituted_and_shows_every_alarm_metric() {
    let template = template();
    let body = expression(&template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]);
    // Every `${…}` names a parameter, a resource (or its attribute) or a pseudo-parameter.
    let parameters = template["Parameters"].as_mapping().unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut substituted = body.clone();
    for (at, _) in body.match_indices("${") {
        let name = &body[at + 2..at + body[at..].find('}').unwrap()];
        let known = name.starts_with("AWS::")
            || parameters.contains_key(name)
            || resources.contains_key(name.split('.').next().unwrap());
        assert!(known, "the dashboard names ${{{name}}}, which the template does not define");
        substituted = substituted.replace(&format!("${{{name}}}"), "sample-value");
    }
    let parsed: serde_json::Value = serde_json::from_str(&substituted).expect("the dashboard body is JSON");
    let widgets = parsed["widgets"].as_array().unwrap();
    assert!(widgets.iter().all(|w| w["width"].as_u64().unwrap() + w["x"].as_u64().unwrap() <= 24), "a 24-column grid");
    let shown = dashboard_metrics(&serde_json::from_str(&body).unwrap());
    for (id, alarm) in alarms(&template) {
        let watched = watched_by_alarm(&alarm);
        assert!(shown.contains(&watched), "{id} watches {watched:?}, which the dashboard does not show");
    }
    for function in functions(&template) {
        for metric in ["Errors", "Throttles"] {
            let dimensions = BTreeMap::from([("FunctionName".to_owned(), format!("${{{}}}", function.resource))]);
            assert!(
                shown.contains(&("AWS/Lambda".to_owned(), metric.to_owned(), dimensions)),
                "{} {metric}",
                function.resource
            );
        }
    }
    for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
        let dimensions = BTreeMap::from([("TableName".to_owned(), "${Table}".to_owned())]);
        assert!(shown.contains(&("AWS/DynamoDB".to_owned(), metric.to_owned(), dimensions)), "{metric}");
    }
    for metric in ["EmailsSent", "EmailsSuppressed", "EmailsDeferred"] {
        assert!(shown.contains(&custom(metric, &[("Function", "send-emails")])), "{metric}");
    }
}

// ---------------------------------------------------------------------------
// docs/configuration.md: one table, generated from template.yaml and checked here.

const CONFIGURATION_DOC: &str = "docs/configuration.md";
const TABLE_BEGIN: &str =
    "<!-- BEGIN generated from template.yaml by tests/template.rs: edit template.yaml, then regenerate -->";
const TABLE_END: &str = "<!-- END generated -->";
const REGENERATE: &str = "PROFILE_LINK_WRITE_DOCS=1 cargo test -p profile-link-tests --test template";

/// The parameters' documentation gaps: no description, no label, in no group
/// or in two, a group or label naming no parameter.
fn parameter_problems(template: &Value) -> Vec<String> {
    let interface = &template["Metadata"]["AWS::CloudFormation::Interface"];
    let parameters = template["Parameters"].as_mapping().unwrap();
    let mut problems = Vec::new();
    let mut grouped: BTreeMap<String, usize> = BTreeMap::new();
    for group in interface["ParameterGroups"].as_sequence().into_iter().flatten() {
        for name in group["Parameters"].as_sequence().unwrap() {
            *grouped.entry(name.as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    let labels = interface["ParameterLabels"].as_mapping();
    for (name, parameter) in parameters {
        let name = name.as_str().unwrap();
        if parameter["Description"].as_str().is_none_or(|d| d.trim().is_empty()) {
            problems.push(format!("{name} has no Description"));
        }
        match grouped.remove(name) {
            None => problems.push(format!("{name} is in no ParameterGroup")),
            Some(1) => {}
            Some(n) => problems.push(format!("{name} is in {n} ParameterGroups")),
        }
        if labels.and_then(|l| l.get(name)).and_then(|l| l["default"].as_str()).is_none() {
            problems.push(format!("{name} has no ParameterLabel"));
        }
    }
    problems.extend(grouped.keys().map(|name| format!("a ParameterGroup names {name}, which is no parameter")));
    for name in labels.into_iter().flatten().map(|(name, _)| name.as_str().unwrap()) {
        if !parameters.contains_key(name) {
            problems.push(format!("ParameterLabels names {name}, which is no parameter"));
        }
    }
    problems
}

/// A function's environment as written in the template (Globals, then its own).
fn raw_env(template: &Value, resource: &str) -> BTreeMap<String, Value> {
    let mut env = BTreeMap::new();
    for vars in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &template["Resources"][resource]["Properties"]["Environment"]["Variables"],
    ] {
        for (name, value) in vars.as_mapping().into_iter().flatten() {
            env.insert(name.as_str().unwrap().to_owned(), value.clone());
        }
    }
    env
}

/// Whether `value` uses `name`: `!Ref name`, or `${name}` in a `!Sub`.
fn refers_to(value: &Value, name: &str) -> bool {
    match value {
        Value::Tagged(tagged) => match tagged.value.as_str() {
            Some(text) if tagged.tag == "Ref" => text == name,
            Some(text) if tagged.tag == "Sub" => text.contains(&format!("${{{name}}}")),
            _ => refers_to(&tagged.value, name),
        },
        Value::Sequence(items) => items.iter().any(|v| refers_to(v, name)),
        Value::Mapping(map) => map.values().any(|v| refers_to(v, name)),
        _ => false,
    }
}

/// The resources that use a parameter other than through a function's environment.
fn template_uses(template: &Value, parameter: &str) -> Vec<(String, String)> {
    let mut uses = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        let mut resource = resource.clone();
        if let Some(props) = resource.get_mut("Properties").and_then(Value::as_mapping_mut) {
            props.remove("Environment");
        }
        if refers_to(&resource, parameter) {
            let kind = resource["Type"].as_str().unwrap().rsplit("::").next().unwrap().to_owned();
            uses.push((id.as_str().unwrap().to_owned(), kind));
        }
    }
    let mut globals = template["Globals"]["Function"].clone();
    globals.as_mapping_mut().unwrap().remove("Environment");
    if refers_to(&globals, parameter) {
        uses.push(("Globals (every function)".to_owned(), "Globals".to_owned()));
    }
    uses
}

/// What each function reads of its environment at a cold start (by binary).
async fn reads(template: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for function in functions(template) {
        out.insert(function.binary.clone(), start(&function).await.env.names_read());
    }
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn code(text: &str) -> String {
    format!("`{}`", cell(text))
}

/// The table: one row per parameter, by group, then the variables the template
/// sets itself. Parameters that reach no function's environment say where
/// the template uses them instead.
fn configuration_table(template: &Value, reads: &BTreeMap<String, BTreeSet<String>>) -> String {
    let functions = functions(template);
    let envs: Vec<(String, BTreeMap<String, Value>)> =
        functions.iter().map(|f| (f.binary.clone(), raw_env(template, &f.resource))).collect();
    // The functions that read `variable` where it is set to something `matches` accepts.
    let readers = |matches: &dyn Fn(&Value) -> bool, variable: &str| -> String {
        let names: Vec<&str> = envs
            .iter()
            .filter(|(binary, env)| env.get(variable).is_some_and(matches) && reads[binary].contains(variable))
            .map(|(binary, _)| binary.as_str())
            .collect();
        match names.len() {
            0 => "no function".to_owned(),
            n if n == envs.len() => "every function".to_owned(),
            _ => names.join(", "),
        }
    };
    let parameters = template["Parameters"].as_mapping().unwrap();
    let mut out = String::from(
        "| Parameter | Environment variable | Default | Allowed | Read by | Description |\n|---|---|---|---|---|---|\n",
    );
    let interface = &template["Metadata"]["AWS::CloudFormation::Interface"];
    for group in interface["ParameterGroups"].as_sequence().unwrap() {
        out += &format!("| **{}** | | | | | |\n", cell(group["Label"]["default"].as_str().unwrap()));
        for name in group["Parameters"].as_sequence().unwrap() {
            let name = name.as_str().unwrap();
            let Some(parameter) = parameters.get(name) else { continue };
            let is_ref = |v: &Value| refers_to(v, name) && matches!(v, Value::Tagged(t) if t.tag == "Ref");
            let variables: BTreeSet<&String> =
                envs.iter().flat_map(|(_, env)| env.iter().filter(|(_, v)| is_ref(v)).map(|(k, _)| k)).collect();
            let mut read_by: Vec<String> = variables.iter().map(|v| readers(&is_ref, v)).collect();
            read_by.dedup();
            let uses = template_uses(template, name);
            if !uses.is_empty() {
                let kinds: BTreeSet<&str> = uses.iter().map(|(_, kind)| kind.as_str()).collect();
                let kinds: Vec<&str> = kinds.into_iter().collect();
                read_by.push(match uses.len() {
                    1..=3 => {
                        format!("template: {}", uses.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", "))
                    }
                    n => format!("template: {n} resources ({})", kinds.join(", ")),
                });
            }
            if read_by.is_empty() {
                read_by.push("unused".to_owned());
            }
            let default = match parameter.get("Default") {
                None => "**required**".to_owned(),
                Some(value) => match literal(value).as_deref() {
                    Some("") => "(empty)".to_owned(),
                    Some(text) => code(text),
                    None => panic!("{name}: Default {value:?}"),
                },
            };
            let allowed = if let Some(values) = parameter["AllowedValues"].as_sequence() {
                let shown = |text: String| if text.is_empty() { "(empty)".to_owned() } else { code(&text) };
                values.iter().map(|v| shown(literal(v).unwrap())).collect::<Vec<_>>().join(", ")
            } else if let Some(pattern) = parameter["AllowedPattern"].as_str() {
                code(pattern)
            } else {
                match (literal(&parameter["MinValue"]), literal(&parameter["MaxValue"])) {
                    (Some(min), Some(max)) => format!("{min} to {max}"),
                    (Some(min), None) => format!("at least {min}"),
                    (None, Some(max)) => format!("at most {max}"),
                    (None, None) => String::new(),
                }
            };
            let variables: Vec<String> = variables.iter().map(|v| code(v)).collect();
            out += &format!(
                "| {} | {} | {default} | {allowed} | {} | {} |\n",
                code(name),
                if variables.is_empty() { "—".to_owned() } else { variables.join(", ") },
                cell(&read_by.join("; ")),
                cell(parameter["Description"].as_str().unwrap_or_default()),
            );
        }
    }
    out += "| **Set by the template itself** | | | | | |\n";
    let fixed: BTreeMap<&String, &Value> = envs
        .iter()
        .flat_map(|(_, env)| env.iter())
        .filter(|(_, value)| !matches!(value, Value::Tagged(t) if t.tag == "Ref" && parameters.contains_key(t.value.as_str().unwrap_or_default())))
        .collect();
    for (variable, value) in fixed {
        let value = match value {
            Value::Tagged(t) => format!("this stack's {}", code(t.value.as_str().unwrap())),
            other => code(&literal(other).unwrap()),
        };
        let same = |v: &Value| literal(v).is_some() || matches!(v, Value::Tagged(_));
        out += &format!("| — | {} | {value} | | {} | |\n", code(variable), readers(&same, variable));
    }
    out
}

/// The committed table, or `Err` with what differs and how to regenerate.
fn compare_with_committed(generated: &str, doc: &str) -> Result<(), String> {
    let committed = doc
        .split_once(TABLE_BEGIN)
        .and_then(|(_, rest)| rest.split_once(TABLE_END))
        .map(|(table, _)| table.trim_matches('\n'))
        .ok_or_else(|| {
            format!("{CONFIGURATION_DOC} lacks the lines {TABLE_BEGIN} … {TABLE_END}; regenerate with: {REGENERATE}")
        })?;
    if committed == generated.trim_matches('\n') {
        return Ok(());
    }
    let (old, new): (BTreeSet<&str>, BTreeSet<&str>) = (committed.lines().collect(), generated.lines().collect());
    let mut diff = String::new();
    for line in committed.lines().filter(|l| !new.contains(l)) {
        diff += &format!("- {line}\n");
    }
    for line in generated.lines().filter(|l| !old.contains(l)) {
        diff += &format!("+ {line}\n");
    }
    if diff.is_empty() {
        diff = "(the same rows in another order)\n".into();
    }
    Err(format!(
        "{CONFIGURATION_DOC}'s table is not what template.yaml generates (- committed, + generated):\n{diff}Regenerate it with: {REGENERATE}"
    ))
}

#[tokio::test]
async fn docs_configuration_md_is_the_table_the_template_generates() {
    let _metrics = METRICS.lock().await;
    let template = template();
    let problems = parameter_problems(&template);
    assert!(problems.is_empty(), "template.yaml's parameters: {problems:#?}");
    let table = configuration_table(&template, &reads(&template).await);
    let rows = |marker: &str| table.lines().filter(|row| row.contains(marker)).collect::<Vec<_>>().join("\n");
    assert!(
        rows("| no function |").is_empty(),
        "parameters that become a variable no function reads:\n{}",
        rows("| no function |")
    );
    assert!(rows("| unused |").is_empty(), "parameters nothing uses:\n{}", rows("| unused |"));
    let path = workspace_root().join(CONFIGURATION_DOC);
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    if let Err(problem) = compare_with_committed(&table, &doc) {
        if std::env::var("PROFILE_LINK_WRITE_DOCS").as_deref() != Ok("1") {
            panic!("{problem}");
        }
        let (head, tail) =
            match doc.split_once(TABLE_BEGIN).and_then(|(head, rest)| Some((head, rest.split_once(TABLE_END)?.1))) {
                Some(parts) => parts,
                None => (doc.as_str(), "\n"),
            };
        std::fs::write(&path, format!("{head}{TABLE_BEGIN}\n{table}{TABLE_END}{tail}")).unwrap();
        eprintln!("rewrote {}", path.display());
    }
}

#[tokio::test]
async fn a_parameter_added_without_description_group_or_regenerating_would_be_caught() {
    let _metrics = METRICS.lock().await;
    let mut template = template();
    let reads = reads(&template).await;
    let committed = format!("{TABLE_BEGIN}\n{}{TABLE_END}\n", configuration_table(&template, &reads));
    assert_eq!(compare_with_committed(&configuration_table(&template, &reads), &committed), Ok(()));

    let knob: Value = serde_yaml_ng::from_str("{ Type: Number, Default: 7, MinValue: 1 }").unwrap();
    template["Parameters"].as_mapping_mut().unwrap().insert("NewKnob".into(), knob);
    assert_eq!(
        parameter_problems(&template),
        ["NewKnob has no Description", "NewKnob is in no ParameterGroup", "NewKnob has no ParameterLabel"]
    );

    template["Parameters"]["NewKnob"]["Description"] = "A new knob.".into();
    let groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"].as_sequence_mut().unwrap();
    groups[0]["Parameters"].as_sequence_mut().unwrap().push("NewKnob".into());
    template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterLabels"]
        .as_mapping_mut()
        .unwrap()
        .insert("NewKnob".into(), serde_yaml_ng::from_str("{ default: New knob }").unwrap());
    assert!(parameter_problems(&template).is_empty(), "{:?}", parameter_problems(&template));
    let stale = compare_with_committed(&configuration_table(&template, &reads), &committed).unwrap_err();
    assert!(stale.contains("+ | `NewKnob` | — | `7` | at least 1 | unused | A new knob. |"), "{stale}");
    assert!(stale.contains(REGENERATE), "{stale}");
}

#[tokio::test]
async fn each_number_parameter_allows_exactly_what_the_functions_that_read_it_accept() {
    // CloudFormation refuses a value outside MinValue..MaxValue before deploying;
    // a function refuses it at its cold start. The two must agree, or a deploy
    // succeeds and every cold start fails (or the table above promises a range
    // the code narrows).
    let _metrics = METRICS.lock().await;
    let template = template();
    let mut checked = 0;
    for (name, parameter) in template["Parameters"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if parameter["Type"].as_str() != Some("Number") || parameter.get("AllowedValues").is_some() {
            continue;
        }
        let (min, max) = (parameter["MinValue"].as_i64(), parameter["MaxValue"].as_i64());
        for function in functions(&template) {
            let raw = raw_env(&template, &function.resource);
            let Some((variable, _)) = raw.iter().find(|(_, v)| refers_to(v, name)) else { continue };
            let started = start(&function).await;
            if !started.env.names_read().contains(variable) {
                continue;
            }
            let with = |value: i64| {
                let mut env = lambda_env(&function);
                env.set(variable, value.to_string());
                env
            };
            let min = min.unwrap_or_else(|| panic!("{name} ({variable}, read by {}) has no MinValue", function.binary));
            let max = max.unwrap_or_else(|| panic!("{name} ({variable}, read by {}) has no MaxValue", function.binary));
            for (value, accepted) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
                let outcome = try_start(&function, with(value)).await;
                assert_eq!(
                    outcome.is_ok(),
                    accepted,
                    "{name} allows {min} to {max}; {} with {variable}={value}: {:?}",
                    function.binary,
                    outcome.err()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "checked {checked} (parameter, function) pairs");
}
