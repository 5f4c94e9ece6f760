//! The walk itself: data dirs -> keyspace dirs -> table dirs -> the source dir of each, recursively.
//!
//! The first three levels are listed by hand because names decide what is walked there (keyspace and
//! table filters, `lost+found`); below the source dir everything is taken, so walkdir does the rest.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use walkdir::WalkDir;

use super::names::{is_cassandra_identifier, table_name, ExcludeRule};
use super::{QualifiedTable, SelectError, SelectedFile, Selection, SelectionResult, Source};

/// Selects the files of `selection`; see the [module docs](super) for the rules.
pub fn select(selection: &Selection) -> Result<SelectionResult, SelectError> {
    let data_dirs = checked_data_dirs(&selection.data_dirs)?;
    check_source(&selection.source)?;
    let exclude_rules = selection
        .exclude_tables
        .iter()
        .map(|entry| ExcludeRule::parse(entry).map(|rule| (entry.trim().to_string(), rule)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut walk = Walk::default();
    let mut keyspace_dirs = Vec::new();
    for data_dir in &data_dirs {
        for keyspace in walk.subdirs(data_dir, is_cassandra_identifier)? {
            keyspace_dirs.push((data_dir.clone(), keyspace));
        }
    }
    let present: BTreeSet<&str> = keyspace_dirs
        .iter()
        .map(|(_, keyspace)| keyspace.as_str())
        .collect();
    if let Some(missing) = selection
        .keyspaces
        .iter()
        .find(|keyspace| !present.contains(keyspace.as_str()))
    {
        return Err(SelectError::KeyspaceNotFound {
            keyspace: missing.clone(),
            data_dirs: join_paths(&data_dirs),
        });
    }
    let wanted = |keyspace: &str| {
        selection.keyspaces.is_empty() || selection.keyspaces.iter().any(|k| k == keyspace)
    };
    let keyspaces_seen: BTreeSet<String> = present
        .iter()
        .filter(|k| wanted(k))
        .map(|k| k.to_string())
        .collect();

    let mut tables_seen = BTreeSet::new();
    let mut requested_table_found = false;
    let mut excludes_used = vec![false; exclude_rules.len()];
    for (data_dir, keyspace) in keyspace_dirs
        .iter()
        .filter(|(_, keyspace)| wanted(keyspace))
    {
        let keyspace_path = data_dir.join(keyspace);
        let is_table_dir = |name: &str| is_cassandra_identifier(table_name(name));
        for table_dir in walk.subdirs(&keyspace_path, is_table_dir)? {
            let table = table_name(&table_dir).to_string();
            let mut excluded = false;
            for ((_, rule), used) in exclude_rules.iter().zip(excludes_used.iter_mut()) {
                if rule.matches(keyspace, &table) {
                    *used = true;
                    excluded = true;
                }
            }
            if selection
                .table
                .as_ref()
                .is_some_and(|wanted_table| *wanted_table != table)
            {
                continue;
            }
            requested_table_found = true;
            if excluded {
                continue;
            }
            let location = TableLocation {
                data_dir,
                keyspace,
                table: &table,
                table_dir: &table_dir,
            };
            walk.collect_table(&location, &selection.source)?;
            tables_seen.insert(QualifiedTable {
                keyspace: keyspace.clone(),
                table,
            });
        }
    }
    if let (Some(table), false) = (&selection.table, requested_table_found) {
        return Err(SelectError::TableNotFound {
            table: table.clone(),
            keyspaces: keyspaces_seen
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        });
    }

    walk.files.sort_by(|a, b| a.path.cmp(&b.path));
    walk.vanished.sort();
    walk.symlinks_skipped.sort();
    Ok(SelectionResult {
        files: walk.files,
        vanished: walk.vanished,
        keyspaces_seen: keyspaces_seen.into_iter().collect(),
        tables_seen: tables_seen.into_iter().collect(),
        symlinks_skipped: walk.symlinks_skipped,
        unmatched_excludes: exclude_rules
            .into_iter()
            .zip(excludes_used)
            .filter(|(_, used)| !used)
            .map(|((entry, _), _)| entry)
            .collect(),
    })
}

/// The data dirs, absolute, normalised (no trailing slash: they end up in S3 keys), deduplicated, each
/// an existing directory (a symlink to one is fine: it is what the configuration names).
fn checked_data_dirs(configured: &[PathBuf]) -> Result<Vec<PathBuf>, SelectError> {
    if configured.is_empty() {
        return Err(SelectError::NoDataDirs);
    }
    let mut dirs: Vec<PathBuf> = Vec::with_capacity(configured.len());
    for dir in configured {
        if !dir.is_absolute() {
            return Err(SelectError::RelativeDataDir { dir: dir.clone() });
        }
        let dir: PathBuf = dir.components().collect();
        let unusable = |problem| SelectError::DataDirUnusable {
            dir: dir.clone(),
            problem,
        };
        match fs_err::metadata(&dir) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Err(unusable("is not a directory")),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(unusable("does not exist"))
            }
            Err(source) => return Err(SelectError::Io { path: dir, source }),
        }
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    Ok(dirs)
}

/// A snapshot tag must be one path component, or `snapshots/<tag>` would point elsewhere.
fn check_source(source: &Source) -> Result<(), SelectError> {
    match source {
        Source::Snapshot { tag }
            if tag.is_empty() || tag == "." || tag == ".." || tag.contains(['/', '\0']) =>
        {
            Err(SelectError::InvalidSnapshotTag { tag: tag.clone() })
        }
        _ => Ok(()),
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where one table dir is, for filling in [`SelectedFile`].
struct TableLocation<'a> {
    data_dir: &'a Path,
    keyspace: &'a str,
    table: &'a str,
    table_dir: &'a str,
}

/// What a listed entry turned out to be when looked at with `lstat`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum EntryStat {
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
pub(super) fn stat_entry(path: &Path) -> Result<EntryStat, SelectError> {
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
fn is_vanished(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn seconds_since_epoch(time: std::time::SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |secs| -secs),
    }
}

/// What the walk has gathered so far.
#[derive(Default)]
struct Walk {
    files: Vec<SelectedFile>,
    vanished: Vec<PathBuf>,
    symlinks_skipped: Vec<PathBuf>,
}

impl Walk {
    /// The names of the subdirectories of `dir` accepted by `wanted`, sorted. Symlinks with a wanted name
    /// are recorded, not followed. A `dir` that vanished has no subdirectories.
    fn subdirs(
        &mut self,
        dir: &Path,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, SelectError> {
        let entries = match fs_err::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if is_vanished(&error) => {
                self.vanished.push(dir.to_path_buf());
                return Ok(Vec::new());
            }
            Err(source) => return Err(io_error(dir, source)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| io_error(dir, source))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // Not UTF-8, so not a Cassandra name.
            };
            if !wanted(&name) {
                continue;
            }
            match stat_entry(&entry.path())? {
                EntryStat::Directory => names.push(name),
                EntryStat::Symlink => self.symlinks_skipped.push(entry.path()),
                EntryStat::Vanished => self.vanished.push(entry.path()),
                EntryStat::File { .. } | EntryStat::Special => {}
            }
        }
        names.sort();
        Ok(names)
    }

    /// Collects the source dir of one table dir and of its secondary-index dirs.
    fn collect_table(
        &mut self,
        table: &TableLocation<'_>,
        source: &Source,
    ) -> Result<(), SelectError> {
        let table_path = table.data_dir.join(table.keyspace).join(table.table_dir);
        self.collect_source_dir(table, &source.dir_below(&table_path))?;
        let is_index_dir = |name: &str| name.strip_prefix('.').is_some_and(is_cassandra_identifier);
        for index_dir in self.subdirs(&table_path, is_index_dir)? {
            self.collect_source_dir(table, &source.dir_below(&table_path.join(index_dir)))?;
        }
        Ok(())
    }

    /// Every regular file below `root`, if `root` exists.
    fn collect_source_dir(
        &mut self,
        table: &TableLocation<'_>,
        root: &Path,
    ) -> Result<(), SelectError> {
        match stat_entry(root)? {
            EntryStat::Directory => {}
            EntryStat::Symlink => {
                self.symlinks_skipped.push(root.to_path_buf());
                return Ok(());
            }
            // Absent (the usual case for a table without this snapshot) or not a directory.
            EntryStat::Vanished | EntryStat::File { .. } | EntryStat::Special => return Ok(()),
        }
        let entries = WalkDir::new(root)
            .min_depth(1)
            .follow_links(false)
            .sort_by_file_name();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    let path = error.path().unwrap_or(root).to_path_buf();
                    let source = io::Error::from(error);
                    if is_vanished(&source) {
                        self.vanished.push(path);
                        continue;
                    }
                    return Err(SelectError::Io { path, source });
                }
            };
            if entry.file_type().is_dir() {
                continue;
            }
            match stat_entry(entry.path())? {
                EntryStat::File { size, mtime } => self.files.push(SelectedFile {
                    path: entry.path().to_path_buf(),
                    data_dir: table.data_dir.to_path_buf(),
                    keyspace: table.keyspace.to_string(),
                    table: table.table.to_string(),
                    table_dir: table.table_dir.to_string(),
                    size,
                    mtime,
                }),
                EntryStat::Symlink => self.symlinks_skipped.push(entry.path().to_path_buf()),
                EntryStat::Vanished => self.vanished.push(entry.path().to_path_buf()),
                // Replaced by a directory since listing: walkdir does not descend into it now, and a
                // snapshot dir never legitimately changes like that.
                EntryStat::Directory | EntryStat::Special => {}
            }
        }
        Ok(())
    }
}

fn io_error(path: &Path, source: io::Error) -> SelectError {
    SelectError::Io {
        path: path.to_path_buf(),
        source,
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
        let now = seconds_since_epoch(std::time::SystemTime::now());
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

    #[test]
    fn snapshot_tags_are_one_component() {
        for bad in ["", ".", "..", "a/b", "/abs"] {
            let source = Source::Snapshot {
                tag: bad.to_string(),
            };
            assert!(
                matches!(
                    check_source(&source),
                    Err(SelectError::InvalidSnapshotTag { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(check_source(&Source::Snapshot {
            tag: "20240101120000".into()
        })
        .is_ok());
        assert!(check_source(&Source::Incremental).is_ok());
    }
}
