//! Finding the files a backup must upload, the way Cassandra lays them out, for Cassandra 1.2 to 5.0.
//!
//! Every data directory (`data_file_directories` in `cassandra.yaml`, see [`cassandra_yaml_settings`])
//! holds `<keyspace>/<table dir>/`, where the table dir is `<table>` (1.2, 2.0) or `<table>-<32 hex id>`
//! (2.1+). Below it, `nodetool snapshot -t TAG` hard-links into `snapshots/TAG/` and, with
//! `incremental_backups: true`, every flushed SSTable is hard-linked into `backups/`. [`select`] walks
//! exactly one of those two per table dir ([`Source`]), recursively, so it also picks up:
//! - secondary indexes: `snapshots/TAG/.<index>/…` and `backups/.<index>/…` (3.0+), and
//!   `<table dir>/.<index>/snapshots/TAG/…` / `<table dir>/.<index>/backups/…` should an older release
//!   have put them below the index dir (1.2 keeps index SSTables in the table dir itself, which the walk
//!   covers anyway);
//! - Cassandra's own `manifest.json` and `schema.cql` in snapshot dirs (3.0+), needed for a restore;
//! - whatever the SSTable format adds (`nb-3gll_1kke_…-big-*` ULID generations, 5.0 `da-*-bti-*` and SAI
//!   components): every regular file is taken, names are not parsed.
//!
//! Rules that the old Python tool got wrong and we pin down in tests:
//! - `--table` and `--exclude-tables` match the table *name* (`users` for `users-<id>`), for snapshots and
//!   incrementals alike; an exclude entry is `table` (every keyspace) or `keyspace.table`.
//! - A keyspace asked for by name but present in no data dir, and a `--table` present in none of the
//!   selected keyspaces, are errors. A table without the snapshot tag (or without `backups/`) contributes
//!   nothing: the result may be empty and the caller decides what that means.
//! - Dropped-table leftovers (`users-<id1>` next to `users-<id2>`) are distinct directories: both are taken.
//! - Only directories named like Cassandra names (`\w+`) are walked as keyspaces and tables, so a mount
//!   point's `lost+found` is ignored. Symlinks are never followed below a data dir; they are reported in
//!   [`SelectionResult::symlinks_skipped`] so that a keyspace symlinked to another disk is not lost
//!   silently.
//! - A file or directory that disappears between listing and stat (compaction, `clearsnapshot`, a
//!   concurrent incremental run) goes to [`SelectionResult::vanished`]; any other I/O error (permission
//!   denied) fails the selection with the path named.
//! - Output is sorted by path, so two runs over the same tree agree.

mod error;
pub(crate) mod filter;
mod names;
mod stat;
mod walk;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use error::SelectError;
pub use names::table_name;
pub use walk::select;
pub use yaml::{
    cassandra_yaml_settings, data_dirs_from_yaml, locate_cassandra_yaml, settings_from_text,
    YamlSettings,
};

/// Which directory below each table dir a backup reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `snapshots/<tag>/`, written by `nodetool snapshot -t <tag>`.
    Snapshot { tag: String },
    /// `backups/`, filled by Cassandra when `incremental_backups` is on.
    Incremental,
}

impl Source {
    /// The directory of this source below `base` (a table dir, or a secondary-index dir inside one).
    pub fn dir_below(&self, base: &Path) -> PathBuf {
        match self {
            Source::Snapshot { tag } => base.join("snapshots").join(tag),
            Source::Incremental => base.join("backups"),
        }
    }
}

/// What to select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Absolute data directories, all walked (duplicates and trailing slashes are harmless).
    pub data_dirs: Vec<PathBuf>,
    /// Keyspaces to take; empty means every keyspace found (system keyspaces included, as
    /// `nodetool snapshot` without a keyspace snapshots them too).
    pub keyspaces: Vec<String>,
    /// Only this table (a table name, not a directory name), in every selected keyspace that has it.
    pub table: Option<String>,
    /// `table` or `keyspace.table` entries to leave out.
    pub exclude_tables: Vec<String>,
    pub source: Source,
}

impl Selection {
    /// Every keyspace and table of `data_dirs`, from `source`.
    pub fn everything(data_dirs: Vec<PathBuf>, source: Source) -> Self {
        Selection {
            data_dirs,
            keyspaces: Vec::new(),
            table: None,
            exclude_tables: Vec::new(),
            source,
        }
    }
}

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedFile {
    /// Absolute path: `<data_dir>/<keyspace>/<table_dir>/snapshots/<tag>/…` or `…/backups/…`.
    pub path: PathBuf,
    /// The data directory it was found under, as configured (normalised: no trailing slash).
    pub data_dir: PathBuf,
    pub keyspace: String,
    /// The table name, without the `-<id>` suffix.
    pub table: String,
    /// The table directory name as on disk (`users` or `users-<32 hex id>`).
    pub table_dir: String,
    /// Size in bytes when it was listed.
    pub size: u64,
    /// Modification time when it was listed, in seconds since the Unix epoch.
    pub mtime: i64,
}

/// A table, named by keyspace and table name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedTable {
    pub keyspace: String,
    pub table: String,
}

impl fmt::Display for QualifiedTable {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.keyspace, self.table)
    }
}

/// What [`select`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectionResult {
    /// The files to upload, sorted by path.
    pub files: Vec<SelectedFile>,
    /// Files and directories that were listed but gone when looked at, sorted. Not an error: Cassandra
    /// removes files concurrently.
    pub vanished: Vec<PathBuf>,
    /// The selected keyspaces found in at least one data dir, sorted.
    pub keyspaces_seen: Vec<String>,
    /// The selected tables (after `table` and `exclude_tables`) found on disk, sorted, whether or not
    /// they had files for the source.
    pub tables_seen: Vec<QualifiedTable>,
    /// Symlinks found where a keyspace, table, index or file was expected; never followed.
    pub symlinks_skipped: Vec<PathBuf>,
    /// `exclude_tables` entries that matched no table of the selected keyspaces (worth a warning: a typo
    /// would otherwise upload a table the user meant to leave out).
    pub unmatched_excludes: Vec<String>,
}

impl SelectionResult {
    /// Sum of the selected files' sizes.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|file| file.size).sum()
    }
}
