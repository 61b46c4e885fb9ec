//! The first request each function gets after its cold start, and what its
//! answer must be.

use anyhow::{Context, bail};
use profile_link_core::session::SessionKeys;
use serde::Serialize;
use serde_json::Value;

use super::Settings;
use super::fixtures::{FIXTURE_ADDRESS, FIXTURE_SUBJECT, Fixtures, PORTAL_SUBJECT, fixture_code};
use super::portal_sign_in::{PORTAL_SERVER_IP, portal_access_token};
use super::sessions::{minted_browser, now};
use crate::gateway::{Browser, set_header};
use crate::portal::{self, Attempt};
use crate::stream;

/// The first request a function gets after its cold start: one that needs
/// the AWS SDK where the function has one. token has two, its code exchange
/// and `/userinfo`: a portal's server may call either first.
#[derive(Debug, Clone, Copy)]
pub(super) enum FirstRequest {
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
    pub(super) const ALL: [Self; 7] = [
        Self::Login,
        Self::Associate,
        Self::ConfirmPage,
        Self::LinkEmail,
        Self::Authorize,
        Self::Token,
        Self::UserInfo,
    ];

    pub(super) fn function(self) -> &'static str {
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
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Login => "GET /login (TransactWriteItems)",
            Self::Associate => "POST /associate (GetItem, Query, Query, TransactWriteItems)",
            Self::ConfirmPage => "GET /redeem, confirm page (GetItem)",
            Self::LinkEmail => "one link email (TransactWriteItems, SendEmail, TransactWriteItems)",
            Self::Authorize => "GET /authorize, signed in with a profile (GetItem, Query, PutItem)",
            Self::Token => "POST /token, a code from /authorize (UpdateItem, GetItem, Query)",
            Self::UserInfo => "GET /userinfo, an access token from /token (GetItem, GetItem, Query)",
        }
    }

    /// What the same-calls baseline does for it: the function's calls at init
    /// and on this first request, in the same order (`;` one step after
    /// another, `|` side by side, `>` one after another within a branch; see
    /// `infra/bench/same-calls`). The cold phase checks that the baseline
    /// made exactly the calls the function made, so a function that changes
    /// its calls fails the bench until this is changed with it.
    pub(super) fn same_calls(self) -> SameCallsPlan {
        const SSM_THEN_TABLE: &str = "ssm:GetParameters | dynamodb:Query";
        let (init, first) = match self {
            // Providers and their secrets, one read after the other; then the
            // provider's documents beside the table's connection.
            Self::Login => (
                "ssm:GetParameters ; ssm:GetParameters ; provider:discovery > provider:jwks | dynamodb:Query",
                "dynamodb:TransactWriteItems",
            ),
            Self::Associate => {
                (SSM_THEN_TABLE, "dynamodb:GetItem | dynamodb:Query | dynamodb:Query ; dynamodb:TransactWriteItems")
            }
            Self::ConfirmPage => ("ssm:GetParameters | dynamodb:GetItem", "dynamodb:GetItem"),
            Self::LinkEmail => ("", "dynamodb:TransactWriteItems ; ses:SendEmail ; dynamodb:TransactWriteItems"),
            Self::Authorize => (SSM_THEN_TABLE, "dynamodb:Query | dynamodb:GetItem ; dynamodb:PutItem"),
            Self::Token => (TOKEN_INIT, "dynamodb:UpdateItem ; dynamodb:GetItem | dynamodb:Query"),
            Self::UserInfo => (TOKEN_INIT, "dynamodb:GetItem ; dynamodb:GetItem | dynamodb:Query"),
        };
        SameCallsPlan { init, first, stream: matches!(self, Self::LinkEmail) }
    }

    /// Variants of the same-calls baseline measured beside it, to decide a
    /// start-up question with figures: each a label and the plan's changes.
    pub(super) fn same_calls_variants(
        self,
    ) -> Vec<(&'static str, SameCallsPlan, &'static [(&'static str, &'static str)])> {
        let plan = self.same_calls();
        match self {
            // Two sequential SSM reads at init against one.
            Self::Token => vec![(
                "one SSM read at init instead of two",
                SameCallsPlan { init: "ssm:GetParameters | dynamodb:GetItem", ..plan },
                &[],
            )],
            // The provider client trusting compiled-in roots instead of reading the system store.
            Self::Login => vec![(
                "provider client with compiled-in roots instead of the system store",
                plan,
                &[("SAME_CALLS_PROVIDER_ROOTS", "compiled")],
            )],
            _ => Vec::new(),
        }
    }

    /// Its event and what the answer must be; the portal's codes and access
    /// tokens are fetched from the warm authorize and token now, not earlier.
    pub(super) async fn event(
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

/// token's init: the portal clients, then their secrets, beside the table's connection.
const TOKEN_INIT: &str = "ssm:GetParameters > ssm:GetParameters | dynamodb:GetItem";

/// A same-calls baseline's calls ([`FirstRequest::same_calls`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct SameCallsPlan {
    pub init: &'static str,
    pub first: &'static str,
    /// A DynamoDB stream consumer (send-emails) rather than an API Gateway function.
    pub stream: bool,
}

#[derive(Clone, Copy)]
pub(super) enum Expected {
    Status(u16),
    NoFailures,
    /// A 303 whose `Location` starts with this.
    Redirect(&'static str),
    /// This status, and a JSON body whose field is there and not empty.
    JsonWith(u16, &'static str),
}

impl Expected {
    pub(super) fn check(self, who: &str, body: &[u8]) -> anyhow::Result<()> {
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
                let text = profile_link_harness::apigw::body_text(&value).unwrap_or_default();
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
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
