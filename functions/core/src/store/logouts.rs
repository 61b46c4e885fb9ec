//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0), the store's
//! half. The table is the outbox here too (like the emails): a change that
//! must reach portals writes a logout event in the same transaction as the
//! change itself, and the stream hands it to notify-portals.
//!
//! - `PORTALS#<identity key>` / `<session id>#<client id>`: a portal session,
//!   written with each code issued to a portal that takes logout tokens: what
//!   it was told (its `sub`, its `sid`, the profile ids), until the session
//!   would have expired. In a partition of its own, so authorize's
//!   `dynamodb:LeadingKeys` can name it without reaching `IDENTITY#*`.
//! - `LOGOUT#<event id>` / `EVENT`: a change portals must hear of (a sign-out,
//!   "sign out everywhere", a profile unlinked, revoked or taken over).
//! - `LOGOUT#<event id>` / `TO#<session id>#<client id>`: one portal session
//!   to notify: pending (with its attempts and next attempt time, and in
//!   the `LOGOUT#DUE` index partition that the sweep reads), then delivered
//!   or abandoned, each audited.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::Deserialize;

use super::audit::{AuditEntry, AuditEvent, AuditSubject};
use super::conflicts::SendRetryingConflicts;
use super::items::{Item, get_n, get_s, n, put_new, s};
use super::{Store, StoreError};
use crate::domain::identity::Identity;
use crate::domain::profile::ProfileId;
use crate::random;

/// The sweep's partition of `gsi1`: deliveries still pending, by next attempt time.
pub const DUE_PARTITION: &str = "LOGOUT#DUE";
/// A logout event and its deliveries stay this long past the event (their
/// retries give up sooner: see notify-portals), then expire by TTL.
const LOGOUT_ITEM_RETENTION_SECONDS: i64 = 3 * 24 * 3600;

/// What a portal was told in one session: recorded when it got a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSession {
    /// profile-link's own session id (never sent to a portal).
    pub session_id: String,
    pub client_id: String,
    /// What the portal saw: `sid` (`downstream::portal_sid`) and `sub`.
    pub sid: String,
    pub sub: String,
    pub profile_ids: Vec<String>,
    /// When the session ends anyway (its `exp`).
    pub expires_at: i64,
}

/// Why portals must hear of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutCause {
    /// One session signed out: its portal sessions.
    SignedOut { session_id: String },
    /// "Sign out everywhere": every portal session of the identity.
    SignedOutEverywhere,
    /// The identity no longer holds the profile (unlinked, revoked by support,
    /// or taken over by another identity): the portal sessions told about it.
    ProfileRemoved { profile_id: String, how: String },
}

impl LogoutCause {
    fn name(&self) -> &'static str {
        match self {
            Self::SignedOut { .. } => "signed_out",
            Self::SignedOutEverywhere => "signed_out_everywhere",
            Self::ProfileRemoved { .. } => "profile_removed",
        }
    }

    /// Whether `session` is one a portal must hear of for this cause.
    pub fn concerns(&self, session: &PortalSession) -> bool {
        match self {
            Self::SignedOut { session_id } => session.session_id == *session_id,
            Self::SignedOutEverywhere => true,
            Self::ProfileRemoved { profile_id, .. } => session.profile_ids.iter().any(|p| p == profile_id),
        }
    }

    /// How the audit trail says it.
    pub fn describe(&self) -> String {
        match self {
            Self::SignedOut { .. } => "signed out".into(),
            Self::SignedOutEverywhere => "signed out everywhere".into(),
            Self::ProfileRemoved { profile_id, how } => format!("profile {profile_id} {how}"),
        }
    }
}

/// A logout event as the stream delivers its new image.
#[derive(Debug, Clone, Deserialize)]
pub struct LogoutEvent {
    pk: String,
    cause: String,
    identity_iss: String,
    identity_sub: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    profile_id: Option<String>,
    #[serde(default)]
    how: Option<String>,
    pub created_at: i64,
}

impl LogoutEvent {
    pub fn event_id(&self) -> &str {
        self.pk.trim_start_matches("LOGOUT#")
    }

    pub fn identity(&self) -> Identity {
        Identity::new(self.identity_iss.clone(), self.identity_sub.clone())
    }

