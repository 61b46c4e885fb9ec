//! A small browser: a cookie jar, manual redirects, and HTML forms submitted
//! the way a person submits them.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::LOCATION;
use reqwest::{Method, Response, StatusCode};
use scraper::{Html, Selector};
use url::Url;

pub struct Browser {
    pub client: reqwest::Client,
    jar: Arc<Jar>,
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
        let jar = Arc::new(Jar::default());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::ACCEPT_LANGUAGE, accept_language.parse().unwrap());
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { client, jar }
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
        self.client.request(method, url).send().await.unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    pub async fn get(&self, url: &str) -> Page {
        let response = self.request(Method::GET, url).await;
        self.follow(response).await
    }

    pub async fn post_form(&self, url: &str, fields: &[(String, String)]) -> Page {
        let response = self.client.post(url).form(fields).send().await.unwrap();
        self.follow(response).await
    }

    pub async fn submit(&self, form: &Form) -> Page {
        self.post_form(form.action.as_str(), &form.fields).await
    }

    /// Follows redirects (at most 20) to the page they end at.
    pub async fn follow(&self, mut response: Response) -> Page {
        for _ in 0..20 {
            if !response.status().is_redirection() {
                let url = response.url().clone();
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.text().await.unwrap();
                return Page { url, status, headers, body };
            }
            let next = redirect_target(&response);
            response = self.request(Method::GET, next.as_str()).await;
        }
        panic!("more than 20 redirects");
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

    /// Signs in at the dev identity provider from `start` (e.g. `{base}/login`),
    /// submitting its login form and any confirmation form it shows.
    pub async fn sign_in(&self, start: &str, user: &str, password: &str) -> Page {
        let mut page = self.get(start).await;
        for _ in 0..5 {
            let Some(mut form) = first_post_form(&page) else { return page };
            let at_provider = !page.url.as_str().starts_with(&origin_of(start));
            if !at_provider {
                return page;
            }
            if form.has("password") {
                let login_field = ["login", "username", "user"].into_iter().find(|n| form.has(n)).unwrap_or("login");
                form.set(login_field, user);
                form.set("password", password);
            }
            page = self.submit(&form).await;
        }
        page
    }
}

fn origin_of(url: &str) -> String {
    Url::parse(url).unwrap().origin().ascii_serialization()
}

pub fn redirect_target(response: &Response) -> Url {
    let location = response.headers().get(LOCATION).expect("redirect has Location").to_str().unwrap();
    response.url().join(location).unwrap()
}

/// The first `<form method=post>` on the page, with its inputs' current values.
pub fn first_post_form(page: &Page) -> Option<Form> {
    let html = Html::parse_document(&page.body);
    let forms = Selector::parse("form").unwrap();
    let inputs = Selector::parse("input, button[name]").unwrap();
    let form =
        html.select(&forms).find(|f| f.value().attr("method").is_some_and(|m| m.eq_ignore_ascii_case("post")))?;
    let action = page.url.join(form.value().attr("action").unwrap_or("")).unwrap();
    let fields = form
        .select(&inputs)
        .filter(|i| i.value().name() == "input" && i.value().attr("type") != Some("submit"))
        .filter_map(|i| Some((i.value().attr("name")?.to_owned(), i.value().attr("value").unwrap_or("").to_owned())))
        .collect();
    Some(Form { action, fields })
}
