//! A pending link's record (`LINK#<selector>` / `LINK`), as the stream
//! delivers it, send-emails reads it and redemption sees it, and the audit
//! entry a step about it writes. Both the request side (`links`) and the
//! redemption side (`redeem`) use it; neither depends on the other.

use serde::Deserialize;

use super::StoreError;
use super::audit::{AuditEntry, AuditSubject};
use crate::domain::identity::Identity;
use crate::domain::profile::ProfileId;

/// A link as the stream delivers it and send-emails reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkRecord {
    pub link_id: String,
    pub request_id: String,
    pub state: String,
    pub identity_iss: String,
    pub identity_sub: String,
    pub identity_label: String,
    pub identity_provider: String,
    pub profile_id: String,
    pub display_name: String,
    #[serde(default)]
    pub organization: String,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// Language tag of the person who asked (`en` when absent).
    #[serde(default)]
    pub locale: String,
    /// `support` for a link an operator sent (`profile-link-admin links send`); empty otherwise.
    #[serde(default)]
    pub origin: String,
    /// SES did not answer its send: it may or may not have arrived (never sent again).
    #[serde(default)]
    pub send_unconfirmed: bool,
}

impl LinkRecord {
    pub fn identity(&self) -> Identity {
        Identity::new(self.identity_iss.clone(), self.identity_sub.clone())
    }

    pub fn support_initiated(&self) -> bool {
        self.origin == SUPPORT_ORIGIN
    }
}

/// The `origin` of links support sent.
pub const SUPPORT_ORIGIN: &str = "support";

/// A link as redemption sees it: the record plus its redemption state.
#[derive(Debug, Clone)]
pub struct StoredLink {
    pub record: LinkRecord,
    pub verifier_hash: Option<String>,
    /// The identity key that used it, once used.
    pub used_by: Option<String>,
    pub siblings: Vec<String>,
}

impl StoredLink {
    pub fn state(&self) -> &str {
        &self.record.state
    }
}

/// The audit entry for `event` about `link`, by `identity`.
pub fn audit(
    link: &LinkRecord,
    event: &'static str,
    identity: &Identity,
    detail: Option<String>,
    now: i64,
) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        subject: AuditSubject::Profile(ProfileId::parse(&link.profile_id).ok_or_else(|| StoreError::Corrupt {
            key: format!("LINK#{}", link.link_id),
            problem: "profile_id".into(),
        })?),
        event,
        identity: Some(identity.clone()),
        link_id: Some(link.link_id.clone()),
        request_id: Some(link.request_id.clone()),
        detail,
        at: now,
    })
}
