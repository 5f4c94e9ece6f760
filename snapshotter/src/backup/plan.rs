//! Snapshot or incremental? The old tool's rule, made independent of host order: continue the newest
//! backup under the base path whose manifest has the same hosts, keyspaces and table (and, ours only, the
//! same excluded tables), unless `--new-snapshot`. Backups without a manifest are incomplete and never
//! continued; the old tool's manifests are not continued either, since they list no objects and our
//! batches would describe only part of the backup.

use crate::output::Output;
use crate::settings::BackupSettings;
use crate::store::{self, ManifestRead};
use anyhow::Result;
use chrono::Utc;
use node_push::layout::BackupName;
use node_push::manifest::Manifest;
use node_push::store::ObjectStore;
use std::collections::BTreeSet;

/// What this run does.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A new snapshot backup called `name`.
    Snapshot { name: String },
    /// An incremental batch into the existing backup `base`.
    Incremental { base: Box<Manifest> },
}

impl Plan {
    pub fn name(&self) -> &str {
        match self {
            Plan::Snapshot { name } => name,
            Plan::Incremental { base } => &base.name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Plan::Snapshot { .. } => "snapshot",
            Plan::Incremental { .. } => "incremental",
        }
    }
}

/// Decide the plan from what the store holds.
pub async fn choose_plan(
    store: &dyn ObjectStore,
    settings: &BackupSettings,
    output: &Output,
) -> Result<Plan> {
    let base = &settings.common.s3.base_path;
    if !settings.new_snapshot {
        if let Some(manifest) = find_base(store, settings, output).await? {
            output.info(format!(
                "incremental into backup {} (snapshot + {} incremental(s))",
                manifest.name,
                manifest.incremental_count()
            ));
            return Ok(Plan::Incremental {
                base: Box::new(manifest),
            });
        }
    }
    let name = store::free_name(store, base, BackupName::from_time(Utc::now())).await?;
    output.info(format!("new snapshot backup {name}"));
    Ok(Plan::Snapshot {
        name: name.to_string(),
    })
}

/// The newest complete backup this run may continue.
async fn find_base(
    store: &dyn ObjectStore,
    settings: &BackupSettings,
    output: &Output,
) -> Result<Option<Manifest>> {
    let base = &settings.common.s3.base_path;
    for name in store::backup_names(store, base).await? {
        let name = name.to_string();
        let manifest = match store::read_manifest(store, base, &name).await? {
            ManifestRead::Found(manifest) => *manifest,
            ManifestRead::Missing => {
                output.verbose(format!("{name}: no manifest (incomplete), not continued"));
                continue;
            }
            ManifestRead::Unreadable(reason) => {
                output.warn(format!("{name}: {reason}; not continued"));
                continue;
            }
        };
        if continues(&manifest, settings) {
            if manifest.is_legacy() {
                output.info(format!(
                    "{name} matches but was written by the old tool; taking a new snapshot"
                ));
                return Ok(None);
            }
            return Ok(Some(manifest));
        }
    }
    Ok(None)
}

/// Whether `manifest` describes a backup of the same hosts, keyspaces, table and excluded tables.
pub fn continues(manifest: &Manifest, settings: &BackupSettings) -> bool {
    let keyspaces = settings.manifest_keyspaces();
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    manifest.accepts_incremental(
        &settings.hosts,
        keyspaces.as_deref(),
        settings.manifest_table(),
    ) && set(&manifest.exclude_tables) == set(&settings.exclude_tables)
}
