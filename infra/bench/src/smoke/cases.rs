//! Each function's one request, and the check of its answer.

use anyhow::{Context, bail};
use profile_link_core::domain::link_token::{LinkId, LinkToken, Verifier};
use profile_link_core::downstream::OpenIdConfiguration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::reply::{HttpReply, clip};
use super::stack::{SMOKE_PORTAL_REDIRECT, Stack};
use crate::gateway::{Browser, http_event};
use crate::runtime_api::Answer;

/// Judges an answer: a short description of it, or what was wrong with it.
type Check = Box<dyn Fn(&Answer) -> anyhow::Result<String>>;

/// One function's request and the check of its answer.
pub(super) struct Case {
    pub(super) request: &'static str,
    pub(super) event: Value,
    pub(super) check: Check,
}

pub(super) fn case_for(name: &str, stack: &Stack) -> Case {
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
        "send-emails" | "notify-portals" => {
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
