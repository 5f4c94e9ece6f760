//! `list`: the backups under the base path, newest first, with what each holds and whether it is complete.
//!
//! Only `manifest.json` is read for a complete backup: it says, per batch and host, how many objects and
//! bytes the backup lists, how many of those bytes it added under its own prefix, and how many it
//! references in other backups (a differential snapshot's), shown as STORED, ADDED and REFERENCED.
//!
//! A backup is complete when its `manifest.json` parses. A prefix with objects but no manifest (a failed
//! or running backup) is listed as incomplete, with its objects counted from a listing; one `purge`
//! removed but keeps for newer backups' references (a `purged.json` marker) says so. Manifests of the
//! old tool have no object list: their counts are `?` unless `--count-legacy` lists their keys.
//!
//! Each complete backup shows its selection: hosts, and keyspaces, table and excluded tables in the
//! compact form of [`Selection::scope`] (`all`, `shop.orders`, `all except shop.audit`).

use crate::output::human_bytes;
use crate::output::table::{Column, Table};
use crate::store::{self, ManifestRead};
use anyhow::{Context, Result};
use contract::layout::{self, ParsedKey};
use contract::manifest::{Manifest, PurgedMarker, Selection};
use engine::store::{with_retry, ObjectStore, RetryPolicy};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// One line of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupEntry {
    pub name: String,
    pub complete: bool,
    /// Why not complete, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub incrementals: Option<usize>,
    pub hosts: Vec<String>,
    /// `None`: all keyspaces.
    pub keyspaces: Option<Vec<String>>,
    pub table: String,
    /// `--exclude-tables` entries of the backup (`table` or `keyspace.table`).
    pub exclude_tables: Vec<String>,
    /// `None` when unknown (old tool's manifest, not counted).
    pub objects: Option<u64>,
    pub bytes_stored: Option<u64>,
    /// Stored bytes under this backup's own prefix (what it added to the bucket).
    pub bytes_added: Option<u64>,
    /// Stored bytes it lists that live in other backups (a differential snapshot's references).
    pub bytes_referenced: Option<u64>,
    pub legacy: bool,
}

impl BackupEntry {
    pub fn kind(&self) -> String {
        match self.incrementals {
            Some(0) => "snapshot".to_string(),
            Some(1) => "snapshot + 1 incremental".to_string(),
            Some(n) => format!("snapshot + {n} incrementals"),
            None => "snapshot (+ ? incrementals)".to_string(),
        }
    }
}

/// Read every backup under `base`.
pub async fn list(
    store: &dyn ObjectStore,
    base: &str,
    count_legacy: bool,
) -> Result<Vec<BackupEntry>> {
    let mut entries = Vec::new();
    for name in store::backup_names(store, base).await? {
        let name = name.to_string();
        let entry = match store::read_manifest(store, base, &name).await? {
            ManifestRead::Found(manifest) if manifest.is_legacy() && count_legacy => {
                let (objects, bytes, _) = count_objects(store, base, &name).await?;
                BackupEntry {
                    objects: Some(objects),
                    bytes_stored: Some(bytes),
                    bytes_added: Some(bytes),
                    bytes_referenced: Some(0),
                    ..from_manifest(&manifest)
                }
            }
            ManifestRead::Found(manifest) => from_manifest(&manifest),
            missing_or_bad => {
                let problem = match missing_or_bad {
                    ManifestRead::Unreadable(reason) => reason,
                    _ => match purged(store, base, &name).await? {
                        Some(marker) => format!(
                            "purged {}; keeps {} object(s) that backup(s) {} reference",
                            marker.purged_at.format("%Y-%m-%d %H:%M:%S UTC"),
                            marker.kept_objects,
                            marker.kept_for.join(", ")
                        ),
                        None => "no manifest.json (failed or still running)".to_string(),
                    },
                };
                let (objects, bytes, hosts) = count_objects(store, base, &name).await?;
                BackupEntry {
                    name: name.clone(),
                    complete: false,
                    problem: Some(problem),
                    incrementals: None,
                    hosts,
                    keyspaces: None,
                    table: String::new(),
                    exclude_tables: Vec::new(),
                    objects: Some(objects),
                    bytes_stored: Some(bytes),
                    bytes_added: Some(bytes),
                    bytes_referenced: None,
                    legacy: false,
                }
            }
        };
        entries.push(entry);
    }
    Ok(entries)
}

