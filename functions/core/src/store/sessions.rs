//! What the table knows about an identity's sessions:
//!
//! - `IDENTITY#<key>` / `SESSIONS`: the session generation, in the identity's
//!   own partition so that the one query the account page, `/me` and every
//!   state change make for the linked profiles reads it too. "Sign out
//!   everywhere" moves it on, which ends every session issued before.
//! - `SESSION#<sid>` / `ENDED`: one signed-out session (every copy of its
//!   cookie), kept until that session would have expired anyway. A partition
//!   of its own, read beside the identity's query, so that the functions that
//!   end a session (login's `/logout`, authorize's `/end-session`) are granted
//!   these items and no identity's (template.yaml, `dynamodb:LeadingKeys`).
//!   Before, they were `IDENTITY#<key>` / `ENDED#<sid>`; the query still reads
//!   those until the last of them expires with its session.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::associations::{LinkedProfile, linked_profile};
use super::conflicts::SendRetryingConflicts;
use super::items::{get_s, n, s};
use super::logouts::{LogoutCause, logout_event_put};
use super::{Store, StoreError};
use crate::domain::identity::Identity;

/// An identity's linked profiles and which of its sessions are over, read in one query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityState {
    /// In profile id order.
    pub profiles: Vec<LinkedProfile>,
    /// Sessions of an older generation are over.
    pub generation: u64,
    ended: BTreeSet<String>,
}

impl IdentityState {
    /// Whether the session known by its id and generation (a cookie's, an
    /// access token's grant) was signed out, itself or everywhere, since it was issued.
    pub fn has_ended_session(&self, session_id: &str, generation: u64) -> bool {
        generation < self.generation || self.ended.contains(session_id)
    }

    pub fn profile_ids(&self) -> Vec<String> {
        self.profiles.iter().map(|p| p.profile_id.clone()).collect()
    }
}

fn identity_pk(identity: &Identity) -> String {
    format!("IDENTITY#{}", identity.key())
}

/// The partition prefix of signed-out sessions.
pub const ENDED_SESSION_PREFIX: &str = "SESSION#";

fn ended_session_key(session_id: &str) -> super::items::Item {
    super::items::Item::from([
        ("pk".to_owned(), s(format!("{ENDED_SESSION_PREFIX}{session_id}"))),
        ("sk".to_owned(), s("ENDED")),
    ])
}

impl Store {
    /// The identity's partition in one strongly consistent query: its linked
    /// profiles and its session generation (its pending-link pointers come
    /// along and are skipped: a handful at most). Whether one session was
    /// signed out alone is [`Store::session_state`]'s.
    pub async fn identity_state(&self, identity: &Identity) -> Result<IdentityState, StoreError> {
        let mut state = IdentityState::default();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(identity_pk(identity)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::sdk("Query(identity)", e))?;
            let sk = get_s(&item, "identity item", "sk")?;
            if let Some(profile_id) = sk.strip_prefix("PROFILE#") {
                state.profiles.push(linked_profile(profile_id, &item, &sk));
            } else if let Some(sid) = sk.strip_prefix("ENDED#") {
                // Written before ended sessions had their own partition.
                state.ended.insert(sid.to_owned());
            } else if sk == "SESSIONS" {
                state.generation = item
                    .get("generation")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt { key: sk.clone(), problem: "generation".into() })?;
            }
        }
        Ok(state)
    }

    /// The identity's state as one of its sessions sees it: the identity's
    /// query and, side by side, whether that session was signed out.
    pub async fn session_state(&self, identity: &Identity, session_id: &str) -> Result<IdentityState, StoreError> {
        let ended = async {
            self.client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(ended_session_key(session_id)))
                .consistent_read(true)
                .projection_expression("pk")
                .send()
                .await
                .map(|output| output.item.is_some())
                .map_err(|e| StoreError::sdk("GetItem(ended session)", e))
        };
        let (state, ended) = tokio::join!(self.identity_state(identity), ended);
        let mut state = state?;
        if ended? {
            state.ended.insert(session_id.to_owned());
        }
        Ok(state)
    }

    /// Ends one session of `identity` (every copy of its cookie), and in the
    /// same transaction tells the portals it signed in to (a logout event);
    /// the item goes when the session would have (`expires_at`).
    pub async fn end_session(
        &self,
        identity: &Identity,
        session_id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let ended = Put::builder()
            .table_name(&self.table)
            .set_item(Some(ended_session_key(session_id)))
            .item("kind", s("ended_session"))
            .item("expires_at", n(expires_at))
            .build()
            .expect("item set");
        let cause = LogoutCause::SignedOut { session_id: session_id.to_owned() };
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(ended).build())
            .transact_items(logout_event_put(&self.table, identity, &cause, now))
            .send_retrying_conflicts()
            .await
            .map_err(|e| StoreError::sdk("TransactWriteItems(ended session)", e))?;
        Ok(())
    }

    /// "Sign out everywhere": ends every session of `identity` issued so far,
    /// and in the same transaction tells every portal it signed in to. The
    /// item has no TTL: were it to vanish, the count would restart below
    /// sessions still alive.
    pub async fn end_every_session(&self, identity: &Identity, now: i64) -> Result<(), StoreError> {
        let next = Update::builder()
            .table_name(&self.table)
            .key("pk", s(identity_pk(identity)))
            .key("sk", s("SESSIONS"))
            .update_expression("ADD generation :one SET kind = :kind")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":kind", s("sessions"))
            .build()
            .expect("key and expressions set");
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(next).build())
            .transact_items(logout_event_put(&self.table, identity, &LogoutCause::SignedOutEverywhere, now))
            .send_retrying_conflicts()
            .await
            .map_err(|e| StoreError::sdk("TransactWriteItems(sessions)", e))?;
        Ok(())
    }
}
