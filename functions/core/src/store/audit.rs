//! `AUDIT#…`: one item per step of a link's life, kept for the audit trail.
//! Audit items expire by TTL after the retention period (default 400 days).

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::items::{Item, n, s};
use super::{Store, StoreError};
use crate::domain::identity::{Identity, IdentityKey};
use crate::domain::profile::ProfileId;
use crate::random;

pub const DEFAULT_AUDIT_RETENTION_SECONDS: i64 = 400 * 24 * 3600;

/// Whose timeline an audit entry belongs to.
#[derive(Debug, Clone)]
pub enum AuditSubject {
    Profile(ProfileId),
    /// Requests that matched no profile are recorded under the identity that asked.
    Identity(IdentityKey),
}

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub subject: AuditSubject,
    /// What happened: `requested`, `sent`, `send_failed`, `superseded`, …
    pub event: &'static str,
    pub identity: Option<Identity>,
    pub link_id: Option<String>,
    pub request_id: Option<String>,
    /// A short, log-safe detail (never a token or full email address).
    pub detail: Option<String>,
    pub at: i64,
}

impl AuditEntry {
    /// As one write of a transaction.
    pub fn to_item(&self, table: &str, retention_seconds: i64) -> TransactWriteItem {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(self.attributes(retention_seconds)))
                    .build()
                    .expect("item set"),
            )
            .build()
    }

    fn attributes(&self, retention_seconds: i64) -> Item {
        let pk = match &self.subject {
            AuditSubject::Profile(id) => format!("AUDIT#PROFILE#{id}"),
            AuditSubject::Identity(key) => format!("AUDIT#IDENTITY#{key}"),
        };
        let mut item = Item::from([
            ("pk".to_owned(), s(pk)),
            // Time-ordered, unique even for two events in the same millisecond.
            ("sk".to_owned(), s(format!("{:013}#{}#{}", self.at * 1000, self.event, random::token(6)))),
            ("kind".to_owned(), s("audit")),
            ("event".to_owned(), s(self.event)),
            ("at".to_owned(), n(self.at)),
            ("expires_at".to_owned(), n(self.at + retention_seconds)),
        ]);
        if let Some(identity) = &self.identity {
            item.insert("identity_iss".into(), s(&identity.issuer));
            item.insert("identity_sub".into(), s(&identity.subject));
        }
        for (name, value) in [("link_id", &self.link_id), ("request_id", &self.request_id), ("detail", &self.detail)] {
            if let Some(value) = value {
                item.insert(name.into(), s(value));
            }
        }
        item
    }
}

impl Store {
    /// Records one audit entry on its own (outcomes that change nothing else).
    pub async fn audit(&self, entry: &AuditEntry, retention_seconds: i64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(entry.attributes(retention_seconds)))
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem(audit)", e))?;
        Ok(())
    }
}

impl Store {
    /// Records an entry only if none of its kind exists yet for its link and
    /// identity (refusals: a replayed link adds nothing); `false` if one did.
    pub async fn audit_once(&self, entry: &AuditEntry, retention_seconds: i64) -> Result<bool, StoreError> {
        let mut item = entry.attributes(retention_seconds);
        let identity = entry.identity.as_ref().map(|i| random::sha256_b64(i.key().as_str().as_bytes()));
        let once = format!(
            "ONCE#{}#{}#{}",
            entry.event,
            entry.link_id.as_deref().unwrap_or("-"),
            identity.as_deref().map(|h| &h[..22]).unwrap_or("-")
        );
        item.insert("sk".into(), s(once));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(StoreError::sdk("PutItem(audit once)", e)),
        }
    }
}

/// One entry of a timeline, as read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub at: i64,
    pub event: String,
    pub identity_iss: Option<String>,
    pub identity_sub: Option<String>,
    pub link_id: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

impl Store {
    /// A profile's audit timeline, oldest first.
    pub async fn audit_trail(&self, profile: &ProfileId) -> Result<Vec<AuditRecord>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("AUDIT#PROFILE#{profile}")))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::sdk("Query(audit)", e))?;
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            out.push(AuditRecord {
                at: item.get("at").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0),
                event: text("event").unwrap_or_default(),
                identity_iss: text("identity_iss"),
                identity_sub: text("identity_sub"),
                link_id: text("link_id"),
                request_id: text("request_id"),
                detail: text("detail"),
            });
        }
        // The key orders by second; within one second, follow the link's lifecycle.
        out.sort_by_key(|r| (r.at, lifecycle_step(&r.event)));
        Ok(out)
    }
}

fn lifecycle_step(event: &str) -> u8 {
    match event {
        "requested" | "requested_unmatched" | "support_requested" => 0,
        "send_failed" => 1,
        // A send, or the decision not to send to a suppressed address.
        "sent" | "suppressed" => 2,
        e if e.starts_with("refused_") || e == "wrong_identity" || e == "reported_not_me" => 3,
        "linked" | "replaced" | "already_linked" => 4,
        "unlinked" => 5,
        _ => 6,
    }
}
