//! An association request (seed steps 4–5): one `LINK#<id>` item per profile
//! registered under the address, each with the pointer `IDENTITY#<key>` /
//! `PENDING#<profile>` naming the identity's newest link for that profile
//! (older links are superseded by no longer being named), written in one
//! transaction with the rate counters. Also a renewal, and a link support sends.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};

use super::audit::{AddressHash, AuditEntry, AuditEvent, AuditSubject, REFUSALS_RECORDED_PER_WINDOW};
use super::conflicts::{SendRetryingConflicts, cancellation_codes, condition_failed};
use super::items::{Item, n, s};
use super::link_record::{LinkState, StoredLink, link_key, pending_pointer_key};
use super::{Store, StoreError};
use crate::domain::email::RegisteredEmail;
use crate::domain::identity::{Identity, RequesterLabel};
use crate::domain::link_token::LinkId;
use crate::domain::profile::Profile;
use crate::domain::rate_limit::{Limit, RateLimits, address_rate_key};

/// DynamoDB transactions take at most 100 items: 4 rate counters, 3 checks of
/// a renewed link, the request's records by address and by identity, and 3 per link.
pub const MAX_PROFILES_PER_REQUEST: usize = 30;

/// Who asked, as the email will describe them.
#[derive(Debug, Clone)]
pub struct Requester {
    pub identity: Identity,
    /// How the emails name the sign-in, e.g. `p***@mail.example.net`.
    pub label: RequesterLabel,
    /// The identity provider's name, e.g. `Microsoft` (the issuer's host for older sessions).
    pub provider: String,
    pub source_ip: String,
    /// The language the emails for this request are written in.
    pub locale: crate::i18n::Locale,
}

/// One request for links, as `record_association_request` writes it.
#[derive(Debug, Clone, Copy)]
pub struct AssociationRequest<'a> {
    pub requester: &'a Requester,
    pub email: &'a RegisteredEmail,
    /// The profiles registered under `email` (none is a valid request too).
    pub profiles: &'a [Profile],
    /// The requester already holds this address (a profile registered under
    /// it is linked to them, or their provider verified it): the address's
    /// daily cap across all identities does not apply to them.
    pub by_address_owner: bool,
    /// A link this request renews: it must have been sent and have expired
    /// unused, still be its identity's newest for the profile, and the profile
    /// must still be registered under its address. It is superseded in the
    /// same transaction.
    pub renews: Option<&'a StoredLink>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    Accepted {
        links: usize,
    },
    /// Over a limit: nothing was written; try again after `retry_after` seconds.
    RateLimited {
        limit: Limit,
        retry_after: i64,
    },
    /// The renewed link was used, cancelled, replaced or never sent: nothing was written.
    NotRenewable,
    /// The renewed link's profile is no longer registered under its address: nothing was written.
    AddressChanged,
}

/// What each write of a request's transaction is for, to read its cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestItem {
    Limit(Limit),
    RenewedLink,
    RenewedPointer,
    RenewedAddress,
    Write,
}

fn put(table: &str, item: Item, condition: Option<&str>) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .set_condition_expression(condition.map(str::to_owned))
                .build()
                .expect("item set"),
        )
        .build()
}

pub(super) fn rate_counter(
    table: &str,
    pk: String,
    window_start: i64,
    window_end: i64,
    limit: u32,
) -> TransactWriteItem {
    TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name(table)
                .key("pk", s(pk))
                .key("sk", s(format!("WINDOW#{window_start}")))
                .update_expression("ADD #count :one SET expires_at = :end, kind = :kind")
                .condition_expression("attribute_not_exists(#count) OR #count < :limit")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":limit", n(i64::from(limit)))
                .expression_attribute_values(":end", n(window_end))
                .expression_attribute_values(":kind", s("rate"))
                .build()
                .expect("key and expression set"),
        )
        .build()
}

/// A renewal's conditions: the old link was sent and expired unused (it is
/// marked superseded, so it renews once), the profile is not linked to the
/// identity already (a newer link was redeemed), and the profile is still
/// registered under the old link's address. That it is still its identity's
/// newest link for the profile is the new pointer's own condition.
fn renewal_checks(table: &str, old: &StoredLink, now: i64) -> [(RequestItem, TransactWriteItem); 3] {
    let record = &old.record;
    let supersede = Update::builder()
        .table_name(table)
        .set_key(Some(link_key(&record.link_id)))
        .update_expression("SET #state = :superseded, superseded_at = :now")
        .condition_expression("#state = :sent AND expires_at <= :now AND verifier_hash = :hash")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":superseded", s(LinkState::Superseded))
        .expression_attribute_values(":sent", s(LinkState::Sent))
        .expression_attribute_values(":now", n(now))
        .expression_attribute_values(":hash", s(old.verifier_hash.clone().unwrap_or_default()))
        .build()
        .expect("key and expressions set");
    let not_linked = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(super::associations::association_key(&record.identity(), &record.profile_id)))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .expect("key and condition set");
    [
        (RequestItem::RenewedLink, TransactWriteItem::builder().update(supersede).build()),
        (RequestItem::RenewedPointer, TransactWriteItem::builder().condition_check(not_linked).build()),
        (
            RequestItem::RenewedAddress,
            super::profiles::still_registered_under(table, &record.profile_id, &record.email),
        ),
    ]
}

