//! What the emails say: a link email (one per profile) and a notice to a
//! profile's registered address, each as plain text and HTML from templates.

use askama::Template;

use super::Email;
use crate::config::Branding;
use crate::domain::identity::RequesterLabel;
use crate::i18n::{Text, fill};

/// What a link email needs to say.
pub struct LinkEmail<'a> {
    pub brand: &'a Branding,
    /// The language of the person who asked.
    pub t: &'a Text,
    pub display_name: &'a str,
    pub organization: &'a str,
    pub requester_label: &'a RequesterLabel,
    pub requester_provider: &'a str,
    pub link: &'a str,
    /// `/not-me?token=…` with the same token: cancels the whole request, no sign-in needed.
    pub not_me_link: &'a str,
    pub expires_at: i64,
    pub lifetime_minutes: i64,
    /// Sent by support at the person's request, not by the person's own sign-in.
    pub support_initiated: bool,
}

/// The sentences with placeholders, filled once for both parts.
struct LinkSentences {
    display_name: String,
    organization: String,
    intro: String,
    lifetime: String,
    questions_prefix: String,
    signature: String,
}

#[derive(Template)]
#[template(path = "email/link.txt")]
struct LinkText<'a> {
    m: &'a LinkEmail<'a>,
    s: &'a LinkSentences,
}

#[derive(Template)]
#[template(path = "email/link.html")]
struct LinkHtml<'a> {
    m: &'a LinkEmail<'a>,
    s: &'a LinkSentences,
}

/// A profile's name as one line of plain text: line breaks (a subject would
/// end at one) and other control characters become spaces; invisible and
/// direction-changing characters, which can make a name read as something
/// else, are dropped.
fn plain_line(raw: &str) -> String {
    raw.chars()
        .filter(|c| {
            !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}')
                && !matches!(c, '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}')
        })
        .map(|c| if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') { ' ' } else { c })
        .collect()
}

pub use crate::clock::format_utc;

impl LinkEmail<'_> {
    pub fn render(&self, to: &str) -> Result<Email, askama::Error> {
        let (t, brand) = (self.t, self.brand);
        let expires = format_utc(self.expires_at);
        let s = LinkSentences {
            display_name: plain_line(self.display_name),
            organization: plain_line(self.organization),
            intro: fill(
                if self.support_initiated { t.mail_link_intro_support } else { t.mail_link_intro },
                &[
                    ("requester", &self.requester_label),
                    ("provider", &self.requester_provider),
                    ("operator", &brand.operator_name),
                ],
            ),
            // Support links live for days: "72 hours" reads better than "4320 minutes".
            lifetime: if self.lifetime_minutes > 120 {
                fill(t.mail_link_lifetime_hours, &[("hours", &(self.lifetime_minutes / 60)), ("expires", &expires)])
            } else {
                fill(t.mail_link_lifetime, &[("minutes", &self.lifetime_minutes), ("expires", &expires)])
            },
            questions_prefix: fill(t.mail_questions, &[("operator", &brand.operator_name)]),
            signature: fill(t.mail_signature, &[("product", &brand.product_name), ("operator", &brand.operator_name)]),
        };
        Ok(Email {
            to: to.to_owned(),
            subject: fill(t.mail_link_subject, &[("profile", &s.display_name), ("operator", &brand.operator_name)]),
            text: LinkText { m: self, s: &s }.render()?,
            html: LinkHtml { m: self, s: &s }.render()?,
        })
    }
}

/// "Your profile is now linked to …", to the profile's registered address.
pub struct NoticeEmail<'a> {
    pub brand: &'a Branding,
    pub t: &'a Text,
    pub display_name: &'a str,
    pub organization: &'a str,
    pub identity_label: &'a RequesterLabel,
    pub identity_provider: &'a str,
    pub replaced: bool,
}

struct NoticeSentences {
    display_name: String,
    organization: String,
    intro: String,
    linked: String,
    not_you_prefix: String,
    signature: String,
}

#[derive(Template)]
#[template(path = "email/notice.txt")]
struct NoticeText<'a> {
    m: &'a NoticeEmail<'a>,
    s: &'a NoticeSentences,
}

#[derive(Template)]
#[template(path = "email/notice.html")]
struct NoticeHtml<'a> {
    m: &'a NoticeEmail<'a>,
    s: &'a NoticeSentences,
}