/// The marker `purge` leaves on a removed backup's prefix whose objects newer backups reference.
async fn purged(store: &dyn ObjectStore, base: &str, name: &str) -> Result<Option<PurgedMarker>> {
    let key = layout::purged_marker_key(base, name);
    Ok(store::get(store, &key)
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

fn from_manifest(manifest: &Manifest) -> BackupEntry {
    let legacy = manifest.is_legacy();
    let totals = manifest.totals();
    BackupEntry {
        name: manifest.name.clone(),
        complete: true,
        problem: None,
        incrementals: (!legacy).then(|| manifest.incremental_count()),
        hosts: manifest.hosts.clone(),
        keyspaces: manifest.keyspaces.clone().filter(|k| !k.is_empty()),
        table: manifest.table.clone(),
        exclude_tables: manifest.exclude_tables.clone(),
        objects: (!legacy).then_some(totals.objects),
        bytes_stored: (!legacy).then_some(totals.stored),
        bytes_added: (!legacy).then_some(totals.added),
        bytes_referenced: (!legacy).then(|| totals.referenced()),
        legacy,
    }
}

/// (data objects, their bytes, hosts seen) under one backup's prefix; both key forms count.
async fn count_objects(
    store: &dyn ObjectStore,
    base: &str,
    name: &str,
) -> Result<(u64, u64, Vec<String>)> {
    let prefix = layout::backup_prefix(base, name);
    let listing = with_retry(&RetryPolicy::default(), || store.list(&prefix, None))
        .await
        .with_context(|| format!("cannot list {prefix}"))?;
    let mut hosts = BTreeSet::new();
    let (mut objects, mut bytes) = (0, 0);
    for object in &listing.objects {
        if let Some(ParsedKey::Data(data)) = layout::parse_key(base, &object.key) {
            objects += 1;
            bytes += object.size;
            hosts.insert(data.host);
        }
    }
    Ok((objects, bytes, hosts.into_iter().collect()))
}

/// The table people read.
pub fn table(entries: &[BackupEntry]) -> String {
    if entries.is_empty() {
        return "no backups\n".to_string();
    }
    let mut table = Table::new(vec![
        Column::left("NAME"),
        Column::left("TYPE"),
        Column::left("COMPLETE"),
        Column::left("HOSTS"),
        Column::left("KEYSPACES/TABLE"),
        Column::left("OBJECTS"),
        Column::left("STORED"),
        Column::left("ADDED"),
        Column::left("REFERENCED"),
    ]);
    for e in entries {
        let scope = Selection::new(
            &e.hosts,
            e.keyspaces.as_deref(),
            &e.table,
            &e.exclude_tables,
        )
        .scope();
        table.row([
            e.name.clone(),
            if e.complete {
                e.kind()
            } else {
                "-".to_string()
            },
            if e.complete { "yes" } else { "NO" }.to_string(),
            e.hosts.join(","),
            if e.complete { scope } else { "?".to_string() },
            e.objects.map_or("?".to_string(), |n| n.to_string()),
            e.bytes_stored.map_or("?".to_string(), human_bytes),
            e.bytes_added.map_or("?".to_string(), human_bytes),
            e.bytes_referenced.map_or("?".to_string(), human_bytes),
        ]);
    }
    let mut out = table.render();
    for e in entries.iter().filter(|e| e.problem.is_some()) {
        let _ = writeln!(
            out,
            "{}: incomplete: {}",
            e.name,
            e.problem.as_deref().unwrap_or("")
        );
    }
    out
}

#[cfg(test)]
mod tests;
