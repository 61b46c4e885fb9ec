//! `profiles import`: the customer system's CSV export into the table.
//! Every row is untrusted: each bad row is reported with its line number and
//! reason and nothing of it is written; good rows are upserted in batches.

use std::collections::BTreeSet;
use std::io::Read;

use futures::stream::{FuturesUnordered, StreamExt};

use profile_link_core::domain::email::RegisteredEmail;
use profile_link_core::domain::profile::{Profile, ProfileId};
use profile_link_core::store::{BATCH_GET_MAX, BATCH_WRITE_MAX, StoreError};
use profile_link_core::{Clock, Store, SystemClock};
use serde::Deserialize;

pub const COLUMNS: [&str; 4] = ["profile_id", "email", "display_name", "organization"];
const MAX_TEXT: usize = 200;

#[derive(Debug, Deserialize)]
struct RawRow {
    profile_id: String,
    email: String,
    display_name: String,
    #[serde(default)]
    organization: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedRow {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub imported: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Unused links revoked because their profile's address changed.
    pub links_revoked: usize,
    pub rejected: Vec<RejectedRow>,
    /// Every valid profile id in the export (what `--prune` keeps).
    #[serde(skip)]
    pub seen: BTreeSet<ProfileId>,
}

/// Batches of 100 rows in flight at once: enough to keep DynamoDB (and the
/// emulator) busy, while memory holds at most this many batches of rows.
pub const BATCHES_IN_FLIGHT: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not a CSV export with columns {expected}: {problem}", expected = COLUMNS.join(","))]
    Header { problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A field shown to people later must be plain text. Leading `=`, `+`, `-`,
/// `@`, tab or CR would make the value a formula when an operator opens an
/// export in a spreadsheet (CSV injection), so such rows are refused.
fn text_field(name: &str, raw: &str, required: bool) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return if required { Err(format!("{name} is empty")) } else { Ok(String::new()) };
    }
    if value.chars().count() > MAX_TEXT {
        return Err(format!("{name} is longer than {MAX_TEXT} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{name} contains control characters"));
    }
    if value.starts_with(['=', '+', '-', '@']) {
        return Err(format!("{name} starts with {:?}, which spreadsheets run as a formula", &value[..1]));
    }
    Ok(value.to_owned())
}

fn validate(raw: RawRow) -> Result<Profile, String> {
    let id = ProfileId::parse(&raw.profile_id).ok_or_else(|| {
        format!(
            "profile_id {:?} must be 1-64 characters of A-Z a-z 0-9 . _ : -",
            raw.profile_id.chars().take(70).collect::<String>()
        )
    })?;
    let email = RegisteredEmail::parse(&raw.email).map_err(|e| format!("email: {e}"))?;
    Ok(Profile {
        id,
        email,
        display_name: text_field("display_name", &raw.display_name, true)?,
        organization: text_field("organization", &raw.organization, false)?,
    })
}

/// Progress callbacks, so the binary can draw a bar and tests can stay quiet.
pub trait Progress {
    fn rows_done(&self, rows: u64);
}

impl Progress for () {
    fn rows_done(&self, _: u64) {}
}

impl Progress for indicatif::ProgressBar {
    fn rows_done(&self, rows: u64) {
        self.inc(rows);
    }
}

/// Reads the whole CSV, validating every row; with `dry_run` nothing is written.
/// Memory stays bounded: rows are compared and written in batches of 100, at
/// most [`BATCHES_IN_FLIGHT`] at a time; only the ids seen are kept (for
/// duplicates and `--prune`), about 50 bytes a row.
pub async fn import(
    store: &Store,
    input: impl Read,
    dry_run: bool,
    progress: &impl Progress,
) -> Result<ImportReport, ImportError> {
    import_with(store, input, dry_run, BATCHES_IN_FLIGHT, progress).await
}

/// As [`import`], with `in_flight` batches at a time (1: one after another).
pub async fn import_with(
    store: &Store,
    input: impl Read,
    dry_run: bool,
    in_flight_max: usize,
    progress: &impl Progress,
) -> Result<ImportReport, ImportError> {
    let in_flight_max = in_flight_max.max(1);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::None).flexible(false).from_reader(input);
    let headers = reader.headers().map_err(|e| ImportError::Header { problem: e.to_string() })?.clone();
    let missing: Vec<&str> = COLUMNS.iter().copied().filter(|c| !headers.iter().any(|h| h.trim() == *c)).collect();
    if !missing.is_empty() {
        return Err(ImportError::Header { problem: format!("missing column(s) {}", missing.join(", ")) });
    }
    let headers = csv::StringRecord::from(headers.iter().map(str::trim).collect::<Vec<_>>());

    let mut report = ImportReport::default();
    let mut batch: Vec<Profile> = Vec::with_capacity(BATCH_GET_MAX);
    let mut in_flight: FuturesUnordered<_> = FuturesUnordered::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                report.rejected.push(RejectedRow { line, reason: format!("not a valid CSV row: {}", csv_reason(&e)) });
                progress.rows_done(1);
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        let parsed = record
            .deserialize::<RawRow>(Some(&headers))
            .map_err(|e| format!("not a valid row: {}", csv_reason(&e)))
            .and_then(validate)
            .and_then(|p| {
                if report.seen.insert(p.id.clone()) {
                    Ok(p)
                } else {
                    Err(format!("profile_id {} appears more than once; only the first is imported", p.id))
                }
            });
        match parsed {
            Ok(profile) => batch.push(profile),
            Err(reason) => {
                report.rejected.push(RejectedRow { line, reason });
                progress.rows_done(1);
            }
        }
        if batch.len() == BATCH_GET_MAX {
            if in_flight.len() == in_flight_max {
                let counts: BatchCounts = in_flight.next().await.expect("a batch is in flight")?;
                counts.add_to(&mut report);
            }
            in_flight.push(upsert(store, std::mem::take(&mut batch), dry_run, progress));
        }
    }
    in_flight.push(upsert(store, batch, dry_run, progress));
    while let Some(counts) = in_flight.next().await {
        counts?.add_to(&mut report);
    }
    Ok(report)
}

fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        _ => error.to_string(),
    }
}

/// What one batch found.
#[derive(Debug, Default)]
struct BatchCounts {
    imported: usize,
    updated: usize,
    unchanged: usize,
    links_revoked: usize,
}

impl BatchCounts {
    fn add_to(self, report: &mut ImportReport) {
        report.imported += self.imported;
        report.updated += self.updated;
        report.unchanged += self.unchanged;
        report.links_revoked += self.links_revoked;
    }
}

/// Compares with what is stored and writes only new or changed profiles.
async fn upsert(
    store: &Store,
    batch: Vec<Profile>,
    dry_run: bool,
    progress: &impl Progress,
) -> Result<BatchCounts, ImportError> {
    let mut counts = BatchCounts::default();
    if batch.is_empty() {
        return Ok(counts);
    }
    let ids: Vec<ProfileId> = batch.iter().map(|p| p.id.clone()).collect();
    let stored = store.get_profiles(&ids).await?;
    let mut changed = Vec::new();
    let mut readdressed = Vec::new();
    for profile in batch {
        match stored.get(&profile.id) {
            None => {
                counts.imported += 1;
                changed.push(profile);
            }
            Some(existing) if *existing != profile => {
                counts.updated += 1;
                if existing.email != profile.email {
                    readdressed.push(profile.id.clone());
                }
                changed.push(profile);
            }
            Some(_) => counts.unchanged += 1,
        }
    }
    if !dry_run {
        for chunk in changed.chunks(BATCH_WRITE_MAX) {
            store.put_profiles(chunk).await?;
        }
        // Written first: from then on a redemption or renewal of an old link
        // is refused by its own transaction; revoking makes it say so.
        let now = SystemClock.now();
        for id in &readdressed {
            counts.links_revoked +=
                store.revoke_unused_links(id, "the profile's registered address changed", now).await?;
        }
    }
    progress.rows_done(ids.len() as u64);
    Ok(counts)
}

/// Profiles in the table that the export no longer has (what `--prune` removes).
pub async fn absent_from_export(store: &Store, report: &ImportReport) -> Result<Vec<ProfileId>, StoreError> {
    Ok(store.all_profile_ids().await?.into_iter().filter(|id| !report.seen.contains(id)).collect())
}

/// Removes those profiles, 25 per batch write.
pub async fn prune(store: &Store, absent: &[ProfileId]) -> Result<(), StoreError> {
    for chunk in absent.chunks(BATCH_WRITE_MAX) {
        store.delete_profiles(chunk).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, email: &str, name: &str, org: &str) -> RawRow {
        RawRow { profile_id: id.into(), email: email.into(), display_name: name.into(), organization: org.into() }
    }

    #[test]
    fn validates_and_normalises_a_good_row() {
        let p = validate(row(" C-1 ", " Pat@Example.com", " Pat Doe ", "Acme")).unwrap();
        assert_eq!((p.id.as_str(), p.email.as_str(), p.display_name.as_str()), ("C-1", "pat@example.com", "Pat Doe"));
    }

    #[test]
    fn refuses_formula_injection_and_bad_fields() {
        for (r, expect) in [
            (row("C-1", "pat@example.com", "=HYPERLINK(\"x\")", ""), "formula"),
            (row("C-1", "pat@example.com", "Pat", "+1+2"), "formula"),
            (row("C-1", "pat@example.com", "@SUM(A1)", ""), "formula"),
            (row("C-1", "pat@example.com", "-2", ""), "formula"),
            (row("C-1", "not-an-email", "Pat", ""), "email"),
            (row("", "pat@example.com", "Pat", ""), "profile_id"),
            (row("C 1", "pat@example.com", "Pat", ""), "profile_id"),
            (row("C-1", "pat@example.com", "", ""), "display_name is empty"),
            (row("C-1", "pat@example.com", "Pat\u{7}", ""), "control"),
            (row("C-1", "pat@example.com", &"x".repeat(201), ""), "longer"),
        ] {
            let err = validate(r).unwrap_err();
            assert!(err.contains(expect), "{err:?} should mention {expect}");
        }
    }
}
