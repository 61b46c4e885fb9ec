//! The email address registered with the company: parsed by a well-kept
//! RFC 5321/5322 parser, then normalised so one mailbox has one key.

use email_address::{EmailAddress, Options};

/// A syntactically valid address, trimmed and lower-cased. Once a value has
/// this type nothing downstream re-checks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegisteredEmail(String);

/// What is wrong with an address, in words a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Please enter an email address.")]
    Empty,
    #[error("That email address is too long.")]
    TooLong,
    #[error("An email address needs an @ between the name and the domain, like name@example.com.")]
    MissingAt,
    #[error("The part after the @ should be a domain name like example.com.")]
    BadDomain,
    #[error(
        "That email address contains characters that are not allowed. Please enter just the address, like name@example.com."
    )]
    BadCharacters,
}

const MAX_LEN: usize = 254;

impl EmailError {
    /// What is wrong, in the person's language.
    pub fn message(self, t: &crate::i18n::Text) -> &'static str {
        match self {
            EmailError::Empty => t.email_empty,
            EmailError::TooLong => t.email_too_long,
            EmailError::MissingAt => t.email_missing_at,
            EmailError::BadDomain => t.email_bad_domain,
            EmailError::BadCharacters => t.email_bad_characters,
        }
    }
}

impl RegisteredEmail {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        if !trimmed.contains('@') {
            return Err(EmailError::MissingAt);
        }
        // Quoted local parts, comments and display names are valid RFC 5322 but
        // never what a customer types; refusing them keeps one spelling per mailbox.
        if trimmed
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '(' | ')' | '<' | '>' | ',' | ';' | '\\'))
        {
            return Err(EmailError::BadCharacters);
        }
        let normalized = validated(trimmed)?.as_str().to_lowercase();
        // Lower-casing can make a valid address invalid ('İ' becomes 'i' and a
        // combining dot): such an address could be stored but never read back
        // or typed again, so it is refused. (Found by scripts/fuzz.)
        validated(&normalized).map_err(|_| EmailError::BadCharacters)?;
        if normalized.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        Ok(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: first letter and domain only.
    pub fn masked(&self) -> String {
        mask_email(&self.0)
    }
}

/// RFC 5322 syntax (no display names, no domain literals, a TLD required).
fn validated(address: &str) -> Result<EmailAddress, EmailError> {
    let options = Options::default().without_display_text().without_domain_literal().with_required_tld();
    EmailAddress::parse_with_options(address, options).map_err(|e| {
        use email_address::Error as E;
        match e {
            E::MissingSeparator => EmailError::MissingAt,
            E::DomainEmpty
            | E::DomainTooLong
            | E::SubDomainEmpty
            | E::SubDomainTooLong
            | E::DomainTooFew
            | E::DomainInvalidSeparator
            | E::UnsupportedDomainLiteral
            | E::InvalidIPAddress => EmailError::BadDomain,
            E::LocalPartTooLong => EmailError::TooLong,
            _ => EmailError::BadCharacters,
        }
    })
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

impl std::fmt::Display for RegisteredEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(RegisteredEmail::parse("  Pat@Example.COM \n").unwrap().as_str(), "pat@example.com");
        assert_eq!(RegisteredEmail::parse("pat+billing@example.com").unwrap().as_str(), "pat+billing@example.com");
        assert_eq!(RegisteredEmail::parse("Ünal@Beispiel.de").unwrap().as_str(), "ünal@beispiel.de");
    }

    #[test]
    fn an_address_that_lower_casing_breaks_is_refused() {
        // 'İ' lower-cases to 'i' plus a combining dot, which no address may hold.
        assert_eq!(RegisteredEmail::parse("P+news@Example.İM"), Err(EmailError::BadCharacters));
    }

    #[test]
    fn explains_what_is_wrong() {
        assert_eq!(RegisteredEmail::parse("   "), Err(EmailError::Empty));
        assert_eq!(RegisteredEmail::parse("pat.example.com"), Err(EmailError::MissingAt));
        assert_eq!(RegisteredEmail::parse("pat@localhost"), Err(EmailError::BadDomain));
        assert_eq!(RegisteredEmail::parse("pat@[127.0.0.1]"), Err(EmailError::BadDomain));
        assert_eq!(RegisteredEmail::parse("Pat <pat@example.com>"), Err(EmailError::BadCharacters));
        assert_eq!(RegisteredEmail::parse("\"pat\"@example.com"), Err(EmailError::BadCharacters));
        assert_eq!(RegisteredEmail::parse("a@b.com,c@d.com"), Err(EmailError::BadCharacters));
        assert_eq!(RegisteredEmail::parse(&format!("{}@example.com", "a".repeat(250))), Err(EmailError::TooLong));
        assert!(RegisteredEmail::parse("pat@@example.com").is_err());
    }

    #[test]
    fn masks_for_logs() {
        assert_eq!(RegisteredEmail::parse("pat@example.com").unwrap().masked(), "p***@example.com");
    }
}
