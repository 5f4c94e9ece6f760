//! Which of a condemned backup's objects the backups that stay still reference, decided one host at a
//! time so that memory is bounded by one host's records.
//!
//! For a condemned backup and a host, the candidates are its objects under `<prefix>/<host>/` and the keys
//! its records for that host hold outside its prefix. A remaining backup is read only when it can
//! reference a candidate: a format-2 batch's [`RecordsSummary::refers_to`] for that host must name the
//! backup that holds one of them (its records document is then streamed and only the referenced
//! candidates kept); a format-1 manifest is checked inline; the old tool's backups reference nothing.
//! Records of one host reference only that host's objects (differential snapshots compare a host with the
//! same host of the reference backup).
//!
//! A backup that is being written and may come to reference a condemned one (its run record names it in
//! `reference`, and it is younger than [`RESUME_WINDOW`]) keeps every object of it.

use super::plan::Found;
use chrono::{DateTime, Utc};
use contract::layout;
use contract::manifest::records::RecordsSummary;
use contract::manifest::Manifest;
use engine::records::{for_each_in_batch, RecordsIoError};
use engine::store::ObjectStore;
use std::collections::{BTreeSet, HashMap, HashSet};

/// How long an incomplete backup may still be resumed (`backup`'s resume rule): within it, its run
/// record's `reference` keeps the backup it names.
pub use crate::store::RESUME_WITHIN as RESUME_WINDOW;

/// The backups that stay, as a fresh listing found them after the condemned manifests were deleted.
pub struct Remaining<'a> {
    base: &'a str,
    /// Complete backups that stay, and the records they hold.
    complete: Vec<&'a Manifest>,
    /// Every backup that stays, in any state: objects under their prefixes are theirs.
    names: BTreeSet<&'a str>,
    /// (backup in progress, backup its run record names in `reference`).
    in_progress: Vec<(&'a str, &'a str)>,
}

impl<'a> Remaining<'a> {
    /// Everything in `found` (name, name time, state) except the `condemned` names.
    pub fn new(
        base: &'a str,
        found: &'a [(String, DateTime<Utc>, Found)],
        condemned: &BTreeSet<&str>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut remaining = Remaining {
            base,
            complete: Vec::new(),
            names: BTreeSet::new(),
            in_progress: Vec::new(),
        };
        for (name, time, state) in found {
            if condemned.contains(name.as_str()) {
                continue;
            }
            remaining.names.insert(name);
            match state {
                Found::Complete(manifest) => remaining.complete.push(manifest),
                Found::Incomplete(Some(record)) if now - *time <= RESUME_WINDOW => {
                    if let Some(reference) = &record.reference {
                        remaining.in_progress.push((name, reference));
                    }
                }
                _ => {}
            }
        }
        remaining
    }

    /// Whether a backup that stays holds `key` under its own prefix.
    pub fn owns(&self, key: &str) -> bool {
        owner(self.base, key).is_some_and(|o| self.names.contains(o))
    }

    /// The backups in progress whose run record names `name` in `reference`.
    pub fn in_progress_referencing(&self, name: &str) -> Vec<String> {
        self.in_progress
            .iter()
            .filter(|(_, reference)| *reference == name)
            .map(|(backup, _)| backup.to_string())
            .collect()
    }

    /// Of `candidates` (keys of `host`), those a backup that stays references, each with the first such
    /// backup. A records document that cannot be read is an error: nothing may then be deleted.
    pub async fn referenced(
        &self,
        store: &dyn ObjectStore,
        host: &str,
        candidates: &HashSet<String>,
    ) -> Result<HashMap<String, String>, RecordsIoError> {
        let owners: BTreeSet<&str> = candidates
            .iter()
            .filter_map(|k| owner(self.base, k))
            .collect();
        let mut kept: HashMap<String, String> = HashMap::new();
        for manifest in &self.complete {
            let mut keep = |key: &str| {
                if candidates.contains(key) && !kept.contains_key(key) {
                    kept.insert(key.to_string(), manifest.name.clone());
                }
            };
            if !manifest.has_records_documents() {
                manifest.inline_objects().for_each(|o| keep(&o.key));
                continue;
            }
            for batch in &manifest.batches {
                let summary = batch.records.iter().find(|r| r.host == host);
                if !summary.is_some_and(|s| may_reference(s, &owners)) {
                    continue;
                }
                for_each_in_batch(store, manifest, batch, host, |e| keep(&e.key)).await?;
            }
        }
        Ok(kept)
    }
}

fn may_reference(summary: &RecordsSummary, owners: &BTreeSet<&str>) -> bool {
    summary
        .refers_to
        .iter()
        .any(|name| owners.contains(name.as_str()))
}

/// The backup whose prefix holds `key`.
pub fn owner<'k>(base: &str, key: &'k str) -> Option<&'k str> {
    key.strip_prefix(&layout::base_prefix(base))?
        .split('/')
        .next()
}
