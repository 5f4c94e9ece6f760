//! Removing the backups a plan condemns, in two passes.
//!
//! 1. Every condemned backup's `manifest.json` and `manifest.json.partial` go first, so a purge stopped
//!    half way leaves incomplete backups, never one that looks complete and is not. A backup whose
//!    manifest cannot be deleted stays: the objects its manifest lists join the protected keys.
//! 2. Then each one's objects: everything under its prefix, and the keys its manifest lists elsewhere,
//!    except the protected keys, those a remaining manifest lists. An object is deleted only when no
//!    remaining manifest lists its key, so backups that share objects never lose one.

use super::report::Removed;
use crate::stages::bounded;
use contract::layout;
use contract::manifest::Manifest;
use engine::store::{with_retry, ObjectMeta, ObjectStore, RetryPolicy};
use std::collections::{BTreeSet, HashMap};

/// A backup to remove, with its manifest (or run record) when it has one.
pub struct Condemned<'a> {
    pub name: &'a str,
    pub manifest: Option<&'a Manifest>,
}

/// Object key → the remaining backup whose manifest lists it.
pub type Protected = HashMap<String, String>;

/// The keys every manifest in `remaining` lists.
pub fn protected<'a>(remaining: impl IntoIterator<Item = &'a Manifest>) -> Protected {
    let mut keys = Protected::new();
    for manifest in remaining {
        for object in manifest.inline_objects() {
            keys.entry(object.key.clone())
                .or_insert_with(|| manifest.name.clone());
        }
    }
    keys
}

/// Remove `condemned` (see the module doc); one [`Removed`] each, in the same order.
pub async fn remove_all(
    store: &dyn ObjectStore,
    base: &str,
    condemned: &[Condemned<'_>],
    mut protected: Protected,
) -> Vec<Removed> {
    let mut removed: Vec<Removed> = Vec::new();
    for backup in condemned {
        let mut entry = Removed::new(backup.name);
        if let Err(error) = delete_manifests(store, base, backup.name).await {
            entry.error = Some(error);
            if let Some(manifest) = backup.manifest {
                protected.extend(self::protected([manifest]));
            }
        }
        removed.push(entry);
    }
    for (backup, entry) in condemned.iter().zip(removed.iter_mut()) {
        if entry.error.is_none() {
            remove_objects(store, base, backup, &protected, entry).await;
        }
    }
    removed
}

async fn delete_manifests(store: &dyn ObjectStore, base: &str, name: &str) -> Result<(), String> {
    let retry = RetryPolicy::default();
    for key in [
        layout::manifest_key(base, name),
        layout::manifest_staging_key(base, name),
    ] {
        if let Err(error) = with_retry(&retry, || store.delete(&key)).await {
            return Err(format!(
                "backup {name}: cannot delete {key}: {error}; nothing else of it was deleted"
            ));
        }
    }
    Ok(())
}

/// Delete one backup's objects (its manifests are gone) except the protected ones.
async fn remove_objects(
    store: &dyn ObjectStore,
    base: &str,
    backup: &Condemned<'_>,
    protected: &Protected,
    removed: &mut Removed,
) {
    let name = backup.name;
    let retry = RetryPolicy::default();
    let prefix = layout::backup_prefix(base, name);
    let listing = match with_retry(&retry, || store.list(&prefix, None)).await {
        Ok(listing) => listing,
        Err(error) => {
            removed.error = Some(format!(
                "backup {name}: manifest deleted, but cannot list {prefix}: {error} (run purge again)"
            ));
            return;
        }
    };
    let mut candidates = listing.objects.clone();
    let listed: BTreeSet<&str> = listing.objects.iter().map(|o| o.key.as_str()).collect();
    for object in backup.manifest.iter().flat_map(|m| m.inline_objects()) {
        if !object.key.starts_with(&prefix) && !listed.contains(object.key.as_str()) {
            candidates.push(ObjectMeta {
                key: object.key.clone(),
                size: object.compressed_size,
                etag: String::new(),
            });
        }
    }
    let before = candidates.len();
    candidates.retain(|o| !protected.contains_key(&o.key));
    removed.shared_kept = before - candidates.len();
    let results = bounded(&candidates, 16, |object| {
        let retry = &retry;
        async move {
            with_retry(retry, || store.delete(&object.key))
                .await
                .map(|()| object.size)
                .map_err(|e| format!("{}: {e}", object.key))
        }
    })
    .await;
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(size) => {
                removed.objects += 1;
                removed.bytes += size;
            }
            Err(error) => failures.push(error),
        }
    }
    if failures.is_empty() {
        remove_folders(store, &prefix, &listing.objects).await;
    } else {
        removed.error = Some(format!(
            "backup {name}: {} object(s) not deleted, first: {} (it is listed as incomplete; run purge again)",
            failures.len(),
            failures[0]
        ));
    }
}

/// Stores with real directories (SeaweedFS's filer) keep a removed backup's empty folders and list them as
/// common prefixes, so the backup would still show up (as incomplete). Deleting `<folder>/` removes an
/// empty one there (and never a non-empty one); on S3, where folders do not exist, it deletes nothing.
/// Deepest first, best effort.
async fn remove_folders(store: &dyn ObjectStore, prefix: &str, objects: &[ObjectMeta]) {
    let mut folders: BTreeSet<String> = BTreeSet::new();
    for object in objects {
        let Some(rest) = object.key.strip_prefix(prefix) else {
            continue;
        };
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            if c == '/' && i > end {
                folders.insert(format!("{prefix}{}", &rest[..=i]));
            }
            if c == '/' {
                end = i + 1;
            }
        }
    }
    let mut folders: Vec<String> = folders.into_iter().collect();
    folders.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
    folders.push(prefix.to_string());
    for folder in folders {
        let _ = store.delete(&folder).await;
    }
}
