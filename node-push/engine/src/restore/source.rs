//! Finding a backup and its objects in the store: a name or `LATEST`, its manifest, and the entries to
//! restore (from the manifest, or from a listing for backups the old tool wrote).

use super::keys::list_backup_objects;
use crate::store::{ObjectStore, StoreError};
use chrono::{DateTime, Utc};
use contract::layout::{self, BackupName};
use contract::manifest::{Manifest, ManifestError, ObjectEntry};
use std::str::FromStr;

/// `--backup NAME|LATEST` (the old tool's `--snapshot-name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupSelector {
    /// The newest backup with a readable manifest (that includes the host, when one is given).
    Latest,
    Named(BackupName),
}

impl FromStr for BackupSelector {
    type Err = layout::BackupNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("latest") {
            Ok(BackupSelector::Latest)
        } else {
            s.parse().map(BackupSelector::Named)
        }
    }
}

impl std::fmt::Display for BackupSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupSelector::Latest => f.write_str("LATEST"),
            BackupSelector::Named(name) => write!(f, "{name}"),
        }
    }
}

/// Why a backup cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Records(#[from] crate::records::RecordsIoError),
    #[error(
        "no complete backup{} {} (no readable manifest.json)",
        host.as_ref().map(|h| format!(" of host {h}")).unwrap_or_default(),
        under(base)
    )]
    NoBackup { base: String, host: Option<String> },
    #[error(
        "backup {name} {} has no manifest.json (missing, or an incomplete backup)",
        under(base)
    )]
    NoManifest { base: String, name: String },
    #[error("backup {name} was written by the old tool, which recorded no times: --until needs a backup written by this tool")]
    UntilOnLegacy { name: String },
}

/// "under base path "a/b"", or "at the top of the store" for an empty base path.
fn under(base: &str) -> String {
    if base.is_empty() {
        "at the top of the store".to_string()
    } else {
        format!("under base path {base:?}")
    }
}

impl SourceError {
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Store(e) => e.is_retryable(),
            SourceError::Records(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// `<base>/<name>/manifest.json`, parsed; `None` if it does not exist.
pub async fn read_manifest(
    store: &dyn ObjectStore,
    base: &str,
    name: &str,
) -> Result<Option<Manifest>, SourceError> {
    let key = layout::manifest_key(base, name);
    match store.get(&key, None).await {
        Ok(bytes) => Ok(Some(Manifest::from_json(&key, &bytes)?)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The backup `selector` names, with its manifest.
pub async fn find_backup(
    store: &dyn ObjectStore,
    base: &str,
    selector: &BackupSelector,
    host: Option<&str>,
) -> Result<Manifest, SourceError> {
    if let BackupSelector::Named(name) = selector {
        let name = name.to_string();
        return read_manifest(store, base, &name)
            .await?
            .ok_or_else(|| SourceError::NoManifest {
                base: base.to_string(),
                name,
            });
    }
    let listing = store.list(&layout::base_prefix(base), Some("/")).await?;
    let mut names: Vec<BackupName> = listing
        .common_prefixes
        .iter()
        .filter_map(|p| p.trim_end_matches('/').rsplit('/').next()?.parse().ok())
        .collect();
    names.sort_unstable_by(|a, b| b.cmp(a));
    for name in names {
        // Like the old tool's `list`: a backup without a readable manifest is not a backup (yet).
        let manifest = match read_manifest(store, base, &name.to_string()).await {
            Ok(Some(manifest)) => manifest,
            Ok(None) | Err(SourceError::Manifest(_)) => continue,
            Err(e) => return Err(e),
        };
        if host.is_none_or(|h| manifest.hosts.iter().any(|m| m == h)) {
            return Ok(manifest);
        }
    }
    Err(SourceError::NoBackup {
        base: base.to_string(),
        host: host.map(str::to_string),
    })
}

/// The objects of a backup up to `until` (all without it): the manifest's, or for a backup the old tool
/// wrote, every data object found under its prefix.
pub async fn backup_objects(
    store: &dyn ObjectStore,
    base: &str,
    manifest: &Manifest,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<ObjectEntry>, SourceError> {
    if manifest.is_legacy() {
        if until.is_some() {
            return Err(SourceError::UntilOnLegacy {
                name: manifest.name.clone(),
            });
        }
        return Ok(list_backup_objects(store, base, &manifest.name).await?);
    }
    let mut entries = Vec::new();
    for host in &manifest.hosts {
        entries.extend(crate::records::host_entries(store, manifest, host, until).await?);
    }
    Ok(entries)
}
