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
    /// Entra only: the tenant and the user's object id. Entra's `sub` is
    /// pairwise (another app registration, another `sub`); these stay, so
    /// support can recognise a person across a re-registered app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
}

impl IdentityProfile {
    /// Entra's (tenant, object id), when the sign-in was at Entra.
    pub fn directory(&self) -> Option<(&str, &str)> {
        self.tid.as_deref().zip(self.oid.as_deref())
    }

    /// The friendliest label we have: name, then email, then username.
    pub fn display_label(&self) -> Option<&str> {
        self.name.as_deref().or(self.email.as_deref()).or(self.preferred_username.as_deref())
    }
}

/// Masking lives with the address type; re-exported here, where callers look for it.
pub use crate::domain::email::mask_email;

/// How emails and pages name the sign-in that asked for a link. The claims it
/// comes from are written by whoever controls the sign-in, so only a masked
/// address in a small ASCII alphabet gets through (`p***@mail.example.net`);
/// the `name` claim never does. Without a usable address it is a fixed phrase
/// from i18n, and the email names the provider separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequesterLabel(String);

impl RequesterLabel {
    /// The longest label, in characters.
    pub const MAX_CHARS: usize = 64;

    /// From the sign-in's claims: its `email` claim, if it is an address, masked.
    pub fn of_sign_in(profile: &IdentityProfile, t: &crate::i18n::Text) -> Self {
        profile
            .email
            .as_deref()
            .and_then(|claim| crate::domain::email::RegisteredEmail::parse(claim).ok())
            .and_then(|address| masked_ascii(&address))
            .map_or_else(|| Self::unnamed(t), Self)
    }

    /// Support's wording for a sign-in it sends a link to (`links send --label`):
    /// letters, digits, spaces and `* @ . - _`, no more than [`Self::MAX_CHARS`].
    pub fn chosen_by_support(label: &str) -> Option<Self> {
        let label = label.trim();
        let allowed = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '*' | '@' | '.' | '-' | '_');
        (!label.is_empty() && label.chars().count() <= Self::MAX_CHARS && label.chars().all(allowed))
            .then(|| Self(label.to_owned()))
    }

    /// A label read back from a stored link or notice: kept if one of the
    /// constructors could have made it, else the fixed phrase (records written
    /// before labels were checked).
    pub fn from_stored(stored: &str, t: &crate::i18n::Text) -> Self {
        Self::chosen_by_support(stored).unwrap_or_else(|| Self::unnamed(t))
    }

    /// The fixed phrase for a sign-in without a usable address.
    pub fn unnamed(t: &crate::i18n::Text) -> Self {
        Self(t.requester_unnamed.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequesterLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// [`mask_email`] in ASCII: the first letter only if it is a letter or digit,
/// an internationalised domain in its punycode form; `None` if anything else
/// is left or it is too long.
fn masked_ascii(address: &crate::domain::email::RegisteredEmail) -> Option<String> {
    let (local, domain) = address.as_str().rsplit_once('@')?;
    let url::Host::Domain(domain) = url::Host::parse(domain).ok()? else { return None };
    let first = local.chars().next().filter(char::is_ascii_alphanumeric).map(String::from).unwrap_or_default();
    let label = format!("{first}***@{domain}");
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '*' | '@' | '.' | '-');
    (label.len() <= RequesterLabel::MAX_CHARS && label.chars().all(allowed)).then_some(label)
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
            ..IdentityProfile::default()
        };
        assert_eq!(p.display_label(), Some("e@x"));
    }

    fn label_of(email: Option<&str>, name: Option<&str>) -> String {
        let profile = IdentityProfile {
            name: name.map(str::to_owned),
            email: email.map(str::to_owned),
            preferred_username: None,
            email_verified: false,
            ..IdentityProfile::default()
        };
        RequesterLabel::of_sign_in(&profile, &crate::i18n::EN).as_str().to_owned()
    }

    #[test]
    fn a_requester_is_labelled_by_the_masked_address_only() {
        assert_eq!(label_of(Some("Pat.Doe@Mail.Example.net"), Some("Pat")), "p***@mail.example.net");
        assert_eq!(label_of(Some("ünal@bücher.example"), None), "***@xn--bcher-kva.example", "punycode, no ü");
        assert_eq!(label_of(Some("{operator}@example.com"), None), "***@example.com");
        assert_eq!(label_of(None, Some("{operator} security team")), "an unnamed account", "never the name");
    }

    #[test]
    fn a_requester_without_a_usable_address_is_the_fixed_phrase() {
        let long = format!("p@{}.example", "a".repeat(60));
        let hostile = ["not an address", "https://evil.example/x", "p@evil.example\r\nBcc: x@y.example", &long];
        let hidden = ["p@ev\u{202E}il.example", "p@ev\u{2066}il.example", "p@ev\u{200B}il.example", "p@127.0.0.1"];
        for claim in hostile.into_iter().chain(hidden) {
            assert_eq!(label_of(Some(claim), None), "an unnamed account", "{claim:?}");
        }
    }

    #[test]
    fn support_labels_and_stored_labels_keep_to_the_alphabet() {
        assert_eq!(RequesterLabel::chosen_by_support(" Sam Roe ").unwrap().as_str(), "Sam Roe");
        assert_eq!(RequesterLabel::chosen_by_support("Jürgen_2").unwrap().as_str(), "Jürgen_2");
        for hostile in ["{operator}", "https://evil.example", "a\nb", "\u{202E}x", "<b>", &"a".repeat(65), ""] {
            assert_eq!(RequesterLabel::chosen_by_support(hostile), None, "{hostile:?}");
            assert_eq!(RequesterLabel::from_stored(hostile, &crate::i18n::DE).as_str(), "ein unbenanntes Konto");
        }
        assert_eq!(
            RequesterLabel::from_stored("p***@mail.example.net", &crate::i18n::EN).as_str(),
            "p***@mail.example.net"
        );
    }
}
