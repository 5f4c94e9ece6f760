//! Where each object of a backup goes: [`plan_restore`] maps manifest entries to target paths.
//!
//! Two layouts exist:
//! - [`RestoreMode::Stage`]: `<staging_root>/<ks>/<table dir>/<file>`, the names Cassandra expects, with
//!   secondary-index files in their `.<index>/` subdirectory, ready to be moved into a live table dir;
//! - [`RestoreMode::Flat`]: the old tool's local layout `<restore_dir>/<ks>/<table dir>/<host>_<file>` (an
//!   index file keeps its `.<index>/` directory: `…/<table dir>/.<index>/<host>_<file>`, since 4.x index
//!   SSTables have the same names as the table's own).
//!
//! Planning is pure: no store, no filesystem. It filters by keyspace, table and source host, renames hosts
//! through a [`HostMap`], keeps every SSTable instance whole (snapshot and `backups/` copies, `~N`
//! variants: identical ones restored once, the others renumbered by whole SSTable, see [`instances`]), and
//! refuses two different non-SSTable files with one target path instead of letting one overwrite the other.

mod instances;

use super::host_map::HostMap;
use super::keys::entry_data_key;
use contract::layout::{DataKey, DataKind};
use contract::manifest::ObjectEntry;
use contract::message::{RestoreFile, RestoreRequest};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which layout targets follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreMode {
    /// `<staging_root>/<ks>/<table dir>/<file as Cassandra names it>`.
    Stage { staging_root: PathBuf },
    /// `<restore_dir>/<ks>/<table dir>/<host>_<file>` (the old tool's `--local` layout).
    Flat { restore_dir: PathBuf },
}

/// What to restore and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreOptions {
    pub mode: RestoreMode,
    /// Only this keyspace; `None` restores every keyspace.
    pub keyspace: Option<String>,
    /// Only these tables (by name, or by directory name `name-<id>`); empty restores every table.
    pub tables: Vec<String>,
    /// Only objects of these source hosts (as the manifest names them); empty restores every host.
    pub hosts: Vec<String>,
    /// Source host -> target host. Hosts not in the map keep their name.
    pub host_map: HostMap,
}

impl RestoreOptions {
    /// Everything, in `mode`.
    pub fn new(mode: RestoreMode) -> Self {
        RestoreOptions {
            mode,
            keyspace: None,
            tables: Vec::new(),
            hosts: Vec::new(),
            host_map: HostMap::default(),
        }
    }
}

/// One planned file: which host writes it, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// The host the object was backed up from (the manifest's name).
    pub source_host: String,
    /// The host that should write it (after the host map): where node-push runs in stage mode.
    pub target_host: String,
    pub file: RestoreFile,
}

/// Every file a restore writes, in manifest order (so a snapshot's files come before incrementals).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestorePlan {
    pub files: Vec<PlannedFile>,
    /// SSTables left out because an identical one (same components, sizes and digests) is restored.
    pub duplicates: usize,
    /// SSTables restored under another generation, because an earlier SSTable of the plan has theirs.
    pub renumbered: usize,
}

impl RestorePlan {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The hosts that write files, sorted.
    pub fn target_hosts(&self) -> BTreeSet<String> {
        self.files.iter().map(|f| f.target_host.clone()).collect()
    }

    /// What `node-push restore --plan-stdin` on `target_host` must read.
    pub fn request_for(&self, target_host: &str) -> RestoreRequest {
        RestoreRequest {
            files: self
                .files
                .iter()
                .filter(|f| f.target_host == target_host)
                .map(|f| f.file.clone())
                .collect(),
        }
    }

    /// Every file, for a run that writes them all in one place (`--mode local`).
    pub fn into_request(self) -> RestoreRequest {
        RestoreRequest {
            files: self.files.into_iter().map(|f| f.file).collect(),
        }
    }

    /// Source bytes of all files (stored bytes for entries without a recorded size).
    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .map(|f| expected_bytes(&f.file.entry))
            .sum()
    }
}

/// Bytes a file is expected to take on disk; stored size when the source size is unknown (legacy: no
/// digest recorded).
pub(crate) fn expected_bytes(entry: &ObjectEntry) -> u64 {
    if entry.digest().is_none() {
        entry.compressed_size
    } else {
        entry.size
    }
}

/// Objects that cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A key that is not `<base>/<NAME>/<host><data path>/<ks>/<table>/{snapshots/<tag>,backups}/<file>.lzo`.
    #[error("{key}: not a Cassandra data object (cannot tell its keyspace, table and file)")]
    NotADataKey { key: String },
    /// A target that is not an absolute path without `.` and `..` components.
    #[error("{key}: target {} is not a clean absolute path", target.display())]
    BadTarget { key: String, target: PathBuf },
    /// Two files that are not SSTable components, with different content, would be written to one path.
    #[error("{first} and {second} would both be restored to {}; restore them to different hosts or directories", target.display())]
    Conflict {
        target: PathBuf,
        first: String,
        second: String,
    },
}

