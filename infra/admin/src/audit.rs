//! `audit show`: a profile's timeline, every step with its outcome.

use comfy_table::Table;
use profile_link_core::mail::format_utc;
use profile_link_core::store::audit::AuditRecord;

/// The timeline as a table for people.
pub fn table(records: &[AuditRecord]) -> String {
    let mut table = Table::new();
    table.set_header(["time (UTC)", "event", "sign-in", "link", "detail"]);
    for r in records {
        let who = match (&r.identity_iss, &r.identity_sub) {
            (Some(iss), Some(sub)) => sign_in(iss, sub),
            _ => String::new(),
        };
        table.add_row([
            format_utc(r.at).trim_end_matches(" UTC").to_owned(),
            r.event.clone(),
            who,
            r.link_id.clone().unwrap_or_default(),
            r.detail.clone().unwrap_or_default(),
        ]);
    }
    table.to_string()
}

/// `pat-7f3c9a at login.example.net`: a sign-in as operators read it.
pub fn sign_in(iss: &str, sub: &str) -> String {
    format!("{sub} at {}", issuer_host(iss))
}

/// The issuer's host (`https://login.example.net/tenant/v2.0` → `login.example.net`).
pub fn issuer_host(iss: &str) -> String {
    iss.split("://").nth(1).map(|rest| rest.split('/').next().unwrap_or(rest)).unwrap_or(iss).to_owned()
}
