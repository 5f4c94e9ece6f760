//! One target node's files grouped by live table, and where each table's files go: the staging directory
//! in the data dir that holds the live table (so that moving them in is a rename on one filesystem), and
//! the live table directory itself (found by table name, since 2.1+ directories end in an id that may
//! differ from the backup's).

use super::scripts::TableDir;
use super::source::split_target;
use contract::message::RestoreFile;
use engine::restore::sstable::SstableName;
use engine::restore::PlannedFile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The directory under each data dir that holds staged files: not a keyspace name, so neither Cassandra
/// nor a backup walk ever reads it.
pub const STAGING_DIR: &str = ".restore-staging";

/// One planned file, placed.
#[derive(Debug, Clone)]
pub struct TableFile {
    pub source_host: String,
    /// The backup's table directory name (`users`, `users-<id>`).
    pub backup_table_dir: String,
    /// Path inside the table dir: `<file>` or `.<index>/<file>`.
    pub relative: String,
    pub file: RestoreFile,
}

/// Every file of one table (from any source host) on one target.
#[derive(Debug, Clone)]
pub struct TableGroup {
    pub keyspace: String,
    pub table: String,
    pub files: Vec<TableFile>,
    /// The data dir the staging area (and, when known, the live table dir) is in.
    pub data_dir: String,
    pub live_dir: Option<String>,
    /// `<data dir>/.restore-staging/<backup>`.
    pub staging_root: String,
    /// Secondary indexes whose files were taken out of the restore (see [`TableGroup::leave_out_indexes`]).
    pub indexes_left_out: Vec<String>,
}

impl TableGroup {
    /// Takes secondary-index SSTables out of the restore: `nodetool refresh`/`import` load only the
    /// table's own SSTables and build its indexes from them, so index files put in `.<index>/` would never
    /// be loaded, only opened as stale entries at the next start. Returns the indexes, sorted.
    pub fn leave_out_indexes(&mut self) -> &[String] {
        let mut indexes: Vec<String> = Vec::new();
        self.files.retain(|f| match index_of(&f.relative) {
            Some(index) => {
                indexes.push(index);
                false
            }
            None => true,
        });
        indexes.sort();
        indexes.dedup();
        self.indexes_left_out = indexes;
        &self.indexes_left_out
    }

    /// How the group's files count: SSTables, their files, and files that are not SSTable components.
    pub fn counts(&self) -> Counts {
        Counts::of(
            self.files
                .iter()
                .map(|f| (f.source_host.as_str(), f.relative.as_str())),
        )
    }

    pub fn source_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.files.iter().map(|f| f.source_host.clone()).collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// `<staging root>/<source host>/<ks>/<backup table dir>` for each source host.
    pub fn staged_dirs(&self) -> Vec<String> {
        let mut dirs: Vec<String> = self
            .files
            .iter()
            .map(|f| {
                format!(
                    "{}/{}/{}/{}",
                    self.staging_root, f.source_host, self.keyspace, f.backup_table_dir
                )
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

/// The secondary index a file (path inside its table dir) belongs to: its `.<index>/` dir (3.0+), or the
/// `<table>.<index>` part of a `<ks>-<table>.<index>-<version>-<generation>-<component>` name (up to 2.1).
pub fn index_of(relative: &str) -> Option<String> {
    if let Some((dir, _)) = relative.split_once('/') {
        return dir.strip_prefix('.').map(str::to_string);
    }
    let sstable = SstableName::parse(relative)?;
    let family = sstable.family();
    let (_, index) = family.split_once('.')?;
    Some(index.to_string())
}

/// SSTables, their files, and other files among a table's files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub sstables: usize,
    pub files: usize,
    pub other: usize,
}

impl Counts {
    /// Counts `(source host, path inside the table dir)` pairs; one SSTable is one descriptor of one
    /// host in one directory.
    pub fn of<'a>(files: impl Iterator<Item = (&'a str, &'a str)>) -> Counts {
        let mut counts = Counts::default();
        let mut seen = std::collections::BTreeSet::new();
        for (host, relative) in files {
            let (dir, name) = relative.rsplit_once('/').unwrap_or(("", relative));
            match SstableName::parse(name) {
                Some(sstable) => {
                    counts.files += 1;
                    if seen.insert((host, dir, sstable.descriptor())) {
                        counts.sstables += 1;
                    }
                }
                None => counts.other += 1,
            }
        }
        counts
    }
}

/// Groups `files` (planned with Stage targets relative to `/`) by keyspace and table name.
pub fn group(files: &[PlannedFile]) -> Vec<TableGroup> {
    let mut groups: BTreeMap<(String, String), TableGroup> = BTreeMap::new();
    for planned in files {
        let Some((keyspace, table_dir, relative)) =
            split_target(Path::new("/"), &planned.file.target)
        else {
            continue;
        };
        let table = engine::select::table_name(&table_dir).to_string();
        let group = groups
            .entry((keyspace.clone(), table.clone()))
            .or_insert_with(|| TableGroup {
                keyspace,
                table,
                files: Vec::new(),
                data_dir: String::new(),
                live_dir: None,
                staging_root: String::new(),
                indexes_left_out: Vec::new(),
            });
        group.files.push(TableFile {
            source_host: planned.source_host.clone(),
            backup_table_dir: table_dir,
            relative,
            file: planned.file.clone(),
        });
    }
    groups.into_values().collect()
}

/// The live directory of `table` among `dirs` (every `<data dir>/<ks>/*`): the backup's own directory
/// name when it exists (same table id), else the newest directory of that table name.
pub fn live_dir<'a>(
    dirs: &'a [TableDir],
    table: &str,
    backup_dirs: &[&str],
) -> Option<&'a TableDir> {
    let candidates: Vec<&TableDir> = dirs
        .iter()
        .filter(|d| engine::select::table_name(d.name()) == table)
        .collect();
    candidates
        .iter()
        .find(|d| backup_dirs.contains(&d.name()))
        .or_else(|| candidates.iter().max_by_key(|d| d.mtime))
        .copied()
}

