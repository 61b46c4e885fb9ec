//! HTTP plumbing every function shares: security headers, cookies, the
//! current session, CSRF, and who is asking (from the API Gateway context).

pub mod browser;
pub mod cors;
pub mod extract;
pub mod pages;

pub use extract::{BrowserError, Caller, CsrfForm, CsrfProtected, SignedIn};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use lambda_http::request::RequestContext;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::{CookiePolicy, SiteConfig};
use crate::metrics::Emf;
use crate::random;
use crate::session::{SessionClaims, SessionVerifier};
use crate::telemetry::ColdStart;

/// Forms on this service are a few hundred bytes; anything far larger is refused (413).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Adds the headers every response carries, the request body limit, and one
/// log line and `Requests` metric per request, under `function`'s name.
pub fn harden<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    site: &SiteConfig,
    function: &'static str,
) -> Router<S> {
    let base = &site.public_base_url;
    let csp = content_security_policy(site, &[]);
    let fixed: [(HeaderName, HeaderValue); 7] = [
        // Pages differ by language: caches must key on it.
        (header::VARY, HeaderValue::from_static("Accept-Language")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&csp).expect("CSP is ASCII")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
        ),
    ];
    // route_layer: after routing, so the matched route pattern is known.
    let log = move |request, next| log_request(function, request, next);
    let mut router = router.route_layer(axum::middleware::from_fn(log)).layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    for (name, value) in fixed {
        // A handler may narrow or widen its own CSP (content_security_policy); the rest are fixed.
        // Vary is added to, not replaced: a CORS layer (web::cors) varies on Origin too.
        router = if name == header::CONTENT_SECURITY_POLICY {
            router.layer(SetResponseHeaderLayer::if_not_present(name, value))
        } else if name == header::VARY {
            router.layer(SetResponseHeaderLayer::appending(name, value))
        } else {
            router.layer(SetResponseHeaderLayer::overriding(name, value))
        };
    }
    // Personal pages must never be stored by shared caches; handlers that serve
    // public data (JWKS) set their own Cache-Control.
    router = router
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if base.is_https() {
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    router
}

/// The pages' Content-Security-Policy: images only from the operator's logo
/// origin, styles only the one hashed stylesheet, forms only to this site and
/// `form_targets` (origins a form's answer redirects to: browsers check those too).
/// Lets a page's form reach `target`'s origin: its POST ends in a redirect
/// there, and browsers check a form's redirects against `form-action` too.
pub fn allow_form_redirect_to(response: &mut axum::response::Response, site: &SiteConfig, target: &str) {
    let Ok(url) = url::Url::parse(target) else { return };
    let csp = content_security_policy(site, &[&url.origin().ascii_serialization()]);
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

pub fn content_security_policy(site: &SiteConfig, form_targets: &[&str]) -> String {
    let img_src = match site.branding.logo_url.as_deref().and_then(|u| url::Url::parse(u).ok()) {
        Some(logo) => format!("'self' {}", logo.origin().ascii_serialization()),
        None => "'self'".to_owned(),
    };
    let mut form_action = "'self'".to_owned();
    for target in form_targets {
        form_action.push(' ');
        form_action.push_str(target);
    }
    format!(
        "default-src 'none'; style-src {}; img-src {img_src}; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'",
        site.branding.stylesheet_csp
    )
}

/// The first request a container serves pays for its cold start.
static COLD_START: ColdStart = ColdStart::new();

/// One structured line per request: the function, route (the matched
/// pattern, never the query string, which can carry a token), method, status,
/// latency, whether this was the container's first request, API Gateway's
/// request id and the short [`reference`] an error answer shows; and the
/// `Requests` and `Latency` metrics by function and status class.
async fn log_request(
    function: &'static str,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let cold_start = COLD_START.take();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = Caller::request_id(request.extensions().get::<RequestContext>());
    let reference = reference(request_id.as_deref());
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    if status >= 400 {
        response = with_reference(response, &reference).await;
    }
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "request",
        function,
        %method,
        route,
        status,
        latency_ms,
        cold_start,
        request_id = request_id.as_deref().unwrap_or("-"),
        reference,
        "request"
    );
    Emf::new(function)
        .dimension("Outcome", format!("{}xx", status / 100))
        .count("Requests", 1)
        .milliseconds("Latency", latency_ms)
        .emit();
    response
}

