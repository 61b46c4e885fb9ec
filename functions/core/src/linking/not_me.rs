//! "I didn't ask for this": whoever holds a link's email may cancel the
//! request it belongs to, without signing in (the token proves the inbox).
//! Every still-unused link of the request is burned, audited under the
//! identity that asked: the request is what was refused.

use super::redeem::RedeemStorage;
use crate::store::StoreError;
use crate::store::redeem::StoredLink;

/// Where a request was stopped as "not me".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelledVia {
    /// The email's "I didn't ask for this" link.
    Mailbox,
    /// The confirmation page, by the person who asked.
    Requester,
    /// The page another sign-in sees.
    WrongAccount,
}

impl CancelledVia {
    /// As metrics and logs name it.
    pub const fn as_str(self) -> &'static str {
        match self {
            CancelledVia::Mailbox => "mailbox",
            CancelledVia::Requester => "requester",
            CancelledVia::WrongAccount => "wrong_account",
        }
    }

    /// What the audit trail says about where it came from.
    const fn detail(self) -> Option<&'static str> {
        match self {
            CancelledVia::WrongAccount => Some("from the page another sign-in saw"),
            CancelledVia::Mailbox => Some("from the email's \"I didn't ask for this\" link"),
            CancelledVia::Requester => None,
        }
    }
}

/// Cancels the request `link` belongs to, from the inbox's side: how many
/// unused links were burned (0: nothing was left to cancel).
pub async fn cancel_request(
    store: &impl RedeemStorage,
    link: &StoredLink,
    via: CancelledVia,
    now: i64,
) -> Result<usize, StoreError> {
    let requester = link.record.identity();
    store.burn_request(link, &requester, via.detail(), now).await
}
