//! Customer profiles as the company's customer system holds them.

use crate::domain::email::RegisteredEmail;

/// A profile's id in the customer system: 1–64 of `A-Z a-z 0-9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileId(String);

impl ProfileId {
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An id reads as the text it is, where text is asked for (keys, logs, pages).
impl std::ops::Deref for ProfileId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&ProfileId> for String {
    fn from(id: &ProfileId) -> Self {
        id.0.clone()
    }
}

/// Read from a stored record: an id that does not parse fails the record.
impl<'de> serde::Deserialize<'de> for ProfileId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("not a profile id (1 to 64 of A-Z a-z 0-9 . _ : -)"))
    }
}

impl std::fmt::Display for ProfileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: ProfileId,
    pub email: RegisteredEmail,
    pub display_name: String,
    pub organization: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_ids_are_restricted() {
        assert_eq!(ProfileId::parse(" CUST-0001 ").unwrap().as_str(), "CUST-0001");
        assert!(ProfileId::parse("a:b.c_d-1").is_some());
        for bad in ["", "a b", "a#b", "=cmd", &"x".repeat(65), "é"] {
            assert!(ProfileId::parse(bad).is_none(), "{bad}");
        }
    }
}
