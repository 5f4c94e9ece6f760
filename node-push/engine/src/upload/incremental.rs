//! What an incremental sends, given what the backup it goes into already holds.
//!
//! An incremental does not trust `backups/` to hold only new files: other runs, operators and Cassandra
//! itself share that directory. It compares every `backups/` SSTable with the committed objects of the
//! target backup (this host's entries of its manifest):
//! - an SSTable whose [`Fingerprint`] (every component's size and content digest, computed with the
//!   algorithm the committed entries record: BLAKE3, or SHA-256 for earlier versions) equals a committed SSTable of
//!   the same table is already in the backup (a restored SSTable that `refresh`/`import` linked into
//!   `backups/`, a second link to the same file): nothing is sent, and it is reported as such;
//! - an SSTable whose own keys are free is sent under them;
//! - an SSTable with other content whose name is taken by a committed object (a table rebuilt, or
//!   truncated and restarted, numbers its SSTables from 1 again) is sent under a variant key
//!   ([`layout::variant_key`]): the smallest N free for every component, so the SSTable stays whole.
//!   A committed object is never written again.
//!
//! Hashing costs a read of the file, so it happens only for SSTables whose (component, size) list matches
//! a committed one of the same table.

use super::UploadItem;
use crate::digest::{self, Algorithm};
use crate::sstable::{self, Fingerprint};
use contract::layout;
use contract::manifest::ObjectEntry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// (component, size) of every file of an SSTable, sorted.
type Shape = Vec<(String, u64)>;

/// The committed objects of one host in the backup an incremental goes into.
#[derive(Debug, Default)]
pub struct Committed {
    keys: HashSet<String>,
    /// Fingerprints of committed SSTables by table location, each with one of its keys (for the report).
    fingerprints: HashMap<String, HashMap<Fingerprint, String>>,
    /// Shapes (component, size) of committed SSTables by table location, with the digest algorithms
    /// their entries record (what a file of that shape must be hashed with to be compared).
    shapes: HashMap<String, HashMap<Shape, BTreeSet<Algorithm>>>,
}

impl Committed {
    /// From a manifest's entries of this host (every batch).
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a ObjectEntry>) -> Self {
        let mut committed = Committed::default();
        // (location, prefix, variant, in a snapshot) -> (component, size, tagged digest) of each file.
        type Group = (String, String, u32, bool);
        let mut groups: BTreeMap<Group, Vec<(String, u64, String)>> = BTreeMap::new();
        let mut first_key: BTreeMap<Group, String> = BTreeMap::new();
        let mut algorithms: BTreeMap<Group, BTreeSet<Algorithm>> = BTreeMap::new();
        for entry in entries {
            committed.keys.insert(entry.key.clone());
            let Some((location, file)) = sstable::table_location(&entry.source_path) else {
                continue;
            };
            let (prefix, component) = sstable::split_component(&file);
            let in_snapshot = entry.source_path.contains("/snapshots/");
            let group = (location, prefix.to_string(), entry.variant, in_snapshot);
            first_key
                .entry(group.clone())
                .or_insert_with(|| entry.key.clone());
            let recorded = Algorithm::of_entry(entry);
            if let Some((algorithm, _)) = recorded {
                algorithms
                    .entry(group.clone())
                    .or_default()
                    .insert(algorithm);
            }
            groups.entry(group).or_default().push((
                component.to_string(),
                entry.size,
                Fingerprint::tag(recorded),
            ));
        }
        for (group, components) in groups {
            let key = first_key
                .remove(&group)
                .expect("every group has a first key");
            let hashed_with = algorithms.remove(&group).unwrap_or_default();
            let location = group.0;
            let fingerprint = Fingerprint::new(components);
            committed
                .shapes
                .entry(location.clone())
                .or_default()
                .entry(fingerprint.shape())
                .or_default()
                .extend(hashed_with);
            committed
                .fingerprints
                .entry(location)
                .or_default()
                .insert(fingerprint, key);
        }
        committed
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn holds_key(&self, key: &str) -> bool {
        self.keys.contains(key)
    }
}

/// A `backups/` file that the backup already holds, byte for byte, as part of an identical SSTable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InBackup {
    pub path: String,
    pub source_id: String,
    /// A key of the committed SSTable it matches.
    pub matches: String,
}

/// What to send, and what not to send because the backup has it.
#[derive(Debug, Default)]
pub struct IncrementalPlan {
    pub upload: Vec<UploadItem>,
    pub in_backup: Vec<InBackup>,
}

/// Split `items` (the `backups/` files) against `committed`.
pub fn plan(items: Vec<UploadItem>, committed: &Committed) -> IncrementalPlan {
    let mut result = IncrementalPlan::default();
    if committed.is_empty() {
        result.upload = items;
        return result;
    }
    let mut groups: BTreeMap<(String, String), Vec<UploadItem>> = BTreeMap::new();
    for item in items {
        let path = item.path.display().to_string();
        let group = match sstable::table_location(&path) {
            Some((location, file)) => {
                let (prefix, _) = sstable::split_component(&file);
                (location, prefix.to_string())
            }
            None => (path, String::new()),
        };
        groups.entry(group).or_default().push(item);
    }
    for ((location, _prefix), group) in groups {
        if let Some(found) = already_in_backup(&location, &group, committed) {
            result.in_backup.extend(found);
            continue;
        }
        result.upload.extend(rekey(group, committed));
    }
    result
}

/// `Some` with every file of `group` when the backup holds an SSTable with its exact content.
fn already_in_backup(
    location: &str,
    group: &[UploadItem],
    committed: &Committed,
) -> Option<Vec<InBackup>> {
    let component = |item: &UploadItem| {
        let name = item
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        sstable::split_component(&name).1.to_string()
    };
    let mut shape: Shape = group.iter().map(|i| (component(i), i.size)).collect();
    shape.sort();
    let algorithms = committed.shapes.get(location)?.get(&shape)?;
    let fingerprints = committed.fingerprints.get(location)?;
    let mut buf = Vec::new();
    // A file that cannot be read here is left to the upload, which reports it properly.
    let ids = group
        .iter()
        .map(|item| sstable::source_id_of(&item.path).ok())
        .collect::<Option<Vec<_>>>()?;
    let matches = algorithms.iter().find_map(|&algorithm| {
        let mut hashed = Vec::with_capacity(group.len());
        for item in group {
            let (size, hex) = digest::hash_file(&item.path, algorithm, &mut buf).ok()?;
            let tag = Fingerprint::tag(Some((algorithm, hex.as_str())));
            hashed.push((component(item), size, tag));
        }
        fingerprints.get(&Fingerprint::new(hashed))
    })?;
    Some(
        group
            .iter()
            .zip(ids)
            .map(|(item, source_id)| InBackup {
                path: item.path.display().to_string(),
                source_id,
                matches: matches.clone(),
            })
            .collect(),
    )
}

/// The group under its own keys when none is committed, else under the smallest variant free for all.
fn rekey(mut group: Vec<UploadItem>, committed: &Committed) -> Vec<UploadItem> {
    if !group.iter().any(|item| committed.holds_key(&item.key)) {
        return group;
    }
    let variant = (1..)
        .find(|&n| {
            group
                .iter()
                .all(|item| !committed.holds_key(&layout::variant_key(&item.key, n)))
        })
        .expect("a free variant exists");
    for item in &mut group {
        item.key = layout::variant_key(&item.key, variant);
        item.variant = variant;
    }
    group
}

#[cfg(test)]
mod tests;