/// The links of one request, as written: each a `LINK#` item and the
/// identity's pointer naming it as its newest link for the profile.
struct NewLinks<'a> {
    request_id: &'a str,
    requester: &'a Requester,
    email: &'a RegisteredEmail,
    now: i64,
    /// How long each link works once its email is sent.
    lifetime_seconds: i64,
    /// A renewal: the pointer may only move on from this link (or have expired with it).
    replaces: Option<&'a str>,
}

impl NewLinks<'_> {
    fn link_writes(
        &self,
        table: &str,
        link_id: &LinkId,
        profile: &Profile,
        siblings: &[&LinkId],
        origin: Option<&str>,
    ) -> [TransactWriteItem; 2] {
        let requester = self.requester;
        let mut link = link_key(link_id.as_str());
        for (name, value) in [
            ("kind", "link"),
            ("state", "pending"),
            ("link_id", link_id.as_str()),
            ("request_id", self.request_id),
            ("identity_iss", requester.identity.issuer.as_str()),
            ("identity_sub", requester.identity.subject.as_str()),
            ("identity_label", requester.label.as_str()),
            ("identity_provider", requester.provider.as_str()),
            ("profile_id", profile.id.as_str()),
            ("display_name", profile.display_name.as_str()),
            ("organization", profile.organization.as_str()),
            ("email", self.email.as_str()),
            ("locale", requester.locale.tag()),
        ] {
            link.insert(name.to_owned(), s(value));
        }
        if let Some(origin) = origin {
            link.insert("origin".into(), s(origin));
        }
        // Unsent, a link waits in the outbox for its lifetime and the hold;
        // sending it sets its expiry to its lifetime after the send.
        let unsent_expiry = self.now + self.lifetime_seconds + super::UNSENT_LINK_HOLD_SECONDS;
        link.insert("created_at".into(), n(self.now));
        link.insert("lifetime_seconds".into(), n(self.lifetime_seconds));
        link.insert("expires_at".into(), n(unsent_expiry));
        super::outbox::enter_outbox(&mut link, self.now);
        link.insert("siblings".into(), AttributeValue::L(siblings.iter().map(|id| s(id.as_str())).collect()));

        let mut pointer = pending_pointer_key(&requester.identity, profile.id.as_str());
        pointer.insert("kind".into(), s(LinkState::Pending));
        pointer.insert("link_id".into(), s(link_id.as_str()));
        pointer.insert("expires_at".into(), n(unsent_expiry));
        let pointer = match self.replaces {
            None => put(table, pointer, None),
            Some(old) => TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(pointer))
                        .condition_expression("attribute_not_exists(pk) OR link_id = :replaced")
                        .expression_attribute_values(":replaced", s(old))
                        .build()
                        .expect("item set"),
                )
                .build(),
        };
        [put(table, link, Some("attribute_not_exists(pk)")), pointer]
    }
}

/// One rate counter a request passes through, and the window it counts in.
struct Counter {
    limit: Limit,
    pk: String,
    window: (i64, i64),
    max: u32,
}

/// One request, as its records by address and by identity describe it.
struct RequestRecord<'a> {
    requester: &'a Requester,
    email: &'a RegisteredEmail,
    request_id: &'a str,
    now: i64,
}

impl RequestRecord<'_> {
    /// The entries under the address and under the identity, the address masked as in logs.
    fn entries(&self, event: AuditEvent, outcome: String) -> [AuditEntry; 2] {
        let detail = format!("{} via {}: {outcome}", self.email.masked(), self.requester.provider);
        [AuditSubject::Address(AddressHash::of(self.email)), AuditSubject::Identity(self.requester.identity.key())].map(
            |subject| AuditEntry {
                subject,
                event,
                identity: Some(self.requester.identity.clone()),
                link_id: None,
                request_id: Some(self.request_id.to_owned()),
                detail: Some(detail.clone()),
                at: self.now,
            },
        )
    }
}

