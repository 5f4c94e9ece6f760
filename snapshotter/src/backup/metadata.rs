//! The objects a run writes besides the data: node-push's upload request that decides where the data goes, the
//! manifest with this run's batch, and ring, schema and manifest in the store (the manifest last).

use super::{BackupJob, Node, Plan, State};
use crate::output::Stage;
use crate::remote::Remote;
use crate::stages::finish;
use crate::stages::preflight::NodeFacts;
use crate::store;
use bytes::Bytes;
use chrono::Utc;
use contract::layout;
use contract::manifest::{Batch, BatchKind, Manifest, ObjectEntry};
use contract::request::{Sse, StoreRequest, UploadRequest};
use engine::store::Destination;
use std::sync::Mutex;

impl BackupJob {
    /// The node-push upload request for `node`.
    pub(super) fn upload_args(&self, plan: &Plan, node: &Node) -> UploadRequest {
        let s = &self.settings;
        let s3 = &s.common.s3;
        let host = node.remote.host();
        let dest = Destination::S3 {
            bucket: s3.bucket.clone(),
            prefix: layout::host_prefix(&s3.base_path, plan.name(), host)
                .trim_matches('/')
                .to_string(),
        };
        let mut args = UploadRequest::new(StoreRequest {
            url: dest.to_string(),
            endpoint: s3.endpoint.clone(),
            region: s3.region.clone(),
            profile: None,
        });
        args.cassandra_yaml = Some(node.facts.yaml_path.clone().into());
        args.keyspaces = s.keyspaces.clone();
        args.table = s.table.clone();
        args.exclude_tables = s.exclude_tables.clone();
        match plan {
            Plan::Snapshot { name, .. } => args.snapshot_tag = Some(name.clone()),
            // What the backup already holds decides what is sent and under which key; nothing is
            // deleted by the upload (the stream commit does that once the manifest is written).
            Plan::Incremental { base } => {
                args.incremental = true;
                args.committed_manifest = Some(layout::manifest_key(&s3.base_path, &base.name));
            }
        }
        args.host_label = Some(host.to_string());
        args.sse = s3.sse.map(|sse| match sse {
            crate::cli::SseChoice::Aes256 => Sse::Aes256,
            crate::cli::SseChoice::AwsKms => Sse::AwsKms,
        });
        args.sse_kms_key_id = s3.sse_kms_key_id.clone();
        args.storage_class = s3.storage_class.clone();
        args.part_size_mib = s.part_size_mib;
        args.concurrency = s.upload_concurrency;
        args.rate_limit_kib = s.rate_limit;
        args
    }

    pub(super) fn manifest_with(
        &self,
        plan: &Plan,
        objects: Vec<ObjectEntry>,
        started_at: chrono::DateTime<Utc>,
        completed_at: chrono::DateTime<Utc>,
    ) -> Manifest {
        let (mut manifest, kind) = match plan {
            Plan::Snapshot { name, .. } => (self.new_manifest(name), BatchKind::Snapshot),
            Plan::Incremental { base } => ((**base).clone(), BatchKind::Incremental),
        };
        // Format 1 (objects inline) until the records documents are written here.
        manifest.format_version = 1;
        let mut batch = Batch::new(kind, started_at, completed_at, String::new());
        batch.objects = objects;
        manifest.batches.push(batch);
        manifest
    }

    /// An incremental's manifest, re-based on the backup's manifest as stored now: should another run
    /// have added a batch since this one read it, that batch is kept (this run's goes after it) instead
    /// of being overwritten, and its objects stay listed.
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
    fn new_manifest(&self, name: &str) -> Manifest {
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

    /// Before a snapshot backup touches the nodes: its manifest without objects at the staging key, the
    /// record by which the next run finds (and resumes) this backup should this run not complete it. The
    /// final manifest overwrites it, and removes it once `manifest.json` is in place.
    pub(super) async fn write_run_record(&self, plan: &Plan) -> anyhow::Result<()> {
        let Plan::Snapshot { name, .. } = plan else {
            return Ok(());
        };
        let s3 = &self.settings.common.s3;
        let record = self.new_manifest(name);
        store::put(
            self.store.as_ref(),
            &layout::manifest_staging_key(&s3.base_path, name),
            Bytes::from(record.to_json()),
            &store::put_options(s3, "application/json"),
        )
        .await
    }

    /// Ring, schema, then the manifest (staging key first, verified, final key last).
    pub(super) async fn write_metadata(
        &self,
        plan: &Plan,
        nodes: &[Node],
        manifest: &Manifest,
        state: &Mutex<State>,
    ) -> anyhow::Result<()> {
        let s3 = &self.settings.common.s3;
        let name = plan.name();
        self.output.stage(Stage::Ring, "");
        let hosts: Vec<(&dyn Remote, &NodeFacts)> = nodes
            .iter()
            .map(|n| (n.remote.as_ref(), &n.facts))
            .collect();
        let (from, ring) = finish::ring(&hosts).await?;
        self.output.verbose(format!("ring from {from}"));
        let text = store::put_options(s3, "text/plain");
        store::put(
            self.store.as_ref(),
            &layout::ring_key(&s3.base_path, name),
            Bytes::from(ring),
            &text,
        )
        .await?;
        if let Some(schema) = &self.settings.schema {
            let first = &nodes[0];
            let dialect = crate::schema::stored::dialect_of(first.facts.version);
            self.output.stage(Stage::Schema, dialect.client());
            let target = crate::schema::client::ClientTarget {
                bin_dir: &self.settings.bin_dir,
                host: first.remote.host(),
                yaml_path: &first.facts.yaml_path,
                credentials: schema,
            };
            let parts = crate::schema::stored::take(
                first.remote.as_ref(),
                &target,
                first.facts.version,
                &self.settings.keyspaces,
            )
            .await?;
            for part in parts {
                let key = part.key(&s3.base_path, name);
                let body = Bytes::from(part.schema.text);
                store::put(self.store.as_ref(), &key, body, &text).await?;
            }
        }
        self.output.stage(Stage::Manifest, "");
        let json = store::put_options(s3, "application/json");
        let key = store::write_manifest(self.store.as_ref(), manifest, &json).await?;
        let totals = manifest.totals();
        self.output.info(format!(
            "manifest s3://{}/{key}: {} objects, {} stored",
            s3.bucket,
            totals.objects,
            crate::output::human_bytes(totals.stored)
        ));
        state.lock().expect("not poisoned").manifest_key = Some(key);
        Ok(())
    }
}
