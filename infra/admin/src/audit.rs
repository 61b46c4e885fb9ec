//! `audit show`: a profile's timeline, every step with its outcome; the
//! requests for an address or by a sign-in, one line each.

use comfy_table::Table;
use profile_link_core::RegisteredEmail;
use profile_link_core::mail::format_utc;
use profile_link_core::store::Suppression;
use profile_link_core::store::audit::{AuditRecord, REQUEST_RECORD_RETENTION_SECONDS};

/// How long request records are kept, as the output says it (`90 days`).
pub fn request_records_kept() -> String {
    format!("{} days", REQUEST_RECORD_RETENTION_SECONDS / 86_400)
}

/// One line per recorded request (or other step under the address or sign-in):
/// `2026-03-01 10:00 UTC  requested_unmatched  by pat-7f3c at login.example.net  request 3kXa…  p***@example.com: no profile registered under the address, via Contoso`.
pub fn request_lines(records: &[AuditRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let mut line = format!("{}  {}", format_utc(r.at), r.event);
            if let (Some(iss), Some(sub)) = (&r.identity_iss, &r.identity_sub) {
                line.push_str(&format!("  by {}", sign_in(iss, sub)));
            }
            if let Some(id) = &r.request_id {
                line.push_str(&format!("  request {id}"));
            }
            if let Some(id) = &r.link_id {
                line.push_str(&format!("  link {id}"));
            }
            if let Some(detail) = &r.detail {
                line.push_str(&format!("  {detail}"));
            }
            line
        })
        .collect()
}

/// Whether email still goes to the address, and since when not.
pub fn suppression_line(address: &RegisteredEmail, suppression: Option<&Suppression>) -> String {
    match suppression {
        None => format!("{} is not suppressed: email goes to it", address.masked()),
        Some(s) => format!(
            "{} is suppressed since {} ({}: {}): no email goes to it until `suppressions lift`",
            address.masked(),
            format_utc(s.at),
            s.reason,
            s.detail
        ),
    }
}

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
