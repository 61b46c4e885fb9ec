//! The people's mailboxes: one reader for all of them. Reading the emulator's
//! sent mail costs it a walk over all its state, and it serves one request at
//! a time, so a single task reads it (only while someone waits, and backing
//! off as reads get slower) and hands each person the links sent to them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use profile_link_dev_server::mailbox::sent_messages;
use tokio::sync::watch;

use crate::metrics::lock;
use crate::people::MAIL_DOMAIN;

/// A redeem link as it first appeared in a mailbox.
#[derive(Debug, Clone)]
pub struct ReceivedLink {
    pub url: String,
    /// The link's id (the token's part before the dot).
    pub link_id: String,
    pub seen_at: Instant,
}

/// What the mailboxes held at the last read.
#[derive(Debug, Default)]
pub struct Seen {
    /// Redeem links by recipient, each once, in the order they were first seen.
    pub links: HashMap<String, Vec<ReceivedLink>>,
    /// Emails carrying each link id (exactly 1 in a healthy run).
    pub emails_per_link: HashMap<String, usize>,
    /// "Your profile is now linked" notices (emails without a redeem link), by recipient.
    pub notices: HashMap<String, usize>,
    pub reads: usize,
    pub failed_reads: usize,
    pub read_time: Duration,
}

pub struct Mailbox {
    endpoint: String,
    seen: Mutex<Seen>,
    /// Bumped after every read, so waiting people look again.
    reads: watch::Sender<u64>,
    waiting: AtomicUsize,
}

/// The shortest pause between two reads.
const MIN_INTERVAL: Duration = Duration::from_millis(250);

impl Mailbox {
    pub fn new(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            seen: Mutex::new(Seen::default()),
            reads: watch::channel(0).0,
            waiting: AtomicUsize::new(0),
        }
    }

    /// Reads the emulator's sent mail once and merges what is new.
    pub async fn read(&self) -> Result<(), String> {
        let started = Instant::now();
        let result = sent_messages(&self.endpoint).await;
        let now = Instant::now();
        let mut seen = lock(&self.seen);
        seen.reads += 1;
        seen.read_time += now - started;
        let messages = match result {
            Ok(messages) => messages,
            Err(error) => {
                seen.failed_reads += 1;
                return Err(error);
            }
        };
        let mut emails_per_link: HashMap<String, usize> = HashMap::new();
        let mut notices: HashMap<String, usize> = HashMap::new();
        for message in &messages {
            let recipients: Vec<String> =
                message.recipients().into_iter().filter(|r| r.ends_with(&format!("@{MAIL_DOMAIN}"))).collect();
            if recipients.is_empty() {
                continue;
            }
            let redeem: Vec<String> = message.links().into_iter().filter(|l| l.contains("/redeem?token=")).collect();
            if redeem.is_empty() {
                for recipient in recipients {
                    *notices.entry(recipient).or_default() += 1;
                }
                continue;
            }
            for url in redeem {
                let Some(link_id) = link_id(&url) else { continue };
                *emails_per_link.entry(link_id.clone()).or_default() += 1;
                for recipient in &recipients {
                    let links = seen.links.entry(recipient.clone()).or_default();
                    if !links.iter().any(|l| l.link_id == link_id) {
                        links.push(ReceivedLink { url: url.clone(), link_id: link_id.clone(), seen_at: now });
                    }
                }
            }
        }
        seen.emails_per_link = emails_per_link;
        seen.notices = notices;
        drop(seen);
        self.reads.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Reads while anyone waits, pausing at least three times as long as the
    /// last read took, so the emulator spends at most a quarter of its time on us.
    pub async fn run(&self) {
        loop {
            if self.waiting.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(MIN_INTERVAL).await;
                continue;
            }
            let started = Instant::now();
            let _ = self.read().await;
            tokio::time::sleep(MIN_INTERVAL.max(started.elapsed() * 3)).await;
        }
    }

    /// Waits until at least `count` links reached `address`, or `until`.
    /// Either way returns what arrived.
    pub async fn wait_for(&self, address: &str, count: usize, until: Instant) -> Vec<ReceivedLink> {
        let _waiting = Waiting::new(&self.waiting);
        let mut reads = self.reads.subscribe();
        loop {
            let links = self.links_to(address);
            if links.len() >= count {
                return links;
            }
            match tokio::time::timeout_at(tokio::time::Instant::from_std(until), reads.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.links_to(address),
            }
        }
    }

    pub fn links_to(&self, address: &str) -> Vec<ReceivedLink> {
        lock(&self.seen).links.get(address).cloned().unwrap_or_default()
    }

    pub fn with_seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&lock(&self.seen))
    }
}

/// Counts a waiting person for as long as they wait (also when their task is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The link id of a redeem link: its token's selector.
pub fn link_id(url: &str) -> Option<String> {
    let token = url.split_once("token=")?.1.split('&').next()?;
    let (selector, _verifier) = token.split_once('.')?;
    (!selector.is_empty()).then(|| selector.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_id_is_the_tokens_selector() {
        assert_eq!(link_id("http://127.0.0.1:3000/redeem?token=abc.def").as_deref(), Some("abc"));
        assert_eq!(link_id("http://127.0.0.1:3000/redeem?token=abc.def&x=1").as_deref(), Some("abc"));
        assert_eq!(link_id("http://127.0.0.1:3000/redeem?token=abc"), None);
        assert_eq!(link_id("http://127.0.0.1:3000/redeem"), None);
    }
}
