//! `profiles import`: the customer system's CSV export into the table.
//! Every row is untrusted: each bad row is reported with its line number and
//! reason and nothing of it is written; good rows are upserted in batches.

pub mod checkpoint;
pub mod pace;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};

use profile_link_core::domain::email::RegisteredEmail;
use profile_link_core::domain::profile::{Profile, ProfileId};
use profile_link_core::store::profile_batches::{Attempt, write_units};
use profile_link_core::store::{BATCH_GET_MAX, BATCH_WRITE_MAX, StoreError};
use profile_link_core::{Clock, Store, SystemClock};
use serde::Deserialize;

use checkpoint::{Checkpoint, CheckpointError};
pub use pace::DEFAULT_WRITE_UNITS;
use pace::{Pacer, backoff};

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
    /// Rows an interrupted run had done, skipped (checked, not compared or written again).
    pub resumed_rows: u64,
    /// Write units spent (estimated from each item's size, as DynamoDB counts them).
    pub write_units: u64,
    /// Calls DynamoDB throttled (refused, or answered with items unprocessed).
    pub throttled_calls: u64,
    /// How often throttling halved the write rate.
    pub slowdowns: u32,
    /// Every valid profile id in the export (what `--prune` keeps).
    #[serde(skip)]
    pub seen: BTreeSet<ProfileId>,
}

/// Batches of 100 rows in flight at once: enough to keep DynamoDB busy
/// between the pacer's turns, while memory holds at most this many batches.
pub const BATCHES_IN_FLIGHT: usize = 8;
/// Give up when DynamoDB has done none of the work (throttled or failing throughout) for this long.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not a CSV export with columns {expected}: {problem}", expected = COLUMNS.join(","))]
    Header { problem: String },
    #[error(
        "DynamoDB did none of the import's work for {seconds} s (--give-up-after), so it stopped (last answer: {last})"
    )]
    Stalled { seconds: u64, last: String },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How an import runs.
#[derive(Debug)]
pub struct ImportOptions<'a> {
    /// Compare only, write nothing (and neither read nor write a checkpoint).
    pub dry_run: bool,
    /// Batches of 100 rows compared and written at once (1: one after another).
    pub in_flight: usize,
    /// The most write units a second the import spends (the item and its index entry each count).
    pub write_units: u32,
    /// Give up when DynamoDB has done none of the work for this long.
    pub give_up_after: Duration,
    /// Skip what an interrupted run of the same file did, and record progress here.
    pub checkpoint: Option<&'a Checkpoint>,
}

impl Default for ImportOptions<'_> {
    fn default() -> Self {
        Self {
            dry_run: false,
            in_flight: BATCHES_IN_FLIGHT,
            write_units: DEFAULT_WRITE_UNITS,
            give_up_after: GIVE_UP_AFTER,
            checkpoint: None,
        }
    }
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
    import_with(store, input, &ImportOptions { dry_run, ..ImportOptions::default() }, progress).await
}

/// One run's shared pace and counters.
struct Run<'a> {
    store: &'a Store,
    options: &'a ImportOptions<'a>,
    pacer: Pacer,
    throttled_calls: AtomicU64,
}