/// The reference an error answer shows, for a person to quote to support:
/// the first 12 characters of API Gateway's request id (`requestContext.requestId`,
/// the id in the access log too), or 12 random ones where there is none. The
/// request's log line carries it as `reference`.
pub fn reference(request_id: Option<&str>) -> String {
    let safe = |id: &str| -> String {
        id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).take(12).collect()
    };
    match request_id.map(safe) {
        Some(id) if !id.is_empty() => id,
        _ => random::token(9),
    }
}

/// Largest error body the reference is written into (ours are a few KB).
const MAX_ERROR_BODY: usize = 256 * 1024;

/// An error answer with its reference in it, in the answer's own form: a
/// line on an HTML page (in the page's language), a `reference` member of a
/// JSON object, a last line of plain text. Anything else is left as it is.
async fn with_reference(response: axum::response::Response, reference: &str) -> axum::response::Response {
    use axum::body::Body;
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let kind = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(kind.as_str(), "text/html" | "application/json" | "text/plain") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        tracing::warn!(reference, "an error body too large to add its reference to");
        return axum::response::Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    let rewritten = match kind.as_str() {
        "text/html" => {
            let lang = text.split_once("<html lang=\"").and_then(|(_, rest)| rest.split_once('"')).map(|(l, _)| l);
            let t = crate::i18n::Locale::from_tag(lang.unwrap_or("en")).text();
            let line = format!(
                "<p class=\"muted reference\">{}</p>\n",
                crate::i18n::fill1(t.error_reference, "reference", reference)
            );
            match text.rfind("</main>") {
                Some(at) => format!("{}{line}{}", &text[..at], &text[at..]),
                None => format!("{text}{line}"),
            }
        }
        "application/json" => match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(mut object)) => {
                object.entry("reference").or_insert_with(|| reference.into());
                serde_json::Value::Object(object).to_string()
            }
            _ => text.into_owned(),
        },
        _ if text.is_empty() => format!("Reference: {reference}"),
        _ => format!("{}\n\nReference: {reference}", text.trim_end()),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, Body::from(rewritten))
}

/// Cookie names and flags for one cookie policy.
#[derive(Debug, Clone, Copy)]
pub struct Cookies {
    policy: CookiePolicy,
}

/// The session token.
pub const SESSION: &str = "pl_session";
/// A random per-browser value that binds sign-in transactions to the browser that started them.
pub const BROWSER: &str = "pl_browser";
/// The same binding for a provider whose answer is a cross-site POST
/// (`response_mode=form_post`, Apple), which carries no `SameSite=Lax`
/// cookie: a cookie of its own, so the session's and the other binding stay Lax.
pub const FORM_POST_BROWSER: &str = "pl_browser_fp";
/// The authorization request a portal sent the person with, while they link
/// a profile: what "Back to the portal" returns to (a path on this site).
pub const PORTAL: &str = "pl_portal";

impl Cookies {
    pub fn new(policy: CookiePolicy) -> Self {
        Self { policy }
    }

    /// `__Host-` names force Secure, Path=/ and no Domain in the browser itself.
    pub fn name(&self, base: &'static str) -> String {
        match self.policy {
            CookiePolicy::Secure => format!("__Host-{base}"),
            CookiePolicy::LocalPlainHttp => base.to_owned(),
        }
    }

