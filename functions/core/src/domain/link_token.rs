//! Link tokens: split tokens (selector + verifier). The selector is the link's
//! id and lookup key; the verifier (256 bits from the OS CSPRNG) is minted
//! when the email is sent, exists only in that email, and is stored as SHA-256.

use crate::random;

/// A link's id and the token's selector: 128 random bits, base64url (22 chars).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(String);

impl LinkId {
    pub fn mint() -> Self {
        Self(random::token(16))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 22 && raw.bytes().all(is_base64url)).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An id reads as the text it is, where text is asked for (keys, logs, pages).
impl std::ops::Deref for LinkId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&LinkId> for String {
    fn from(id: &LinkId) -> Self {
        id.0.clone()
    }
}

/// Read from a stored record: an id that does not parse fails the record.
impl<'de> serde::Deserialize<'de> for LinkId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("not a link id (22 base64url characters)"))
    }
}

impl std::fmt::Display for LinkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The secret half of a link token.
pub struct Verifier(String);

impl Verifier {
    pub fn mint() -> Self {
        Self(random::secret_256())
    }

    /// What the table stores instead of the verifier.
    pub fn hash(&self) -> String {
        random::sha256_b64(self.0.as_bytes())
    }
}

/// A token as it appears in an email link: `<selector>.<verifier>`.
pub struct LinkToken {
    pub link_id: LinkId,
    verifier: Verifier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the link is malformed or incomplete")]
pub struct MalformedToken;

impl LinkToken {
    pub fn new(link_id: LinkId, verifier: Verifier) -> Self {
        Self { link_id, verifier }
    }

    pub fn parse(raw: &str) -> Result<Self, MalformedToken> {
        let (selector, verifier) = raw.trim().split_once('.').ok_or(MalformedToken)?;
        let link_id = LinkId::parse(selector).ok_or(MalformedToken)?;
        if verifier.len() != 43 || !verifier.bytes().all(is_base64url) {
            return Err(MalformedToken);
        }
        Ok(Self { link_id, verifier: Verifier(verifier.to_owned()) })
    }

    /// Whether this token's verifier is the one whose hash was stored (constant time).
    pub fn matches(&self, stored_hash: &str) -> bool {
        random::constant_time_eq(self.verifier.hash().as_bytes(), stored_hash.as_bytes())
    }

    /// The full token: only ever written into the email.
    pub fn expose(&self) -> String {
        format!("{}.{}", self.link_id, self.verifier.0)
    }
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LinkToken({}.***)", self.link_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_match_only_their_hash() {
        let verifier = Verifier::mint();
        let hash = verifier.hash();
        let token = LinkToken::new(LinkId::mint(), verifier);
        let parsed = LinkToken::parse(&token.expose()).unwrap();
        assert_eq!(parsed.link_id, token.link_id);
        assert!(parsed.matches(&hash));
        assert!(!parsed.matches(&Verifier::mint().hash()));
        assert!(!format!("{token:?}").contains(&token.expose()[23..]), "Debug never shows the verifier");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = LinkToken::new(LinkId::mint(), Verifier::mint()).expose();
        let (selector, verifier) = good.split_once('.').unwrap();
        for bad in [
            String::new(),
            selector.to_owned(),
            format!("{selector}."),
            format!(".{verifier}"),
            format!("{selector}.{}", &verifier[1..]),
            format!("{selector}x.{verifier}"),
            format!("{selector}.{verifier}x"),
            format!("{selector}.{}=", &verifier[..42]),
            format!("{selector}.{verifier}.{verifier}"),
            good.replace('.', ":"),
        ] {
            assert!(LinkToken::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
