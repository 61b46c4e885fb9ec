//! `POST /redeem` (seed step 9): the link consumed exactly once, in one
//! transaction, by the identity it was made for; every refusal audited.

use super::*;

/// Checks a link that belongs to this identity: expired, used, burned or superseded links get their page.
pub(crate) fn unusable(
    app: &RedeemApp,
    t: &'static Text,
    session: &SessionClaims,
    link: &StoredLink,
    token: &LinkToken,
    now: i64,
) -> Option<Response> {
    if matches!(link.state(), LinkState::Used | LinkState::Burned) {
        return Some(used_page(app, t, link));
    }
    if link.record.expires_at <= now {
        let minutes = (link.record.expires_at - link.record.created_at) / 60;
        let message = fill(t.link_expired, &[("minutes", &minutes), ("profile", &link.record.display_name)]);
        let mut outcome = Outcome::problem(t, t.link_expired_title, message, account(t));
        outcome.resend = Some(ResendForm { token: token.expose(), csrf: session.csrf.clone() });
        return Some(app.outcome(StatusCode::GONE, outcome));
    }
    None
}

pub(crate) fn wrong_identity(
    app: &RedeemApp,
    t: &'static Text,
    session: &SessionClaims,
    link: &StoredLink,
    token: &LinkToken,
    burned: bool,
) -> Response {
    let who = session.profile.display_label().unwrap_or(&session.idp_sub);
    let template = if burned { t.wrong_account_burned } else { t.wrong_account };
    let requester = RequesterLabel::from_stored(&link.record.identity_label, t);
    let message = fill(template, &[("requester", &requester), ("who", &who)]);
    let mut outcome =
        Outcome::problem(t, t.wrong_account_title, message, (OTHER_ACCOUNT_SIGN_IN, t.action_other_account));
    // Whoever holds the email may stop the request, as its own "not me" link does.
    outcome.cancel_request = Some(token.expose());
    app.outcome(StatusCode::FORBIDDEN, outcome)
}

#[derive(Debug, Deserialize)]
pub(crate) struct RedeemForm {
    pub(crate) token: Option<String>,
    pub(crate) csrf: Option<String>,
    pub(crate) action: Option<String>,
}

impl LinkForm for RedeemForm {
    fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

link_form_refusals!(RedeemForm, FRESH_SIGN_IN);

/// `POST /redeem`: confirm (one transaction) or "this wasn't me".
pub(crate) async fn confirm(
    State(app): State<Arc<RedeemApp>>,
    locale: Locale,
    jar: CookieJar,
    posted: Result<CsrfForm<RedeemForm>, BrowserError>,
) -> Response {
    let t = locale.text();
    let now = app.clock.now();
    let PostedLink { session, form, token, link, state } = match posted_link(&app, t, &jar, posted).await {
        Ok(posted) => posted,
        Err(response) => {
            // A malformed token, or one whose verifier opens no link.
            if response.status() == StatusCode::BAD_REQUEST {
                redeemed(Redeemed::Invalid);
            }
            return response;
        }
    };
    let me = session.identity();
    // Used, cancelled or expired links say so whoever asks; only the attempt is recorded.
    if let Some(response) = unusable(&app, t, &session, &link, &token, now) {
        let expired = link.record.expires_at <= now && link.state() != LinkState::Used;
        redeemed(if expired { Redeemed::Expired } else { Redeemed::Used });
        audit_refusal(
            &app,
            &link,
            &me,
            if expired { AuditEvent::RefusedExpired } else { AuditEvent::RefusedUsed },
            now,
        )
        .await;
        return response;
    }
    // Every change below must come from a sign-in made after this link was clicked.
    let clicked = app.clicked(&jar).filter(|c| LinkToken::parse(&c.token).is_ok_and(|t| t.link_id == token.link_id));
    if !clicked.as_ref().is_some_and(|c| fresh(&session, c)) {
        return Redirect::to(&fresh_sign_in_at(&session)).into_response();
    }

    if form.action.as_deref() == Some("reject") {
        return match app.store.burn_request(&link, &me, None, now).await {
            Ok(burned) => {
                redeemed(Redeemed::NotMe);
                not_me::counted(not_me::CancelledVia::Requester);
                tracing::info!(link = %link.record.link_id, burned, "request reported as not me");
                let mut outcome = Outcome::problem(t, t.not_me_title, t.not_me, account(t));
                outcome.ok = true;
                app.outcome(StatusCode::OK, outcome)
            }
            Err(error) => unavailable(&app, t, error),
        };
    }

    if link.record.identity() != me {
        // Links nothing, burns the link, and is audited.
        return match app.store.burn_link(&link, &me, AuditEvent::WrongIdentity, None, now).await {
            Ok(_) => {
                redeemed(Redeemed::WrongIdentity);
                tracing::warn!(link = %link.record.link_id, "link opened by another identity; burned");
                wrong_identity(&app, t, &session, &link, &token, true)
            }
            Err(error) => unavailable(&app, t, error),
        };
    }
    let redemption = match app.store.redeem_link(&link, &me, session.profile.directory(), now).await {
        Ok(redemption) => redemption,
        Err(error) => return unavailable(&app, t, error),
    };
    tracing::info!(link = %link.record.link_id, profile = %link.record.profile_id, ?redemption, "link redeemed");
    redeemed(match redemption {
        Redemption::Linked { .. } => Redeemed::Linked,
        Redemption::AlreadyLinked => Redeemed::AlreadyLinked,
        Redemption::Used => Redeemed::Used,
        Redemption::Expired => Redeemed::Expired,
        Redemption::Superseded => Redeemed::Superseded,
        Redemption::AddressChanged => Redeemed::AddressChanged,
    });
    let jar = jar.add(app.clicked_cookie(String::new(), 0));
    match redemption {
        Redemption::Linked { .. } | Redemption::AlreadyLinked => {
            // The profiles read beside the link, and the one this transaction linked.
            let mut profiles = state.profile_ids();
            profiles.push(link.record.profile_id.to_string());
            let jar = jar.add(reissue_session(&app, &session, profiles, now));
            let already = redemption == Redemption::AlreadyLinked;
            {
                let page = linked_page(&app, t, &link, already, &jar);
                (jar, page).into_response()
            }
        }
        Redemption::Used => {
            audit_refusal(&app, &link, &me, AuditEvent::RefusedUsed, now).await;
            (jar, used_page(&app, t, &link)).into_response()
        }
        Redemption::Expired => {
            (jar, unusable(&app, t, &session, &link, &token, i64::MAX).unwrap_or_else(|| used_page(&app, t, &link)))
                .into_response()
        }
        Redemption::Superseded => {
            audit_refusal(&app, &link, &me, AuditEvent::RefusedSuperseded, now).await;
            superseded_page(&app, t, jar)
        }
        Redemption::AddressChanged => {
            audit_refusal(&app, &link, &me, AuditEvent::RefusedAddressChanged, now).await;
            (jar, address_changed_page(&app, t)).into_response()
        }
    }
}

/// How a confirmation attempt ended: the `Outcome` of the `LinksRedeemed` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redeemed {
    Linked,
    AlreadyLinked,
    Used,
    Expired,
    Superseded,
    AddressChanged,
    /// A malformed token, or one whose verifier opens no link.
    Invalid,
    NotMe,
    WrongIdentity,
}

