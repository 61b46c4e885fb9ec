//! Server-rendered pages (askama: templates are checked at compile time and
//! escape HTML by default). No JavaScript is needed anywhere in the flow.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::config::Branding;
use crate::i18n::Text;

/// A page's answer: the HTML with its status.
pub fn respond(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be shown. Please try again.").into_response()
        }
    }
}

/// The signed-out welcome page.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
}

/// The sign-in page: a button per identity provider, in the configured order.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub choices: &'a [ProviderChoice],
    /// The request named a provider that is not configured.
    pub unknown: bool,
}

/// One button: the provider's name and where it starts the sign-in.
#[derive(Debug, Clone)]
pub struct ProviderChoice {
    pub label: String,
    pub href: String,
}

/// A linked profile as the account page lists it.
#[derive(Debug, Clone)]
pub struct LinkedProfileView {
    pub profile_id: String,
    pub display_name: String,
    pub organization: String,
}

impl From<crate::store::associations::LinkedProfile> for LinkedProfileView {
    fn from(linked: crate::store::associations::LinkedProfile) -> Self {
        Self { profile_id: linked.profile_id, display_name: linked.display_name, organization: linked.organization }
    }
}

/// The account page: who you are signed in as and what you may act for.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub who: &'a str,
    pub email: Option<&'a str>,
    pub provider: &'a str,
    pub profiles: &'a [LinkedProfileView],
    pub csrf: &'a str,
    /// The way to the portal (href, label): back to the portal's sign-in
    /// that sent the person here, or the configured `PORTAL_URL`.
    pub portal: Option<(&'a str, &'a str)>,
}

/// The form asking for the email address registered with the company.
#[derive(Template)]
#[template(path = "associate.html")]
pub struct AssociatePage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub csrf: &'a str,
    /// What the person typed, kept when the form is shown again.
    pub email: &'a str,
    pub error: Option<String>,
}

/// The answer to every accepted request, whether 0, 1 or N profiles matched.
#[derive(Template)]
#[template(path = "associate_sent.html")]
pub struct AssociateSentPage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub lifetime_minutes: i64,
}

/// "Link <identity> to <profile>?" with the POST form that does it.
#[derive(Template)]
#[template(path = "redeem_confirm.html")]
pub struct RedeemConfirmPage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    /// "Link <who> to <profile>?"
    pub heading: String,
    pub who: &'a str,
    pub provider: &'a str,
    pub display_name: &'a str,
    pub organization: &'a str,
    pub token: &'a str,
    pub csrf: &'a str,
}

/// The token and CSRF token a "send me a new link" button posts.
pub struct ResendForm {
    pub token: String,
    pub csrf: String,
}

/// How a redemption ended, good or bad, and the one next action.
#[derive(Template)]
#[template(path = "outcome.html")]
pub struct OutcomePage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    /// Which progress step to highlight; 0 shows no progress indicator.
    pub step: u8,
    pub ok: bool,
    pub title: &'a str,
    pub message: &'a str,
    pub action_href: &'a str,
    pub action_label: &'a str,
    pub resend: Option<ResendForm>,
    pub secondary: Option<(&'a str, &'a str)>,
    /// A link token: offers to cancel every link of its request (`POST /not-me`).
    pub cancel_request: Option<&'a str>,
}

/// "I didn't ask for this": what the request was, and one button that cancels
/// it. Reached from the email, so holding the email is the only proof needed.
#[derive(Template)]
#[template(path = "not_me.html")]
pub struct NotMePage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub intro: &'a str,
    pub token: &'a str,
}

/// A portal sent a signed-in person who has linked no profile yet: link one
/// first, or go on to the portal without.
#[derive(Template)]
#[template(path = "portal_link.html")]
pub struct PortalLinkPage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub intro: &'a str,
    pub continue_href: &'a str,
    pub continue_label: &'a str,
}