/// As [`import`], paced and resumable as `options` say.
pub async fn import_with(
    store: &Store,
    input: impl Read,
    options: &ImportOptions<'_>,
    progress: &impl Progress,
) -> Result<ImportReport, ImportError> {
    let in_flight_max = options.in_flight.max(1);
    let checkpoint = options.checkpoint.filter(|_| !options.dry_run);
    let resume_from = match checkpoint {
        Some(checkpoint) => checkpoint.rows_done()?,
        None => 0,
    };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::None).flexible(false).from_reader(input);
    let headers = reader.headers().map_err(|e| ImportError::Header { problem: e.to_string() })?.clone();
    let missing: Vec<&str> = COLUMNS.iter().copied().filter(|c| !headers.iter().any(|h| h.trim() == *c)).collect();
    if !missing.is_empty() {
        return Err(ImportError::Header { problem: format!("missing column(s) {}", missing.join(", ")) });
    }
    let headers = csv::StringRecord::from(headers.iter().map(str::trim).collect::<Vec<_>>());

    let run = &Run { store, options, pacer: Pacer::new(options.write_units), throttled_calls: AtomicU64::new(0) };
    let mut report = ImportReport::default();
    let mut batch: Vec<Profile> = Vec::with_capacity(BATCH_GET_MAX);
    let mut in_flight: FuturesUnordered<_> = FuturesUnordered::new();
    let mut done_in_order = DoneInOrder::starting_at(resume_from);
    let mut record = csv::StringRecord::new();
    // Data rows read so far (the header is not one).
    let mut rows: u64 = 0;
    loop {
        let line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => rows += 1,
            Err(e) => {
                rows += 1;
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
            // Done by the interrupted run: checked again (for the report and
            // --prune), not compared or written again.
            Ok(_) if rows <= resume_from => {
                report.resumed_rows += 1;
                progress.rows_done(1);
            }
            Ok(profile) => batch.push(profile),
            Err(reason) => {
                report.rejected.push(RejectedRow { line, reason });
                progress.rows_done(1);
            }
        }
        if batch.len() == BATCH_GET_MAX {
            if in_flight.len() == in_flight_max {
                let (sequence, counts): (u64, BatchCounts) = in_flight.next().await.expect("a batch is in flight")?;
                counts.add_to(&mut report);
                done_in_order.finished(sequence, checkpoint)?;
            }
            let sequence = done_in_order.started(rows);
            in_flight.push(upsert(run, sequence, std::mem::take(&mut batch), progress));
        }
    }
    let sequence = done_in_order.started(rows);
    in_flight.push(upsert(run, sequence, batch, progress));
    while let Some(finished) = in_flight.next().await {
        let (sequence, counts) = finished?;
        counts.add_to(&mut report);
        done_in_order.finished(sequence, checkpoint)?;
    }
    report.throttled_calls = run.throttled_calls.load(Ordering::Relaxed);
    report.slowdowns = run.pacer.slowdowns();
    if let Some(checkpoint) = checkpoint {
        checkpoint.remove()?;
    }
    Ok(report)
}

/// Batches finish out of order; the checkpoint may only claim the rows up to
/// the first batch still in flight.
struct DoneInOrder {
    next_sequence: u64,
    /// Each started batch's last row, by sequence, until the rows before it are all done.
    ends: BTreeMap<u64, (u64, bool)>,
    rows_done: u64,
}

impl DoneInOrder {
    fn starting_at(rows_done: u64) -> Self {
        Self { next_sequence: 0, ends: BTreeMap::new(), rows_done }
    }

    /// A batch that ends with row `rows_through` starts: its sequence number.
    fn started(&mut self, rows_through: u64) -> u64 {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.ends.insert(sequence, (rows_through, false));
        sequence
    }

    /// A batch finished: records the rows now done from the start, if they grew.
    fn finished(&mut self, sequence: u64, checkpoint: Option<&Checkpoint>) -> Result<(), CheckpointError> {
        if let Some(entry) = self.ends.get_mut(&sequence) {
            entry.1 = true;
        }
        let before = self.rows_done;
        while let Some(entry) = self.ends.first_entry() {
            if !entry.get().1 {
                break;
            }
            self.rows_done = self.rows_done.max(entry.remove().0);
        }
        match checkpoint {
            Some(checkpoint) if self.rows_done > before => checkpoint.record(self.rows_done),
            _ => Ok(()),
        }
    }
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

/// What one batch found and did.
#[derive(Debug, Default)]
struct BatchCounts {
    imported: usize,
    updated: usize,
    unchanged: usize,
    links_revoked: usize,
    write_units: u64,
}

impl BatchCounts {
    fn add_to(self, report: &mut ImportReport) {
        report.imported += self.imported;
        report.updated += self.updated;
        report.unchanged += self.unchanged;
        report.links_revoked += self.links_revoked;
        report.write_units += self.write_units;
    }
}

/// Compares with what is stored and writes only new or changed profiles;
/// answers with the batch's sequence number (see [`DoneInOrder`]).
async fn upsert(
    run: &Run<'_>,
    sequence: u64,
    batch: Vec<Profile>,
    progress: &impl Progress,
) -> Result<(u64, BatchCounts), ImportError> {
    let mut counts = BatchCounts::default();
    if batch.is_empty() {
        return Ok((sequence, counts));
    }
    let ids: Vec<ProfileId> = batch.iter().map(|p| p.id.clone()).collect();
    let stored = read_stored(run, &ids).await?;
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
    if !run.options.dry_run {
        for chunk in changed.chunks(BATCH_WRITE_MAX) {
            counts.write_units += write_paced(run, chunk, &stored).await?;
        }
        // Written first: from then on a redemption or renewal of an old link
        // is refused by its own transaction; revoking makes it say so.
        let now = SystemClock.now();
        for id in &readdressed {
            counts.links_revoked +=
                run.store.revoke_unused_links(id, "the profile's registered address changed", now).await?;
        }
    }
    progress.rows_done(ids.len() as u64);
    Ok((sequence, counts))
}

/// Retries of one call that DynamoDB has not finished, in a row.
struct Retries<'a> {
    run: &'a Run<'a>,
    in_a_row: u32,
}

