//! `links list | revoke | send`: what support needs to answer "who is linked
//! to this profile?", "why didn't my customer get an email?" and "undo that".

use comfy_table::Table;
use profile_link_core::Identity;
use profile_link_core::Store;
use profile_link_core::domain::identity::RequesterLabel;
use profile_link_core::domain::link_token::LinkId;
use profile_link_core::domain::profile::ProfileId;
use profile_link_core::i18n::Locale;
use profile_link_core::mail::format_utc;
use profile_link_core::store::support::{IdentityLinks, LinkView, ProfileLinks};
use profile_link_core::store::suppressions::Suppression;
use profile_link_core::store::{Requester, StoreError};

use crate::audit::{issuer_host, sign_in};

/// Support links live longer than the 1-hour self-service ones: the person
/// may read the email the next day. At most a week.
pub const DEFAULT_SUPPORT_LINK_HOURS: i64 = 72;
pub const MAX_SUPPORT_LINK_HOURS: i64 = 168;

fn short_time(at: i64) -> String {
    format_utc(at).trim_end_matches(" UTC").to_owned()
}

/// When a link stops working; an unsent one's lifetime starts when its email goes.
fn expiry(link: &LinkView) -> String {
    match link.sent_at {
        None if link.state == "pending" || link.state == "sending" => {
            format!("{} min after sending", link.lifetime_seconds / 60)
        }
        _ => short_time(link.expires_at),
    }
}

fn links_table(links: &[LinkView]) -> Table {
    let mut table = Table::new();
    table.set_header([
        "link",
        "profile",
        "state",
        "for sign-in",
        "sent to",
        "email",
        "created (UTC)",
        "expires (UTC)",
        "by",
    ]);
    for link in links {
        table.add_row([
            link.link_id.clone(),
            link.profile_id.clone(),
            link.state.clone(),
            sign_in(&link.identity_iss, &link.identity_sub),
            link.sent_to.clone(),
            link.email.clone(),
            short_time(link.created_at),
            expiry(link),
            (if link.support_initiated { "support" } else { "the person" }).to_owned(),
        ]);
    }
    table
}

/// A profile's owner and links, for people.
pub fn profile_report(report: &ProfileLinks) -> String {
    let owner = match &report.linked_to {
        Some(owner) => match (&owner.entra_tid, &owner.entra_oid) {
            (Some(tid), Some(oid)) => format!(
                "linked to {} (Entra tenant {tid}, object {oid})",
                sign_in(&owner.identity_iss, &owner.identity_sub)
            ),
            _ => format!("linked to {}", sign_in(&owner.identity_iss, &owner.identity_sub)),
        },
        None => "not linked to any sign-in".to_owned(),
    };
    let links = if report.links.is_empty() {
        "no links in the table (expired links leave it; `audit show` keeps their history)".to_owned()
    } else {
        links_table(&report.links).to_string()
    };
    format!("profile {}: {owner}\n{links}", report.profile_id)
}

/// An identity's profiles and links, for people.
pub fn identity_report(report: &IdentityLinks) -> String {
    let profiles = if report.linked_profiles.is_empty() {
        "no linked profiles".to_owned()
    } else {
        format!("linked profiles: {}", report.linked_profiles.join(", "))
    };
    let links =
        if report.links.is_empty() { "no pending links".to_owned() } else { links_table(&report.links).to_string() };
    format!("{}: {profiles}\n{links}", sign_in(&report.identity_iss, &report.identity_sub))
}

/// Suppressed addresses, for people (masked: the table has them in full for support's search).
pub fn suppressions_table(list: &[Suppression]) -> String {
    let mut table = Table::new();
    table.set_header(["address", "reason", "detail", "since (UTC)", "profile", "link or notice"]);
    for entry in list {
        let masked = profile_link_core::domain::identity::mask_email(&entry.address);
        table.add_row([
            masked,
            entry.reason.clone(),
            entry.detail.clone(),
            short_time(entry.at),
            entry.profile_id.clone().unwrap_or_default(),
            entry.link_id.clone().or_else(|| entry.notice_id.clone()).unwrap_or_default(),
        ]);
    }
    table.to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum SupportLinkError {
    #[error("no profile {0} in the table")]
    UnknownProfile(ProfileId),
    #[error("the lifetime must be 1 to {MAX_SUPPORT_LINK_HOURS} hours (got {0})")]
    Lifetime(i64),
    #[error("the issuer must be the identity provider's https URL (or http on loopback), got {0:?}")]
    Issuer(String),
    #[error("the subject (sub) must be 1-255 visible characters")]
    Subject,
    #[error("the label must be 1-{} letters, digits, spaces or * @ . - _", RequesterLabel::MAX_CHARS)]
    Label,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What support asks for: a link for `profile`, redeemable only by the sign-in (`issuer`, `subject`).
pub struct SupportLink<'a> {
    pub profile: &'a ProfileId,
    pub issuer: &'a str,
    pub subject: &'a str,
    /// How the email names the sign-in (default: its subject, if it is a
    /// [`RequesterLabel::chosen_by_support`]; otherwise the fixed phrase).
    pub label: Option<&'a str>,
    pub lifetime_hours: i64,
    pub operator: &'a str,
    pub locale: Locale,
}

/// Validates the request and records the link; send-emails mails it from the stream.
pub async fn send_support_link(store: &Store, request: &SupportLink<'_>, now: i64) -> Result<LinkId, SupportLinkError> {
    if !(1..=MAX_SUPPORT_LINK_HOURS).contains(&request.lifetime_hours) {
        return Err(SupportLinkError::Lifetime(request.lifetime_hours));
    }
    let issuer = url::Url::parse(request.issuer).map_err(|_| SupportLinkError::Issuer(request.issuer.to_owned()))?;
    let loopback = matches!(issuer.host_str(), Some("127.0.0.1" | "localhost"));
    if !(issuer.scheme() == "https" || (issuer.scheme() == "http" && loopback)) {
        return Err(SupportLinkError::Issuer(request.issuer.to_owned()));
    }
    let subject = request.subject;
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(SupportLinkError::Subject);
    }
    let label = match request.label {
        Some(label) => RequesterLabel::chosen_by_support(label).ok_or(SupportLinkError::Label)?,
        None => {
            RequesterLabel::chosen_by_support(subject).unwrap_or_else(|| RequesterLabel::unnamed(request.locale.text()))
        }
    };
    let profile = store
        .get_profiles(std::slice::from_ref(request.profile))
        .await?
        .remove(request.profile)
        .ok_or_else(|| SupportLinkError::UnknownProfile(request.profile.clone()))?;
    let requester = Requester {
        identity: Identity::new(request.issuer.to_owned(), subject.to_owned()),
        label,
        provider: issuer_host(request.issuer),
        source_ip: "support".to_owned(),
        locale: request.locale,
    };
    Ok(store.record_support_link(&requester, &profile, request.operator, request.lifetime_hours * 3600, now).await?)
}
