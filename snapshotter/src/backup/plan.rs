//! Snapshot, resume or incremental? The old tool's rule, made independent of host order: continue the
//! newest backup under the base path whose manifest has the same hosts, keyspaces and table (and, ours
//! only, the same excluded tables), unless `--new-snapshot`. The old tool's manifests are not continued,
//! since they list no objects and our batches would describe only part of the backup.
//!
//! A backup without a manifest is incomplete and never continued with an incremental. But when the newest
//! backup of this selection is one that an earlier run of ours left incomplete (its run record, the
//! manifest without objects written at `manifest.json.partial` before the snapshot, says which hosts and
//! keyspaces it was for) and it is younger than [`RESUME_WITHIN`], this run resumes it: the same name, a
//! new snapshot with that tag, and node-push sends only what is not already stored exactly as it would
//! store it now.

use crate::output::Output;
use crate::settings::BackupSettings;
use crate::store::{self, ManifestRead};
use anyhow::Result;
use chrono::Utc;
use contract::layout::{self, BackupName};
use contract::manifest::{Manifest, Selection};
use engine::store::ObjectStore;

pub use crate::store::RESUME_WITHIN;

/// How a snapshot backup starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A new name; nothing is stored under it yet.
    Fresh,
    /// An earlier run left this backup incomplete: its snapshot tag may still exist on some nodes, and
    /// some of its objects are stored already.
    Resume,
}

/// What this run does.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A snapshot backup called `name`.
    Snapshot { name: String, start: Start },
    /// An incremental batch into the existing backup `base`.
    Incremental { base: Box<Manifest> },
}

impl Plan {
    pub fn name(&self) -> &str {
        match self {
            Plan::Snapshot { name, .. } => name,
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

/// The newest backup of this run's selection.
enum Previous {
    /// Complete, with its manifest.
    Complete(Box<Manifest>),
    /// Left incomplete by a run of ours not long ago.
    Resumable(String),
    /// None, or one that cannot be continued.
    Nothing,
}

/// Decide the plan from what the store holds.
pub async fn choose_plan(
    store: &dyn ObjectStore,
    settings: &BackupSettings,
    output: &Output,
) -> Result<Plan> {
    let base = &settings.common.s3.base_path;
    match find_previous(store, settings, output).await? {
        Previous::Resumable(name) => {
            output.info(format!(
                "resuming backup {name}, which an earlier run left incomplete: a new snapshot {name}, \
                 and objects already stored are not sent again"
            ));
            return Ok(Plan::Snapshot {
                name,
                start: Start::Resume,
            });
        }
        Previous::Complete(manifest) if !settings.new_snapshot => {
            output.info(format!(
                "incremental into backup {} (snapshot + {} incremental(s))",
                manifest.name,
                manifest.incremental_count()
            ));
            return Ok(Plan::Incremental { base: manifest });
        }
        Previous::Complete(_) | Previous::Nothing => {}
    }
    let name = store::free_name(store, base, BackupName::from_time(Utc::now())).await?;
    output.info(format!("new snapshot backup {name}"));
    Ok(Plan::Snapshot {
        name: name.to_string(),
        start: Start::Fresh,
    })
}

/// The newest backup whose manifest (or, when incomplete, run record) matches this run's selection.
async fn find_previous(
    store: &dyn ObjectStore,
    settings: &BackupSettings,
    output: &Output,
) -> Result<Previous> {
    let base = &settings.common.s3.base_path;
    for backup in store::backup_names(store, base).await? {
        let name = backup.to_string();
        let manifest = match store::read_manifest(store, base, &name).await? {
            ManifestRead::Found(manifest) => *manifest,
            ManifestRead::Missing => match run_record(store, base, &name).await? {
                Some(record) if continues(&record, settings) => {
                    if Utc::now() - backup.time() <= RESUME_WITHIN {
                        return Ok(Previous::Resumable(name));
                    }
                    output.verbose(format!(
                        "{name}: incomplete, and too old to resume (over {} hours), not continued",
                        RESUME_WITHIN.num_hours()
                    ));
                    continue;
                }
                _ => {
                    output.verbose(format!("{name}: no manifest (incomplete), not continued"));
                    continue;
                }
            },
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
                return Ok(Previous::Nothing);
            }
            return Ok(Previous::Complete(Box::new(manifest)));
        }
    }
    Ok(Previous::Nothing)
}

/// The run record of an incomplete backup: the manifest a run of ours wrote to the staging key before it
/// took the snapshot. `None` when there is none or it does not parse (an old tool's or a foreign prefix).
pub(super) async fn run_record(
    store: &dyn ObjectStore,
    base: &str,
    name: &str,
) -> Result<Option<Manifest>> {
    let key = layout::manifest_staging_key(base, name);
    Ok(store::get(store, &key)
        .await?
        .and_then(|bytes| Manifest::from_json(&key, &bytes).ok()))
}

/// Whether `manifest` describes a backup of the same selection: hosts, keyspaces, table and excluded
/// tables, each compared as a set (the rule `purge` keeps the newest backup of, too).
pub fn continues(manifest: &Manifest, settings: &BackupSettings) -> bool {
    let keyspaces = settings.manifest_keyspaces();
    manifest.selection()
        == Selection::new(
            &settings.hosts,
            keyspaces.as_deref(),
            settings.manifest_table(),
            &settings.exclude_tables,
        )
}

#[cfg(test)]
mod tests;
