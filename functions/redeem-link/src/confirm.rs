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
    match link.state() {
        LinkState::Used | LinkState::Burned => Some(used_page(app, t, link)),
        _ if link.record.expires_at <= now => Some(expired_page(app, t, session, link, token)),
        _ => None,
    }
}

/// An expired link's page, with the button that asks for a new one.
pub(crate) fn expired_page(
    app: &RedeemApp,
    t: &'static Text,
    session: &SessionClaims,
    link: &StoredLink,
    token: &LinkToken,
) -> Response {
    let minutes = link.record.lifetime_seconds() / 60;
    let message = fill(t.link_expired, &[("minutes", &minutes), ("profile", &link.record.display_name)]);
    let mut outcome = Outcome::problem(t, t.link_expired_title, message, account(t));
    outcome.resend = Some(ResendForm { token: token.expose(), csrf: session.csrf.clone() });
    app.outcome(StatusCode::GONE, outcome)
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
    let clicked = app.clicked(&jar).filter(|c| LinkToken::parse(&c.token).is_ok_and(|t| t.link_id == token.link_id));
    let confirmation = Confirmation {
        link: &link,
        identity: &me,
        directory: session.profile.directory(),
        signed_in_since_click: clicked.as_ref().is_some_and(|c| fresh(&session, c)),
        choice: if form.action.as_deref() == Some("reject") { Choice::NotMe } else { Choice::Link },
    };
    let confirmed = match redeem::confirm(&app.store, confirmation, now).await {
        Ok(confirmed) => confirmed,
        Err(error) => return unavailable(&app, t, error),
    };
    match confirmed {
        Confirmed::Unusable(unusable) => {
            redeemed(if unusable == Unusable::Expired { Redeemed::Expired } else { Redeemed::Used });
            match unusable {
                Unusable::Expired => expired_page(&app, t, &session, &link, &token),
                Unusable::Used | Unusable::Cancelled => used_page(&app, t, &link),
            }
        }
        Confirmed::NeedsFreshSignIn => Redirect::to(&fresh_sign_in_at(&session)).into_response(),
        Confirmed::ReportedNotMe { burned } => {
            redeemed(Redeemed::NotMe);
            not_me::counted(CancelledVia::Requester);
            tracing::info!(link = %link.record.link_id, burned, "request reported as not me");
            let mut outcome = Outcome::problem(t, t.not_me_title, t.not_me, account(t));
            outcome.ok = true;
            app.outcome(StatusCode::OK, outcome)
        }
        Confirmed::WrongIdentity => {
            redeemed(Redeemed::WrongIdentity);
            tracing::warn!(link = %link.record.link_id, "link opened by another identity; burned");
            wrong_identity(&app, t, &session, &link, &token, true)
        }
        Confirmed::Redeemed(redemption) => {
            tracing::info!(link = %link.record.link_id, profile = %link.record.profile_id, ?redemption, "link redeemed");
            redeemed(match redemption {
                Redemption::Linked { .. } => Redeemed::Linked,
                Redemption::AlreadyLinked => Redeemed::AlreadyLinked,
                Redemption::Used => Redeemed::Used,
                Redemption::Expired => Redeemed::Expired,
                Redemption::Superseded => Redeemed::Superseded,
                Redemption::AddressChanged => Redeemed::AddressChanged,
            });
            redeemed_page(&app, t, jar, &session, &link, &token, state, redemption, now)
        }
    }
}

/// The page after the redemption transaction answered; the clicked link's cookie goes.
#[allow(clippy::too_many_arguments)]
fn redeemed_page(
    app: &RedeemApp,
    t: &'static Text,
    jar: CookieJar,
    session: &SessionClaims,
    link: &StoredLink,
    token: &LinkToken,
    state: IdentityState,
    redemption: Redemption,
    now: i64,
) -> Response {
    let jar = jar.add(app.clicked_cookie(String::new(), 0));
    match redemption {
        Redemption::Linked { .. } | Redemption::AlreadyLinked => {
            // The profiles read beside the link, and the one this transaction linked.
            let mut profiles = state.profile_ids();
            profiles.push(link.record.profile_id.to_string());
            let jar = jar.add(reissue_session(app, session, profiles, now));
            let page = linked_page(app, t, link, redemption == Redemption::AlreadyLinked, &jar);
            (jar, page).into_response()
        }
        Redemption::Used => (jar, used_page(app, t, link)).into_response(),
        Redemption::Expired => (jar, expired_page(app, t, session, link, token)).into_response(),
        Redemption::Superseded => superseded_page(app, t, jar),
        Redemption::AddressChanged => (jar, address_changed_page(app, t)).into_response(),
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
