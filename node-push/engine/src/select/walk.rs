//! The walk itself: data dirs -> keyspace dirs -> table dirs -> the source dir of each, recursively.
//!
//! The first three levels are listed by hand because names decide what is walked there (keyspace and
//! table filters, `lost+found`); below the source dir everything is taken, so walkdir does the rest.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::filter::TableFilter;
use super::names::{is_cassandra_identifier, table_name};
use super::stat::{is_vanished, stat_entry, EntryStat};
use super::{QualifiedTable, SelectError, SelectedFile, Selection, SelectionResult, Source};

/// Selects the files of `selection`; see the [module docs](super) for the rules.
pub fn select(selection: &Selection) -> Result<SelectionResult, SelectError> {
    let data_dirs = checked_data_dirs(&selection.data_dirs)?;
    check_source(&selection.source)?;
    let mut filter = TableFilter::new(selection.table.as_deref(), &selection.exclude_tables)?;

    let mut walk = Walk::default();
    let keyspace_dirs = walk.selected_keyspace_dirs(&data_dirs, &selection.keyspaces)?;
    let keyspaces_seen: Vec<String> = keyspace_dirs
        .iter()
        .map(|(_, keyspace)| keyspace.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let mut tables_seen = BTreeSet::new();
    for (data_dir, keyspace) in &keyspace_dirs {
        let is_table_dir = |name: &str| is_cassandra_identifier(table_name(name));
        for table_dir in walk.subdirs(&data_dir.join(keyspace), is_table_dir)? {
            let table = table_name(&table_dir);
            if !filter.admits(keyspace, table) {
                continue;
            }
            let location = TableLocation {
                data_dir,
                keyspace,
                table,
                table_dir: &table_dir,
            };
            walk.collect_table(&location, &selection.source)?;
            tables_seen.insert(QualifiedTable {
                keyspace: keyspace.clone(),
                table: table.to_string(),
            });
        }
    }
    filter.check_table_found(&keyspaces_seen)?;

    walk.files.sort_by(|a, b| a.path.cmp(&b.path));
    walk.vanished.sort();
    walk.symlinks_skipped.sort();
    Ok(SelectionResult {
        files: walk.files,
        vanished: walk.vanished,
        keyspaces_seen,
        tables_seen: tables_seen.into_iter().collect(),
        symlinks_skipped: walk.symlinks_skipped,
        unmatched_excludes: filter.unmatched_excludes(),
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
/// What the walk has gathered so far.
#[derive(Default)]
struct Walk {
    files: Vec<SelectedFile>,
    vanished: Vec<PathBuf>,
    symlinks_skipped: Vec<PathBuf>,
}

impl Walk {
    /// `(data dir, keyspace)` for every selected keyspace dir, in data-dir order then by name. Every
    /// keyspace in `requested` must be in at least one data dir; none requested means all.
    fn selected_keyspace_dirs(
        &mut self,
        data_dirs: &[PathBuf],
        requested: &[String],
    ) -> Result<Vec<(PathBuf, String)>, SelectError> {
        let mut keyspace_dirs = Vec::new();
        for data_dir in data_dirs {
            for keyspace in self.subdirs(data_dir, is_cassandra_identifier)? {
                keyspace_dirs.push((data_dir.clone(), keyspace));
            }
        }
        let present =
            |wanted: &String| keyspace_dirs.iter().any(|(_, keyspace)| keyspace == wanted);
        if let Some(missing) = requested.iter().find(|wanted| !present(wanted)) {
            return Err(SelectError::KeyspaceNotFound {
                keyspace: missing.clone(),
                data_dirs: join_paths(data_dirs),
            });
        }
        if !requested.is_empty() {
            keyspace_dirs.retain(|(_, keyspace)| requested.contains(keyspace));
        }
        Ok(keyspace_dirs)
    }

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
