//! Which backup, which of its objects, and where each goes: the backup named by `--snapshot-name` (or the
//! newest complete one), its objects up to `--until` (or, for a backup the old tool wrote, every data
//! object listed under it), planned per source host with node-push's [`plan_restore`].
//!
//! Only the records of the source hosts that take part are read (`--hosts`: those hosts' records
//! documents alone, [`host_entries`]); a differential snapshot's records point at objects under an older
//! backup's prefix, and are restored from there.

use super::settings::RestoreSettings;
use crate::output::Output;
use anyhow::{bail, Context, Result};
use contract::manifest::{Manifest, ObjectEntry};
use engine::records::host_entries;
use engine::restore::{
    backup_objects, find_backup, plan_restore, PlannedFile, RestoreMode, RestoreOptions,
    RestorePlan,
};
use engine::store::ObjectStore;
use std::path::{Path, PathBuf};

/// The backup being restored and the objects that take part.
#[derive(Debug, Clone)]
pub struct Selected {
    pub manifest: Manifest,
    /// The objects of the source hosts that take part (`--hosts`, else all), up to `--until`, before
    /// the keyspace/table filters.
    pub objects: Vec<ObjectEntry>,
}

/// Find the backup and its objects; errors name the backup, the base path and the flag.
pub async fn select(
    store: &dyn ObjectStore,
    settings: &RestoreSettings,
    output: &Output,
) -> Result<Selected> {
    let base = &settings.common.s3.base_path;
    let manifest = find_backup(
        store,
        base,
        &settings.backup,
        settings.hosts.first().map(String::as_str),
    )
    .await
    .with_context(|| {
        format!(
            "--snapshot-name {} in {}",
            settings.backup,
            store.describe()
        )
    })?;
    for host in &settings.hosts {
        if !manifest.hosts.contains(host) {
            bail!(
                "host {host} (--hosts) is not in backup {} (its hosts: {})",
                manifest.name,
                manifest.hosts.join(",")
            );
        }
    }
    if let Some(until) = settings.until {
        if let Some(first) = manifest.batches.first() {
            if first.completed_at > until {
                bail!(
                    "--until {until} is before backup {}'s snapshot was complete ({}): nothing to restore",
                    manifest.name,
                    first.completed_at
                );
            }
        }
    }
    let objects = objects(store, base, &manifest, settings)
        .await
        .with_context(|| format!("backup {} in {}", manifest.name, store.describe()))?;
    let batches = match settings.until {
        Some(until) => manifest
            .batches
            .iter()
            .filter(|b| b.completed_at <= until)
            .count(),
        None => manifest.batches.len(),
    };
    if manifest.is_legacy() {
        output.info(format!(
            "backup {} (written by the old tool): {} objects found by listing",
            manifest.name,
            objects.len()
        ));
    } else {
        output.info(format!(
            "backup {}: snapshot + {} incremental(s){}, {} objects",
            manifest.name,
            batches.saturating_sub(1),
            settings
                .until
                .map(|t| format!(" up to {t}"))
                .unwrap_or_default(),
            objects.len()
        ));
    }
    Ok(Selected { manifest, objects })
}

/// The objects of the hosts that take part: `--hosts` read host by host from their records alone (an
/// old-tool backup: its listing, filtered), every host's without `--hosts`.
async fn objects(
    store: &dyn ObjectStore,
    base: &str,
    manifest: &Manifest,
    settings: &RestoreSettings,
) -> Result<Vec<ObjectEntry>, engine::restore::SourceError> {
    if settings.hosts.is_empty() || manifest.is_legacy() {
        let mut objects = backup_objects(store, base, manifest, settings.until).await?;
        if !settings.hosts.is_empty() {
            objects.retain(|o| settings.hosts.contains(&o.host));
        }
        return Ok(objects);
    }
    let mut objects = Vec::new();
    for host in &settings.hosts {
        objects.extend(host_entries(store, manifest, host, settings.until).await?);
    }
    Ok(objects)
}

fn options(settings: &RestoreSettings, mode: RestoreMode, hosts: Vec<String>) -> RestoreOptions {
    RestoreOptions {
        mode,
        keyspace: Some(settings.keyspace.clone()),
        tables: settings.tables.clone(),
        hosts,
        host_map: settings.host_map.clone(),
    }
}

