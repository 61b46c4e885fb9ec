//! Where to send a person after sign-in: only a path on this site.

/// A validated same-site relative path (with optional query), e.g. `/redeem?token=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

const MAX_LEN: usize = 2048;
/// The portals' authorization endpoint (the `authorize` function).
const AUTHORIZE: &str = "/authorize";

impl ReturnTo {
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// Accepts `/path[?query]` only. Rejects anything a browser could resolve to
    /// another origin: absolute URLs, scheme-relative `//host`, backslashes
    /// (browsers read `/\host` as `//host`), control characters and whitespace,
    /// fragments, and percent-encoded forms of the same tricks.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.is_empty() || raw.len() > MAX_LEN || !raw.starts_with('/') {
            return None;
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\' || c == '#') {
            return None;
        }
        let decoded = percent_decode_lossy(raw);
        let lower = decoded.to_ascii_lowercase();
        // A URL in the query could be forwarded by a page as it is; only
        // `/authorize` takes one (the portal's redirect URI), and it answers
        // only to URIs the portal registered, so there it is no open redirect.
        let urls_allowed = raw.split_once('?').is_some_and(|(path, _)| path == AUTHORIZE);
        if decoded.starts_with("//")
            || decoded.contains('\\')
            || decoded.chars().any(|c| c.is_control())
            || lower.starts_with("/%")
            || (lower.contains("://") && !urls_allowed)
        {
            return None;
        }
        Some(Self(raw.to_owned()))
    }

    pub fn parse_or_root(raw: Option<&str>) -> Self {
        raw.and_then(Self::parse).unwrap_or_else(Self::root)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Decodes `%XX` sequences repeatedly (double-encoding is a classic bypass),
/// leaving malformed ones as they are.
fn percent_decode_lossy(input: &str) -> String {
    let mut current = input.to_owned();
    for _ in 0..3 {
        let next = decode_once(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn decode_once(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_same_site_paths() {
        for ok in ["/", "/associate", "/redeem?token=abc.def", "/a/b?c=d&e=%20f", "/caf%C3%A9"] {
            assert_eq!(ReturnTo::parse(ok).map(|r| r.0), Some(ok.to_owned()), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_that_could_leave_the_site() {
        for bad in [
            "",
            "https://evil.example/",
            "http:/evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/%252F%252Fevil.example",
            "/ /evil",
            "/\t/evil.example",
            "/path\r\nSet-Cookie: x=1",
            "javascript:alert(1)",
            "evil.example",
            "/#frag",
            "/x?next=https://evil.example",
        ] {
            assert_eq!(ReturnTo::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_the_authorization_endpoint_may_carry_a_url_in_its_query() {
        let portal = "/authorize?client_id=demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A3100%2Fcallback&state=s";
        assert_eq!(ReturnTo::parse(portal).map(|r| r.0), Some(portal.to_owned()));
        for bad in [
            "/authorizex?redirect_uri=https://evil.example",
            "/authorize/x?redirect_uri=https://evil.example",
            "/other?redirect_uri=http%3A%2F%2Fevil.example",
            "/authorize%2F%2Fevil.example?x=https://e",
        ] {
            assert_eq!(ReturnTo::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rejects_overlong_paths() {
        assert!(ReturnTo::parse(&format!("/{}", "a".repeat(MAX_LEN))).is_none());
    }

    #[test]
    fn falls_back_to_root() {
        assert_eq!(ReturnTo::parse_or_root(Some("//evil")).as_str(), "/");
        assert_eq!(ReturnTo::parse_or_root(None).as_str(), "/");
        assert_eq!(ReturnTo::parse_or_root(Some("/associate")).as_str(), "/associate");
    }
}
