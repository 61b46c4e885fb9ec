//! A pending link's record (`LINK#<selector>` / `LINK`), as the stream
//! delivers it, send-emails reads it and redemption sees it, and the audit
//! entry a step about it writes. Both the request side (`links`) and the
//! redemption side (`redeem`) use it; neither depends on the other.

use serde::{Deserialize, Serialize};

use super::audit::{AuditEntry, AuditEvent, AuditSubject};
use super::items::{Item, s};
use crate::domain::identity::Identity;
use crate::domain::link_token::LinkId;
use crate::domain::profile::ProfileId;

/// Where a link stands. It is emailed (`Pending` → `Sending` → `Sent`, back
/// to `Pending` while SES says "not now", `Suppressed` when its address
/// bounced or complained, `Refused` when SES will never send it), and then either
/// redeemed once (`Used`), cancelled (`Burned`: by the person who got it, by
/// a redemption as another identity, or by an operator) or replaced by a newer
/// request (`Superseded`). Stored as its lower-case name. A "now linked"
/// notice goes through the same sending states (`outbox.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Pending,
    Sending,
    Sent,
    Suppressed,
    Refused,
    Superseded,
    Used,
    Burned,
}

impl LinkState {
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkState::Pending => "pending",
            LinkState::Sending => "sending",
            LinkState::Sent => "sent",
            LinkState::Suppressed => "suppressed",
            LinkState::Refused => "refused",
            LinkState::Superseded => "superseded",
            LinkState::Used => "used",
            LinkState::Burned => "burned",
        }
    }

    /// The state an item's `state` attribute names, if it is one.
    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == stored)
    }

    pub const ALL: [LinkState; 8] = [
        LinkState::Pending,
        LinkState::Sending,
        LinkState::Sent,
        LinkState::Suppressed,
        LinkState::Refused,
        LinkState::Superseded,
        LinkState::Used,
        LinkState::Burned,
    ];

    /// Still redeemable until it expires: not used, cancelled, replaced, suppressed or refused.
    pub const fn is_open(self) -> bool {
        matches!(self, LinkState::Pending | LinkState::Sending | LinkState::Sent)
    }
}

impl std::fmt::Display for LinkState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<LinkState> for String {
    fn from(state: LinkState) -> Self {
        state.as_str().to_owned()
    }
}

/// A link as the stream delivers it and send-emails reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkRecord {
    pub link_id: LinkId,
    pub request_id: String,
    pub state: LinkState,
    pub identity_iss: String,
    pub identity_sub: String,
    pub identity_label: String,
    pub identity_provider: String,
    pub profile_id: ProfileId,
    pub display_name: String,
    #[serde(default)]
    pub organization: String,
    pub email: String,
    pub created_at: i64,
    /// Unsent: when the outbox gives up on it (its lifetime and
    /// [`super::UNSENT_LINK_HOLD_SECONDS`] after `created_at`). Sent: when it
    /// stops working, its lifetime after the send. Also the TTL attribute.
    pub expires_at: i64,
    /// How long the link works once its email is sent (absent on links
    /// written before lifetimes counted from the send: `expires_at - created_at`).
    #[serde(default)]
    pub lifetime_seconds: Option<i64>,
    /// Sends SES refused for now (throttled, quota spent, paused); each pushes the next attempt further out.
    #[serde(default)]
    pub send_attempts: u32,
    /// While SES refuses for now: when the next attempt is due.
    #[serde(default)]
    pub next_attempt_at: Option<i64>,
    /// What SES last said instead of sending it (`throttled`, `quota_spent`, … or, refused, its error code).
    #[serde(default)]
    pub last_refusal: Option<String>,
    /// Language tag of the person who asked (`en` when absent).
    #[serde(default)]
    pub locale: String,
    /// `support` for a link an operator sent (`profile-link-admin links send`); empty otherwise.
    #[serde(default)]
    pub origin: String,
    /// SES did not answer its send: it may or may not have arrived (never sent again).
    #[serde(default)]
    pub send_unconfirmed: bool,
    /// SES's id for the email, once SES accepted it.
    #[serde(default)]
    pub ses_message_id: Option<String>,
    /// When SES accepted (or may have accepted) the email; absent if never sent.
    #[serde(default)]
    pub sent_at: Option<i64>,
    /// What SES said of the email after sending it: `delivered`, `delayed`, `rejected` (ses-events).
    #[serde(default)]
    pub mail_delivery: Option<String>,
    /// A bounce or complaint of the email: `bounced`, `complained` (ses-events).
    #[serde(default)]
    pub mail_feedback: Option<String>,
    /// SES's words for the feedback, e.g. `Permanent/General`.
    #[serde(default)]
    pub mail_feedback_detail: Option<String>,
}

impl LinkRecord {
    pub fn identity(&self) -> Identity {
        Identity::new(self.identity_iss.clone(), self.identity_sub.clone())
    }

    /// How long the link works once its email is sent.
    pub fn lifetime_seconds(&self) -> i64 {
        self.lifetime_seconds.unwrap_or(self.expires_at - self.created_at)
    }

    pub fn support_initiated(&self) -> bool {
        self.origin == SUPPORT_ORIGIN
    }
}

/// A link item as the table returns it (a read, a query of the outbox's index).
pub(super) fn link_record(key: &str, item: &super::items::Item) -> Result<LinkRecord, super::StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item.clone())
        .map_err(|e| super::StoreError::Corrupt { key: key.to_owned(), problem: e.to_string() })
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
    pub fn state(&self) -> LinkState {
        self.record.state
    }
}

/// The audit entry for `event` about `link`, by `identity`.
pub fn audit(
    link: &LinkRecord,
    event: AuditEvent,
    identity: &Identity,
    detail: Option<String>,
    now: i64,
) -> AuditEntry {
    AuditEntry {
        subject: AuditSubject::Profile(link.profile_id.clone()),
        event,
        identity: Some(identity.clone()),
        link_id: Some(link.link_id.to_string()),
        request_id: Some(link.request_id.clone()),
        detail,
        at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_stored_as_its_name_and_read_back() {
        for state in LinkState::ALL {
            assert_eq!(LinkState::parse(state.as_str()), Some(state), "{state:?} parsed from its name");
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()), "{state:?} serialised as {json}");
            assert_eq!(serde_json::from_str::<LinkState>(&json).unwrap(), state, "{json} read back");
        }
        assert!(serde_json::from_str::<LinkState>("\"expired\"").is_err(), "an unknown state is refused");
        assert_eq!(LinkState::parse("Pending"), None, "names are lower case");
    }
}

/// A link's item.
pub(super) fn link_key(id: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("LINK#{id}"))), ("sk".to_owned(), s("LINK"))])
}

/// The identity's pointer to its newest link for a profile.
pub(super) fn pending_pointer_key(identity: &Identity, profile_id: &str) -> Item {
    Item::from([
        ("pk".to_owned(), s(format!("IDENTITY#{}", identity.key()))),
        ("sk".to_owned(), s(format!("PENDING#{profile_id}"))),
    ])
}
