//! Where an interrupted import stopped: the rows from the file's start that
//! are done (compared, written, their links revoked), tied to the file's
//! SHA-256 and the table, so a resumed run skips only what this file's rows
//! wrote into this table. Written atomically (a temporary file, then a
//! rename) after each batch that extends the done rows, so a crash at any
//! moment leaves a checkpoint at or behind what was written: a row done again
//! is compared, found unchanged and not written.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Recorded {
    sha256: String,
    table: String,
    rows_done: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "{path} is the checkpoint of an interrupted import of another {what} ({theirs}, not {ours}): finish that import, or pass --restart to import this file from its first row",
        path = path.display()
    )]
    Mismatch { path: PathBuf, what: &'static str, theirs: String, ours: String },
    #[error("checkpoint {path}: {problem}", path = path.display())]
    Unusable { path: PathBuf, problem: String },
}

/// One import's checkpoint file.
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    sha256: String,
    table: String,
}

/// The file's SHA-256, hex.
pub fn sha256_of(mut input: impl Read) -> std::io::Result<String> {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = input.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        context.update(&buffer[..read]);
    }
    Ok(context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

impl Checkpoint {
    /// The checkpoint of importing the file with this hash into `table`, kept at `path`.
    pub fn new(path: impl Into<PathBuf>, sha256: impl Into<String>, table: impl Into<String>) -> Self {
        Self { path: path.into(), sha256: sha256.into(), table: table.into() }
    }

    /// The default place: beside the file, named after the table.
    pub fn default_path(file: &Path, table: &str) -> PathBuf {
        let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(format!(".{table}.import-checkpoint"));
        file.with_file_name(name)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows done by an earlier, interrupted run of this import (0: none);
    /// refuses a checkpoint left by another file or table.
    pub fn rows_done(&self) -> Result<u64, CheckpointError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.unusable(e.to_string())),
        };
        let recorded: Recorded =
            serde_json::from_str(&text).map_err(|e| self.unusable(format!("not a checkpoint: {e}")))?;
        if recorded.sha256 != self.sha256 {
            return Err(CheckpointError::Mismatch {
                path: self.path.clone(),
                what: "file",
                theirs: format!("sha256 {}", &recorded.sha256[..recorded.sha256.len().min(12)]),
                ours: format!("{}", &self.sha256[..12]),
            });
        }
        if recorded.table != self.table {
            return Err(CheckpointError::Mismatch {
                path: self.path.clone(),
                what: "table",
                theirs: format!("table {}", recorded.table),
                ours: self.table.clone(),
            });
        }
        Ok(recorded.rows_done)
    }

    /// Records that the file's first `rows_done` rows are done.
    pub fn record(&self, rows_done: u64) -> Result<(), CheckpointError> {
        let recorded = Recorded { sha256: self.sha256.clone(), table: self.table.clone(), rows_done };
        let mut partial = self.path.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        std::fs::write(&partial, serde_json::to_vec(&recorded).expect("plain data serializes"))
            .and_then(|()| std::fs::rename(&partial, &self.path))
            .map_err(|e| self.unusable(format!("cannot write it: {e}")))
    }

    /// The import finished: nothing to resume.
    pub fn remove(&self) -> Result<(), CheckpointError> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.unusable(format!("cannot remove it: {e}"))),
            _ => Ok(()),
        }
    }

    fn unusable(&self, problem: String) -> CheckpointError {
        CheckpointError::Unusable { path: self.path.clone(), problem }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_read_back_only_for_its_own_file_and_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv.t.import-checkpoint");
        let ours = Checkpoint::new(&path, sha256_of(&b"a,b\n"[..]).unwrap(), "t");
        assert_eq!(ours.rows_done().unwrap(), 0, "no checkpoint yet: start at the first row");
        ours.record(4_200).unwrap();
        assert_eq!(ours.rows_done().unwrap(), 4_200);

        let other_file = Checkpoint::new(&path, sha256_of(&b"a,c\n"[..]).unwrap(), "t");
        let refused = other_file.rows_done().unwrap_err().to_string();
        assert!(refused.contains("another file") && refused.contains("--restart"), "saw {refused}");
        let other_table = Checkpoint::new(&path, sha256_of(&b"a,b\n"[..]).unwrap(), "u");
        let refused = other_table.rows_done().unwrap_err().to_string();
        assert!(refused.contains("another table (table t, not u)"), "saw {refused}");

        ours.remove().unwrap();
        assert_eq!(ours.rows_done().unwrap(), 0, "removed: nothing to resume");
        ours.remove().unwrap();
    }

    #[test]
    fn the_default_checkpoint_sits_beside_the_file_named_after_the_table() {
        let path = Checkpoint::default_path(Path::new("/exports/customers.csv"), "prod-Table-1");
        assert_eq!(path, Path::new("/exports/customers.csv.prod-Table-1.import-checkpoint"));
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256_of(&b"abc"[..]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "FIPS 180-2's example"
        );
    }
}