/// Maps each object to its target, keeping those that pass the filters, with every SSTable instance whole
/// (see [`instances`]): identical duplicates once, colliding generations renumbered. Fails on the first
/// object whose key cannot be understood, or on two different non-SSTable files with one target.
pub fn plan_restore<'a>(
    objects: impl IntoIterator<Item = &'a ObjectEntry>,
    options: &RestoreOptions,
) -> Result<RestorePlan, PlanError> {
    let mut slots = Vec::new();
    for entry in objects {
        let Some(data) = entry_data_key(entry) else {
            return Err(PlanError::NotADataKey {
                key: entry.key.clone(),
            });
        };
        if !wanted(options, entry, &data.keyspace, &data.table_dir) {
            continue;
        }
        let target_host = options.host_map.target(&entry.host).to_string();
        let (dir, prefix) = target_dir(&options.mode, &target_host, &data);
        let name = Path::new(&data.file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let location = match &data.kind {
            DataKind::Snapshot { tag } => format!("snapshots/{tag}"),
            DataKind::Incremental => format!("backups~{}", data.variant.max(entry.variant)),
        };
        slots.push(instances::Slot {
            entry,
            target_host,
            dir,
            prefix,
            name,
            location,
        });
    }
    let decisions = instances::decide(&slots);
    let mut plan = RestorePlan {
        duplicates: decisions.duplicates,
        renumbered: decisions.renumbered,
        ..RestorePlan::default()
    };
    let mut by_target: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (slot, decision) in slots.into_iter().zip(decisions.per_slot) {
        let instances::Decision::Restore(name) = decision else {
            continue;
        };
        let target = slot.dir.join(format!("{}{name}", slot.prefix));
        if let Some(&index) = by_target.get(&target) {
            let first = &plan.files[index].file.entry;
            if instances::content(first) == instances::content(slot.entry) {
                // The same file twice (a snapshot's manifest.json listed again): restore it once.
                continue;
            }
            return Err(PlanError::Conflict {
                target,
                first: first.key.clone(),
                second: slot.entry.key.clone(),
            });
        }
        by_target.insert(target.clone(), plan.files.len());
        plan.files.push(PlannedFile {
            source_host: slot.entry.host.clone(),
            target_host: slot.target_host,
            file: RestoreFile {
                entry: slot.entry.clone(),
                target,
            },
        });
    }
    Ok(plan)
}

/// Checks a request received from elsewhere: every target absolute and clean, no target twice.
pub fn check_request(files: &[RestoreFile]) -> Result<(), PlanError> {
    let mut seen: BTreeMap<&Path, &str> = BTreeMap::new();
    for file in files {
        let (key, target) = (&file.entry.key, &file.target);
        if !contract::layout::is_clean_absolute(target) || target.file_name().is_none() {
            return Err(PlanError::BadTarget {
                key: key.clone(),
                target: target.clone(),
            });
        }
        if let Some(first) = seen.insert(target, key) {
            return Err(PlanError::Conflict {
                target: target.clone(),
                first: first.to_string(),
                second: key.clone(),
            });
        }
    }
    Ok(())
}

fn wanted(options: &RestoreOptions, entry: &ObjectEntry, keyspace: &str, table_dir: &str) -> bool {
    let keyspace_ok = options.keyspace.as_deref().is_none_or(|ks| ks == keyspace);
    let table_ok = options.tables.is_empty()
        || options.tables.iter().any(|t| {
            t == table_dir || t == crate::select::table_name(table_dir) || *t == entry.table
        });
    let host_ok = options.hosts.is_empty() || options.hosts.contains(&entry.host);
    keyspace_ok && table_ok && host_ok
}

/// The directory a file goes in, and what its name gets in front: `<root>/<ks>/<table dir>[/.<index>]`
/// and nothing (stage), or `<restore dir>/<ks>/<table dir>[/.<index>]` and `<host>_` (flat).
fn target_dir(mode: &RestoreMode, host: &str, data: &DataKey) -> (PathBuf, String) {
    let index_dir = Path::new(&data.file).parent().unwrap_or(Path::new(""));
    let (root, prefix) = match mode {
        RestoreMode::Stage { staging_root } => (staging_root, String::new()),
        RestoreMode::Flat { restore_dir } => (restore_dir, format!("{host}_")),
    };
    let dir = root
        .join(&data.keyspace)
        .join(&data.table_dir)
        .join(index_dir);
    (dir, prefix)
}

#[cfg(test)]
mod tests;
