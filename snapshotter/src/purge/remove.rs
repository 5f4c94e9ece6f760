//! Removing the backups a plan condemns, in two passes.
//!
//! 1. Every condemned backup's `manifest.json` and `manifest.json.partial` go first, so a purge stopped
//!    half way leaves no backup that looks complete and is not; a marker (`purged.json`) then says the
//!    prefix is being removed. A backup whose manifest cannot be deleted stays, whole.
//! 2. Then, from a fresh listing (a backup committed meanwhile is seen), each one's objects host by host
//!    ([`sweep`]): deleted unless a backup that stays references them ([`super::refs`]). The records
//!    documents, ring and schema follow. When objects were kept the marker stays and names the backups
//!    they are kept for: `list` shows such a prefix as purged, and every purge looks at it again (it is
//!    removed once nothing references its objects). A dry run runs the same sweep without deleting.

use super::refs::{owner, Remaining};
use super::report::Removed;
use crate::stages::bounded;
use bytes::Bytes;
use chrono::Utc;
use contract::layout;
use contract::manifest::Manifest;
use engine::records::host_entries;
use engine::store::{with_retry, ObjectMeta, ObjectStore, PutOptions, RetryPolicy};
use std::collections::{BTreeSet, HashSet};

/// A backup to remove, with its manifest (or run record) when it has one.
pub struct Condemned<'a> {
    pub name: &'a str,
    pub manifest: Option<&'a Manifest>,
}

pub use contract::manifest::PurgedMarker;

