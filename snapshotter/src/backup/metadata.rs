//! The objects a run writes besides the data: node-push's upload request that decides where the data goes
//! (and which backup a differential snapshot references), the run record, and ring, schema, records and
//! manifest in the store (the manifest last).

use super::batch::BatchInput;
use super::{BackupJob, Node, Plan, State};
use crate::output::Stage;
use crate::remote::Remote;
use crate::stages::finish;
use crate::stages::preflight::NodeFacts;
use crate::store;
use bytes::Bytes;
use contract::layout;
use contract::request::{Sse, StoreRequest, UploadRequest};
use engine::store::Destination;
use std::sync::Mutex;

impl BackupJob {
    /// The node-push upload request for `node`; `reference` is a differential snapshot's reference.
    pub(super) fn upload_args(
        &self,
        plan: &Plan,
        node: &Node,
        reference: Option<&str>,
    ) -> UploadRequest {
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
            Plan::Snapshot { name, .. } => {
                args.snapshot_tag = Some(name.clone());
                args.reference_manifest = reference.map(|r| layout::manifest_key(&s3.base_path, r));
            }
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

    /// Before a snapshot backup touches the nodes: its manifest without objects at the staging key, the
    /// record by which the next run finds (and resumes) this backup should this run not complete it, and
    /// by which `purge` sees the backup it may come to reference. The final manifest overwrites it, and
    /// removes it once `manifest.json` is in place.
    pub(super) async fn write_run_record(
        &self,
        name: &str,
        reference: Option<&str>,
    ) -> anyhow::Result<()> {
        let s3 = &self.settings.common.s3;
        let mut record = self.new_manifest(name);
        record.reference = reference.map(str::to_string);
        store::put(
            self.store.as_ref(),
            &layout::manifest_staging_key(&s3.base_path, name),
            Bytes::from(record.to_json()),
            &store::put_options(s3, "application/json"),
        )
        .await
    }

    /// Ring, schema, this batch's records documents, then the manifest (staging key first, verified,
    /// final key last).
    pub(super) async fn write_metadata(
        &self,
        plan: &Plan,
        nodes: &[Node],
        batch: BatchInput,
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
        let manifest = self.manifest_with(plan, batch).await?;
        let manifest = &self.with_concurrent_batches(plan, manifest).await;
        let json = store::put_options(s3, "application/json");
        let key = store::write_manifest(self.store.as_ref(), manifest, &json).await?;
        let totals = manifest.totals();
        self.output.info(format!(
            "manifest s3://{}/{key}: {} objects, {} stored ({} in this backup, {} referenced)",
            s3.bucket,
            totals.objects,
            crate::output::human_bytes(totals.stored),
            crate::output::human_bytes(totals.added),
            crate::output::human_bytes(totals.referenced())
        ));
        state.lock().expect("not poisoned").manifest_key = Some(key);
        Ok(())
    }
}
