//! Every string a person reads, in one place per language. A struct rather
//! than a key/value file: a translation that misses a string does not compile.
//! Placeholders in braces (`{operator}`) are filled with [`fill`].

use std::fmt::Display;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    De,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::De];

    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::De => "de",
        }
    }

    pub fn from_tag(tag: &str) -> Locale {
        Locale::ALL.into_iter().find(|l| l.tag() == tag).unwrap_or_default()
    }

    /// The best of our languages for an `Accept-Language` header; English otherwise.
    pub fn negotiate(accept_language: Option<&str>) -> Locale {
        let Some(header) = accept_language.filter(|h| h.len() <= 512) else { return Locale::En };
        // Tags in the person's order of preference (q values); `de-AT` is served German.
        accept_language::parse(header)
            .iter()
            .find_map(|tag| {
                let primary = tag.split('-').next().unwrap_or(tag).to_ascii_lowercase();
                Locale::ALL.into_iter().find(|l| l.tag() == primary)
            })
            .unwrap_or_default()
    }

    pub fn text(self) -> &'static Text {
        match self {
            Locale::En => &EN,
            Locale::De => &DE,
        }
    }
}

/// `fill("Hello {name}", &[("name", &"Pat")])` → `Hello Pat`.
///
/// One pass over the template: an inserted value is never scanned again, so a
/// sign-in named `{operator}` stays `{operator}`. Unknown placeholders stay as written.
pub fn fill(template: &str, values: &[(&str, &dyn Display)]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let known = after.find('}').and_then(|close| {
            let name = &after[..close];
            values.iter().find(|(n, _)| *n == name).map(|(_, value)| (close, value))
        });
        match known {
            Some((close, value)) => {
                let _ = write!(out, "{value}");
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// [`fill`] with one placeholder (what templates call).
pub fn fill1(template: &str, name: &str, value: impl Display) -> String {
    fill(template, &[(name, &value)])
}

/// One language's strings.
#[derive(Debug, serde::Serialize)]
pub struct Text {
    pub lang: &'static str,
    // layout
    pub footer_contact: &'static str,
    /// Under every error page: what a person quotes to support (`{reference}`).
    pub error_reference: &'static str,
    pub progress_label: &'static str,
    pub progress_signed_in: &'static str,
    pub progress_address: &'static str,
    pub progress_sent: &'static str,
    pub progress_confirmed: &'static str,
    // welcome
    pub home_title: &'static str,
    pub home_heading: &'static str,
    pub home_intro: &'static str,
    pub home_step_sign_in: &'static str,
    pub home_step_address: &'static str,
    pub home_step_emails: &'static str,
    pub home_step_confirm: &'static str,
    pub sign_in: &'static str,
    pub sign_in_title: &'static str,
    pub sign_in_heading: &'static str,
    pub sign_in_intro: &'static str,
    pub sign_in_with: &'static str,
    pub login_unknown_provider_title: &'static str,
    pub login_unknown_provider: &'static str,
    // account
    pub account_title: &'static str,
    pub account_heading: &'static str,
    pub account_signed_in_as: &'static str,
    pub account_email: &'static str,
    pub account_provider: &'static str,
    pub account_profiles: &'static str,
    pub account_no_profiles: &'static str,
    pub unlink: &'static str,
    pub unlink_label: &'static str,
    pub link_a_profile: &'static str,
    pub go_to_portal: &'static str,
    pub back_to_portal: &'static str,
    pub portal_title: &'static str,
    pub portal_intro: &'static str,
    pub portal_how: &'static str,
    pub portal_continue: &'static str,
    pub choose_title: &'static str,
    pub choose_intro: &'static str,
    pub choose_legend: &'static str,
    pub choose_continue: &'static str,
    pub portal_request_invalid_title: &'static str,
    pub portal_request_invalid: &'static str,
    pub end_session_title: &'static str,
    pub end_session_intro: &'static str,
    pub end_session_cookie_missing: &'static str,
    pub end_session_confirm: &'static str,
    pub end_session_stay: &'static str,
    pub end_session_invalid: &'static str,
    pub end_session_invalid_title: &'static str,
    pub sign_out: &'static str,
    pub sign_out_everywhere: &'static str,
    pub sign_out_everywhere_hint: &'static str,
    pub login_limited_title: &'static str,
    pub login_limited: &'static str,
    pub not_me_page_title: &'static str,
    pub not_me_page_intro: &'static str,
    pub not_me_page_explain: &'static str,
    pub not_me_cancel: &'static str,
    pub not_me_done_title: &'static str,
    pub not_me_done: &'static str,
    pub not_me_nothing_left_title: &'static str,
    pub not_me_nothing_left: &'static str,
    pub resend_refused_title: &'static str,
    pub resend_refused: &'static str,
    pub address_changed_title: &'static str,
    pub address_changed: &'static str,
    pub logout_unavailable_title: &'static str,
    pub logout_unavailable: &'static str,
    // the address form
    pub associate_title: &'static str,
    pub associate_heading: &'static str,
    pub associate_intro: &'static str,
    pub associate_label: &'static str,
    pub associate_hint: &'static str,
    pub associate_submit: &'static str,
    pub associate_unknown: &'static str,
    pub email_empty: &'static str,
    pub email_too_long: &'static str,
    pub email_missing_at: &'static str,
    pub email_bad_domain: &'static str,
    pub email_bad_characters: &'static str,
    // check your inbox
    pub sent_title: &'static str,
    pub sent_body: &'static str,
    pub sent_step_open: &'static str,
    pub sent_step_click: &'static str,
    pub sent_step_confirm: &'static str,
    pub sent_no_email: &'static str,
    pub sent_try_another: &'static str,
    pub sent_unsure: &'static str,
    // confirmation
    pub confirm_title: &'static str,
    pub confirm_heading: &'static str,
    pub confirm_your_sign_in: &'static str,
    pub confirm_profile: &'static str,
    pub confirm_explain: &'static str,
    pub confirm_yes: &'static str,
    pub confirm_not_me: &'static str,
    pub send_new_link: &'static str,
    // actions
    pub action_sign_in_again: &'static str,
    pub action_try_again: &'static str,
    pub action_account: &'static str,
    pub action_request_again: &'static str,
    pub action_back_to_form: &'static str,
    pub action_open_form: &'static str,
    pub action_other_account: &'static str,
    // sign-in problems
    pub login_incomplete_title: &'static str,
    pub login_incomplete: &'static str,
    pub login_expired_title: &'static str,
    pub login_expired: &'static str,
    pub login_cancelled_title: &'static str,
    pub login_cancelled: &'static str,
    pub login_provider_failed_title: &'static str,
    pub login_provider_failed: &'static str,
    pub login_unverified_title: &'static str,
    pub login_unverified: &'static str,
    pub login_unavailable_title: &'static str,
    pub unavailable: &'static str,
    pub logout_csrf_title: &'static str,
    pub logout_csrf: &'static str,
    // request problems
    pub form_too_large_title: &'static str,
    pub form_unreadable_title: &'static str,
    pub form_unreadable: &'static str,
    pub form_csrf_title: &'static str,
    pub form_csrf: &'static str,
    pub rate_limited_title: &'static str,
    pub rate_limited: &'static str,
    pub request_unavailable_title: &'static str,
    pub request_unavailable: &'static str,
    // redemption outcomes
    pub link_incomplete_title: &'static str,
    pub link_incomplete: &'static str,
    pub link_reopen_title: &'static str,
    pub link_reopen: &'static str,
    pub provider_no_reauth_title: &'static str,
    pub provider_no_reauth: &'static str,
    pub link_invalid_title: &'static str,
    pub link_invalid: &'static str,
    pub redeem_unavailable_title: &'static str,
    pub redeem_unavailable: &'static str,
    pub link_used_title: &'static str,
    pub link_used: &'static str,
    pub link_cancelled: &'static str,
    pub link_expired_title: &'static str,
    pub link_expired: &'static str,
    pub wrong_account_title: &'static str,
    pub wrong_account: &'static str,
    pub wrong_account_burned: &'static str,
    pub buttons_csrf_title: &'static str,
    pub buttons_csrf: &'static str,
    pub redeem_form_unreadable: &'static str,
    pub not_me_title: &'static str,
    pub not_me: &'static str,
    pub linked_title: &'static str,
    pub already_linked_title: &'static str,
    pub linked: &'static str,
    pub already_linked: &'static str,
    pub superseded_title: &'static str,
    pub superseded: &'static str,
    pub resent_title: &'static str,
    pub resent: &'static str,
    pub resend_limited_title: &'static str,
    pub resend_limited: &'static str,
    pub unlink_unknown_title: &'static str,
    pub unlink_unknown: &'static str,
    // emails
    pub mail_hello: &'static str,
    pub mail_link_subject: &'static str,
    pub mail_link_intro: &'static str,
    pub mail_link_instruction: &'static str,
    pub mail_link_button: &'static str,
    pub mail_link_copy: &'static str,
    pub mail_link_lifetime: &'static str,
    pub mail_link_ignore: &'static str,
    /// Before the `/not-me` link, which cancels every link of the request.
    pub mail_link_not_me: &'static str,
    /// A link support sent at the person's request (`profile-link-admin links send`).
    pub mail_link_intro_support: &'static str,
    pub mail_link_lifetime_hours: &'static str,
    pub mail_notice_subject: &'static str,
    pub mail_notice_intro: &'static str,
    pub mail_notice_linked: &'static str,
    pub mail_notice_replaced: &'static str,
    pub mail_notice_ok: &'static str,
    pub mail_notice_not_you: &'static str,
    pub mail_questions: &'static str,
    /// How a sign-in without a usable email address is named (`{requester}`).
    pub requester_unnamed: &'static str,
    pub mail_signature: &'static str,
}

pub static EN: Text = Text {
    lang: "en",
    footer_contact: "Questions? Contact {operator} support at",
    error_reference: "If you contact support, please quote reference {reference}.",
    progress_label: "Progress",
    progress_signed_in: "Signed in",
    progress_address: "Address entered",
    progress_sent: "Emails sent",
    progress_confirmed: "Links confirmed",
    home_title: "Link your customer profiles",
    home_heading: "Link your sign-in to your {operator} customer profiles",
    home_intro: "Use an account you already have (for example Microsoft, Google or your work account) to reach your customer profiles with {operator}. It takes a few minutes:",
    home_step_sign_in: "Sign in with your account.",
    home_step_address: "Enter the email address registered with {operator}. It may differ from the one you sign in with.",
    home_step_emails: "We send one email for each customer profile registered under that address.",
    home_step_confirm: "Open each email, click its link and sign in again with the same account to confirm.",
    sign_in: "Sign in",
    sign_in_title: "Sign in",
    sign_in_heading: "How do you want to sign in?",
    sign_in_intro: "Choose the account you use. Use the same one each time: your customer profiles are linked to that account.",
    sign_in_with: "Sign in with {provider}",
    login_unknown_provider_title: "This sign-in option does not exist",
    login_unknown_provider: "The link named a sign-in option this service does not offer. Choose one of these.",
    account_title: "Your account",
    account_heading: "You are signed in",
    account_signed_in_as: "Signed in as",
    account_email: "Email (from your sign-in)",
    account_provider: "Signed in with",
    account_profiles: "Linked customer profiles",
    account_no_profiles: "No customer profiles are linked to this sign-in yet.",
    unlink: "Unlink",
    unlink_label: "Unlink {profile}",
    link_a_profile: "Link a customer profile",
    go_to_portal: "Go to the portal",
    back_to_portal: "Back to {portal}",
    portal_title: "Link your customer profile",
    portal_intro: "You are signed in with {provider}. {portal} can show you the customer profiles you may act for once you have linked them to this sign-in.",
    portal_how: "We send a link to the email address registered for each of your profiles. Open it, sign in again with the same account, and come back to the portal from there.",
    portal_continue: "Continue to {portal} without linking",
    choose_title: "Choose whom you act for",
    choose_intro: "{portal} asks which of your customer profiles you act for now. You can choose another one the next time you sign in to {portal}.",
    choose_legend: "Your linked customer profiles",
    choose_continue: "Continue to {portal}",
    portal_request_invalid_title: "This sign-in request cannot be used",
    portal_request_invalid: "The portal sent a sign-in request we cannot accept ({reason}). Go back to the portal and sign in from there again.",
    end_session_title: "Sign out?",
    end_session_intro: "{portal} asks to sign you out of {product} too. You are signed in with {provider}.",
    end_session_cookie_missing: "{portal} asks to sign you out of {product} too. Continue here to sign out.",
    end_session_confirm: "Sign out",
    end_session_stay: "Stay signed in",
    end_session_invalid: "The portal asked to sign you out but named a return address it never registered, so we stay here. You can sign out from your account page.",
    end_session_invalid_title: "Sign-out request not accepted",
    sign_out: "Sign out",
    sign_out_everywhere: "Sign out everywhere",
    sign_out_everywhere_hint: "“Sign out everywhere” ends every session of this sign-in, in every browser and on every device.",
    login_limited_title: "Too many sign-ins from your network",
    login_limited: "Sign-ins from your network are paused for now. Please try again in {minutes} minutes.",
    not_me_page_title: "Didn't ask for this?",
    not_me_page_intro: "{requester} (signed in with {provider}) asked to link their sign-in to the profile “{profile}”, and this address received the link.",
    not_me_page_explain: "If that was not you, cancel the request: every link it sent stops working and nothing is linked. You do not need to sign in.",
    not_me_cancel: "Cancel this request",
    not_me_done_title: "Request cancelled",
    not_me_done: "The links of this request no longer work, and nothing was linked. If such emails keep coming, contact {support}.",
    not_me_nothing_left_title: "Nothing left to cancel",
    not_me_nothing_left: "Every link of this request was already used, cancelled or has expired. If a profile was linked without your consent, contact {support}.",
    resend_refused_title: "This link can't be renewed",
    resend_refused: "Only a link that expired unused can be renewed, and only once: this one was used, cancelled or replaced by a newer one. Ask for links again from the start.",
    address_changed_title: "The profile's address has changed",
    address_changed: "This profile is no longer registered under the address this link was sent to, so the link can't be used. Ask for a link again with the address registered now.",
    logout_unavailable_title: "Sign-out not finished",
    logout_unavailable: "You are signed out in this browser, but the sign-out could not be recorded for other copies of your session right now. Sign in again and repeat it in a minute.",
    associate_title: "Enter your registered email address",
    associate_heading: "Which email address is registered with {operator}?",
    associate_intro: "Enter the email address {operator} has on file for your customer profiles. It may be different from the address you signed in with.",
    associate_label: "Email address registered with us",
    associate_hint: "We will send one email for each customer profile registered under this address.",
    associate_submit: "Send the emails",
    associate_unknown: "Don't know which address we have? Contact {operator} support at",
    email_empty: "Please enter an email address.",
    email_too_long: "That email address is too long.",
    email_missing_at: "An email address needs an @ between the name and the domain, like name@example.com.",
    email_bad_domain: "The part after the @ should be a domain name like example.com.",
    email_bad_characters: "That email address contains characters that are not allowed. Please enter just the address, like name@example.com.",
    sent_title: "Check your inbox",
    sent_body: "If that address is registered, we have sent one email for each profile registered under it. Each link works for {minutes} minutes.",
    sent_step_open: "Open each email from {operator}.",
    sent_step_click: "Click the link in it and sign in again with the same account you used here.",
    sent_step_confirm: "Confirm, and the profile is linked to your sign-in.",
    sent_no_email: "No email after a few minutes? Check your spam folder, or",
    sent_try_another: "try another address",
    sent_unsure: "If you are unsure which address we have, contact",
    confirm_title: "Confirm the link",
    confirm_heading: "Link {who} to {profile}?",
    confirm_your_sign_in: "Your sign-in",
    confirm_profile: "Customer profile",
    confirm_explain: "Once linked, you can use {product} for this profile whenever you sign in with this account.",
    confirm_yes: "Yes, link this profile",
    confirm_not_me: "This wasn't me",
    send_new_link: "Send me a new link",
    action_sign_in_again: "Sign in again",
    action_try_again: "Try again",
    action_account: "Go to your account",
    action_request_again: "Request a new link",
    action_back_to_form: "Back to the form",
    action_open_form: "Open the form again",
    action_other_account: "Sign in with another account",
    login_incomplete_title: "That sign-in link is incomplete",
    login_incomplete: "The address you arrived at is missing something we need. Please start signing in again.",
    login_expired_title: "This sign-in has expired",
    login_expired: "Sign-ins must be finished within 10 minutes, once, in the browser where they were started. Please start again.",
    login_cancelled_title: "Sign-in was cancelled",
    login_cancelled: "The sign-in was cancelled at your identity provider, so you are not signed in.",
    login_provider_failed_title: "Your identity provider did not complete the sign-in",
    login_provider_failed: "Your identity provider could not complete the sign-in. Please try again; if it keeps happening, contact support.",
    login_unverified_title: "We could not verify this sign-in",
    login_unverified: "The answer from your identity provider could not be verified, so you are not signed in. Please try again.",
    login_unavailable_title: "Sign-in is unavailable right now",
    unavailable: "We could not reach a service we depend on. Nothing was changed; please try again in a minute.",
    logout_csrf_title: "Please use the Sign out button",
    logout_csrf: "This request did not come from our Sign out button, so you are still signed in.",
    form_too_large_title: "That was too much to send",
    form_unreadable_title: "We could not read that form",
    form_unreadable: "Please go back to the form and enter just your email address.",
    form_csrf_title: "Please use the form on our page",
    form_csrf: "This request did not come from our form (or the page was open too long). Nothing was sent.",
    rate_limited_title: "Please wait before trying again",
    rate_limited: "There have been too many requests for this sign-in, address or network recently. Nothing was sent. Please try again in {minutes} min.",
    request_unavailable_title: "We could not send the emails right now",
    request_unavailable: "A service we depend on did not answer. Nothing was sent; please try again in a minute.",
    link_incomplete_title: "This link is not complete",
    link_incomplete: "The link could not be read. It may have been cut off or changed: open it straight from the email, or copy the whole address into your browser.",
    link_reopen_title: "Please open the link from your email again",
    link_reopen: "We could not find the link you clicked, or it was clicked more than 15 minutes ago. Open it from the email again.",
    provider_no_reauth_title: "Your identity provider did not ask you to sign in again",
    provider_no_reauth: "To confirm a link you must enter your password (or equivalent) again at your identity provider. Please try once more; if this keeps happening, contact support.",
    link_invalid_title: "This link is not valid",
    link_invalid: "This link does not match one we sent. It may have been changed or cut off, or it has expired and been removed. Open it straight from the email, or request a new one.",
    redeem_unavailable_title: "We could not confirm the link right now",
    redeem_unavailable: "A service we depend on did not answer. Nothing was changed; please open the link again in a minute.",
    link_used_title: "This link has already been used",
    link_used: "Each link works once, and this one has been used. If you used it, the profile is linked: your account page shows it.",
    link_cancelled: "This link was cancelled (someone said it wasn't them, or it was opened while signed in with another account). Nothing was linked with it. Request a new link if you still want to link this profile.",
    link_expired_title: "This link has expired",
    link_expired: "Links work for {minutes} minutes and this one has run out. We can send you a new one for {profile}.",
    wrong_account_title: "You are signed in with a different account",
    wrong_account: "This link was requested by another sign-in ({requester}), but you are signed in as {who}. Sign in with the account you used to request it. Confirming from this account would cancel the link.",
    wrong_account_burned: "This link was requested by another sign-in ({requester}), not {who}. For safety it no longer works and nothing was linked. Sign in with the account you used to request it and request a new link.",
    buttons_csrf_title: "Please use the buttons on our page",
    buttons_csrf: "This request did not come from our confirmation page. Nothing was changed.",
    redeem_form_unreadable: "Nothing was changed. Please open the link from your email again.",
    not_me_title: "Thank you: nothing was linked",
    not_me: "We have cancelled the links from that request, so none of them can be used. If you think someone is trying to use your profile, contact support.",
    linked_title: "Your profile is linked",
    already_linked_title: "This profile was already linked to you",
    linked: "{profile} is now linked to your sign-in. From now on, sign in with this account to act for it.",
    already_linked: "{profile} was already linked to your sign-in. From now on, sign in with this account to act for it.",
    superseded_title: "A newer link replaced this one",
    superseded: "You asked again after this email was sent, so only the newest email's link works. Open the most recent email for this profile.",
    resent_title: "We have sent you a new link",
    resent: "Check the inbox of the address registered for {profile}. The new link works for {minutes} minutes.",
    resend_limited_title: "Please wait before asking again",
    resend_limited: "There have been too many requests recently. Nothing was sent. Please try again in {minutes} min.",
    unlink_unknown_title: "We could not tell which profile to unlink",
    unlink_unknown: "Nothing was changed. Use the Unlink button next to the profile on your account page.",
    mail_hello: "Hello,",
    mail_link_subject: "Link your sign-in to {profile} — {operator}",
    mail_link_intro: "Someone signed in as {requester} with {provider} and asked to link that sign-in to this {operator} customer profile:",
    mail_link_instruction: "To confirm, open this link and sign in again with the same account:",
    mail_link_button: "Confirm this link",
    mail_link_copy: "Or copy this address into your browser:",
    mail_link_lifetime: "The link works once, for {minutes} minutes: until {expires}.",
    mail_link_ignore: "If this wasn't you, ignore this email: nothing will be linked.",
    mail_link_not_me: "Didn't ask for this? Cancel it:",
    mail_link_intro_support: "Our support team prepared this link at a request made to {operator} support: it links the sign-in {requester} with {provider} to this {operator} customer profile:",
    mail_link_lifetime_hours: "The link works once, for {hours} hours: until {expires}.",
    mail_notice_subject: "Your profile {profile} is now linked to a sign-in — {operator}",
    mail_notice_intro: "Your {operator} customer profile",
    mail_notice_linked: "is now linked to the sign-in {requester} ({provider}).",
    mail_notice_replaced: "It replaces the sign-in that was linked before, which can no longer act for this profile.",
    mail_notice_ok: "If this was you, there is nothing more to do.",
    mail_notice_not_you: "If this wasn't you, contact {operator} support at {support} straight away so we can undo it.",
    mail_questions: "Questions? Contact {operator} support at",
    requester_unnamed: "an unnamed account",
    mail_signature: "{product}, for {operator}",
};

pub static DE: Text = Text {
    lang: "de",
    footer_contact: "Fragen? Der Support von {operator} hilft Ihnen gern:",
    error_reference: "Wenn Sie sich an den Support wenden, nennen Sie bitte die Referenz {reference}.",
    progress_label: "Fortschritt",
    progress_signed_in: "Angemeldet",
    progress_address: "Adresse eingegeben",
    progress_sent: "E-Mails verschickt",
    progress_confirmed: "Links bestätigt",
    home_title: "Kundenprofile verknüpfen",
    home_heading: "Verknüpfen Sie Ihre Anmeldung mit Ihren Kundenprofilen bei {operator}",
    home_intro: "Mit einem Konto, das Sie schon haben (etwa von Microsoft, Google oder Ihrer Arbeit), erreichen Sie Ihre Kundenprofile bei {operator}. Das dauert nur wenige Minuten:",
    home_step_sign_in: "Melden Sie sich mit Ihrem Konto an.",
    home_step_address: "Geben Sie die E-Mail-Adresse ein, die bei {operator} hinterlegt ist. Sie kann von der Anmeldeadresse abweichen.",
    home_step_emails: "Wir schicken für jedes unter dieser Adresse hinterlegte Kundenprofil eine eigene E-Mail.",
    home_step_confirm: "Öffnen Sie jede E-Mail, klicken Sie auf den Link und melden Sie sich zur Bestätigung mit demselben Konto erneut an.",
    sign_in: "Anmelden",
    sign_in_title: "Anmelden",
    sign_in_heading: "Wie möchten Sie sich anmelden?",
    sign_in_intro: "Wählen Sie das Konto, das Sie verwenden. Nehmen Sie jedes Mal dasselbe: Ihre Kundenprofile werden mit diesem Konto verknüpft.",
    sign_in_with: "Mit {provider} anmelden",
    login_unknown_provider_title: "Diese Anmeldemöglichkeit gibt es nicht",
    login_unknown_provider: "Der Link nennt eine Anmeldemöglichkeit, die dieser Dienst nicht anbietet. Wählen Sie eine dieser.",
    account_title: "Ihr Konto",
    account_heading: "Sie sind angemeldet",
    account_signed_in_as: "Angemeldet als",
    account_email: "E-Mail (aus Ihrer Anmeldung)",
    account_provider: "Angemeldet über",
    account_profiles: "Verknüpfte Kundenprofile",
    account_no_profiles: "Mit dieser Anmeldung sind noch keine Kundenprofile verknüpft.",
    unlink: "Trennen",
    unlink_label: "{profile} trennen",
    link_a_profile: "Kundenprofil verknüpfen",
    go_to_portal: "Zum Portal",
    back_to_portal: "Zurück zu {portal}",
    portal_title: "Kundenprofil verknüpfen",
    portal_intro: "Sie sind mit {provider} angemeldet. {portal} zeigt Ihnen die Kundenprofile, für die Sie handeln dürfen, sobald Sie sie mit dieser Anmeldung verknüpft haben.",
    portal_how: "Wir senden einen Link an die E-Mail-Adresse, die für jedes Ihrer Profile hinterlegt ist. Öffnen Sie ihn, melden Sie sich erneut mit demselben Konto an und kehren Sie von dort zum Portal zurück.",
    portal_continue: "Ohne Verknüpfung weiter zu {portal}",
    choose_title: "Wählen Sie, für wen Sie handeln",
    choose_intro: "{portal} fragt, für welches Ihrer Kundenprofile Sie jetzt handeln. Bei der nächsten Anmeldung bei {portal} können Sie ein anderes wählen.",
    choose_legend: "Ihre verknüpften Kundenprofile",
    choose_continue: "Weiter zu {portal}",
    portal_request_invalid_title: "Diese Anmeldeanfrage kann nicht verwendet werden",
    portal_request_invalid: "Das Portal hat eine Anmeldeanfrage gesendet, die wir nicht annehmen können ({reason}). Gehen Sie zurück zum Portal und melden Sie sich dort erneut an.",
    end_session_title: "Abmelden?",
    end_session_intro: "{portal} möchte Sie auch bei {product} abmelden. Sie sind mit {provider} angemeldet.",
    end_session_cookie_missing: "{portal} möchte Sie auch bei {product} abmelden. Fahren Sie hier fort, um sich abzumelden.",
    end_session_confirm: "Abmelden",
    end_session_stay: "Angemeldet bleiben",
    end_session_invalid: "Das Portal hat um Ihre Abmeldung gebeten, aber eine Rücksprungadresse genannt, die es nie registriert hat; daher bleiben wir hier. Sie können sich auf Ihrer Kontoseite abmelden.",
    end_session_invalid_title: "Abmeldeanfrage nicht angenommen",
    sign_out: "Abmelden",
    sign_out_everywhere: "Überall abmelden",
    sign_out_everywhere_hint: "„Überall abmelden“ beendet jede Sitzung dieser Anmeldung, in jedem Browser und auf jedem Gerät.",
    login_limited_title: "Zu viele Anmeldungen aus Ihrem Netz",
    login_limited: "Anmeldungen aus Ihrem Netz sind vorübergehend angehalten. Bitte versuchen Sie es in {minutes} Minuten erneut.",
    not_me_page_title: "Nicht von Ihnen angefordert?",
    not_me_page_intro: "{requester} (angemeldet über {provider}) hat angefragt, die eigene Anmeldung mit dem Profil „{profile}“ zu verknüpfen, und diese Adresse hat den Link erhalten.",
    not_me_page_explain: "Wenn Sie das nicht waren, brechen Sie die Anfrage ab: Jeder Link daraus wird ungültig, und nichts wird verknüpft. Sie müssen sich dafür nicht anmelden.",
    not_me_cancel: "Diese Anfrage abbrechen",
    not_me_done_title: "Anfrage abgebrochen",
    not_me_done: "Die Links dieser Anfrage funktionieren nicht mehr, und nichts wurde verknüpft. Wenn solche E-Mails weiter kommen, wenden Sie sich an {support}.",
    not_me_nothing_left_title: "Nichts mehr abzubrechen",
    not_me_nothing_left: "Jeder Link dieser Anfrage wurde bereits verwendet, abgebrochen oder ist abgelaufen. Wenn ein Profil ohne Ihre Zustimmung verknüpft wurde, wenden Sie sich an {support}.",
    resend_refused_title: "Dieser Link kann nicht erneuert werden",
    resend_refused: "Nur ein Link, der unbenutzt abgelaufen ist, kann erneuert werden, und nur einmal: Dieser wurde verwendet, abgebrochen oder durch einen neueren ersetzt. Fordern Sie die Links von vorn neu an.",
    address_changed_title: "Die Adresse des Profils hat sich geändert",
    address_changed: "Dieses Profil ist nicht mehr unter der Adresse registriert, an die dieser Link ging, daher kann er nicht verwendet werden. Fordern Sie einen Link mit der jetzt registrierten Adresse neu an.",
    logout_unavailable_title: "Abmeldung nicht abgeschlossen",
    logout_unavailable: "In diesem Browser sind Sie abgemeldet, aber die Abmeldung konnte für andere Kopien Ihrer Sitzung gerade nicht gespeichert werden. Melden Sie sich erneut an und wiederholen Sie sie in einer Minute.",
    associate_title: "Hinterlegte E-Mail-Adresse eingeben",
    associate_heading: "Welche E-Mail-Adresse ist bei {operator} hinterlegt?",
    associate_intro: "Geben Sie die E-Mail-Adresse ein, die {operator} für Ihre Kundenprofile gespeichert hat. Sie kann sich von der Adresse unterscheiden, mit der Sie sich angemeldet haben.",
    associate_label: "Bei uns hinterlegte E-Mail-Adresse",
    associate_hint: "Wir schicken für jedes unter dieser Adresse hinterlegte Kundenprofil eine E-Mail.",
    associate_submit: "E-Mails anfordern",
    associate_unknown: "Sie wissen nicht, welche Adresse wir haben? Der Support von {operator} hilft Ihnen:",
    email_empty: "Bitte geben Sie eine E-Mail-Adresse ein.",
    email_too_long: "Diese E-Mail-Adresse ist zu lang.",
    email_missing_at: "Eine E-Mail-Adresse braucht ein @ zwischen Name und Domain, zum Beispiel name@example.com.",
    email_bad_domain: "Nach dem @ muss ein Domainname wie example.com stehen.",
    email_bad_characters: "Diese E-Mail-Adresse enthält unzulässige Zeichen. Bitte geben Sie nur die Adresse ein, zum Beispiel name@example.com.",
    sent_title: "Sehen Sie in Ihr Postfach",
    sent_body: "Falls diese Adresse bei uns hinterlegt ist, haben wir für jedes darunter hinterlegte Profil eine E-Mail geschickt. Jeder Link gilt {minutes} Minuten.",
    sent_step_open: "Öffnen Sie jede E-Mail von {operator}.",
    sent_step_click: "Klicken Sie auf den Link darin und melden Sie sich mit demselben Konto wie hier erneut an.",
    sent_step_confirm: "Bestätigen Sie, und das Profil ist mit Ihrer Anmeldung verknüpft.",
    sent_no_email: "Nach einigen Minuten keine E-Mail? Sehen Sie im Spam-Ordner nach, oder",
    sent_try_another: "versuchen Sie eine andere Adresse",
    sent_unsure: "Wenn Sie nicht sicher sind, welche Adresse wir haben, schreiben Sie an",
    confirm_title: "Verknüpfung bestätigen",
    confirm_heading: "{who} mit {profile} verknüpfen?",
    confirm_your_sign_in: "Ihre Anmeldung",
    confirm_profile: "Kundenprofil",
    confirm_explain: "Nach der Verknüpfung können Sie {product} für dieses Profil nutzen, wann immer Sie sich mit diesem Konto anmelden.",
    confirm_yes: "Ja, dieses Profil verknüpfen",
    confirm_not_me: "Das war ich nicht",
    send_new_link: "Neuen Link schicken",
    action_sign_in_again: "Erneut anmelden",
    action_try_again: "Noch einmal versuchen",
    action_account: "Zu Ihrem Konto",
    action_request_again: "Neuen Link anfordern",
    action_back_to_form: "Zurück zum Formular",
    action_open_form: "Formular erneut öffnen",
    action_other_account: "Mit einem anderen Konto anmelden",
    login_incomplete_title: "Dieser Anmeldelink ist unvollständig",
    login_incomplete: "Der aufgerufenen Adresse fehlt etwas, das wir brauchen. Bitte beginnen Sie die Anmeldung neu.",
    login_expired_title: "Diese Anmeldung ist abgelaufen",
    login_expired: "Eine Anmeldung muss innerhalb von 10 Minuten, einmal und im selben Browser abgeschlossen werden, in dem sie begonnen wurde. Bitte beginnen Sie neu.",
    login_cancelled_title: "Die Anmeldung wurde abgebrochen",
    login_cancelled: "Die Anmeldung wurde bei Ihrem Identitätsanbieter abgebrochen; Sie sind nicht angemeldet.",
    login_provider_failed_title: "Ihr Identitätsanbieter hat die Anmeldung nicht abgeschlossen",
    login_provider_failed: "Ihr Identitätsanbieter konnte die Anmeldung nicht abschließen. Bitte versuchen Sie es erneut; wenn es wieder passiert, wenden Sie sich an den Support.",
    login_unverified_title: "Wir konnten diese Anmeldung nicht prüfen",
    login_unverified: "Die Antwort Ihres Identitätsanbieters ließ sich nicht prüfen; Sie sind nicht angemeldet. Bitte versuchen Sie es erneut.",
    login_unavailable_title: "Die Anmeldung ist gerade nicht verfügbar",
    unavailable: "Ein Dienst, auf den wir angewiesen sind, war nicht erreichbar. Es wurde nichts geändert; bitte versuchen Sie es in einer Minute erneut.",
    logout_csrf_title: "Bitte nutzen Sie die Schaltfläche „Abmelden“",
    logout_csrf: "Diese Anfrage kam nicht von unserer Schaltfläche „Abmelden“; Sie sind weiterhin angemeldet.",
    form_too_large_title: "Das war zu viel auf einmal",
    form_unreadable_title: "Wir konnten das Formular nicht lesen",
    form_unreadable: "Bitte gehen Sie zurück zum Formular und geben Sie nur Ihre E-Mail-Adresse ein.",
    form_csrf_title: "Bitte nutzen Sie das Formular auf unserer Seite",
    form_csrf: "Diese Anfrage kam nicht von unserem Formular (oder die Seite war zu lange geöffnet). Es wurde nichts verschickt.",
    rate_limited_title: "Bitte warten Sie einen Moment",
    rate_limited: "Für diese Anmeldung, diese Adresse oder dieses Netzwerk gab es zuletzt zu viele Anfragen. Es wurde nichts verschickt. Bitte versuchen Sie es in {minutes} Min. erneut.",
    request_unavailable_title: "Wir können die E-Mails gerade nicht verschicken",
    request_unavailable: "Ein Dienst, auf den wir angewiesen sind, hat nicht geantwortet. Es wurde nichts verschickt; bitte versuchen Sie es in einer Minute erneut.",
    link_incomplete_title: "Dieser Link ist unvollständig",
    link_incomplete: "Der Link ließ sich nicht lesen. Vielleicht wurde er abgeschnitten oder verändert: Öffnen Sie ihn direkt aus der E-Mail oder kopieren Sie die ganze Adresse in Ihren Browser.",
    link_reopen_title: "Bitte öffnen Sie den Link aus Ihrer E-Mail erneut",
    link_reopen: "Wir finden den angeklickten Link nicht mehr, oder er wurde vor mehr als 15 Minuten angeklickt. Öffnen Sie ihn erneut aus der E-Mail.",
    provider_no_reauth_title: "Ihr Identitätsanbieter hat keine erneute Anmeldung verlangt",
    provider_no_reauth: "Zur Bestätigung eines Links müssen Sie Ihr Passwort (oder Ähnliches) bei Ihrem Identitätsanbieter erneut eingeben. Bitte versuchen Sie es noch einmal; wenn es wieder passiert, wenden Sie sich an den Support.",
    link_invalid_title: "Dieser Link ist ungültig",
    link_invalid: "Dieser Link passt zu keinem, den wir verschickt haben. Vielleicht wurde er verändert oder abgeschnitten, oder er ist abgelaufen und gelöscht. Öffnen Sie ihn direkt aus der E-Mail oder fordern Sie einen neuen an.",
    redeem_unavailable_title: "Wir können den Link gerade nicht bestätigen",
    redeem_unavailable: "Ein Dienst, auf den wir angewiesen sind, hat nicht geantwortet. Es wurde nichts geändert; bitte öffnen Sie den Link in einer Minute erneut.",
    link_used_title: "Dieser Link wurde bereits verwendet",
    link_used: "Jeder Link funktioniert nur einmal, und dieser wurde schon benutzt. Wenn Sie es waren, ist das Profil verknüpft: Ihre Kontoseite zeigt es.",
    link_cancelled: "Dieser Link wurde gesperrt (jemand hat angegeben, dass die Anfrage nicht von ihm kam, oder er wurde mit einem anderen Konto geöffnet). Damit wurde nichts verknüpft. Fordern Sie einen neuen Link an, wenn Sie das Profil weiterhin verknüpfen möchten.",
    link_expired_title: "Dieser Link ist abgelaufen",
    link_expired: "Links gelten {minutes} Minuten, und dieser ist abgelaufen. Wir können Ihnen einen neuen für {profile} schicken.",
    wrong_account_title: "Sie sind mit einem anderen Konto angemeldet",
    wrong_account: "Diesen Link hat eine andere Anmeldung angefordert ({requester}), Sie sind aber als {who} angemeldet. Melden Sie sich mit dem Konto an, mit dem Sie ihn angefordert haben. Eine Bestätigung mit diesem Konto würde den Link sperren.",
    wrong_account_burned: "Diesen Link hat eine andere Anmeldung angefordert ({requester}), nicht {who}. Zur Sicherheit funktioniert er nicht mehr, und es wurde nichts verknüpft. Melden Sie sich mit dem Konto an, mit dem Sie ihn angefordert haben, und fordern Sie einen neuen Link an.",
    buttons_csrf_title: "Bitte nutzen Sie die Schaltflächen auf unserer Seite",
    buttons_csrf: "Diese Anfrage kam nicht von unserer Bestätigungsseite. Es wurde nichts geändert.",
    redeem_form_unreadable: "Es wurde nichts geändert. Bitte öffnen Sie den Link aus Ihrer E-Mail erneut.",
    not_me_title: "Danke: Es wurde nichts verknüpft",
    not_me: "Wir haben die Links aus dieser Anfrage gesperrt; keiner davon funktioniert mehr. Wenn Sie vermuten, dass jemand Ihr Profil missbrauchen will, wenden Sie sich an den Support.",
    linked_title: "Ihr Profil ist verknüpft",
    already_linked_title: "Dieses Profil war bereits mit Ihnen verknüpft",
    linked: "{profile} ist jetzt mit Ihrer Anmeldung verknüpft. Melden Sie sich ab jetzt mit diesem Konto an, um für das Profil zu handeln.",
    already_linked: "{profile} war bereits mit Ihrer Anmeldung verknüpft. Melden Sie sich mit diesem Konto an, um für das Profil zu handeln.",
    superseded_title: "Ein neuerer Link hat diesen ersetzt",
    superseded: "Sie haben nach dem Versand dieser E-Mail erneut angefragt; nur der Link aus der neuesten E-Mail funktioniert. Öffnen Sie die jüngste E-Mail zu diesem Profil.",
    resent_title: "Wir haben Ihnen einen neuen Link geschickt",
    resent: "Sehen Sie in das Postfach der Adresse, die für {profile} hinterlegt ist. Der neue Link gilt {minutes} Minuten.",
    resend_limited_title: "Bitte warten Sie, bevor Sie erneut anfragen",
    resend_limited: "Es gab zuletzt zu viele Anfragen. Es wurde nichts verschickt. Bitte versuchen Sie es in {minutes} Min. erneut.",
    unlink_unknown_title: "Wir konnten nicht erkennen, welches Profil getrennt werden soll",
    unlink_unknown: "Es wurde nichts geändert. Nutzen Sie die Schaltfläche „Trennen“ neben dem Profil auf Ihrer Kontoseite.",
    mail_hello: "Guten Tag,",
    mail_link_subject: "Anmeldung mit {profile} verknüpfen – {operator}",
    mail_link_intro: "Jemand hat sich als {requester} über {provider} angemeldet und möchte diese Anmeldung mit folgendem Kundenprofil bei {operator} verknüpfen:",
    mail_link_instruction: "Zur Bestätigung öffnen Sie diesen Link und melden sich mit demselben Konto erneut an:",
    mail_link_button: "Verknüpfung bestätigen",
    mail_link_copy: "Oder kopieren Sie diese Adresse in Ihren Browser:",
    mail_link_lifetime: "Der Link funktioniert einmal und {minutes} Minuten lang: bis {expires}.",
    mail_link_ignore: "Wenn Sie das nicht waren, ignorieren Sie diese E-Mail: Es wird nichts verknüpft.",
    mail_link_not_me: "Sie haben das nicht angefordert? Hier brechen Sie die Anfrage ab:",
    mail_link_intro_support: "Unser Support-Team hat diesen Link auf eine Anfrage an den Support von {operator} hin erstellt: Er verknüpft die Anmeldung {requester} über {provider} mit folgendem Kundenprofil bei {operator}:",
    mail_link_lifetime_hours: "Der Link funktioniert einmal und {hours} Stunden lang: bis {expires}.",
    mail_notice_subject: "Ihr Profil {profile} ist jetzt mit einer Anmeldung verknüpft – {operator}",
    mail_notice_intro: "Ihr Kundenprofil bei {operator}",
    mail_notice_linked: "ist jetzt mit der Anmeldung {requester} ({provider}) verknüpft.",
    mail_notice_replaced: "Sie ersetzt die bisher verknüpfte Anmeldung, die nicht mehr für dieses Profil handeln kann.",
    mail_notice_ok: "Wenn Sie das waren, ist nichts weiter zu tun.",
    mail_notice_not_you: "Wenn Sie das nicht waren, wenden Sie sich sofort an den Support von {operator} unter {support}, damit wir es rückgängig machen.",
    mail_questions: "Fragen? Der Support von {operator} hilft unter",
    requester_unnamed: "ein unbenanntes Konto",
    mail_signature: "{product}, für {operator}",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_best_supported_language() {
        assert_eq!(Locale::negotiate(Some("de-DE,de;q=0.9,en;q=0.8")), Locale::De);
        assert_eq!(Locale::negotiate(Some("fr-FR,de;q=0.5,en;q=0.9")), Locale::En);
        assert_eq!(Locale::negotiate(Some("fr-CH, fr;q=0.9")), Locale::En, "fallback");
        assert_eq!(Locale::negotiate(Some("de-AT")), Locale::De);
        assert_eq!(Locale::negotiate(None), Locale::En);
        assert_eq!(Locale::negotiate(Some("garbage;;;q=x")), Locale::En);
    }

    #[test]
    fn fills_placeholders() {
        assert_eq!(fill("Link {who} to {profile}?", &[("who", &"Pat"), ("profile", &"Bakery")]), "Link Pat to Bakery?");
        assert_eq!(fill("{minutes} min", &[("minutes", &60)]), "60 min");
    }

    #[test]
    fn an_inserted_value_is_never_filled_again() {
        // A sign-in's name claim `{operator}` must not become the company's name.
        let values: [(&str, &dyn Display); 2] = [("requester", &"{operator} {support}"), ("operator", &"Acme")];
        assert_eq!(fill("{requester} asked {operator}", &values), "{operator} {support} asked Acme");
        let values: [(&str, &dyn Display); 2] = [("operator", &"Acme"), ("requester", &"{operator}")];
        assert_eq!(fill("{operator}: {requester}", &values), "Acme: {operator}");
        assert_eq!(fill("{a}{a}", &[("a", &"{a}")]), "{a}{a}");
    }

    #[test]
    fn unknown_and_unclosed_placeholders_stay_as_written() {
        assert_eq!(fill("{unknown} {who} {", &[("who", &"Pat")]), "{unknown} Pat {");
        assert_eq!(fill("{{who}} {who", &[("who", &"Pat")]), "{Pat} {who");
        assert_eq!(fill("", &[("who", &"Pat")]), "");
        assert_eq!(fill("é{who}ü", &[("who", &"Pat")]), "éPatü");
    }

    #[test]
    fn every_language_uses_the_same_placeholders() {
        // A translation must keep the placeholders its English original fills.
        let placeholders = |s: &str| {
            let mut names: Vec<String> =
                s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned())).collect();
            names.sort();
            names
        };
        let strings = |text: &Text| -> Vec<(String, String)> {
            let serde_json::Value::Object(map) = serde_json::to_value(text).unwrap() else { unreachable!() };
            map.into_iter().map(|(k, v)| (k, v.as_str().unwrap().to_owned())).collect()
        };
        let (en, de) = (strings(&EN), strings(&DE));
        assert_eq!(en.len(), de.len());
        for ((key, english), (other_key, german)) in en.into_iter().zip(de) {
            assert_eq!(key, other_key);
            assert_eq!(placeholders(&english), placeholders(&german), "{key}");
        }
    }
}
