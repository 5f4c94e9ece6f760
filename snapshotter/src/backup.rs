//! `backup`: the stages in order, hosts in parallel (at most `--connection-pool-size` at a time), and the
//! rules that keep a backup honest:
//! - nothing changes on any node unless every host passed preflight and got node-push;
//! - a snapshot backup gets its manifest only when every host uploaded everything; an incremental's
//!   batch lists exactly the objects that were verified (their files may already be gone from the node);
//! - `nodetool clearsnapshot` runs on every host once a snapshot was requested, whatever happened,
//!   Ctrl-C and SIGTERM included.

mod plan;

pub use plan::{choose_plan, Plan};

use crate::output::{Output, Stage};
use crate::remote::{Connector, Remote};
use crate::report::{BackupReport, HostReport};
use crate::settings::BackupSettings;
use crate::stages::install::NodePushBinary;
use crate::stages::preflight::{NodeFacts, PreflightInput};
use crate::stages::{bounded, finish, install, preflight, snapshot, upload};
use crate::store;
use bytes::Bytes;
use chrono::Utc;
use node_push::cli::{SseArg, UploadArgs};
use node_push::layout;
use node_push::manifest::{Batch, BatchKind, Manifest, ObjectEntry};
use node_push::store::{Destination, ObjectStore};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A host that passed preflight.
#[derive(Clone)]
struct Node {
    index: usize,
    remote: Arc<dyn Remote>,
    facts: NodeFacts,
}

/// What the run has done so far; shared so that cleanup can see it after an interruption.
struct State {
    reports: Vec<HostReport>,
    nodes: Vec<Node>,
    snapshot_requested: bool,
    errors: Vec<String>,
    manifest_key: Option<String>,
}

/// One `backup` run.
pub struct BackupJob {
    pub settings: BackupSettings,
    pub output: Arc<Output>,
    pub store: Arc<dyn ObjectStore>,
    pub binary: NodePushBinary,
    pub connector: Arc<dyn Connector>,
}

impl BackupJob {
    /// Run every stage for `plan` and report; `interrupt` ends the stages early (Ctrl-C), after which the
    /// snapshot is still cleared.
    pub async fn run(
        self,
        plan: Plan,
        interrupt: impl std::future::Future<Output = ()>,
    ) -> BackupReport {
        let state = Mutex::new(State {
            reports: self
                .settings
                .hosts
                .iter()
                .map(|h| HostReport::new(h))
                .collect(),
            nodes: Vec::new(),
            snapshot_requested: false,
            errors: Vec::new(),
            manifest_key: None,
        });
        let interrupted = tokio::select! {
            () = self.stages(&plan, &state) => false,
            () = interrupt => true,
        };
        if interrupted {
            self.output
                .error("interrupted: node-push stopped on every host; clearing snapshots");
        }
        self.clear_snapshots(&plan, &state).await;
        self.connector.close_all().await;
        let state = state.into_inner().expect("not poisoned");
        let mut errors = state.errors;
        if interrupted {
            errors.push("interrupted before the backup was complete".to_string());
        }
        BackupReport {
            backup: plan.name().to_string(),
            kind: plan.kind(),
            bucket: self.settings.common.s3.bucket.clone(),
            base_path: self.settings.common.s3.base_path.clone(),
            complete: state.manifest_key.is_some() && !interrupted,
            manifest_key: state.manifest_key,
            hosts: state.reports,
            errors,
            interrupted,
        }
    }

    fn fail(&self, state: &Mutex<State>, index: usize, stage: Stage, error: String) {
        self.output.error(&error);
        state.lock().expect("not poisoned").reports[index].fail(stage, error);
    }

    fn any_failed(state: &Mutex<State>) -> bool {
        state
            .lock()
            .expect("not poisoned")
            .reports
            .iter()
            .any(|r| !r.ok)
    }

    fn nodes(state: &Mutex<State>) -> Vec<Node> {
        state.lock().expect("not poisoned").nodes.clone()
    }