/// The source hosts that take part: `--hosts`, else every host the objects name.
fn source_hosts(selected: &Selected, settings: &RestoreSettings) -> Vec<String> {
    if !settings.hosts.is_empty() {
        return settings.hosts.clone();
    }
    let mut hosts: Vec<String> = selected.manifest.hosts.clone();
    for entry in &selected.objects {
        if !hosts.contains(&entry.host) {
            hosts.push(entry.host.clone());
        }
    }
    hosts
}

/// What the planner decided, over every source host.
#[derive(Debug, Default)]
pub struct Planned {
    pub files: Vec<PlannedFile>,
    /// SSTables stored more than once (a snapshot file and its `backups/` link) restored once.
    pub duplicates: usize,
    /// SSTables given a generation of their own because another SSTable of the backup has theirs.
    pub renumbered: usize,
}

impl Planned {
    fn add(&mut self, plan: RestorePlan) {
        self.files.extend(plan.files);
        self.duplicates += plan.duplicates;
        self.renumbered += plan.renumbered;
    }

    /// One line for the log when the backup held an SSTable name more than once; `None` otherwise.
    pub fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.duplicates > 0 {
            parts.push(format!(
                "{} SSTable(s) stored twice (snapshot and backups/) restored once",
                self.duplicates
            ));
        }
        if self.renumbered > 0 {
            parts.push(format!(
                "{} SSTable(s) renumbered (their name is used by another SSTable of the backup)",
                self.renumbered
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Files for the node modes: each source host planned on its own with Cassandra's names, targets
/// relative to `/` (`/<ks>/<table dir>/<file>`); the node runner puts them under its staging root.
pub fn plan_for_nodes(selected: &Selected, settings: &RestoreSettings) -> Result<Planned> {
    let mut planned = Planned::default();
    for host in source_hosts(selected, settings) {
        let mode = RestoreMode::Stage {
            staging_root: PathBuf::from("/"),
        };
        planned.add(plan_restore(
            &selected.objects,
            &options(settings, mode, vec![host]),
        )?);
    }
    nothing_planned(&planned, selected, settings)?;
    Ok(planned)
}

/// Files for `--mode local`: the old tool's layout `<restore dir>/<ks>/<table dir>/<host>_<file>`.
pub fn plan_local(selected: &Selected, settings: &RestoreSettings) -> Result<Planned> {
    let mode = RestoreMode::Flat {
        restore_dir: settings.restore_dir.clone(),
    };
    let hosts = settings.hosts.clone();
    let mut planned = Planned::default();
    planned.add(plan_restore(
        &selected.objects,
        &options(settings, mode, hosts),
    )?);
    nothing_planned(&planned, selected, settings)?;
    Ok(planned)
}

/// Files for `--mode sstableloader`: `<restore dir>/<host>/<ks>/<table dir>/<file>`, Cassandra's names, as
/// sstableloader wants them (one directory per table, per source host since their names collide).
pub fn plan_loader(selected: &Selected, settings: &RestoreSettings) -> Result<Planned> {
    let mut planned = Planned::default();
    for host in source_hosts(selected, settings) {
        let root = settings
            .restore_dir
            .join(settings.host_map.target(&host).replace('/', "_"));
        let mode = RestoreMode::Stage { staging_root: root };
        planned.add(plan_restore(
            &selected.objects,
            &options(settings, mode, vec![host]),
        )?);
    }
    nothing_planned(&planned, selected, settings)?;
    Ok(planned)
}

fn nothing_planned(
    planned: &Planned,
    selected: &Selected,
    settings: &RestoreSettings,
) -> Result<()> {
    if !planned.files.is_empty() {
        return Ok(());
    }
    let tables = if settings.tables.is_empty() {
        String::new()
    } else {
        format!(" table {}", settings.tables.join(","))
    };
    let hosts = if settings.hosts.is_empty() {
        String::new()
    } else {
        format!(" of host {}", settings.hosts.join(","))
    };
    bail!(
        "backup {} has no files of keyspace {}{tables}{hosts}",
        selected.manifest.name,
        settings.keyspace
    )
}

/// `(keyspace, table dir, path inside the table dir)` of a planned target under `root`
/// (`<root>/<ks>/<table dir>/[.<index>/]<file>`).
pub fn split_target(root: &Path, target: &Path) -> Option<(String, String, String)> {
    let relative = target.strip_prefix(root).ok()?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [ks, table_dir, rest @ ..] if !rest.is_empty() => {
            Some((ks.clone(), table_dir.clone(), rest.join("/")))
        }
        _ => None,
    }
}