impl NoticeEmail<'_> {
    pub fn render(&self, to: &str) -> Result<Email, askama::Error> {
        let (t, brand) = (self.t, self.brand);
        let s = NoticeSentences {
            display_name: plain_line(self.display_name),
            organization: plain_line(self.organization),
            intro: fill(t.mail_notice_intro, &[("operator", &brand.operator_name)]),
            linked: fill(
                t.mail_notice_linked,
                &[("requester", &self.identity_label), ("provider", &self.identity_provider)],
            ),
            not_you_prefix: fill(
                t.mail_notice_not_you,
                &[("operator", &brand.operator_name), ("support", &brand.support_email)],
            ),
            signature: fill(t.mail_signature, &[("product", &brand.product_name), ("operator", &brand.operator_name)]),
        };
        Ok(Email {
            to: to.to_owned(),
            subject: fill(t.mail_notice_subject, &[("profile", &s.display_name), ("operator", &brand.operator_name)]),
            text: NoticeText { m: self, s: &s }.render()?,
            html: NoticeHtml { m: self, s: &s }.render()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identity::IdentityProfile;

    #[test]
    fn link_email_says_everything_the_person_needs() {
        let brand = Branding::new("Acme Link", "Acme", "help@acme.example");
        let email = LinkEmail {
            brand: &brand,
            t: &crate::i18n::EN,
            display_name: "Pat <Doe>",
            organization: "Doe Bakery",
            requester_label: &RequesterLabel::from_stored("p***@mail.example.net", &crate::i18n::EN),
            requester_provider: "login.example.net",
            link: "https://link.example.com/redeem?token=abc.def",
            not_me_link: "https://link.example.com/not-me?token=abc.def",
            expires_at: 1_795_000_000,
            lifetime_minutes: 60,
            support_initiated: false,
        }
        .render("pat@example.com")
        .unwrap();
        for part in [&email.text, &email.html] {
            assert!(part.contains("https://link.example.com/redeem?token=abc.def"));
            assert!(part.contains("Doe Bakery"));
            assert!(part.contains("p***@mail.example.net"));
            assert!(part.contains("login.example.net"));
            assert!(part.contains(&format_utc(1_795_000_000)));
            assert!(part.contains("help@acme.example"));
            assert!(part.contains("ignore this email"));
        }
        assert!(email.text.contains("Pat <Doe>"), "text is not HTML-escaped");
        assert!(email.html.contains("Pat &#60;Doe&#62;") || email.html.contains("Pat &lt;Doe&gt;"), "HTML is escaped");
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn every_link_email_offers_to_cancel_a_request_the_person_did_not_make() {
        let brand = Branding::new("Acme Link", "Acme", "help@acme.example");
        let label = RequesterLabel::unnamed(&crate::i18n::EN);
        let emails = every_email(&brand, &label, "Pat Doe", "Doe Bakery");
        for (what, email) in emails.iter().filter(|(what, _)| what.contains("link")) {
            let t = crate::i18n::Locale::from_tag(&what[..2]).text();
            let sentence_in_html = t.mail_link_not_me.replace('\'', "&#39;");
            for (part, sentence) in [(&email.text, t.mail_link_not_me), (&email.html, &sentence_in_html)] {
                assert!(part.contains("https://link.example.com/not-me?token=abc.def"), "{what}:\n{part}");
                assert!(part.contains(sentence), "{what}:\n{part}");
            }
            assert!(email.html.contains("href=\"https://link.example.com/not-me?token=abc.def\""), "{what}");
            let (redeem, not_me) = (email.text.find("/redeem?token="), email.text.find("/not-me?token="));
            assert!(redeem < not_me, "the link to confirm comes first: {what}");
        }
    }

    #[test]
    fn a_support_link_says_support_made_it_and_counts_hours() {
        let brand = Branding::new("Acme Link", "Acme", "help@acme.example");
        let email = LinkEmail {
            brand: &brand,
            t: &crate::i18n::EN,
            display_name: "Pat Doe",
            organization: "",
            requester_label: &RequesterLabel::chosen_by_support("pat-7f3c9a").unwrap(),
            requester_provider: "login.example.net",
            link: "https://link.example.com/redeem?token=abc.def",
            not_me_link: "https://link.example.com/not-me?token=abc.def",
            expires_at: 1_795_000_000,
            lifetime_minutes: 72 * 60,
            support_initiated: true,
        }
        .render("pat@example.com")
        .unwrap();
        for part in [&email.text, &email.html] {
            assert!(part.contains("Our support team prepared this link"), "{part}");
            assert!(part.contains("for 72 hours"), "{part}");
            assert!(!part.contains("Someone signed in"), "{part}");
        }
    }

    /// What the sign-in's owner (or a bad profile record) writes, and none of
    /// which may reach the company's emails.
    const HOSTILE: &[&str] = &[
        "{operator}",
        "{support}",
        "{product}",
        "{profile}",
        "{requester}",
        "{provider}",
        "{minutes}",
        "{hours}",
        "{expires}",
        "https://evil.example/x",
        "<a href=\"https://evil.example/x\">Acme support</a>",
        "Pat\r\nBcc: victim@evil.example",
        "\u{202E}lanigiro",
        "\u{2066}isolated\u{2069}",
        "zero\u{200B}width\u{200D}\u{FEFF}\u{2060}",
    ];

    /// Characters that change how text around them reads or where a header ends.
    fn invisible_or_breaking(c: char) -> bool {
        matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}')
            || matches!(c, '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}' | '\u{2028}' | '\u{2029}')
    }

    fn every_email(
        brand: &Branding,
        label: &RequesterLabel,
        display_name: &str,
        organization: &str,
    ) -> Vec<(String, Email)> {
        let mut emails = Vec::new();
        for locale in crate::i18n::Locale::ALL {
            let t = locale.text();
            for support_initiated in [false, true] {
                let email = LinkEmail {
                    brand,
                    t,
                    display_name,
                    organization,
                    requester_label: label,
                    requester_provider: "login.example.net",
                    link: "https://link.example.com/redeem?token=abc.def",
                    not_me_link: "https://link.example.com/not-me?token=abc.def",
                    expires_at: 1_795_000_000,
                    lifetime_minutes: if support_initiated { 48 * 60 } else { 60 },
                    support_initiated,
                };
                emails.push((
                    format!("{} link, support {support_initiated}", t.lang),
                    email.render("p@x.example").unwrap(),
                ));
            }
            for replaced in [false, true] {
                let email = NoticeEmail {
                    brand,
                    t,
                    display_name,
                    organization,
                    identity_label: label,
                    identity_provider: "login.example.net",
                    replaced,
                };
                emails.push((format!("{} notice, replaced {replaced}", t.lang), email.render("p@x.example").unwrap()));
            }
        }
        emails
    }

    /// Every part of every email, for checks that print what they saw.
    fn parts(emails: &[(String, Email)]) -> Vec<(String, &str)> {
        emails
            .iter()
            .flat_map(|(what, e)| {
                [("subject", &e.subject), ("text", &e.text), ("html", &e.html)]
                    .map(|(part, body)| (format!("{what}, {part}"), body.as_str()))
            })
            .collect()
    }

    #[test]
    fn no_email_carries_text_a_sign_in_wrote() {
        let brand = Branding::new("Acme Link", "Acme", "help@acme.example");
        let honest = every_email(&brand, &RequesterLabel::unnamed(&crate::i18n::EN), "Pat Doe", "Doe Bakery");
        let long = "A".repeat(300);
        let mut claims: Vec<String> = HOSTILE.iter().map(|h| (*h).to_owned()).collect();
        claims.push(long.clone());
        let mut profiles = Vec::new();
        for claim in &claims {
            for email in [claim.clone(), format!("{claim}@evil.example"), format!("p@{claim}.example")] {
                profiles.push(IdentityProfile {
                    name: Some(claim.clone()),
                    email: Some(email),
                    preferred_username: None,
                    email_verified: true,
                    ..IdentityProfile::default()
                });
            }
        }
        for profile in profiles {
            for t in [&crate::i18n::EN, &crate::i18n::DE] {
                let label = RequesterLabel::of_sign_in(&profile, t);
                let emails = every_email(&brand, &label, "Pat Doe", "Doe Bakery");
                for ((what, body), (_, honest_body)) in parts(&emails).into_iter().zip(parts(&honest)) {
                    let seen =
                        |marker: &str| format!("{marker:?} in the {what} for {profile:?} (label {label:?}):\n{body}");
                    for marker in
                        HOSTILE.iter().chain([&"evil.example/", &"Bcc:", &"href=\"https://evil", &&long[..20]])
                    {
                        assert!(!body.contains(marker), "{}", seen(marker));
                    }
                    assert!(!body.contains(['{', '}']), "{}", seen("a brace"));
                    assert!(!body.chars().any(invisible_or_breaking), "{}", seen("an invisible character"));
                    assert_eq!(body.matches("Acme").count(), honest_body.matches("Acme").count(), "{}", seen("Acme"));
                }
                for (what, email) in &emails {
                    assert!(!email.subject.contains(['\r', '\n']), "{what}: {:?}", email.subject);
                }
            }
        }
    }

    #[test]
    fn a_hostile_profile_name_is_shown_as_plain_text_and_fills_nothing() {
        // Profile names come from the company's records and must be shown, so
        // what may not survive is what acts: placeholders, markup, line breaks,
        // invisible and direction-changing characters.
        let brand = Branding::new("Acme Link", "Acme", "help@acme.example");
        let label = RequesterLabel::unnamed(&crate::i18n::EN);
        let honest = every_email(&brand, &label, "Pat Doe", "Doe Bakery");
        for hostile in HOSTILE {
            let emails = every_email(&brand, &label, hostile, hostile);
            for ((what, body), (_, honest_body)) in parts(&emails).into_iter().zip(parts(&honest)) {
                let seen = |marker: &str| format!("{marker} in the {what} for the name {hostile:?}:\n{body}");
                assert!(!body.chars().any(invisible_or_breaking), "{}", seen("an invisible character"));
                assert!(!body.contains('\r'), "{}", seen("a carriage return"));
                if what.ends_with("html") {
                    assert!(!body.contains("<a href=\"https://evil"), "{}", seen("markup"));
                }
                if !hostile.contains("Acme") {
                    let operator = body.matches("Acme").count();
                    assert_eq!(operator, honest_body.matches("Acme").count(), "{}", seen("a filled placeholder"));
                }
            }
            for (what, email) in &emails {
                assert!(!email.subject.contains(['\r', '\n']), "{what}: {:?}", email.subject);
                if hostile.starts_with('{') {
                    assert!(email.subject.contains(hostile), "{what}: shown as written: {:?}", email.subject);
                }
            }
        }
    }
}
