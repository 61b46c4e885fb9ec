//! What an email is about: a link or a notice, and its profile. It names the
//! item a bounce or complaint must mark, never an address.

use super::link_token::LinkId;
use super::profile::ProfileId;

/// It travels with the email as SES message tags (`crate::mail::tags`), so a
/// bounce or complaint names its link or notice and its profile without a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailSubject {
    Link { link_id: LinkId, profile_id: ProfileId },
    Notice { notice_id: String, profile_id: ProfileId },
}

impl MailSubject {
    pub fn profile_id(&self) -> &ProfileId {
        match self {
            MailSubject::Link { profile_id, .. } | MailSubject::Notice { profile_id, .. } => profile_id,
        }
    }
}
