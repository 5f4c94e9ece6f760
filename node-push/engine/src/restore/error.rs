//! Why one file was not restored. Every message names the object's key, and local errors the path too.

use super::fetch::ObjectError;
use contract::message::RestoreFailure;
use std::path::PathBuf;

/// One file's failure.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The object is missing, damaged, or does not match its manifest entry; or the store failed.
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error("{}: disk full (no space left on device) while restoring {key}", path.display())]
    DiskFull { path: PathBuf, key: String },
    #[error("{}: cannot write it (restoring {key}): {source}", path.display())]
    Write {
        path: PathBuf,
        key: String,
        source: std::io::Error,
    },
    /// Not attempted because another file of its table failed first.
    #[error("{key}: not restored because {failed_key} of the same table ({table}) failed")]
    TableFailed {
        key: String,
        failed_key: String,
        table: String,
    },
}

impl RestoreError {
    /// Whether running the restore again may succeed without anyone fixing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            RestoreError::Object(e) => e.is_retryable(),
            // The table's own failure decides; this file itself was fine as far as anyone knows.
            RestoreError::TableFailed { .. } => true,
            RestoreError::DiskFull { .. } | RestoreError::Write { .. } => false,
        }
    }

    pub fn failure(&self) -> RestoreFailure {
        match self {
            RestoreError::Object(e) => e.failure(),
            RestoreError::DiskFull { .. } => RestoreFailure::DiskFull,
            RestoreError::Write { .. } => RestoreFailure::WriteError,
            RestoreError::TableFailed { .. } => RestoreFailure::TableFailed,
        }
    }
}