impl Redeemed {
    const fn as_str(self) -> &'static str {
        match self {
            Redeemed::Linked => "linked",
            Redeemed::AlreadyLinked => "already_linked",
            Redeemed::Used => "used",
            Redeemed::Expired => "expired",
            Redeemed::Superseded => "superseded",
            Redeemed::AddressChanged => "address_changed",
            Redeemed::Invalid => "invalid",
            Redeemed::NotMe => "not_me",
            Redeemed::WrongIdentity => "wrong_identity",
        }
    }
}

/// The `LinksRedeemed` metric: one confirmation attempt and how it ended.
pub(crate) fn redeemed(outcome: Redeemed) {
    Emf::new(FUNCTION).dimension("Outcome", outcome.as_str()).count("LinksRedeemed", 1).emit();
}

/// Records a refused redemption in the profile's audit trail, once per link,
/// identity and kind of refusal (replaying a used link writes nothing more);
/// a failure to record is logged, never shown: the answer does not depend on it.
pub(crate) async fn audit_refusal(
    app: &RedeemApp,
    link: &StoredLink,
    identity: &Identity,
    event: AuditEvent,
    now: i64,
) {
    let entry = profile_link_core::store::redeem::audit(&link.record, event, identity, None, now);
    if let Err(error) = app.store.audit_once(&entry).await {
        tracing::error!(%error, event = event.as_str(), "audit entry could not be written");
    }
}

/// Seed step 9: the success page, with the way to the portal when one is configured.
/// A portal's sign-in waiting for the person (the authorize function's
/// cookie) comes first: "Back to <portal>" returns to it with a fresh code.
pub(crate) fn linked_page(
    app: &RedeemApp,
    t: &'static Text,
    link: &StoredLink,
    already: bool,
    jar: &CookieJar,
) -> Response {
    let message = fill(if already { t.already_linked } else { t.linked }, &[("profile", &profile_label(link))]);
    let portal = app.cookies.portal_button(jar, &app.site, t);
    let (action_href, action_label, secondary) = match &portal {
        Some((href, label)) => (href.as_str(), label.as_str(), Some(account(t))),
        None => ("/", t.action_account, None),
    };
    pages::respond(
        StatusCode::OK,
        &OutcomePage {
            brand: &app.site.branding,
            t,
            step: 5,
            ok: true,
            title: if already { t.already_linked_title } else { t.linked_title },
            message: &message,
            action_href,
            action_label,
            resend: None,
            secondary,
            cancel_request: None,
        },
    )
}
