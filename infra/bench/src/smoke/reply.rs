//! An HTTP function's answer, read as API Gateway would, and checked.

use anyhow::{Context, bail};

use crate::runtime_api::Answer;

/// An API Gateway v2 response as lambda_http writes it.
pub(super) struct HttpReply {
    status: u16,
    pub(super) headers: Vec<(String, String)>,
    cookies: Vec<String>,
    pub(super) body: String,
    raw: String,
}

impl HttpReply {
    pub(super) fn parse(answer: &Answer) -> anyhow::Result<Self> {
        let raw = String::from_utf8_lossy(&answer.body).into_owned();
        if answer.error {
            bail!("an invocation error instead of an HTTP response: {}", clip(&raw));
        }
        let read = profile_link_harness::apigw::Answer::parse(raw.as_bytes())
            .with_context(|| format!("not an HTTP answer: {}", clip(&raw)))?;
        Ok(Self { status: read.status, headers: read.headers, cookies: read.cookies, body: read.body, raw })
    }

    pub(super) fn status(&self, expected: u16) -> anyhow::Result<()> {
        if self.status != expected {
            bail!("expected status {expected}, got {}", self.seen());
        }
        Ok(())
    }

    pub(super) fn header(&self, name: &str, expected: &str) -> anyhow::Result<()> {
        let found = self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if found != Some(expected) {
            bail!("expected {name}: {expected}, got {}", self.seen());
        }
        Ok(())
    }

    /// A cookie's value from the response's `Set-Cookie`s.
    pub(super) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find_map(|c| c.split(';').next()?.trim().strip_prefix(name)?.strip_prefix('='))
    }

    /// The response as received, for a failure message.
    pub(super) fn seen(&self) -> String {
        clip(&self.raw)
    }
}

pub(super) fn clip(text: &str) -> String {
    const LIMIT: usize = 600;
    match text.char_indices().nth(LIMIT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_cookie_from_set_cookie_values() {
        let reply = HttpReply {
            status: 303,
            headers: Vec::new(),
            cookies: vec!["pl_other=1; Path=/".into(), "pl_redeem=a.b=c; Path=/redeem; HttpOnly".into()],
            body: String::new(),
            raw: String::new(),
        };
        assert_eq!(reply.cookie("pl_redeem"), Some("a.b=c"));
        assert_eq!(reply.cookie("pl"), None);
    }
}
