//! One simulated person's whole flow, as `tests/redeem.rs` walks it: sign in
//! at the provider, ask for the emails, wait for them, open each link (signing
//! in again), confirm, and check `/me` lists exactly their profiles. Anything
//! unexpected ends the flow with an error of a named kind; nothing here panics
//! on what a server answers.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use profile_link_tests::browser::{BrowseError, Browser, Exchange, Page, first_post_form};
use url::Url;

use crate::mailbox::Mailbox;
use crate::metrics::{Endpoint, Metrics};
use crate::people::{PASSWORD, Person};

/// What every person shares.
pub struct Run {
    pub base: Url,
    pub mailbox: Arc<Mailbox>,
    pub metrics: Arc<Metrics>,
    pub request_timeout: Duration,
    pub mail_wait: Duration,
    /// How long a person reads each email before clicking its link.
    pub reading: Duration,
    /// People behind one source address (see [`Person::source_address`]).
    pub people_per_address: usize,
}

/// Why a flow stopped: the step and what happened, worded so that the same
/// failure of different people counts as one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    pub step: &'static str,
    pub what: String,
}

impl FlowError {
    fn new(step: &'static str, what: impl Into<String>) -> Self {
        Self { step, what: what.into() }
    }

    fn browsing(step: &'static str, error: &BrowseError) -> Self {
        let what = match error {
            _ if error.is_timeout() => "no answer within the request timeout".to_owned(),
            BrowseError::Http { source, .. } if source.is_connect() => "connection failed".to_owned(),
            BrowseError::Http { .. } => "request failed".to_owned(),
            BrowseError::BadUrl(_) => "bad URL".to_owned(),
            BrowseError::BadRedirect(_) => "redirect without a usable Location".to_owned(),
            BrowseError::TooManyRedirects(_) => "more than 20 redirects".to_owned(),
            BrowseError::Refused(_) => "a redirect left 127.0.0.1 (not followed)".to_owned(),
        };
        Self::new(step, what)
    }

    pub fn kind(&self) -> String {
        format!("{}: {}", self.step, self.what)
    }
}

/// Runs `person`'s flow to the end or to the first error.
pub async fn run(run: &Run, person: Person) -> Result<(), FlowError> {
    let started = Instant::now();
    let browser = browser(run, person);
    let url = |path: &str| run.base.join(path).map(String::from).unwrap_or_default();

    // Sign in; the app lands on the account page.
    let login = person.login();
    let page = browser
        .try_sign_in(&url("/login?provider=dev"), &login, PASSWORD)
        .await
        .map_err(|e| FlowError::browsing("sign-in", &e))?;
    arrived(&page, "sign-in", run, "/")?;

    // Ask for the emails with the registered address.
    let page = browser.try_get(&url("/associate")).await.map_err(|e| FlowError::browsing("GET /associate", &e))?;
    arrived(&page, "GET /associate", run, "/associate")?;
    let mut form = first_post_form(&page)
        .filter(|f| f.has("csrf") && f.has("email"))
        .ok_or_else(|| FlowError::new("GET /associate", "no request form with csrf and email fields"))?;
    form.set("email", &person.address());
    let page = browser.try_submit(&form).await.map_err(|e| FlowError::browsing("POST /associate", &e))?;
    arrived(&page, "POST /associate", run, "/associate")?;
    let requested_at = Instant::now();
    let expected = person.profile_ids();
    Metrics::add(&run.metrics.requests_accepted, 1);
    Metrics::add(&run.metrics.links_requested, expected.len());

    // One email per profile.
    let links = run.mailbox.wait_for(&person.address(), expected.len(), requested_at + run.mail_wait).await;
    {
        let mut arrivals = crate::metrics::lock(&run.metrics.email_arrival);
        arrivals.extend(links.iter().map(|l| l.seen_at.saturating_duration_since(requested_at)));
    }
    if links.len() < expected.len() {
        return Err(FlowError::new("mail", format!("fewer emails than profiles within {} s", run.mail_wait.as_secs())));
    }
    if links.len() > expected.len() {
        return Err(FlowError::new("mail", "more links than profiles"));
    }

    // Each link: read the email, open the link, sign in again, confirm.
    for link in &links {
        tokio::time::sleep(run.reading).await;
        if Url::parse(&link.url).map(|u| u.origin()) != Ok(run.base.origin()) {
            return Err(FlowError::new("mail", "a link points away from the base URL (not opened)"));
        }
        let page =
            browser.try_sign_in(&link.url, &login, PASSWORD).await.map_err(|e| FlowError::browsing("open link", &e))?;
        arrived(&page, "open link", run, "/redeem")?;
        let mut form = first_post_form(&page)
            .filter(|f| f.has("csrf") && f.has("token"))
            .ok_or_else(|| FlowError::new("open link", "no confirmation form"))?;
        form.set("action", "confirm");
        Metrics::add(&run.metrics.confirmations_sent, 1);
        let page = browser.try_submit(&form).await.map_err(|e| FlowError::browsing("POST /redeem", &e))?;
        arrived(&page, "POST /redeem", run, "/redeem")?;
        Metrics::add(&run.metrics.links_redeemed, 1);
    }

    // The account lists exactly this person's profiles.
    let page = browser.try_get(&url("/me")).await.map_err(|e| FlowError::browsing("GET /me", &e))?;
    arrived(&page, "GET /me", run, "/me")?;
    let listed = listed_profiles(&page.body).ok_or_else(|| FlowError::new("GET /me", "not the expected JSON"))?;
    if listed != expected.into_iter().collect::<BTreeSet<_>>() {
        return Err(FlowError::new("GET /me", "lists other profiles than the person's"));
    }
    Metrics::add(&run.metrics.flows_completed, 1);
    crate::metrics::lock(&run.metrics.flow).push(started.elapsed());
    Ok(())
}

