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
//! through a [`HostMap`], and refuses two different objects with one target path instead of letting one
//! silently overwrite the other.

use super::keys::entry_data_key;
use crate::manifest::ObjectEntry;
use crate::message::{RestoreFile, RestoreRequest};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

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

/// `--host-map old=new,...`: restore a node's data onto another node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostMap(BTreeMap<String, String>);

impl HostMap {
    /// The target host for `source`.
    pub fn target<'a>(&'a self, source: &'a str) -> &'a str {
        self.0.get(source).map_or(source, String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `old=new` pairs, sorted by old name.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

/// A `--host-map` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid host map {value:?}: {reason} (expected old=new,old2=new2)")]
pub struct HostMapError {
    pub value: String,
    pub reason: String,
}

impl FromStr for HostMap {
    type Err = HostMapError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| HostMapError {
            value: value.to_string(),
            reason,
        };
        let mut map = BTreeMap::new();
        for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (old, new) = pair
                .split_once('=')
                .ok_or_else(|| err(format!("{pair:?} has no '='")))?;
            let (old, new) = (old.trim(), new.trim());
            // A host becomes a file-name prefix in the flat layout: no separators, no empty names.
            for host in [old, new] {
                if host.is_empty() || host.contains('/') || host == "." || host == ".." {
                    return Err(err(format!("{host:?} is not a host name")));
                }
            }
            if map.insert(old.to_string(), new.to_string()).is_some() {
                return Err(err(format!("{old:?} is mapped twice")));
            }
        }
        Ok(HostMap(map))
    }
}

impl std::fmt::Display for HostMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = self.pairs().map(|(a, b)| format!("{a}={b}")).collect();
        f.write_str(&pairs.join(","))
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

/// Bytes a file is expected to take on disk; stored size when the source size is unknown (legacy).
pub(crate) fn expected_bytes(entry: &ObjectEntry) -> u64 {
    if entry.sha256.is_empty() {
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
    /// Two objects with different content would be written to one path.
    #[error("{first} and {second} would both be restored to {}; restore them to different hosts or directories", target.display())]
    Conflict {
        target: PathBuf,
        first: String,
        second: String,
    },
}

/// Maps each object to its target, keeping those that pass the filters. Fails on the first object whose
/// key cannot be understood or whose target another object already takes.
pub fn plan_restore<'a>(
    objects: impl IntoIterator<Item = &'a ObjectEntry>,
    options: &RestoreOptions,
) -> Result<RestorePlan, PlanError> {
    let mut plan = RestorePlan::default();
    let mut by_target: BTreeMap<PathBuf, usize> = BTreeMap::new();
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
        let target = target_path(
            &options.mode,
            &target_host,
            &data.keyspace,
            &data.table_dir,
            &data.file,
        );
        if let Some(&index) = by_target.get(&target) {
            let first = &plan.files[index];
            if same_sstable(first, entry) {
                // The same SSTable in the snapshot and in `backups/` (both are hard links of one live file):
                // restore it once, from the first (the snapshot's) entry.
                continue;
            }
            return Err(PlanError::Conflict {
                target,
                first: first.file.entry.key.clone(),
                second: entry.key.clone(),
            });
        }
        by_target.insert(target.clone(), plan.files.len());
        plan.files.push(PlannedFile {
            source_host: entry.host.clone(),
            target_host,
            file: RestoreFile {
                entry: entry.clone(),
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
        if !crate::layout::is_clean_absolute(target) || target.file_name().is_none() {
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

/// One SSTable of one source host seen twice; different recorded content is still a conflict.
fn same_sstable(first: &PlannedFile, entry: &ObjectEntry) -> bool {
    let known = &first.file.entry;
    let same_source = first.source_host == entry.host;
    let same_content = known.sha256.is_empty()
        || entry.sha256.is_empty()
        || (known.sha256 == entry.sha256 && known.size == entry.size);
    same_source && same_content
}

fn target_path(
    mode: &RestoreMode,
    host: &str,
    keyspace: &str,
    table_dir: &str,
    file: &str,
) -> PathBuf {
    match mode {
        RestoreMode::Stage { staging_root } => {
            staging_root.join(keyspace).join(table_dir).join(file)
        }
        RestoreMode::Flat { restore_dir } => {
            let file = Path::new(file);
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let index_dir = file.parent().unwrap_or(Path::new(""));
            restore_dir
                .join(keyspace)
                .join(table_dir)
                .join(index_dir)
                .join(format!("{host}_{name}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(host: &str, path: &str, sha: &str) -> ObjectEntry {
        let table_dir = path.split('/').nth(3).unwrap();
        ObjectEntry {
            key: format!("base/20240101000000/{host}{path}.lzo"),
            host: host.into(),
            source_path: path.into(),
            keyspace: path.split('/').nth(2).unwrap().into(),
            table: crate::select::table_name(table_dir).into(),
            size: 10,
            compressed_size: 8,
            sha256: sha.into(),
            etag: "e".into(),
        }
    }

    const T: &str = "users-0123456789abcdef0123456789abcdef";

    fn objects() -> Vec<ObjectEntry> {
        vec![
            entry(
                "h1",
                &format!("/d/ks/{T}/snapshots/s/nb-1-big-Data.db"),
                "aa",
            ),
            entry(
                "h1",
                &format!("/d/ks/{T}/snapshots/s/.idx/nb-1-big-Data.db"),
                "bb",
            ),
            entry("h2", &format!("/d/ks/{T}/backups/nb-2-big-Data.db"), "cc"),
            entry(
                "h1",
                "/d/other/events/snapshots/s/other-events-ia-1-Data.db",
                "dd",
            ),
        ]
    }

    fn targets(plan: &RestorePlan) -> Vec<String> {
        plan.files
            .iter()
            .map(|f| f.file.target.display().to_string())
            .collect()
    }

    #[test]
    fn stage_mode_uses_cassandras_names_and_index_dirs() {
        let mut options = RestoreOptions::new(RestoreMode::Stage {
            staging_root: "/stage".into(),
        });
        options.hosts = vec!["h1".into()];
        let plan = plan_restore(&objects(), &options).unwrap();
        assert_eq!(
            targets(&plan),
            [
                format!("/stage/ks/{T}/nb-1-big-Data.db"),
                format!("/stage/ks/{T}/.idx/nb-1-big-Data.db"),
                "/stage/other/events/other-events-ia-1-Data.db".to_string(),
            ]
        );
        assert_eq!(plan.target_hosts(), BTreeSet::from(["h1".to_string()]));
        assert_eq!(plan.total_bytes(), 30);
    }

    #[test]
    fn flat_mode_is_the_old_tools_layout_and_filters_apply() {
        let mut options = RestoreOptions::new(RestoreMode::Flat {
            restore_dir: "/r".into(),
        });
        options.keyspace = Some("ks".into());
        options.tables = vec!["users".into()];
        let plan = plan_restore(&objects(), &options).unwrap();
        assert_eq!(
            targets(&plan),
            [
                format!("/r/ks/{T}/h1_nb-1-big-Data.db"),
                format!("/r/ks/{T}/.idx/h1_nb-1-big-Data.db"),
                format!("/r/ks/{T}/h2_nb-2-big-Data.db"),
            ]
        );
        options.tables = vec![T.into()];
        assert_eq!(plan_restore(&objects(), &options).unwrap().files.len(), 3);
        options.tables = vec!["nope".into()];
        assert!(plan_restore(&objects(), &options).unwrap().is_empty());
    }

    #[test]
    fn host_map_moves_files_to_another_host() {
        let mut options = RestoreOptions::new(RestoreMode::Stage {
            staging_root: "/stage".into(),
        });
        options.host_map = "h2=new2".parse().unwrap();
        let plan = plan_restore(&objects(), &options).unwrap();
        assert_eq!(
            plan.target_hosts(),
            BTreeSet::from(["h1".to_string(), "new2".to_string()])
        );
        let request = plan.request_for("new2");
        assert_eq!(request.files.len(), 1);
        assert!(request.files[0].entry.key.contains("/h2/"));
        assert_eq!(plan.into_request().files.len(), 4);
    }

    #[test]
    fn the_same_sstable_twice_is_restored_once_and_different_ones_conflict() {
        let snap = entry(
            "h1",
            &format!("/d/ks/{T}/snapshots/s/nb-1-big-Data.db"),
            "aa",
        );
        let incr = entry("h1", &format!("/d/ks/{T}/backups/nb-1-big-Data.db"), "aa");
        let options = RestoreOptions::new(RestoreMode::Stage {
            staging_root: "/s".into(),
        });
        let plan = plan_restore([&snap, &incr], &options).unwrap();
        assert_eq!(plan.files.len(), 1);
        assert_eq!(plan.files[0].file.entry.key, snap.key);

        let changed = entry("h1", &format!("/d/ks/{T}/backups/nb-1-big-Data.db"), "ff");
        let err = plan_restore([&snap, &changed], &options).unwrap_err();
        assert!(matches!(err, PlanError::Conflict { .. }), "{err}");
        // Two hosts' generation 1 onto one staging dir: a conflict, not an overwrite.
        let other_host = entry(
            "h2",
            &format!("/d/ks/{T}/snapshots/s/nb-1-big-Data.db"),
            "aa",
        );
        let err = plan_restore([&snap, &other_host], &options).unwrap_err();
        assert!(err.to_string().contains(&other_host.key), "{err}");
    }

    #[test]
    fn keys_that_are_not_data_objects_are_refused() {
        let mut bad = entry("h1", &format!("/d/ks/{T}/snapshots/s/f"), "aa");
        bad.key = "base/20240101000000/ring".into();
        let options = RestoreOptions::new(RestoreMode::Stage {
            staging_root: "/s".into(),
        });
        assert_eq!(
            plan_restore([&bad], &options),
            Err(PlanError::NotADataKey { key: bad.key })
        );
    }

    #[test]
    fn requests_from_elsewhere_are_checked() {
        let options = RestoreOptions::new(RestoreMode::Stage {
            staging_root: "/s".into(),
        });
        let plan = plan_restore(&objects(), &options).unwrap();
        let mut files = plan.into_request().files;
        assert_eq!(check_request(&files), Ok(()));
        files[1].target = files[0].target.clone();
        assert!(matches!(
            check_request(&files),
            Err(PlanError::Conflict { .. })
        ));
        for bad in ["relative/f", "/s/../etc/passwd", "/"] {
            files[1].target = bad.into();
            assert!(
                matches!(check_request(&files), Err(PlanError::BadTarget { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn host_maps_parse_strictly() {
        let map: HostMap = "a=b, c=d".parse().unwrap();
        assert_eq!(map.target("a"), "b");
        assert_eq!(map.target("x"), "x");
        assert_eq!(map.to_string(), "a=b,c=d");
        for bad in ["a", "a=", "=b", "a=b,a=c", "a=x/y"] {
            assert!(bad.parse::<HostMap>().is_err(), "{bad}");
        }
        assert!("".parse::<HostMap>().unwrap().is_empty());
    }
}