/// A portal that asks whom the person acts for (`profile_selection:
/// required`): one radio button per linked profile, posted back to
/// `/authorize` with the portal's own parameters and the session's CSRF token.
#[derive(Template)]
#[template(path = "choose_profile.html")]
pub struct ChooseProfilePage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub intro: &'a str,
    pub continue_label: &'a str,
    pub portal_parameters: &'a [(String, String)],
    pub csrf: &'a str,
    pub profiles: &'a [LinkedProfileView],
}

/// A portal asked to sign the person out without proving it was theirs
/// (no matching `id_token_hint`): one button confirms. Or the request came
/// without the session cookie (a portal's cross-site POST): then the button
/// (no `csrf`) sends the same request again from this site, by GET, so the
/// cookie comes along.
#[derive(Template)]
#[template(path = "end_session.html")]
pub struct EndSessionPage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub intro: &'a str,
    pub csrf: Option<&'a str>,
    pub id_token_hint: Option<&'a str>,
    pub client_id: &'a str,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// Seconds a 503 asks the client to wait: a throttled or failing dependency
/// usually recovers within the SDK's own retries, so "soon".
pub const RETRY_UNAVAILABLE_AFTER: u32 = 5;

/// Something went wrong: what happened, and the one thing to do next
/// (already in the person's language).
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
    pub action_href: String,
    pub action_label: String,
}

impl Problem {
    pub fn new(status: StatusCode, title: &str, message: impl Into<String>, action: (&str, &str)) -> Self {
        Self {
            status,
            title: title.to_owned(),
            message: message.into(),
            action_href: action.0.to_owned(),
            action_label: action.1.to_owned(),
        }
    }

    /// The page; a 503 also says when to try again (`Retry-After`), for
    /// browsers' and clients' retry logic alike.
    pub fn render(&self, brand: &Branding, t: &Text) -> Response {
        let mut response = respond(self.status, &ProblemPage { brand, t, problem: self });
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(RETRY_UNAVAILABLE_AFTER));
        }
        response
    }
}

#[derive(Template)]
#[template(path = "problem.html")]
pub struct ProblemPage<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub problem: &'a Problem,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Branding {
        Branding::new("Acme Link", "Acme <Corp>", "help@acme.example")
    }

    #[test]
    fn pages_escape_what_they_show() {
        let brand = brand();
        let html = AccountPage {
            brand: &brand,
            t: &crate::i18n::EN,
            who: "<script>alert(1)</script>",
            email: Some("pat@example.net"),
            provider: "idp.example",
            profiles: &[],
            csrf: "tok",
            portal: None,
        }
        .render()
        .unwrap();
        assert!(!html.contains("<script>alert"), "user-controlled text is escaped");
        assert!(html.contains("Acme &#60;Corp&#62;") || html.contains("Acme &lt;Corp&gt;"));
        assert!(html.contains(r#"name="csrf" value="tok""#));
        assert!(html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn pages_speak_the_chosen_language() {
        let brand = brand();
        let html = HomePage { brand: &brand, t: &crate::i18n::DE }.render().unwrap();
        assert!(html.contains("<html lang=\"de\">"));
        assert!(
            html.contains("Verknüpfen Sie Ihre Anmeldung mit Ihren Kundenprofilen bei Acme &#60;Corp&#62;")
                || html.contains("bei Acme &lt;Corp&gt;"),
            "{html}"
        );
        assert!(html.contains(">Anmelden</a>"));
    }

    #[test]
    fn the_inline_stylesheet_is_the_one_the_csp_allows() {
        let brand = brand();
        let html = HomePage { brand: &brand, t: &crate::i18n::EN }.render().unwrap();
        assert!(
            html.contains(&format!("<style>{}</style>", brand.stylesheet)),
            "style block must match its hash byte for byte"
        );
        assert_eq!(brand.stylesheet_csp, crate::config::csp_hash_source(crate::config::STYLESHEET));
        assert!(brand.stylesheet_csp.starts_with("'sha256-"));
    }
}