    async fn stages(&self, plan: &Plan, state: &Mutex<State>) {
        let s = &self.settings;
        let pool = s.pool_size;
        // Preflight: connect and check every host; nothing has changed anywhere yet.
        self.output
            .stage(Stage::Preflight, format!("{} host(s)", s.hosts.len()));
        let input = PreflightInput {
            conf_path: s.conf_path.clone(),
            nodetool_path: s.nodetool_path.clone(),
            bin_dir: s.bin_dir.clone(),
            privilege: s.privilege,
            nodetool_args: s.nodetool_args.clone(),
        };
        let indices: Vec<usize> = (0..s.hosts.len()).collect();
        let checked = bounded(&indices, pool, |&index| {
            let host = s.hosts[index].clone();
            let input = &input;
            async move {
                let remote = self.connector.connect(&host).await?;
                let facts = preflight::preflight(remote.as_ref(), input).await?;
                anyhow::Ok(Node {
                    index,
                    remote,
                    facts,
                })
            }
        })
        .await;
        for (index, result) in checked.into_iter().enumerate() {
            match result {
                Ok(node) => {
                    self.output.info(format!(
                        "{}: {} Cassandra {}, {}, data in {}",
                        node.remote.host(),
                        node.facts.arch,
                        node.facts.version,
                        node.facts.yaml_path,
                        node.facts.data_dirs.join(", ")
                    ));
                    if let Plan::Incremental { base } = plan {
                        if !node.facts.incremental_backups {
                            self.fail(state, index, Stage::Preflight, format!(
                                "{}: incremental_backups is not true in {}, and an incremental into backup {} is due: \
                                 enable it (and restart Cassandra) or use --new-snapshot",
                                node.remote.host(), node.facts.yaml_path, base.name
                            ));
                        }
                    }
                    state.lock().expect("not poisoned").nodes.push(node);
                }
                Err(error) => self.fail(state, index, Stage::Preflight, format!("{error:#}")),
            }
        }
        if Self::any_failed(state) {
            return;
        }
        let nodes = Self::nodes(state);

        // Install node-push.
        self.output.stage(Stage::Install, "");
        let paths: Vec<String> = nodes
            .iter()
            .map(|n| {
                self.binary
                    .remote_path(s.node_push_path.as_deref(), &n.facts.home)
            })
            .collect();
        let installed = bounded(&nodes, pool, |node| {
            let path = &paths[nodes
                .iter()
                .position(|n| n.index == node.index)
                .expect("listed")];
            async move {
                install::install(node.remote.as_ref(), &self.binary, path, &node.facts.arch).await
            }
        })
        .await;
        for (node, result) in nodes.iter().zip(installed) {
            match result {
                Ok(how) => self
                    .output
                    .verbose(format!("{}: node-push {how:?}", node.remote.host())),
                Err(error) => self.fail(state, node.index, Stage::Install, format!("{error:#}")),
            }
        }
        if Self::any_failed(state) {
            return;
        }

        // Snapshot (or flush for an incremental) on all hosts at once.
        let table = s.table.as_deref();
        let stage = match plan {
            Plan::Snapshot { name } => {
                self.output
                    .stage(Stage::Snapshot, format!("nodetool snapshot -t {name}"));
                state.lock().expect("not poisoned").snapshot_requested = true;
                let taken = bounded(&nodes, nodes.len(), |node| {
                    snapshot::take(node.remote.as_ref(), &node.facts, name, &s.keyspaces, table)
                })
                .await;
                (Stage::Snapshot, taken)
            }
            Plan::Incremental { .. } => {
                self.output.stage(Stage::Flush, "nodetool flush");
                let flushed = bounded(&nodes, nodes.len(), |node| {
                    snapshot::flush(
                        node.remote.as_ref(),
                        &node.facts.nodetool,
                        &s.keyspaces,
                        table,
                    )
                })
                .await;
                (Stage::Flush, flushed)
            }
        };
        for (node, result) in nodes.iter().zip(stage.1) {
            if let Err(error) = result {
                self.fail(state, node.index, stage.0, format!("{error:#}"));
            }
        }
        if Self::any_failed(state) {
            return;
        }

        // Upload.
        self.output.stage(
            Stage::Upload,
            format!("{} host(s), at most {pool} at once", nodes.len()),
        );
        let started_at = Utc::now();
        let input = s.common.s3.credentials.node_input();
        let uploads = bounded(&nodes, pool, |node| {
            let path = &paths[nodes
                .iter()
                .position(|n| n.index == node.index)
                .expect("listed")];
            let command =
                upload::node_push_command(s.privilege, path, &self.upload_args(plan, node));
            let input = &input;
            async move {
                let start = Instant::now();
                let result = upload::run(node.remote.as_ref(), &command, input, &self.output).await;
                (result, start.elapsed())
            }
        })
        .await;
        let completed_at = Utc::now();
        let mut entries: Vec<ObjectEntry> = Vec::new();
        for (node, (result, elapsed)) in nodes.iter().zip(uploads) {
            let host = node.remote.host();
            let result = match result {
                Ok(result) => result,
                Err(error) => {
                    self.fail(state, node.index, Stage::Upload, format!("{error:#}"));
                    continue;
                }
            };
            {
                let mut st = state.lock().expect("not poisoned");
                let report = &mut st.reports[node.index];
                report.files_uploaded = result.uploaded;
                report.files_already_stored = result.already_stored;
                report.files_deleted = result.deleted;
                report.elapsed_ms = elapsed.as_millis() as u64;
                if let Some(summary) = &result.summary {
                    report.bytes_read = summary.bytes_read;
                    report.bytes_stored = summary.bytes_stored;
                }
            }
            if let Some(failure) = result.failure(host) {
                self.fail(state, node.index, Stage::Upload, failure);
            } else {
                self.output.info(format!(
                    "{host}: {} uploaded, {} already stored{}",
                    result.uploaded,
                    result.already_stored,
                    if result.deleted > 0 {
                        format!(", {} removed from backups/", result.deleted)
                    } else {
                        String::new()
                    }
                ));
            }
            entries.extend(result.entries);
        }
        let all_ok = !Self::any_failed(state);
        let manifest = match plan {
            Plan::Snapshot { .. } if !all_ok => {
                self.output
                    .error("not writing a manifest: not every host uploaded its snapshot");
                return;
            }
            // Incremental files that were verified may already be gone from the nodes: record them.
            Plan::Incremental { .. } if !all_ok && entries.is_empty() => return,
            _ => self.manifest_with(plan, entries, started_at, completed_at),
        };
        if let Err(error) = self.write_metadata(plan, &nodes, &manifest, state).await {
            let error = format!("{error:#}");
            self.output.error(&error);
            state.lock().expect("not poisoned").errors.push(error);
            return;
        }
        if let Plan::Snapshot { .. } = plan {
            self.prune_incrementals(&nodes, &manifest).await;
        }
    }

