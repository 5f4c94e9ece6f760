//! Looking at one listed entry with `lstat`, telling "it went away" (Cassandra removed it while we walked:
//! not an error) from every other failure (an error naming the path).

use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::SelectError;

/// What a listed entry turned out to be when looked at with `lstat`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EntryStat {
    File {
        size: u64,
        mtime: i64,
    },
    Directory,
    Symlink,
    /// A FIFO, socket or device: never part of a backup.
    Special,
    /// Gone since it was listed.
    Vanished,
}

/// `lstat`s `path`: a missing entry is [`EntryStat::Vanished`], any other failure an error naming it.
pub(crate) fn stat_entry(path: &Path) -> Result<EntryStat, SelectError> {
    let metadata = match fs_err::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if is_vanished(&error) => return Ok(EntryStat::Vanished),
        Err(source) => {
            return Err(SelectError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let file_type = metadata.file_type();
    Ok(if file_type.is_symlink() {
        EntryStat::Symlink
    } else if file_type.is_dir() {
        EntryStat::Directory
    } else if file_type.is_file() {
        EntryStat::File {
            size: metadata.len(),
            mtime: metadata.modified().map(seconds_since_epoch).unwrap_or(0),
        }
    } else {
        EntryStat::Special
    })
}

/// ENOENT means the entry went away; ENOTDIR means a directory on the way was replaced by a file, which
/// is the same race seen from another angle.
pub(crate) fn is_vanished(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn seconds_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |secs| -secs),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_gone_before_stat_is_vanished_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("mc-1-big-Data.db");
        assert_eq!(stat_entry(&gone).unwrap(), EntryStat::Vanished);
        // A path through a file (ENOTDIR): the directory was replaced while we walked.
        fs_err::write(dir.path().join("f"), b"x").unwrap();
        assert_eq!(
            stat_entry(&dir.path().join("f").join("g")).unwrap(),
            EntryStat::Vanished
        );
    }

    #[test]
    fn stat_reports_size_and_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nb-1-big-Data.db");
        fs_err::write(&file, b"12345").unwrap();
        let EntryStat::File { size, mtime } = stat_entry(&file).unwrap() else {
            panic!("not a file");
        };
        assert_eq!(size, 5);
        let now = seconds_since_epoch(SystemTime::now());
        assert!((now - 60..=now + 1).contains(&mtime), "{mtime} vs {now}");
        assert_eq!(stat_entry(dir.path()).unwrap(), EntryStat::Directory);
    }

    #[test]
    fn other_io_errors_name_the_path() {
        // A name longer than NAME_MAX fails with ENAMETOOLONG even for root.
        let long = std::env::temp_dir().join("x".repeat(300));
        let error = stat_entry(&long).unwrap_err();
        assert!(matches!(&error, SelectError::Io { path, .. } if *path == long));
        assert!(
            error.to_string().contains(&long.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn pre_epoch_times_are_negative() {
        let before = UNIX_EPOCH - std::time::Duration::from_secs(90);
        assert_eq!(seconds_since_epoch(before), -90);
    }
}
