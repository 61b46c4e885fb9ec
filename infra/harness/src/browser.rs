//! A small browser: a cookie jar, manual redirects, and HTML forms submitted
//! the way a person submits them.
//!
//! The tests use the panicking methods (`get`, `submit`, `sign_in` …); the load
//! driver uses their `try_` twins, which return what went wrong instead, and
//! an observer that sees every request the browser sends and how long it took.
//! The bench signs in at the identity provider with it, and keeps the cookies
//! of the pages it builds as API Gateway events in [`SiteCookies`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::LOCATION;
use reqwest::{Method, Response, StatusCode};
use scraper::{Html, Selector};
use url::{Origin, Url};

pub struct Browser {
    pub client: reqwest::Client,
    jar: Arc<Jar>,
    observer: Option<Observer>,
    timeout: Option<Duration>,
    only_host: Option<String>,
    /// Redirects to URLs starting with this are not followed (a portal's redirect URI, where nothing listens).
    stop_at: Option<String>,
}

/// One request the browser sent: what, where, its answer's status (none if it
/// failed) and the time from sending it to the answer's status and headers.
#[derive(Debug)]
pub struct Exchange<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    pub status: Option<StatusCode>,
    pub elapsed: Duration,
}

pub type Observer = Arc<dyn Fn(&Exchange<'_>) + Send + Sync>;

/// Why a `try_` method did not arrive at a page.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    #[error("{url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{0}")]
    BadUrl(String),
    #[error("a redirect from {0} has no usable Location")]
    BadRedirect(Url),
    #[error("more than 20 redirects, the last to {0}")]
    TooManyRedirects(Url),
    #[error("{0} is not on the host this browser is confined to (not sent)")]
    Refused(Url),
}

impl BrowseError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Http { source, .. } if source.is_timeout())
    }
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

/// A page the browser arrived at after following redirects.
#[derive(Debug)]
pub struct Page {
    pub url: Url,
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", self.url, self.body))
    }
}

/// The first POST form of a page: where it goes and what it sends.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: Url,
    pub fields: Vec<(String, String)>,
}

impl Form {
    pub fn set(&mut self, name: &str, value: &str) {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }
}

impl Browser {
    pub fn new() -> Self {
        Self::speaking("en-GB,en;q=0.9")
    }

    /// A browser whose person prefers these languages (`Accept-Language`).
    pub fn speaking(accept_language: &str) -> Self {
        Self::built(accept_language, None)
    }

    /// A browser whose connections leave from `source` (a loopback address
    /// such as 127.0.0.7: Linux routes all of 127/8 to this machine), so the
    /// server sees a person behind that address, as behind a company's NAT.
    pub fn from_address(source: std::net::IpAddr) -> Self {
        Self::built("en-GB,en;q=0.9", Some(source))
    }