    pub fn build(&self, base: &'static str, value: String, max_age_seconds: i64) -> Cookie<'static> {
        Cookie::build((self.name(base), value))
            .path("/")
            .http_only(true)
            .secure(self.policy == CookiePolicy::Secure)
            .same_site(SameSite::Lax)
            .max_age(cookie_max_age(max_age_seconds))
            .build()
    }

    /// A cookie sent on cross-site requests too (`SameSite=None`, which
    /// browsers take only with `Secure`; on the plain-http local stack the
    /// dev providers are same-site, and it stays `Lax`).
    pub fn build_cross_site(&self, base: &'static str, value: String, max_age_seconds: i64) -> Cookie<'static> {
        let mut cookie = self.build(base, value, max_age_seconds);
        if self.policy == CookiePolicy::Secure {
            cookie.set_same_site(SameSite::None);
        }
        cookie
    }

    pub fn removal(&self, base: &'static str) -> Cookie<'static> {
        self.build(base, String::new(), 0)
    }

    pub fn get<'j>(&self, jar: &'j CookieJar, base: &'static str) -> Option<&'j str> {
        jar.get(&self.name(base)).map(|c| c.value()).filter(|v| !v.is_empty() && v.len() <= 4096)
    }

    /// The [`PORTAL`] cookie: the portal's registered name and its
    /// authorization request's path, set by the authorize function.
    pub fn waiting_portal_cookie(&self, name: &str, path: String, max_age_seconds: i64) -> Cookie<'static> {
        use base64::Engine;
        let name = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name);
        self.build(PORTAL, format!("{name}~{path}"), max_age_seconds)
    }

    /// The portal sign-in waiting for the person ([`PORTAL`]): only an
    /// `/authorize?…` path of this site and a name in the registered limits,
    /// whatever the cookie says.
    pub fn waiting_portal(&self, jar: &CookieJar) -> Option<WaitingPortal> {
        use base64::Engine;
        let (name, path) = self.get(jar, PORTAL)?.split_once('~')?;
        let name = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(name).ok()?;
        let name = String::from_utf8(name).ok().filter(|n| crate::downstream::is_displayable_portal_name(n))?;
        let path = crate::ReturnTo::parse(path).filter(|path| path.as_str().starts_with("/authorize?"))?;
        Some(WaitingPortal { name, path })
    }

    /// The way to the portal a page offers: back to the portal's waiting
    /// sign-in ("Back to Contoso portal"), or the configured `PORTAL_URL`.
    pub fn portal_button(&self, jar: &CookieJar, site: &SiteConfig, t: &crate::i18n::Text) -> Option<(String, String)> {
        match self.waiting_portal(jar) {
            Some(waiting) => {
                Some((waiting.path.as_str().to_owned(), crate::i18n::fill1(t.back_to_portal, "portal", &waiting.name)))
            }
            None => site.branding.portal_url.clone().map(|url| (url, t.go_to_portal.to_owned())),
        }
    }

    /// The verified session, if the cookie holds one; anything else is "signed out".
    pub fn session(&self, jar: &CookieJar, verifier: &SessionVerifier, now: i64) -> Option<SessionClaims> {
        let token = self.get(jar, SESSION)?;
        match verifier.verify(token, now) {
            Ok(claims) => Some(claims),
            Err(reason) => {
                tracing::info!(%reason, "session cookie not accepted");
                None
            }
        }
    }
}

fn cookie_max_age(seconds: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(seconds)
}

/// Whether a submitted CSRF token is this session's.
pub fn csrf_matches(session: &SessionClaims, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|t| random::constant_time_eq(t.as_bytes(), session.csrf.as_bytes()))
}

/// A portal's sign-in waiting while the person links a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingPortal {
    /// As the portal registered it.
    pub name: String,
    /// Its authorization request on this site.
    pub path: crate::ReturnTo,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar_with(value: &str) -> CookieJar {
        CookieJar::new().add(Cookie::new(PORTAL, value.to_owned()))
    }

    #[test]
    fn a_waiting_portal_is_only_a_registered_name_and_an_authorize_path() {
        let cookies = Cookies::new(CookiePolicy::LocalPlainHttp);
        let set = cookies.waiting_portal_cookie("Contoso portal", "/authorize?client_id=c".into(), 60);
        let jar = jar_with(set.value());
        let waiting = cookies.waiting_portal(&jar).unwrap();
        assert_eq!((waiting.name.as_str(), waiting.path.as_str()), ("Contoso portal", "/authorize?client_id=c"));
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        for hostile in [
            format!("{}~https://evil.example/authorize?x", b64("Contoso")),
            format!("{}~//evil.example/authorize?x", b64("Contoso")),
            format!("{}~/associate?x", b64("Contoso")),
            format!("{}~/authorize?x", b64("Evil\u{202e}\nCorp")),
            format!("{}~/authorize?x", b64(&"x".repeat(81))),
            "not base64!~/authorize?x".to_owned(),
            "/authorize?x".to_owned(),
        ] {
            assert_eq!(cookies.waiting_portal(&jar_with(&hostile)), None, "{hostile}");
        }
    }
}