/// A browser of one's own (cookies, connections from the person's source
/// address), confined to 127.0.0.1, reporting every request.
fn browser(run: &Run, person: Person) -> Browser {
    let metrics = run.metrics.clone();
    let ours = run.base.origin();
    Browser::from_address(person.source_address(run.people_per_address))
        .with_timeout(run.request_timeout)
        .confined_to_host("127.0.0.1")
        .observed(Arc::new(move |exchange: &Exchange<'_>| {
            let endpoint = Endpoint::classify(exchange.method, exchange.url, &ours);
            metrics.record(endpoint, exchange.status.map(|s| s.as_u16()), exchange.elapsed);
        }))
}

/// The page must be a 200 at `path` of the base URL.
fn arrived(page: &Page, step: &'static str, run: &Run, path: &str) -> Result<(), FlowError> {
    let here = if page.url.origin() == run.base.origin() { page.url.path() } else { "the identity provider" };
    if page.status != reqwest::StatusCode::OK {
        return Err(FlowError::new(step, format!("HTTP {} at {here}", page.status.as_u16())));
    }
    if page.url.origin() != run.base.origin() || page.url.path() != path {
        return Err(FlowError::new(step, format!("ended at {here}, not {path}")));
    }
    Ok(())
}

/// The profile ids `/me` lists.
fn listed_profiles(body: &str) -> Option<BTreeSet<String>> {
    let me: serde_json::Value = serde_json::from_str(body).ok()?;
    me["profiles"].as_array()?.iter().map(|p| p["profile_id"].as_str().map(str::to_owned)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_lists_profile_ids() {
        let body = r#"{"identity":{},"profiles":[{"profile_id":"LOAD-000003-2"},{"profile_id":"LOAD-000003-1"}]}"#;
        let ids: Vec<String> = listed_profiles(body).unwrap().into_iter().collect();
        assert_eq!(ids, ["LOAD-000003-1", "LOAD-000003-2"]);
        assert_eq!(listed_profiles("not json"), None);
        assert_eq!(listed_profiles(r#"{"profiles":[{"id":1}]}"#), None);
    }
}