/// The data dir (of `data_dirs`) that `path` is in.
pub fn data_dir_of<'a>(data_dirs: &'a [String], path: &str) -> Option<&'a String> {
    data_dirs
        .iter()
        .filter(|d| path.starts_with(&format!("{}/", d.trim_end_matches('/'))))
        .max_by_key(|d| d.len())
}

/// What to do about a table that has no live directory on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingLiveDir {
    /// Leave it without one (stage; refresh then refuses the table).
    Leave,
    /// Plan one with the backup's directory name (in-place: the node lost its data).
    Create,
}

/// Decide where `group`'s files are staged (and where its live dir is or will be), and point every
/// file's target there.
pub fn place_group(
    group: &mut TableGroup,
    data_dirs: &[String],
    live: Option<&TableDir>,
    backup_name: &str,
    missing_live: MissingLiveDir,
) {
    let first = data_dirs.first().cloned().unwrap_or_default();
    let data_dir = live
        .and_then(|l| data_dir_of(data_dirs, &l.path))
        .cloned()
        .unwrap_or(first);
    group.live_dir = match live {
        Some(dir) => Some(dir.path.clone()),
        None if missing_live == MissingLiveDir::Create => Some(format!(
            "{}/{}/{}",
            data_dir.trim_end_matches('/'),
            group.keyspace,
            group.files[0].backup_table_dir
        )),
        None => None,
    };
    group.staging_root = format!(
        "{}/{STAGING_DIR}/{backup_name}",
        data_dir.trim_end_matches('/')
    );
    group.data_dir = data_dir;
    for file in &mut group.files {
        file.file.target = PathBuf::from(format!(
            "{}/{}/{}/{}/{}",
            group.staging_root,
            file.source_host,
            group.keyspace,
            file.backup_table_dir,
            file.relative
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(path: &str, mtime: i64) -> TableDir {
        TableDir {
            path: path.into(),
            mtime,
        }
    }

    #[test]
    fn the_live_dir_is_found_by_table_name() {
        let id_a = "0123456789abcdef0123456789abcdef";
        let id_b = "fedcba9876543210fedcba9876543210";
        let dirs = vec![
            dir(&format!("/d1/ks/users-{id_a}"), 10),
            dir(&format!("/d2/ks/users-{id_b}"), 20),
            dir("/d1/ks/users_by_email", 30),
            dir("/d1/ks/events", 5),
        ];
        let same = format!("users-{id_a}");
        assert_eq!(
            live_dir(&dirs, "users", &[&same]).unwrap().path,
            format!("/d1/ks/users-{id_a}")
        );
        assert_eq!(
            live_dir(&dirs, "users", &["users-11111111111111111111111111111111"])
                .unwrap()
                .path,
            format!("/d2/ks/users-{id_b}")
        );
        assert_eq!(
            live_dir(&dirs, "events", &["events"]).unwrap().path,
            "/d1/ks/events"
        );
        assert!(live_dir(&dirs, "nope", &["nope"]).is_none());
        let data = vec!["/d1".to_string(), "/d10".to_string()];
        assert_eq!(data_dir_of(&data, "/d10/ks/t").unwrap(), "/d10");
    }

    #[test]
    fn index_files_are_recognised_in_both_schemes_and_counts_are_per_sstable() {
        assert_eq!(
            index_of(".users_idx/nb-1-big-Data.db").as_deref(),
            Some("users_idx")
        );
        assert_eq!(
            index_of("ks-users.users_idx-ia-2-Index.db").as_deref(),
            Some("users_idx")
        );
        assert_eq!(index_of("ks-users-ia-2-Index.db"), None);
        assert_eq!(index_of("nb-1-big-Data.db"), None);
        assert_eq!(index_of("manifest.json"), None);
        let files = [
            ("a", "nb-1-big-Data.db"),
            ("a", "nb-1-big-TOC.txt"),
            ("b", "nb-1-big-Data.db"),
            ("a", "nb-2-big-Data.db"),
            ("a", ".idx/nb-1-big-Data.db"),
            ("a", "manifest.json"),
            ("a", "schema.cql"),
        ];
        assert_eq!(
            Counts::of(files.into_iter()),
            Counts {
                sstables: 4,
                files: 5,
                other: 2
            }
        );
    }
}
