//! Who a person is: the identity provider's (`iss`, `sub`) pair, never an email claim.

use serde::{Deserialize, Serialize};

/// A sign-in identity. Two identities are the same only if both issuer and subject are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
}

impl Identity {
    pub fn new(issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        Self { issuer: issuer.into(), subject: subject.into() }
    }

    /// The key this identity's items are stored under.
    pub fn key(&self) -> IdentityKey {
        IdentityKey(format!("{}#{}", escape(&self.issuer), escape(&self.subject)))
    }
}

/// `iss` and `sub` joined unambiguously (`%` and `#` escaped), for use inside
/// `IDENTITY#…` partition keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdentityKey(String);

impl IdentityKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('#', "%23")
}

/// What the identity provider says about the person, for display only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// The provider said it verified `email` (`email_verified: true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub email_verified: bool,
}

impl IdentityProfile {
    /// The friendliest label we have: name, then email, then username.
    pub fn display_label(&self) -> Option<&str> {
        self.name.as_deref().or(self.email.as_deref()).or(self.preferred_username.as_deref())
    }
}

/// `pat.doe@mail.example.net` → `p***@mail.example.net`: enough for a person to
/// recognise their own address, not enough to harvest it from logs or emails.
pub fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_separates_issuer_from_subject_unambiguously() {
        let a = Identity::new("https://idp.example/#a", "b").key();
        let b = Identity::new("https://idp.example/", "a#b").key();
        assert_ne!(a, b);
        assert_eq!(Identity::new("https://idp.example", "42").key().as_str(), "https://idp.example#42");
    }

    #[test]
    fn same_subject_at_another_issuer_is_another_identity() {
        assert_ne!(Identity::new("https://a.example", "1"), Identity::new("https://b.example", "1"));
    }

    #[test]
    fn masks_addresses() {
        assert_eq!(mask_email("pat.doe@mail.example.net"), "p***@mail.example.net");
        assert_eq!(mask_email("no-at-sign"), "***");
        assert_eq!(mask_email("@x.example"), "***@x.example");
    }

    #[test]
    fn display_label_prefers_name() {
        let p = IdentityProfile {
            name: None,
            email: Some("e@x".into()),
            preferred_username: Some("u".into()),
            email_verified: false,
        };
        assert_eq!(p.display_label(), Some("e@x"));
    }
}