    pub fn cause(&self) -> Result<LogoutCause, StoreError> {
        let corrupt = |problem: &str| StoreError::Corrupt { key: self.pk.clone(), problem: problem.into() };
        match self.cause.as_str() {
            "signed_out" => {
                Ok(LogoutCause::SignedOut { session_id: self.session_id.clone().ok_or_else(|| corrupt("session_id"))? })
            }
            "signed_out_everywhere" => Ok(LogoutCause::SignedOutEverywhere),
            "profile_removed" => Ok(LogoutCause::ProfileRemoved {
                profile_id: self.profile_id.clone().ok_or_else(|| corrupt("profile_id"))?,
                how: self.how.clone().unwrap_or_else(|| "removed".into()),
            }),
            _ => Err(corrupt("cause")),
        }
    }
}

/// One portal session to notify of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    pub event_id: String,
    /// `<session id>#<client id>`.
    target: String,
    pub client_id: String,
    pub sid: String,
    pub sub: String,
    pub identity: Identity,
    pub profile_id: Option<String>,
    /// The event's cause, described (for the audit trail).
    pub cause: String,
    pub pending: bool,
    /// Attempts made so far.
    pub attempts: i64,
    pub next_attempt_at: i64,
    /// When the event happened: retries give up counting from here.
    pub created_at: i64,
}

/// What became of one attempt to post a logout token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// The portal answered 200 or 204.
    Delivered,
    /// Not this time (`problem`: its status, or why no answer): retried at the claimed time.
    Failed { problem: String },
    /// Failed for longer than retries go on: given up, audited.
    Abandoned { problem: String },
}

fn delivery_key(event_id: &str, target: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("LOGOUT#{event_id}"))), ("sk".to_owned(), s(format!("TO#{target}")))])
}

fn due_sort_key(next_attempt_at: i64, event_id: &str, target: &str) -> String {
    format!("{next_attempt_at:013}#{event_id}#{target}")
}

fn delivery_of(item: &Item) -> Result<LogoutDelivery, StoreError> {
    let pk = get_s(item, "logout delivery", "pk")?;
    let sk = get_s(item, &pk, "sk")?;
    let text = |name: &str| get_s(item, &pk, name);
    Ok(LogoutDelivery {
        event_id: pk.trim_start_matches("LOGOUT#").to_owned(),
        target: sk.trim_start_matches("TO#").to_owned(),
        client_id: text("client_id")?,
        sid: text("sid")?,
        sub: text("sub")?,
        identity: Identity::new(text("identity_iss")?, text("identity_sub")?),
        profile_id: text("profile_id").ok(),
        cause: text("cause")?,
        pending: text("state")? == "pending",
        attempts: get_n(item, &pk, "attempts")?,
        next_attempt_at: get_n(item, &pk, "next_attempt_at")?,
        created_at: get_n(item, &pk, "created_at")?,
    })
}

fn portal_session_of(item: &Item) -> Result<PortalSession, StoreError> {
    let sk = get_s(item, "portal session", "sk")?;
    let profile_ids = match item.get("profile_ids") {
        Some(AttributeValue::L(values)) => values.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    };
    Ok(PortalSession {
        session_id: sk.split('#').next().unwrap_or_default().to_owned(),
        client_id: get_s(item, &sk, "client_id")?,
        sid: get_s(item, &sk, "sid")?,
        sub: get_s(item, &sk, "sub")?,
        profile_ids,
        expires_at: get_n(item, &sk, "expires_at")?,
    })
}

/// The portal session's item, written beside the code issued in it.
pub(crate) fn portal_session_put(table: &str, identity: &Identity, session: &PortalSession, now: i64) -> Put {
    let item = Item::from([
        ("pk".to_owned(), s(format!("PORTALS#{}", identity.key()))),
        ("sk".to_owned(), s(format!("{}#{}", session.session_id, session.client_id))),
        ("kind".to_owned(), s("portal_session")),
        ("client_id".to_owned(), s(&session.client_id)),
        ("sid".to_owned(), s(&session.sid)),
        ("sub".to_owned(), s(&session.sub)),
        ("profile_ids".to_owned(), AttributeValue::L(session.profile_ids.iter().map(s).collect())),
        ("issued_at".to_owned(), n(now)),
        ("expires_at".to_owned(), n(session.expires_at)),
    ]);
    Put::builder().table_name(table).set_item(Some(item)).build().expect("item set")
}