    /// Once a snapshot backup is complete, the `backups/` links of the SSTables it holds are redundant:
    /// remove them so that the next incremental sends only what was flushed after the snapshot. A failure
    /// here costs only bandwidth later, so it is a warning.
    async fn prune_incrementals(&self, nodes: &[Node], manifest: &Manifest) {
        let Some(batch) = manifest.batches.last() else {
            return;
        };
        let pruned = bounded(nodes, self.settings.pool_size, |node| {
            let host = node.remote.host();
            let files: Vec<&str> = batch
                .objects
                .iter()
                .filter(|o| o.host == host && o.source_path.contains("/snapshots/"))
                .map(|o| o.source_path.as_str())
                .collect();
            async move {
                snapshot::prune_incrementals(node.remote.as_ref(), self.settings.privilege, &files)
                    .await
            }
        })
        .await;
        for (node, result) in nodes.iter().zip(pruned) {
            match result {
                Ok(0) => {}
                Ok(n) => self.output.verbose(format!(
                    "{}: removed {n} backups/ link(s) already in the snapshot",
                    node.remote.host()
                )),
                Err(error) => self.output.warn(format!("{error:#}")),
            }
        }
    }

    /// The node-push arguments for `node`.
    fn upload_args(&self, plan: &Plan, node: &Node) -> UploadArgs {
        let s = &self.settings;
        let s3 = &s.common.s3;
        let host = node.remote.host();
        let dest = Destination::S3 {
            bucket: s3.bucket.clone(),
            prefix: layout::host_prefix(&s3.base_path, plan.name(), host)
                .trim_matches('/')
                .to_string(),
        };
        let mut args = UploadArgs::new(dest);
        args.cassandra_yaml = Some(node.facts.yaml_path.clone().into());
        args.keyspaces = s.keyspaces.clone();
        args.table = s.table.clone();
        args.exclude_tables = s.exclude_tables.clone();
        match plan {
            Plan::Snapshot { name } => args.snapshot_tag = Some(name.clone()),
            Plan::Incremental { .. } => {
                args.incremental = true;
                args.delete_after_upload = true;
            }
        }
        args.host_label = Some(host.to_string());
        args.endpoint = s3.endpoint.clone();
        args.region = s3.region.clone();
        args.sse = s3.sse.map(|sse| match sse {
            crate::cli::SseChoice::Aes256 => SseArg::Aes256,
            crate::cli::SseChoice::AwsKms => SseArg::AwsKms,
        });
        args.sse_kms_key_id = s3.sse_kms_key_id.clone();
        args.storage_class = s3.storage_class.clone();
        args.part_size_mib = s.part_size_mib;
        args.concurrency = s.upload_concurrency;
        args.rate_limit = s.rate_limit;
        args.credentials_stdin = true;
        args
    }