impl<'a> Retries<'a> {
    fn new(run: &'a Run<'a>) -> Self {
        Self { run, in_a_row: 0 }
    }

    /// After an attempt that left work undone: a throttled write slows the
    /// pace; then a jittered wait, longer for each attempt in a row that did
    /// nothing. Gives up only when DynamoDB has done nothing for the whole run
    /// for [`ImportOptions::give_up_after`].
    async fn again(&mut self, progressed: bool, throttled: bool, last: String) -> Result<(), ImportError> {
        if throttled {
            self.run.throttled_calls.fetch_add(1, Ordering::Relaxed);
            self.run.pacer.throttled();
        }
        self.in_a_row = if progressed { 1 } else { self.in_a_row + 1 };
        let stalled = self.run.pacer.since_progress();
        if stalled >= self.run.options.give_up_after {
            return Err(ImportError::Stalled { seconds: self.run.options.give_up_after.as_secs(), last });
        }
        backoff(self.in_a_row).await;
        Ok(())
    }
}

/// The stored versions of up to 100 profiles, retrying throttled and lost reads.
async fn read_stored(run: &Run<'_>, ids: &[ProfileId]) -> Result<HashMap<ProfileId, Profile>, ImportError> {
    let mut stored = HashMap::new();
    let mut rest = ids.to_vec();
    let mut retries = Retries::new(run);
    loop {
        let (progressed, last) = match run.store.get_profiles_once(&rest).await? {
            Attempt::Answered(read) => {
                stored.extend(read.found);
                let progressed = read.unprocessed.len() < rest.len();
                if progressed {
                    run.pacer.progressed();
                }
                if read.unprocessed.is_empty() {
                    return Ok(stored);
                }
                let last = format!("{} of {} keys left unprocessed", read.unprocessed.len(), rest.len());
                rest = read.unprocessed;
                (progressed, last)
            }
            Attempt::Throttled(last) | Attempt::Unanswered(last) => (false, last),
        };
        // Reads have their own capacity: throttled reads wait, the write pace stays.
        retries.again(progressed, false, last).await?;
    }
}

/// Writes up to 25 profiles at the pace, until DynamoDB has taken every one;
/// answers with the write units spent.
async fn write_paced(
    run: &Run<'_>,
    profiles: &[Profile],
    stored: &HashMap<ProfileId, Profile>,
) -> Result<u64, ImportError> {
    let units = |profiles: &[Profile]| -> u32 { profiles.iter().map(|p| write_units(p, stored.get(&p.id))).sum() };
    let mut spent = 0;
    let mut rest = profiles.to_vec();
    let mut retries = Retries::new(run);
    while !rest.is_empty() {
        let asked = units(&rest);
        run.pacer.take(asked).await;
        let (progressed, throttled, last) = match run.store.put_profiles_once(&rest).await? {
            Attempt::Answered(unprocessed) => {
                spent += u64::from(asked - units(&unprocessed));
                let progressed = unprocessed.len() < rest.len();
                if progressed {
                    run.pacer.progressed();
                }
                let last = format!("{} of {} items left unprocessed", unprocessed.len(), rest.len());
                rest = unprocessed;
                // DynamoDB leaves items unprocessed when their partition is over its capacity.
                (progressed, true, last)
            }
            Attempt::Throttled(last) => (false, true, last),
            Attempt::Unanswered(last) => (false, false, last),
        };
        if !rest.is_empty() {
            retries.again(progressed, throttled, last).await?;
        }
    }
    Ok(spent)
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
