//! Differential snapshots: a snapshot file whose exact bytes a complete reference backup already stores is
//! not uploaded; its entry points at the stored object instead.
//!
//! The reference's records of this host are indexed by where each file sits relative to its data dir:
//! ([`Location`]: keyspace, table dir, file below the `snapshots/<tag>` or `backups` dir with its
//! secondary-index subdir, size). The data dir and the snapshot tag are not part of it: SSTable names are
//! unique within a table whichever data dir holds them, and the same SSTable appears under every tag.
//!
//! A name and a size only nominate a candidate; identity is proven by content. The file is read now and
//! hashed with the algorithm the candidate records (BLAKE3, or SHA-256 for an earlier version's entry), and
//! only a digest equal to the recorded one makes it referenced. A file whose name and size match but whose
//! bytes differ is uploaded; so is one that changes while it is hashed, one that cannot be read (the
//! upload reports it), and one whose candidates record no digest (the old tool's backups).

use super::UploadItem;
use crate::digest::{self, Algorithm};
use crate::sstable;
use contract::layout;
use contract::manifest::ObjectEntry;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Where a file sits relative to its data dir, and its size: what nominates a reference candidate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub keyspace: String,
    pub table_dir: String,
    /// Below `snapshots/<tag>` or `backups`: `nb-1-big-Data.db`, or `.idx/nb-1-big-Data.db`.
    pub file: String,
    pub size: u64,
}

impl Location {
    /// The location of a data file at `path`; `None` outside a `snapshots/<tag>` or `backups` dir.
    pub fn of(path: &str, size: u64) -> Option<Location> {
        let parts: Vec<&str> = path.split('/').collect();
        let (marker, _, file_start) = layout::find_backup_marker(&parts)?;
        if marker < 2 {
            return None;
        }
        Some(Location {
            keyspace: parts[marker - 2].to_string(),
            table_dir: parts[marker - 1].to_string(),
            file: parts[file_start..].join("/"),
            size,
        })
    }
}

/// The reference backup's records of this host that can be matched, by [`Location`].
#[derive(Debug, Default)]
pub struct References {
    by_location: HashMap<Location, Vec<ObjectEntry>>,
}

impl References {
    /// From the reference backup's entries of this host (every batch). Entries without a digest, or
    /// outside a data file layout, can never be proven identical and are left out.
    pub fn from_entries(entries: impl IntoIterator<Item = ObjectEntry>) -> Self {
        let mut by_location: HashMap<Location, Vec<ObjectEntry>> = HashMap::new();
        for entry in entries {
            if entry.digest().is_none() {
                continue;
            }
            if let Some(location) = Location::of(&entry.source_path, entry.size) {
                by_location.entry(location).or_default().push(entry);
            }
        }
        References { by_location }
    }

    /// Files that can be matched.
    pub fn len(&self) -> usize {
        self.by_location.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_location.is_empty()
    }

    fn candidates(&self, item: &UploadItem) -> Option<&[ObjectEntry]> {
        let location = Location::of(&item.path.to_string_lossy(), item.size)?;
        self.by_location.get(&location).map(Vec::as_slice)
    }
}

/// What to upload, and the entries of the files the reference stores.
#[derive(Debug, Default)]
pub struct ReferencePlan {
    pub upload: Vec<UploadItem>,
    /// The candidate's entry (key, sizes, ETag, digest, variant) with this file's path, identity and host.
    pub referenced: Vec<ObjectEntry>,
}

/// Split `items` against `references`, hashing each file that has a candidate (blocking: run it off the
/// async threads). One buffer is reused for every file.
pub fn plan(items: Vec<UploadItem>, references: &References, host: &str) -> ReferencePlan {
    let mut result = ReferencePlan::default();
    let mut buf = Vec::new();
    for item in items {
        let found = references
            .candidates(&item)
            .and_then(|candidates| matching(&item.path, candidates, &mut buf));
        match found {
            Some((candidate, source_id)) => result.referenced.push(ObjectEntry {
                host: host.to_string(),
                source_path: item.path.display().to_string(),
                source_id: Some(source_id),
                ..candidate.clone()
            }),
            None => result.upload.push(item),
        }
    }
    result
}

/// The candidate whose recorded digest the file at `path` has now, with the file's source identity;
/// `None` when none has it, or the file cannot be read or changed while it was read.
fn matching<'a>(
    path: &Path,
    candidates: &'a [ObjectEntry],
    buf: &mut Vec<u8>,
) -> Option<(&'a ObjectEntry, String)> {
    let before = sstable::source_id_of(path).ok()?;
    // BLAKE3 first: what this version records; SHA-256 only for an earlier version's candidates.
    let algorithms: BTreeSet<Algorithm> = candidates
        .iter()
        .filter_map(|c| Algorithm::of_entry(c).map(|(algorithm, _)| algorithm))
        .collect();
    let found = algorithms.into_iter().find_map(|algorithm| {
        let (size, hex) = digest::hash_file(path, algorithm, buf).ok()?;
        candidates.iter().find(|c| {
            c.size == size
                && Algorithm::of_entry(c)
                    .is_some_and(|(a, recorded)| a == algorithm && digest::same_hex(&hex, recorded))
        })
    })?;
    let after = sstable::source_id_of(path).ok()?;
    (before == after).then_some((found, after))
}

#[cfg(test)]
mod tests;
