//! template.yaml against the code: every route reaches a handler of the
//! function it names, every function crate has a resource, and every
//! environment variable a function reads is one the template sets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
        "OIDC_ISSUER" => "http://127.0.0.1:1".into(),
        "OIDC_SCOPES" => "openid email profile".into(),
        "LOGO_URL" => "https://cdn.example.com/logo.svg".into(),
        "ACCENT_COLOR" => "#1f5fbf".into(),
        n if n.starts_with("RATE_LIMIT_") || n.ends_with("_SECONDS") => "3600".into(),
        "RUST_LOG" => "info".into(),
        _ => "sample".into(),
    }
}

/// The environment Lambda would give the function, with secrets inline instead of in SSM.
fn lambda_env(function: &Function) -> Env {
    let mut env = Env::default();
    for (name, value) in &function.env {
        match name.strip_suffix("_SSM_PARAMETER") {
            Some("SESSION_SIGNING_KEY") => {
                env.set("SESSION_SIGNING_KEY", profile_link_core::SessionKeys::generate_pem())
            }
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

#[tokio::test]
async fn every_route_reaches_its_function_and_every_read_variable_is_set() {
    let template = template();
    for function in functions(&template) {
        let env = lambda_env(&function);
        profile_link_core::telemetry::init(&env).unwrap();
        let sdk = sdk().await;
        let router: Option<axum::Router> = match function.binary.as_str() {
            "login" => Some(profile_link_login::router(Arc::new(
                profile_link_login::LoginApp::from_env(&env, &sdk).await.unwrap(),
            ))),
            "request-association" => Some(profile_link_request_association::router(Arc::new(
                profile_link_request_association::AssociationApp::from_env(&env, &sdk).await.unwrap(),
            ))),
            "redeem-link" => Some(profile_link_redeem_link::router(Arc::new(
                profile_link_redeem_link::RedeemApp::from_env(&env, &sdk).await.unwrap(),
            ))),
            "send-emails" => {
                profile_link_send_emails::SendEmailsApp::from_env(&env, &sdk).await.unwrap();
                None
            }
            "ses-events" => {
                profile_link_ses_events::SesEventsApp::from_env(&env, &sdk).unwrap();
                None
            }
            other => panic!("{} names binary {other}, which no test here knows how to build", function.resource),
        };
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
