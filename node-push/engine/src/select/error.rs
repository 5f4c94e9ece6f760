//! [`SelectError`]: everything that stops a file selection, each naming the file, directory, keyspace or
//! table it is about, so the coordinator can print it as one line for the user.

use std::io;
use std::path::{Path, PathBuf};

/// Why a selection (or reading `cassandra.yaml`) failed.
///
/// Files that vanish during the walk are not errors (see
/// [`SelectionResult::vanished`](super::SelectionResult::vanished)); neither are keyspaces or tables
/// without a snapshot or backups dir (they simply contribute no files).
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// `cassandra.yaml` could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read Cassandra config: {}", naming_path(.path, .source))]
    ConfigRead { path: PathBuf, source: io::Error },

    /// `cassandra.yaml` is not YAML, or its top level is not a mapping.
    #[error("Cassandra config {} is not a YAML mapping: {message}", .path.display())]
    ConfigSyntax { path: PathBuf, message: String },

    /// A required key is absent, commented out, null or an empty list.
    #[error(
        "Cassandra config {}: `{key}` is missing or empty; node-push needs it to find the data \
         (Cassandra's built-in default $CASSANDRA_HOME/data/data is not guessed)",
        .path.display()
    )]
    ConfigKeyMissing { path: PathBuf, key: &'static str },

    /// A key is present with a value of the wrong shape (a number instead of a path, a relative path,
    /// `maybe` instead of a boolean...).
    #[error("Cassandra config {}: `{key}` {problem}", .path.display())]
    ConfigValue {
        path: PathBuf,
        key: &'static str,
        problem: String,
    },

    /// [`Selection::data_dirs`](super::Selection::data_dirs) is empty.
    #[error("no data directories given: set data_file_directories in cassandra.yaml")]
    NoDataDirs,

    /// A data directory was given as a relative path; the S3 key embeds the absolute path.
    #[error("data directory {} is not an absolute path", .dir.display())]
    RelativeDataDir { dir: PathBuf },

    /// A data directory does not exist (or is not a directory).
    #[error("data directory {} {problem}; check data_file_directories in cassandra.yaml", .dir.display())]
    DataDirUnusable { dir: PathBuf, problem: &'static str },

    /// The snapshot tag cannot be a single directory name.
    #[error("invalid snapshot name {tag:?}: it must be one non-empty directory name without '/'")]
    InvalidSnapshotTag { tag: String },

    /// An `--exclude-tables` entry is neither `table` nor `keyspace.table`.
    #[error("invalid --exclude-tables entry {entry:?}: expected `table` or `keyspace.table`")]
    InvalidExclude { entry: String },

    /// A keyspace was asked for but none of the data directories holds it.
    #[error("keyspace {keyspace:?} not found in data directories {data_dirs}")]
    KeyspaceNotFound { keyspace: String, data_dirs: String },

    /// `--table` names a table that none of the selected keyspaces holds.
    #[error("table {table:?} not found in keyspace(s) {keyspaces}")]
    TableNotFound { table: String, keyspaces: String },

    /// Reading a directory or a file's metadata failed for a reason other than the entry having
    /// disappeared (permission denied, I/O error).
    #[error("{}", naming_path(.path, .source))]
    Io { path: PathBuf, source: io::Error },
}

impl SelectError {
    /// Whether running the same selection again may succeed without anyone changing anything.
    ///
    /// Only transient I/O conditions qualify; bad configuration, missing keyspaces and permission
    /// problems need a human.
    pub fn is_retryable(&self) -> bool {
        match self {
            SelectError::Io { source, .. } | SelectError::ConfigRead { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::Interrupted | io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// The path the error is about, when it is about one file or directory.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SelectError::ConfigRead { path, .. }
            | SelectError::ConfigSyntax { path, .. }
            | SelectError::ConfigKeyMissing { path, .. }
            | SelectError::ConfigValue { path, .. }
            | SelectError::Io { path, .. } => Some(path),
            SelectError::RelativeDataDir { dir } | SelectError::DataDirUnusable { dir, .. } => {
                Some(dir)
            }
            _ => None,
        }
    }
}

/// One line naming `path` once: fs-err and walkdir errors already embed the path in their text (then it
/// is used as is), bare `std::io` errors do not (then the path is put in front).
fn naming_path(path: &Path, source: &io::Error) -> String {
    let text = source.to_string();
    let first_line = text.lines().next().unwrap_or_default();
    if first_line.contains(&path.display().to_string()) {
        first_line.to_string()
    } else {
        format!("{}: {first_line}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_names_path_once_even_when_fs_err_already_did() {
        let missing = Path::new("/nonexistent-dir-for-select-test/x");
        let source = fs_err::read_dir(missing).unwrap_err();
        let error = SelectError::Io {
            path: missing.to_path_buf(),
            source,
        };
        let text = error.to_string();
        assert_eq!(
            text.matches("/nonexistent-dir-for-select-test/x").count(),
            1,
            "{text}"
        );
        assert!(
            text.ends_with("No such file or directory (os error 2)"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        assert!(!error.is_retryable());
    }

    #[test]
    fn bare_io_error_gets_the_path_in_front() {
        let error = SelectError::Io {
            path: PathBuf::from("/data/ks"),
            source: io::Error::from_raw_os_error(13),
        };
        assert_eq!(
            error.to_string(),
            "/data/ks: Permission denied (os error 13)"
        );
    }

    #[test]
    fn only_transient_io_is_retryable() {
        let transient = SelectError::Io {
            path: PathBuf::from("/d"),
            source: io::Error::from(io::ErrorKind::Interrupted),
        };
        assert!(transient.is_retryable());
        let denied = SelectError::Io {
            path: PathBuf::from("/d"),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(!denied.is_retryable());
        assert!(!SelectError::NoDataDirs.is_retryable());
        assert_eq!(denied.path(), Some(Path::new("/d")));
    }
}
