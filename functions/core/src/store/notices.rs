//! `NOTICE#<id>`: "your profile is now linked to …", written by redemption in
//! its transaction and sent to the registered address by send-emails through
//! the outbox (`outbox.rs`), as link emails are.

use serde::Deserialize;

use super::items::{Item, s};
use crate::domain::profile::ProfileId;

#[derive(Debug, Clone, Deserialize)]
pub struct NoticeRecord {
    pub notice_id: String,
    pub state: String,
    pub email: String,
    pub profile_id: ProfileId,
    pub display_name: String,
    #[serde(default)]
    pub organization: String,
    pub identity_label: String,
    pub identity_provider: String,
    #[serde(default)]
    pub replaced: bool,
    #[serde(default)]
    pub locale: String,
    pub created_at: i64,
    /// Sends SES refused for now; each pushes the next attempt further out.
    #[serde(default)]
    pub send_attempts: u32,
}

pub(super) fn notice_key(id: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("NOTICE#{id}"))), ("sk".to_owned(), s("NOTICE"))])
}