impl Store {
    /// Records a request a rate limit refused, bounded as the limit is: one
    /// record per address, identity, limit and window (the first refusal;
    /// the detail says later ones are not recorded), and at most
    /// [`REFUSALS_RECORDED_PER_WINDOW`] per rate counter and window (a
    /// sign-in or network refused for many addresses). One transaction: the
    /// counter's tally and both records, or nothing. Best effort: the
    /// person's answer is the refusal whether or not it could be recorded.
    async fn record_refusal(&self, record: &RequestRecord<'_>, counter: &Counter) {
        let (window_start, window_end) = counter.window;
        let tally = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&counter.pk))
            .key("sk", s(format!("WINDOW#{window_start}")))
            .update_expression("ADD refusals_recorded :one")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(refusals_recorded) OR refusals_recorded < :cap)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cap", n(i64::from(REFUSALS_RECORDED_PER_WINDOW)))
            .build()
            .expect("key and expressions set");
        let outcome = format!(
            "refused by the {} limit; later refusals by it until {} are not recorded again",
            counter.limit.describe(),
            crate::clock::format_utc(window_end)
        );
        let [by_address, by_identity] = record.entries(AuditEvent::RateLimited, outcome);
        let short = |hash: &str| hash[..22].to_owned();
        let identity_hash = short(&crate::random::sha256_b64(record.requester.identity.key().as_str().as_bytes()));
        let address_hash = short(AddressHash::of(record.email).as_str());
        let key = |who: &str| format!("{:013}#rate_limited#{}#{who}", window_start * 1000, counter.limit);
        let writes = vec![
            TransactWriteItem::builder().update(tally).build(),
            self.audit_item_once(&by_address, key(&identity_hash)),
            self.audit_item_once(&by_identity, key(&address_hash)),
        ];
        match self.client.transact_write_items().set_transact_items(Some(writes)).send_retrying_conflicts().await {
            Ok(_) => {}
            // Only a failed condition means "already recorded"; a cancellation by throttling is a failure to record.
            Err(error) if condition_failed(&error) => {
                tracing::info!(limit = %counter.limit, "refusal already recorded in this window, or the window's records are full");
            }
            Err(error) => {
                let error = StoreError::sdk("TransactWriteItems(refusal record)", error);
                tracing::warn!(%error, limit = %counter.limit, "a refused request could not be recorded");
            }
        }
    }
}

impl Store {
    #[cfg(feature = "operator")]
    /// Records a link that support sends at a person's request: one profile,
    /// one identity, a lifetime of the operator's choosing, marked as
    /// support's in the item (so the email says so) and in the audit trail.
    /// No rate limits: operators are trusted, and every such link is audited
    /// with the operator's name.
    pub async fn record_support_link(
        &self,
        requester: &Requester,
        profile: &Profile,
        operator: &str,
        link_ttl_seconds: i64,
        now: i64,
    ) -> Result<LinkId, StoreError> {
        let request_id = crate::random::token(12);
        let link_id = LinkId::mint();
        let request = NewLinks {
            request_id: &request_id,
            requester,
            email: &profile.email,
            now,
            lifetime_seconds: link_ttl_seconds,
            replaces: None,
        };
        let mut items = request
            .link_writes(&self.table, &link_id, profile, &[&link_id], Some(super::link_record::SUPPORT_ORIGIN))
            .to_vec();
        items.push(self.audit_item(&AuditEntry {
            subject: AuditSubject::Profile(profile.id.clone()),
            event: AuditEvent::SupportRequested,
            identity: Some(requester.identity.clone()),
            link_id: Some(link_id.to_string()),
            request_id: Some(request_id),
            detail: Some(format!("by {operator}, valid {} h", link_ttl_seconds / 3600)),
            at: now,
        }));
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send_retrying_conflicts()
            .await
            .map_err(|e| StoreError::sdk("TransactWriteItems(support link)", e))?;
        Ok(link_id)
    }