    fn built(accept_language: &str, source: Option<std::net::IpAddr>) -> Self {
        let jar = Arc::new(Jar::default());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::ACCEPT_LANGUAGE, accept_language.parse().unwrap());
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .local_address(source)
            // Every page it visits is on this machine: no proxy from the environment.
            .no_proxy()
            .build()
            .unwrap();
        Self { client, jar, observer: None, timeout: None, only_host: None, stop_at: None }
    }

    /// The same browser, telling `observer` about every request it sends.
    pub fn observed(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The same browser, refusing to send anything to another host than `host`
    /// (a load run must not follow a redirect off the machine).
    pub fn confined_to_host(mut self, host: &str) -> Self {
        self.only_host = Some(host.to_owned());
        self
    }

    /// The same browser, not following a redirect to a URL that starts with
    /// `prefix`: the page it ends at is that redirect, its `url` the target.
    pub fn stopping_at(mut self, prefix: &str) -> Self {
        self.stop_at = Some(prefix.to_owned());
        self
    }

    /// The same browser, giving up on any one request after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The value of cookie `name` the browser would send to `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let header = self.jar.cookies(&Url::parse(url).unwrap())?;
        header.to_str().unwrap().split("; ").find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// Puts a cookie into the jar as if the site had set it (for tampering tests).
    pub fn set_cookie(&self, url: &str, name: &str, value: &str) {
        self.jar.add_cookie_str(&format!("{name}={value}; Path=/"), &Url::parse(url).unwrap());
    }

    /// One request, no redirects followed.
    pub async fn request(&self, method: Method, url: &str) -> Response {
        self.try_request(method, url).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn get(&self, url: &str) -> Page {
        self.try_get(url).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn post_form(&self, url: &str, fields: &[(String, String)]) -> Page {
        self.try_post_form(url, fields).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn submit(&self, form: &Form) -> Page {
        self.post_form(form.action.as_str(), &form.fields).await
    }

    /// Follows redirects (at most 20) to the page they end at.
    pub async fn follow(&self, response: Response) -> Page {
        self.try_follow(response).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Follows redirects until the next one would go to `prefix`; returns that URL unvisited.
    pub async fn follow_until(&self, mut response: Response, prefix: &str) -> Url {
        for _ in 0..20 {
            assert!(
                response.status().is_redirection(),
                "expected a redirect towards {prefix}, got {} at {}",
                response.status(),
                response.url()
            );
            let next = redirect_target(&response);
            if next.as_str().starts_with(prefix) {
                return next;
            }
            response = self.request(Method::GET, next.as_str()).await;
        }
        panic!("never redirected to {prefix}");
    }

    /// Posts `fields` to `url` (a form's submission) and follows the redirects
    /// until the next one would go to `prefix`; returns that URL unvisited.
    pub async fn post_form_until(&self, url: &str, fields: &[(String, String)], prefix: &str) -> Url {
        let response = self.send(self.client.post(url).form(fields), url).await.unwrap_or_else(|e| panic!("{e}"));
        self.follow_until(response, prefix).await
    }

    /// Signs in at the dev identity provider from `start` (e.g. `{base}/login`),
    /// submitting its login form and any confirmation form it shows.
    pub async fn sign_in(&self, start: &str, user: &str, password: &str) -> Page {
        self.try_sign_in(start, user, password).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn try_request(&self, method: Method, url: &str) -> Result<Response, BrowseError> {
        self.send(self.client.request(method, url), url).await
    }

    pub async fn try_get(&self, url: &str) -> Result<Page, BrowseError> {
        let response = self.try_request(Method::GET, url).await?;
        self.try_follow(response).await
    }

    pub async fn try_post_form(&self, url: &str, fields: &[(String, String)]) -> Result<Page, BrowseError> {
        let response = self.send(self.client.post(url).form(fields), url).await?;
        self.try_follow(response).await
    }

    pub async fn try_submit(&self, form: &Form) -> Result<Page, BrowseError> {
        self.try_post_form(form.action.as_str(), &form.fields).await
    }

    pub async fn try_follow(&self, mut response: Response) -> Result<Page, BrowseError> {
        for _ in 0..20 {
            if !response.status().is_redirection() {
                let url = response.url().clone();
                let status = response.status();
                let headers = response.headers().clone();
                let body =
                    response.text().await.map_err(|source| BrowseError::Http { url: url.to_string(), source })?;
                return Ok(Page { url, status, headers, body });
            }
            let next =
                try_redirect_target(&response).ok_or_else(|| BrowseError::BadRedirect(response.url().clone()))?;
            if self.stop_at.as_deref().is_some_and(|prefix| next.as_str().starts_with(prefix)) {
                let (status, headers) = (response.status(), response.headers().clone());
                return Ok(Page { url: next, status, headers, body: String::new() });
            }
            response = self.try_request(Method::GET, next.as_str()).await?;
        }
        Err(BrowseError::TooManyRedirects(response.url().clone()))
    }

    pub async fn try_sign_in(&self, start: &str, user: &str, password: &str) -> Result<Page, BrowseError> {
        let origin = Url::parse(start).map_err(|e| BrowseError::BadUrl(format!("{start}: {e}")))?.origin();
        self.try_sign_in_back_to(start, &origin, user, password).await
    }

    /// [`try_sign_in`](Self::try_sign_in) from a `start` at the provider (the
    /// authorization request a service redirected to): forms are submitted
    /// until a page at `home`, the service's origin, is reached.
    pub async fn try_sign_in_back_to(
        &self,
        start: &str,
        home: &Origin,
        user: &str,
        password: &str,
    ) -> Result<Page, BrowseError> {
        let mut page = self.try_get(start).await?;
        for _ in 0..5 {
            let Some(mut form) = first_post_form(&page) else { return Ok(page) };
            if page.url.origin() == *home {
                return Ok(page);
            }
            if form.has("password") {
                let login_field = ["login", "username", "user"].into_iter().find(|n| form.has(n)).unwrap_or("login");
                form.set(login_field, user);
                form.set("password", password);
            }
            page = self.try_submit(&form).await?;
        }
        Ok(page)
    }

    /// Sends one request and tells the observer how it went.
    async fn send(&self, request: reqwest::RequestBuilder, url: &str) -> Result<Response, BrowseError> {
        let request = match self.timeout {
            Some(timeout) => request.timeout(timeout),
            None => request,
        };
        let request = request.build().map_err(|source| BrowseError::Http { url: url.to_owned(), source })?;
        if let Some(host) = &self.only_host
            && request.url().host_str() != Some(host.as_str())
        {
            return Err(BrowseError::Refused(request.url().clone()));
        }
        let method = request.method().clone();
        let target = request.url().clone();
        let started = Instant::now();
        let result = self.client.execute(request).await;
        if let Some(observer) = &self.observer {
            let status = result.as_ref().ok().map(Response::status);
            observer(&Exchange { method: &method, url: &target, status, elapsed: started.elapsed() });
        }
        result.map_err(|source| BrowseError::Http { url: url.to_owned(), source })
    }
}

pub fn redirect_target(response: &Response) -> Url {
    try_redirect_target(response)
        .unwrap_or_else(|| panic!("the redirect from {} has no usable Location", response.url()))
}

fn try_redirect_target(response: &Response) -> Option<Url> {
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    response.url().join(location).ok()
}

/// The first `<form method=post>` on the page, with its inputs' current values.
pub fn first_post_form(page: &Page) -> Option<Form> {
    post_forms(page).into_iter().next()
}

/// Every `<form method=post>` on the page, in order, with its inputs' current values.
pub fn post_forms(page: &Page) -> Vec<Form> {
    post_forms_as_written(&page.body)
        .into_iter()
        .filter_map(|(action, fields)| Some(Form { action: page.url.join(&action).ok()?, fields }))
        .collect()
}

/// Every `<form method=post>` of an HTML text, in order: its `action` as
/// written (entities decoded, not resolved against any URL) and its inputs'
/// names and current values (buttons and submit inputs are not sent: a
/// person's click adds the one they pressed).
pub fn post_forms_as_written(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let html = Html::parse_document(html);
    let forms = Selector::parse("form").unwrap();
    let inputs = Selector::parse("input, button[name]").unwrap();
    html.select(&forms)
        .filter(|f| f.value().attr("method").is_some_and(|m| m.eq_ignore_ascii_case("post")))
        .map(|form| {
            let action = form.value().attr("action").unwrap_or("").to_owned();
            let fields = form
                .select(&inputs)
                .filter(|i| i.value().name() == "input" && i.value().attr("type") != Some("submit"))
                .filter_map(|i| {
                    Some((i.value().attr("name")?.to_owned(), i.value().attr("value").unwrap_or("").to_owned()))
                })
                .collect();
            (action, fields)
        })
        .collect()
}

/// The cookies one site set, for a client that builds its requests itself
/// (the bench's API Gateway events): name → value, paths and domains ignored
/// (every cookie of ours is `Path=/` on the one host).
#[derive(Debug, Default, Clone)]
pub struct SiteCookies(BTreeMap<String, String>);

impl SiteCookies {
    /// Applies one `Set-Cookie` value: stores the cookie, or removes it when it is expired or empty.
    pub fn store(&mut self, set_cookie: &str) {
        let mut attributes = set_cookie.split(';');
        let Some((name, value)) = attributes.next().and_then(|pair| pair.split_once('=')) else { return };
        let expired = attributes.any(|a| {
            let a = a.trim().to_ascii_lowercase();
            a == "max-age=0" || a.starts_with("expires=thu, 01 jan 1970")
        });
        if expired || value.is_empty() {
            self.0.remove(name.trim());
        } else {
            self.0.insert(name.trim().to_owned(), value.trim().to_owned());
        }
    }

    /// Puts a cookie into the jar as if the site had set it (a minted session).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// `name=value` for every cookie, as a request sends them.
    pub fn pairs(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_post_form() {
        let html = r#"<form method="get" action="/x"></form><form method="post" action="/a?b=1&amp;c=2">
<input type="hidden" name="csrf" value="t0k"><input name="email" value=""></form>"#;
        let (action, fields) = post_forms_as_written(html).into_iter().next().unwrap();
        assert_eq!(action, "/a?b=1&c=2");
        assert_eq!(fields, vec![("csrf".into(), "t0k".into()), ("email".into(), String::new())]);
    }

    #[test]
    fn resolves_actions_against_the_page_and_leaves_buttons_out() {
        let page = Page {
            url: Url::parse("http://127.0.0.1:3000/redeem?x=1").unwrap(),
            status: StatusCode::OK,
            headers: reqwest::header::HeaderMap::new(),
            body: r#"<form method="POST"><input name="token" value="t"><input type="submit" name="go" value="Go">
<button type="submit" name="action" value="confirm">Yes</button></form>
<form method="post" action="https://elsewhere.example/x"></form>"#
                .into(),
        };
        let forms = post_forms(&page);
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].action.as_str(), "http://127.0.0.1:3000/redeem?x=1");
        assert_eq!(forms[0].fields, vec![("token".into(), "t".into())]);
        assert_eq!(forms[1].action.as_str(), "https://elsewhere.example/x");
        let mut form = first_post_form(&page).unwrap();
        form.set("action", "confirm");
        form.set("token", "u");
        assert_eq!(form.fields, vec![("token".into(), "u".into()), ("action".into(), "confirm".into())]);
        assert!(form.has("action") && !form.has("go"));
    }

    #[test]
    fn cookies_are_stored_and_removed() {
        let mut jar = SiteCookies::default();
        jar.store("pl_session=abc; Path=/; HttpOnly; Max-Age=3600");
        assert_eq!(jar.get("pl_session"), Some("abc"));
        jar.store("pl_session=; Path=/; Max-Age=0");
        assert!(jar.is_empty());
    }
}
