//! This run's batch in the manifest. A format-2 backup (every new snapshot) gets one records document
//! per host (`engine::records`, in `--hosts` order) and a small batch naming them; the documents are
//! written before `manifest.json`, and those of earlier batches are never rewritten. An incremental into
//! a backup an earlier version wrote in format 1 keeps that format: its batch lists the objects inline.

use super::{BackupJob, Plan};
use crate::stages::bounded;
use crate::store;
use anyhow::Context;
use chrono::{DateTime, Utc};
use contract::manifest::{Batch, BatchKind, Manifest, ObjectEntry, RecordsSummary};
use std::collections::BTreeMap;

/// What the upload stage verified, for the manifest.
pub(super) struct BatchInput {
    pub entries: Vec<ObjectEntry>,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    /// A snapshot's reference backup (differential), recorded in its manifest.
    pub reference: Option<String>,
}

impl BackupJob {
    /// The manifest with this run's batch added, its records documents written (not yet `manifest.json`).
    pub(super) async fn manifest_with(
        &self,
        plan: &Plan,
        input: BatchInput,
    ) -> anyhow::Result<Manifest> {
        let (mut manifest, kind) = match plan {
            Plan::Snapshot { name, .. } => {
                let mut manifest = self.new_manifest(name);
                manifest.reference = input.reference.clone();
                (manifest, BatchKind::Snapshot)
            }
            Plan::Incremental { base } => ((**base).clone(), BatchKind::Incremental),
        };
        let (started, completed) = (input.started_at, input.completed_at);
        let batch = if manifest.has_records_documents() {
            let id = Batch::new_id(started, fastrand::u32(..));
            let mut batch = Batch::new(kind, started, completed, id);
            batch.records = self
                .write_records(&manifest.name, &batch.id, input.entries)
                .await?;
            batch
        } else {
            let mut batch = Batch::new(kind, started, completed, String::new());
            batch.objects = input.entries;
            batch
        };
        manifest.batches.push(batch);
        Ok(manifest)
    }

    /// One records document per host with entries, `--hosts` order first (a host the settings do not
    /// name, which node-push never reports, would follow in name order), written a few at a time.
    async fn write_records(
        &self,
        name: &str,
        batch_id: &str,
        entries: Vec<ObjectEntry>,
    ) -> anyhow::Result<Vec<RecordsSummary>> {
        let mut by_host: BTreeMap<String, Vec<ObjectEntry>> = BTreeMap::new();
        for entry in entries {
            by_host.entry(entry.host.clone()).or_default().push(entry);
        }
        let mut hosts: Vec<(String, Vec<ObjectEntry>)> = Vec::new();
        for host in &self.settings.hosts {
            if let Some(entries) = by_host.remove(host) {
                hosts.push((host.clone(), entries));
            }
        }
        hosts.extend(by_host);
        let s3 = &self.settings.common.s3;
        let opts = store::put_options(s3, "application/x-lzop");
        let written = bounded(&hosts, self.settings.pool_size, |(host, entries)| {
            let opts = &opts;
            async move {
                engine::records::write_document(
                    self.store.as_ref(),
                    (&s3.base_path, name, batch_id),
                    host,
                    entries,
                    opts,
                )
                .await
                .with_context(|| format!("cannot write the records of {host}"))
            }
        })
        .await;
        written.into_iter().collect()
    }

    /// An incremental's manifest, re-based on the backup's manifest as stored now: should another run
    /// have added a batch since this one read it, that batch is kept (this run's goes after it) instead
    /// of being overwritten, and its records stay listed.
    pub(super) async fn with_concurrent_batches(&self, plan: &Plan, ours: Manifest) -> Manifest {
        let Plan::Incremental { base } = plan else {
            return ours;
        };
        let s3 = &self.settings.common.s3;
        let current =
            match store::read_manifest(self.store.as_ref(), &s3.base_path, &base.name).await {
                Ok(store::ManifestRead::Found(current)) => current,
                _ => return ours,
            };
        if current.batches.len() <= base.batches.len() {
            return ours;
        }
        self.output.warn(format!(
            "another run added {} batch(es) to backup {} during this one: keeping them",
            current.batches.len() - base.batches.len(),
            base.name
        ));
        let mut merged = *current;
        merged
            .batches
            .extend(ours.batches.into_iter().skip(base.batches.len()));
        merged
    }

    /// The manifest of a new snapshot backup called `name`, without batches.
    pub(super) fn new_manifest(&self, name: &str) -> Manifest {
        let s = &self.settings;
        let mut manifest = Manifest::new(
            name,
            &s.common.s3.base_path,
            s.hosts.clone(),
            s.manifest_keyspaces(),
            s.manifest_table(),
        );
        manifest.exclude_tables = s.exclude_tables.clone();
        manifest
    }
}
