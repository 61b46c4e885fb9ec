//! A [`MailSubject`] as SES message tags, and back from an SES event's tags.

use std::collections::HashMap;

use crate::domain::link_token::LinkId;
use crate::domain::mail_subject::MailSubject;
use crate::domain::profile::ProfileId;

pub const TAG_LINK: &str = "pl-link";
pub const TAG_NOTICE: &str = "pl-notice";
pub const TAG_PROFILE: &str = "pl-profile";

impl MailSubject {
    /// The message tags (name, value) sent with the email.
    pub fn tags(&self) -> Vec<(&'static str, String)> {
        let (name, id) = match self {
            MailSubject::Link { link_id, .. } => (TAG_LINK, link_id.as_str()),
            MailSubject::Notice { notice_id, .. } => (TAG_NOTICE, notice_id.as_str()),
        };
        vec![(name, encode_tag_value(id)), (TAG_PROFILE, encode_tag_value(self.profile_id().as_str()))]
    }

    /// Read back from an SES event's `mail.tags` (name → values). Other tags
    /// (SES's own `ses:…`, an operator's) are ignored; anything malformed is `None`.
    pub fn from_tags(tags: &HashMap<String, Vec<String>>) -> Option<Self> {
        let tag = |name: &str| tags.get(name).and_then(|values| values.first()).and_then(|v| decode_tag_value(v));
        let profile_id = ProfileId::parse(&tag(TAG_PROFILE)?)?;
        if let Some(link) = tag(TAG_LINK) {
            return Some(MailSubject::Link { link_id: LinkId::parse(&link)?, profile_id });
        }
        let notice_id = tag(TAG_NOTICE).filter(|id| LinkId::parse(id).is_some())?;
        Some(MailSubject::Notice { notice_id, profile_id })
    }
}

/// SES tag values allow only `A-Z a-z 0-9 _ -`: every other byte, and `_`
/// itself, is written `_XX` (hex), so profile ids like `ACME:42.1` survive.
pub fn encode_tag_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("_{byte:02X}"));
        }
    }
    out
}

pub fn decode_tag_value(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'_' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_link_and_profile_within_ses_rules_and_read_back() {
        let link = MailSubject::Link {
            link_id: LinkId::parse("AAAAAAAAAAAAAAAAAA_-zz").unwrap(),
            profile_id: ProfileId::parse("ACME:42.x_y").unwrap(),
        };
        let tags = link.tags();
        for (name, value) in &tags {
            for part in [*name, value.as_str()] {
                assert!(part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'), "{part}");
                assert!(part.len() <= 256);
            }
        }
        let mut map: HashMap<String, Vec<String>> =
            tags.into_iter().map(|(name, value)| (name.to_owned(), vec![value])).collect();
        map.insert("ses:configuration-set".into(), vec!["profile-link".into()]);
        map.insert("something-else".into(), vec!["x".into()]);
        assert_eq!(MailSubject::from_tags(&map), Some(link));

        let notice = MailSubject::Notice { notice_id: "n".repeat(22), profile_id: ProfileId::parse("CUST-1").unwrap() };
        let map = notice.tags().into_iter().map(|(name, value)| (name.to_owned(), vec![value])).collect();
        assert_eq!(MailSubject::from_tags(&map), Some(notice));
    }

    #[test]
    fn malformed_tags_are_nothing() {
        let of = |pairs: &[(&str, &str)]| -> HashMap<String, Vec<String>> {
            pairs.iter().map(|(n, v)| ((*n).to_owned(), vec![(*v).to_owned()])).collect()
        };
        assert_eq!(MailSubject::from_tags(&of(&[])), None);
        assert_eq!(MailSubject::from_tags(&of(&[(TAG_LINK, "AAAAAAAAAAAAAAAAAAAAAA")])), None, "no profile");
        assert_eq!(MailSubject::from_tags(&of(&[(TAG_PROFILE, "CUST-1"), (TAG_LINK, "short")])), None);
        assert_eq!(MailSubject::from_tags(&of(&[(TAG_PROFILE, "CUST_2")])), None, "a dangling escape");
        assert_eq!(MailSubject::from_tags(&of(&[(TAG_PROFILE, "_3Cscript_3E")])), None, "not a profile id");
        assert_eq!(decode_tag_value("_ZZ"), None);
        assert_eq!(decode_tag_value("_C3_A9").as_deref(), Some("é"));
        assert_eq!(decode_tag_value(&encode_tag_value("a_b.c:d")).as_deref(), Some("a_b.c:d"));
    }
}