    fn manifest_with(
        &self,
        plan: &Plan,
        objects: Vec<ObjectEntry>,
        started_at: chrono::DateTime<Utc>,
        completed_at: chrono::DateTime<Utc>,
    ) -> Manifest {
        let s = &self.settings;
        let (mut manifest, kind) = match plan {
            Plan::Snapshot { name } => {
                let mut m = Manifest::new(
                    name,
                    &s.common.s3.base_path,
                    s.hosts.clone(),
                    s.manifest_keyspaces(),
                    s.manifest_table(),
                );
                m.exclude_tables = s.exclude_tables.clone();
                (m, BatchKind::Snapshot)
            }
            Plan::Incremental { base } => ((**base).clone(), BatchKind::Incremental),
        };
        manifest.batches.push(Batch {
            kind,
            started_at,
            completed_at,
            objects,
        });
        manifest
    }

    /// Ring, schema, then the manifest (staging key first, verified, final key last).
    async fn write_metadata(
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
            self.output.stage(Stage::Schema, "cqlsh DESCRIBE");
            let first = &nodes[0];
            let parts = finish::schema(
                first.remote.as_ref(),
                &self.settings.bin_dir,
                schema,
                &self.settings.keyspaces,
            )
            .await?;
            for (keyspace, cql) in parts {
                let key = layout::schema_key(&s3.base_path, name, keyspace.as_deref());
                store::put(self.store.as_ref(), &key, Bytes::from(cql), &text).await?;
            }
        }
        self.output.stage(Stage::Manifest, "");
        let json = store::put_options(s3, "application/json");
        let key = store::write_manifest(self.store.as_ref(), manifest, &json).await?;
        let (objects, _, stored) = manifest.totals();
        self.output.info(format!(
            "manifest s3://{}/{key}: {objects} objects, {} stored",
            s3.bucket,
            crate::output::human_bytes(stored)
        ));
        state.lock().expect("not poisoned").manifest_key = Some(key);
        Ok(())
    }

    /// `nodetool clearsnapshot -t NAME` on every host that passed preflight, once a snapshot was requested.
    async fn clear_snapshots(&self, plan: &Plan, state: &Mutex<State>) {
        let Plan::Snapshot { name } = plan else {
            return;
        };
        let (requested, nodes) = {
            let st = state.lock().expect("not poisoned");
            (st.snapshot_requested, st.nodes.clone())
        };
        if !requested {
            return;
        }
        self.output.stage(
            Stage::ClearSnapshot,
            format!("nodetool clearsnapshot -t {name}"),
        );
        let cleared = bounded(&nodes, nodes.len(), |node| {
            snapshot::clear(node.remote.as_ref(), &node.facts.nodetool, name)
        })
        .await;
        let mut st = state.lock().expect("not poisoned");
        for (node, result) in nodes.iter().zip(cleared) {
            let ok = match result {
                Ok(()) => true,
                Err(error) => {
                    let error = format!("{error:#} (remove the snapshot {name} by hand)");
                    self.output.error(&error);
                    st.errors.push(error);
                    false
                }
            };
            st.reports[node.index].snapshot_cleared = Some(ok);
        }
    }
}

#[cfg(test)]
mod tests;