/// A logout event, as one write of the transaction that makes the change.
pub(crate) fn logout_event_put(table: &str, identity: &Identity, cause: &LogoutCause, now: i64) -> TransactWriteItem {
    let mut item = Item::from([
        ("pk".to_owned(), s(format!("LOGOUT#{}", random::token(16)))),
        ("sk".to_owned(), s("EVENT")),
        ("kind".to_owned(), s("logout_event")),
        ("cause".to_owned(), s(cause.name())),
        ("identity_iss".to_owned(), s(&identity.issuer)),
        ("identity_sub".to_owned(), s(&identity.subject)),
        ("created_at".to_owned(), n(now)),
        ("expires_at".to_owned(), n(now + LOGOUT_ITEM_RETENTION_SECONDS)),
    ]);
    match cause {
        LogoutCause::SignedOut { session_id } => {
            item.insert("session_id".into(), s(session_id));
        }
        LogoutCause::SignedOutEverywhere => {}
        LogoutCause::ProfileRemoved { profile_id, how } => {
            item.insert("profile_id".into(), s(profile_id));
            item.insert("how".into(), s(how));
        }
    }
    TransactWriteItem::builder().put(put_new(table, item)).build()
}

impl Store {
    /// The identity's portal sessions (of one session, if `session_id` is given) not yet expired.
    pub async fn portal_sessions(
        &self,
        identity: &Identity,
        session_id: Option<&str>,
        now: i64,
    ) -> Result<Vec<PortalSession>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(format!("PORTALS#{}", identity.key())))
            .consistent_read(true);
        // DynamoDB refuses an empty prefix: the whole partition is asked for without one.
        let query = match session_id {
            Some(id) => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :session)")
                .expression_attribute_values(":session", s(format!("{id}#"))),
            None => query.key_condition_expression("pk = :pk"),
        };
        let mut pages = query.into_paginator().items().send();
        let mut sessions = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::sdk("Query(portal sessions)", e))?;
            let session = portal_session_of(&item)?;
            // TTL deletes late: expiry is checked here.
            if session.expires_at > now {
                sessions.push(session);
            }
        }
        Ok(sessions)
    }

    /// Adds one portal session to notify of `event`, pending from `now`;
    /// a redelivered event finds it there and adds nothing.
    pub async fn add_logout_delivery(
        &self,
        event: &LogoutEvent,
        cause: &LogoutCause,
        session: &PortalSession,
        now: i64,
    ) -> Result<(), StoreError> {
        let target = format!("{}#{}", session.session_id, session.client_id);
        let mut item = delivery_key(event.event_id(), &target);
        for (name, value) in [
            ("kind", "logout_delivery"),
            ("client_id", session.client_id.as_str()),
            ("sid", session.sid.as_str()),
            ("sub", session.sub.as_str()),
            ("identity_iss", event.identity_iss.as_str()),
            ("identity_sub", event.identity_sub.as_str()),
            ("state", "pending"),
            ("gsi1pk", DUE_PARTITION),
        ] {
            item.insert(name.to_owned(), s(value));
        }
        item.insert("cause".into(), s(cause.describe()));
        if let LogoutCause::ProfileRemoved { profile_id, .. } = cause {
            item.insert("profile_id".into(), s(profile_id));
        }
        item.insert("gsi1sk".into(), s(due_sort_key(now, event.event_id(), &target)));
        item.insert("attempts".into(), n(0));
        item.insert("next_attempt_at".into(), n(now));
        item.insert("created_at".into(), n(event.created_at));
        item.insert("expires_at".into(), n(event.created_at + LOGOUT_ITEM_RETENTION_SECONDS));
        // Written already (a redelivered event): nothing to add.
        self.put_new_item(item, "PutItem(logout delivery)").await.map(|_| ())
    }

    /// Every delivery of one event (strongly consistent: just written).
    pub async fn logout_deliveries(&self, event_id: &str) -> Result<Vec<LogoutDelivery>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :to)")
            .expression_attribute_values(":pk", s(format!("LOGOUT#{event_id}")))
            .expression_attribute_values(":to", s("TO#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut deliveries = Vec::new();
        while let Some(item) = pages.next().await {
            deliveries.push(delivery_of(&item.map_err(|e| StoreError::sdk("Query(logout deliveries)", e))?)?);
        }
        Ok(deliveries)
    }

    /// Pending deliveries whose next attempt is due by `now`, oldest first (at most `limit`).
    pub async fn due_logout_deliveries(&self, now: i64, limit: i32) -> Result<Vec<LogoutDelivery>, StoreError> {
        let (items, _) = self.due_page(DUE_PARTITION, now, limit, None, "Query(due logout deliveries)").await?;
        items.iter().map(delivery_of).collect()
    }

    /// Takes a due delivery for one attempt: counts it and moves its next
    /// attempt to `retry_at`, so neither the stream nor the sweep tries it
    /// again before then (a crash mid-attempt is retried at `retry_at`).
    /// `None` if it is not pending or not due (another invocation took it).
    pub async fn claim_logout_delivery(
        &self,
        delivery: &LogoutDelivery,
        now: i64,
        retry_at: i64,
    ) -> Result<Option<LogoutDelivery>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(&delivery.event_id, &delivery.target)))
            .update_expression("SET attempts = attempts + :one, next_attempt_at = :retry, gsi1sk = :due")
            .condition_expression("#state = :pending AND next_attempt_at <= :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":retry", n(retry_at))
            .expression_attribute_values(":due", s(due_sort_key(retry_at, &delivery.event_id, &delivery.target)))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes.as_ref().map(delivery_of).transpose(),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(e) => Err(StoreError::sdk("UpdateItem(claim logout delivery)", e)),
        }
    }

    /// Records what a claimed attempt came to: delivered or abandoned (out of
    /// the sweep's index, with its audit entry, in one transaction), or failed
    /// (its problem noted; the claim already set the retry).
    pub async fn settle_logout_delivery(
        &self,
        delivery: &LogoutDelivery,
        outcome: &LogoutOutcome,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = delivery_key(&delivery.event_id, &delivery.target);
        let (state, event, problem) = match outcome {
            LogoutOutcome::Failed { problem } => {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression("SET last_problem = :problem")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_values(":problem", s(problem))
                    .send()
                    .await
                    .map_err(|e| StoreError::sdk("UpdateItem(logout delivery failed)", e))?;
                return Ok(());
            }
            LogoutOutcome::Delivered => ("delivered", AuditEvent::PortalLoggedOut, None),
            LogoutOutcome::Abandoned { problem } => ("abandoned", AuditEvent::PortalLogoutAbandoned, Some(problem)),
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET #state = :state, settled_at = :now REMOVE gsi1pk, gsi1sk")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":state", s(state))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", n(now))
            .build()
            .expect("key and expressions set");
        let attempts = match delivery.attempts {
            1 => "1 attempt".to_owned(),
            many => format!("{many} attempts"),
        };
        let detail = match problem {
            None => format!("portal {} told ({}), after {attempts}", delivery.client_id, delivery.cause),
            Some(problem) => format!(
                "portal {} not told ({}): gave up after {attempts}, last {problem}",
                delivery.client_id, delivery.cause
            ),
        };
        let subject = match delivery.profile_id.as_deref().and_then(ProfileId::parse) {
            Some(profile) => AuditSubject::Profile(profile),
            None => AuditSubject::Identity(delivery.identity.key()),
        };
        let audit = AuditEntry {
            subject,
            event,
            identity: Some(delivery.identity.clone()),
            link_id: None,
            request_id: None,
            detail: Some(detail),
            at: now,
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(self.audit_item(&audit))
            .send_retrying_conflicts()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Settled already (a second attempt raced a slow first): its audit entry is written.
            Err(e) if super::conflicts::condition_failed(&e) => Ok(()),
            Err(e) => Err(StoreError::sdk("TransactWriteItems(settle logout delivery)", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_concerns_the_portal_sessions_it_names() {
        let session = |sid: &str, profiles: &[&str]| PortalSession {
            session_id: sid.into(),
            client_id: "portal".into(),
            sid: format!("portal-{sid}"),
            sub: "sub".into(),
            profile_ids: profiles.iter().map(|p| (*p).to_owned()).collect(),
            expires_at: 0,
        };
        let (a, b) = (session("a", &["CUST-1", "CUST-2"]), session("b", &["CUST-2"]));
        let signed_out = LogoutCause::SignedOut { session_id: "a".into() };
        let removed = LogoutCause::ProfileRemoved { profile_id: "CUST-1".into(), how: "unlinked".into() };
        assert_eq!((signed_out.concerns(&a), signed_out.concerns(&b)), (true, false));
        assert_eq!((removed.concerns(&a), removed.concerns(&b)), (true, false), "b was never told about CUST-1");
        assert!(LogoutCause::SignedOutEverywhere.concerns(&b));
    }
}