    /// Records an association request in one transaction: the rate counters
    /// (each conditional on being under its limit), the checks of a renewed
    /// link, then per profile a pending link, the identity's pointer to its
    /// newest link for that profile, and an audit entry. Over any limit, or
    /// with a renewed link that may not be renewed, nothing is written.
    ///
    /// The limits: requests per identity; per identity *and* address (one
    /// identity never spends another's budget for an address); per client IP;
    /// and, unless the requester owns the address, requests per address per
    /// day across all identities, counted alike for registered and
    /// unregistered addresses so a refusal reveals nothing.
    pub async fn record_association_request(
        &self,
        request: &AssociationRequest<'_>,
        limits: &RateLimits,
        link_ttl_seconds: i64,
        now: i64,
    ) -> Result<RequestOutcome, StoreError> {
        let AssociationRequest { requester, email, profiles, by_address_owner, renews } = *request;
        let (window_start, window_end) = limits.window(now);
        let (day_start, day_end) = limits.day(now);
        let request_id = crate::random::token(12);
        let identity_key = requester.identity.key();
        let address = address_rate_key(email);
        let mut counters = vec![
            Counter {
                limit: Limit::Identity,
                pk: format!("RATE#IDENTITY#{identity_key}"),
                window: (window_start, window_end),
                max: limits.per_identity,
            },
            Counter {
                limit: Limit::Address,
                pk: format!("RATE#ADDRESS#{address}#BY#{identity_key}"),
                window: (window_start, window_end),
                max: limits.per_address,
            },
            Counter {
                limit: Limit::Ip,
                pk: format!("RATE#IP#{}", requester.source_ip),
                window: (window_start, window_end),
                max: limits.per_ip,
            },
        ];
        if !by_address_owner {
            counters.push(Counter {
                limit: Limit::AddressDay,
                pk: format!("RATE#ADDRESS-DAY#{address}"),
                window: (day_start, day_end),
                max: limits.per_address_per_day,
            });
        }
        let mut items: Vec<(RequestItem, TransactWriteItem)> = counters
            .iter()
            .map(|c| {
                (RequestItem::Limit(c.limit), rate_counter(&self.table, c.pk.clone(), c.window.0, c.window.1, c.max))
            })
            .collect();
        if let Some(old) = renews {
            items.extend(renewal_checks(&self.table, old, now));
        }
        let links: Vec<(LinkId, &Profile)> =
            profiles.iter().take(MAX_PROFILES_PER_REQUEST).map(|p| (LinkId::mint(), p)).collect();
        let siblings: Vec<&LinkId> = links.iter().map(|(id, _)| id).collect();
        let new_links = NewLinks {
            request_id: &request_id,
            requester,
            email,
            now,
            lifetime_seconds: link_ttl_seconds,
            replaces: renews.map(|old| old.record.link_id.as_str()),
        };
        for (link_id, profile) in &links {
            let [link, pointer] = new_links.link_writes(&self.table, link_id, profile, &siblings, None);
            items.push((RequestItem::Write, link));
            let pointer_role = if renews.is_some() { RequestItem::RenewedPointer } else { RequestItem::Write };
            items.push((pointer_role, pointer));
            let detail = match renews {
                Some(old) => format!("via {}, renewing link {}", requester.provider, old.record.link_id),
                None => format!("via {}", requester.provider),
            };
            items.push((
                RequestItem::Write,
                self.audit_item(&AuditEntry {
                    subject: AuditSubject::Profile(profile.id.clone()),
                    event: AuditEvent::Requested,
                    identity: Some(requester.identity.clone()),
                    link_id: Some(link_id.to_string()),
                    request_id: Some(request_id.clone()),
                    detail: Some(detail),
                    at: now,
                }),
            ));
        }
        // The request itself, under the address it named and the identity that
        // asked, whatever matched: what support reads to answer "why no email?".
        let (event, outcome) = if links.is_empty() {
            (AuditEvent::RequestedUnmatched, "no profile registered under the address".to_owned())
        } else {
            let ids: Vec<&str> = links.iter().map(|(_, p)| p.id.as_str()).collect();
            let plural = if ids.len() == 1 { "" } else { "s" };
            (AuditEvent::Requested, format!("matched {} profile{plural} ({})", ids.len(), ids.join(", ")))
        };
        let renewing = renews.map(|old| format!(", renewing link {}", old.record.link_id)).unwrap_or_default();
        let record = RequestRecord { requester, email, request_id: &request_id, now };
        for entry in record.entries(event, format!("{outcome}{renewing}")) {
            items.push((RequestItem::Write, self.audit_item(&entry)));
        }

        let (roles, writes): (Vec<RequestItem>, Vec<TransactWriteItem>) = items.into_iter().unzip();
        match self.client.transact_write_items().set_transact_items(Some(writes)).send_retrying_conflicts().await {
            Ok(_) => Ok(RequestOutcome::Accepted { links: links.len() }),
            Err(error) => {
                let codes = error.as_service_error().map(cancellation_codes).unwrap_or_default();
                let refused = roles
                    .iter()
                    .zip(codes.iter())
                    .find(|(_, code)| code.as_deref() == Some("ConditionalCheckFailed"))
                    .map(|(role, _)| *role);
                match refused {
                    Some(RequestItem::Limit(limit)) => {
                        let counter = counters.iter().find(|c| c.limit == limit).expect("each limit's counter");
                        let record = RequestRecord { requester, email, request_id: &request_id, now };
                        self.record_refusal(&record, counter).await;
                        Ok(RequestOutcome::RateLimited { limit, retry_after: (counter.window.1 - now).max(1) })
                    }
                    Some(RequestItem::RenewedLink | RequestItem::RenewedPointer) => Ok(RequestOutcome::NotRenewable),
                    Some(RequestItem::RenewedAddress) => Ok(RequestOutcome::AddressChanged),
                    Some(RequestItem::Write) | None => {
                        Err(StoreError::sdk("TransactWriteItems(association request)", error))
                    }
                }
            }
        }
    }
}
