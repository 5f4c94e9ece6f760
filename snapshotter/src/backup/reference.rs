//! Differential snapshots: the reference backup, whose stored objects a new snapshot points at instead
//! of uploading files whose exact bytes it holds (node-push proves that per file, see `UploadRequest::
//! reference_manifest`).
//!
//! The reference is the newest complete backup under the same base path, whatever its selection: one of
//! ours (format 1 or later: it records each object) whose `manifest.json` reads. `--full` takes none. A
//! resumed backup keeps what its run record says: full stays full, and its reference stays while it is
//! complete (the objects already stored were chosen against it).
//! It is named in the run record before any node is touched, so that a `purge` running meanwhile keeps
//! its objects; the run then reads the reference's `manifest.json` once more, and should it be gone
//! (purged just before the record was written) chooses again, or takes a full snapshot.

use super::{BackupJob, Start};
use crate::store::{self, ManifestRead};
use anyhow::Result;
use engine::store::ObjectStore;

/// How many times a reference purged under the run's feet is replaced before the run goes full.
const CHOICES: usize = 2;

/// The newest complete backup of ours under `base` other than `except` (the backup being written).
pub async fn newest_complete(
    store: &dyn ObjectStore,
    base: &str,
    except: &str,
) -> Result<Option<String>> {
    for name in store::backup_names(store, base).await? {
        let name = name.to_string();
        if name == except {
            continue;
        }
        if is_complete(store, base, &name).await? {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Whether `name` is a complete backup of ours that records its objects.
async fn is_complete(store: &dyn ObjectStore, base: &str, name: &str) -> Result<bool> {
    Ok(match store::read_manifest(store, base, name).await? {
        ManifestRead::Found(manifest) => !manifest.is_legacy() && manifest.format_version >= 1,
        ManifestRead::Missing | ManifestRead::Unreadable(_) => false,
    })
}

impl BackupJob {
    /// Writes the run record of snapshot `name` with its reference, and returns the reference (`None`:
    /// a full snapshot). A resumed backup starts from its earlier run record's choice. After each record
    /// is written the reference is read again; a reference gone by then is replaced (and the record
    /// rewritten), at most [`CHOICES`] times, then the run goes full.
    pub(super) async fn settle_reference(
        &self,
        name: &str,
        start: Start,
    ) -> Result<Option<String>> {
        let base = &self.settings.common.s3.base_path;
        let store = self.store.as_ref();
        let earlier = match start {
            Start::Resume => super::plan::run_record(store, base, name)
                .await?
                .map(|record| record.reference),
            Start::Fresh => None,
        };
        if self.settings.full || earlier == Some(None) {
            self.write_run_record(name, None).await?;
            return Ok(None);
        }
        let mut kept = earlier.flatten();
        for _ in 0..CHOICES {
            let found = match kept.take() {
                Some(reference) => Some(reference),
                None => newest_complete(store, base, name).await?,
            };
            let Some(reference) = found else {
                break;
            };
            self.write_run_record(name, Some(&reference)).await?;
            if is_complete(store, base, &reference).await? {
                self.output.info(format!(
                    "differential snapshot: files whose exact bytes backup {reference} stores are \
                     referenced, not uploaded (--full to upload everything)"
                ));
                return Ok(Some(reference));
            }
            self.output.warn(format!(
                "reference backup {reference} is no longer complete (purged?): choosing again"
            ));
        }
        self.write_run_record(name, None).await?;
        self.output
            .info("no complete backup to reference: a full snapshot");
        Ok(None)
    }
}