/// Pass 1 for every condemned backup: its manifests deleted, the marker written. One [`Removed`] each,
/// with an error when its manifest could not be deleted (then nothing else of it is touched).
pub async fn delete_manifests(
    store: &dyn ObjectStore,
    base: &str,
    condemned: &[Condemned<'_>],
    put: &PutOptions,
) -> Vec<Removed> {
    let retry = RetryPolicy::default();
    let mut removed = Vec::new();
    for backup in condemned {
        let name = backup.name;
        let mut entry = Removed::new(name);
        for key in [
            layout::manifest_key(base, name),
            layout::manifest_staging_key(base, name),
        ] {
            if let Err(error) = with_retry(&retry, || store.delete(&key)).await {
                entry.error = Some(format!(
                    "backup {name}: cannot delete {key}: {error}; nothing else of it was deleted"
                ));
                break;
            }
        }
        if entry.error.is_none() {
            entry.error = write_marker(store, base, name, &entry, put).await.err();
        }
        removed.push(entry);
    }
    removed
}

async fn write_marker(
    store: &dyn ObjectStore,
    base: &str,
    name: &str,
    removed: &Removed,
    put: &PutOptions,
) -> Result<(), String> {
    let marker = PurgedMarker {
        name: name.to_string(),
        purged_at: Utc::now(),
        kept_objects: removed.shared_kept,
        kept_for: removed.kept_for.iter().cloned().collect(),
    };
    let key = layout::purged_marker_key(base, name);
    let body = Bytes::from(serde_json::to_vec_pretty(&marker).expect("markers serialise"));
    with_retry(&RetryPolicy::default(), || {
        store.put_object(&key, body.clone(), put)
    })
    .await
    .map(|_| ())
    .map_err(|e| format!("backup {name}: cannot write {key}: {e}"))
}

/// Pass 2 for one backup (its manifests are gone, unless `delete` is false: a dry run counts only).
pub async fn sweep(
    store: &dyn ObjectStore,
    base: &str,
    backup: &Condemned<'_>,
    remaining: &Remaining<'_>,
    (delete, put): (bool, &PutOptions),
) -> Removed {
    let mut removed = Removed::new(backup.name);
    let in_progress = remaining.in_progress_referencing(backup.name);
    if !in_progress.is_empty() {
        removed.kept_for.extend(in_progress);
        removed.kept_all = true;
    } else if let Err(error) =
        sweep_objects(store, base, backup, remaining, delete, &mut removed).await
    {
        removed.error = Some(format!("backup {}: {error} (run purge again)", backup.name));
    }
    if delete {
        finish(store, base, backup.name, &mut removed, put).await;
    }
    removed
}

/// Every host's objects, then the rest of the prefix (records documents, ring, schema) but the marker.
async fn sweep_objects(
    store: &dyn ObjectStore,
    base: &str,
    backup: &Condemned<'_>,
    remaining: &Remaining<'_>,
    delete: bool,
    removed: &mut Removed,
) -> Result<(), String> {
    let prefix = layout::backup_prefix(base, backup.name);
    let top = list(store, &prefix, Some("/")).await?;
    let records_dir = format!("{prefix}{}/", layout::RECORDS_DIR);
    let mut hosts: Vec<String> = top
        .common_prefixes
        .iter()
        .filter(|d| **d != records_dir)
        .filter_map(|d| Some(d.strip_prefix(&prefix)?.trim_end_matches('/').to_string()))
        .collect();
    for host in backup
        .manifest
        .map(Manifest::record_hosts)
        .unwrap_or_default()
    {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    for host in &hosts {
        sweep_host(store, base, backup, host, remaining, delete, removed).await?;
    }
    // The records documents, ring and schema serve no other backup.
    let mut rest: Vec<ObjectMeta> = top.objects;
    rest.extend(list(store, &records_dir, None).await?.objects);
    // The manifests went in pass 1 (a dry run counts what pass 2 deletes); the marker goes last.
    let skip = [
        layout::purged_marker_key(base, backup.name),
        layout::manifest_key(base, backup.name),
        layout::manifest_staging_key(base, backup.name),
    ];
    rest.retain(|o| !skip.contains(&o.key));
    let folders = rest.clone();
    delete_all(store, rest, delete, removed).await?;
    if delete {
        remove_folders(store, &prefix, &folders).await;
    }
    Ok(())
}

/// One host: its objects under the prefix and its records' keys elsewhere, less what others reference.
async fn sweep_host(
    store: &dyn ObjectStore,
    base: &str,
    backup: &Condemned<'_>,
    host: &str,
    remaining: &Remaining<'_>,
    delete: bool,
    removed: &mut Removed,
) -> Result<(), String> {
    let dir = format!("{}/", layout::host_prefix(base, backup.name, host));
    let mut candidates = list(store, &dir, None).await?.objects;
    // Its records name the keys it referenced elsewhere; unreadable ones only hide those, which live in
    // other prefixes and go with them.
    let records = match backup.manifest.filter(|m| !m.is_legacy()) {
        Some(manifest) => host_entries(store, manifest, host, None).await.ok(),
        None => None,
    };
    if let Some(entries) = records {
        let outside = entries
            .into_iter()
            .filter(|e| owner(base, &e.key) != Some(backup.name) && !remaining.owns(&e.key));
        candidates.extend(outside.map(|e| ObjectMeta {
            key: e.key,
            size: e.compressed_size,
            etag: String::new(),
        }));
    }
    let keys: HashSet<String> = candidates.iter().map(|o| o.key.clone()).collect();
    let kept = remaining
        .referenced(store, host, &keys)
        .await
        .map_err(|e| format!("cannot tell what other backups reference: {e}"))?;
    removed.shared_kept += kept.len();
    removed.kept_for.extend(kept.values().cloned());
    candidates.retain(|o| !kept.contains_key(&o.key));
    let folders = candidates.clone();
    delete_all(store, candidates, delete, removed).await?;
    if delete && kept.is_empty() {
        remove_folders(store, &dir, &folders).await;
    }
    Ok(())
}

async fn list(
    store: &dyn ObjectStore,
    prefix: &str,
    delimiter: Option<&str>,
) -> Result<engine::store::Listing, String> {
    with_retry(&RetryPolicy::default(), || store.list(prefix, delimiter))
        .await
        .map_err(|e| format!("cannot list {prefix}: {e}"))
}

/// Deletes `objects` (counts them only when `delete` is false); the first failure is the error.
async fn delete_all(
    store: &dyn ObjectStore,
    objects: Vec<ObjectMeta>,
    delete: bool,
    removed: &mut Removed,
) -> Result<(), String> {
    if !delete {
        removed.objects += objects.len();
        removed.bytes += objects.iter().map(|o| o.size).sum::<u64>();
        return Ok(());
    }
    let retry = RetryPolicy::default();
    let results = bounded(&objects, 16, |object| {
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
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} object(s) not deleted, first: {first}",
            failures.len()
        )),
    }
}

/// The marker goes when nothing was kept and nothing failed (the prefix is then empty), else it is
/// rewritten to name what was kept and for whom.
async fn finish(
    store: &dyn ObjectStore,
    base: &str,
    name: &str,
    removed: &mut Removed,
    put: &PutOptions,
) {
    let nothing_left = removed.shared_kept == 0 && !removed.kept_all && removed.error.is_none();
    if nothing_left {
        let marker = layout::purged_marker_key(base, name);
        if let Err(e) = with_retry(&RetryPolicy::default(), || store.delete(&marker)).await {
            removed.error = Some(format!("backup {name}: cannot delete {marker}: {e}"));
        }
        let _ = store.delete(&layout::backup_prefix(base, name)).await;
        return;
    }
    if let Err(error) = write_marker(store, base, name, removed, put).await {
        removed.error.get_or_insert(error);
    }
}

/// Stores with real directories (SeaweedFS's filer) keep a removed backup's empty folders and list them as
/// common prefixes, so the backup would still show up (as incomplete). Deleting `<folder>/` removes an
/// empty one there (and never a non-empty one); on S3, where folders do not exist, it deletes nothing.
/// Deepest first, best effort; `prefix` itself last (a no-op while the prefix still holds the marker).
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
