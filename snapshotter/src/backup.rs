//! `backup`: the stages in order, hosts in parallel (at most `--connection-pool-size` at a time), and the
//! rules that keep a backup honest:
//! - nothing changes on any node unless every host passed preflight and got node-push;
//! - a snapshot backup gets its manifest only when every host uploaded everything; an incremental's
//!   batch lists exactly the objects that were verified (their files may already be gone from the node);
//! - `nodetool clearsnapshot` runs on every host once a snapshot was requested, whatever happened,
//!   Ctrl-C and SIGTERM included;
//! - before a snapshot is taken, the backup's run record (its manifest without objects) is written to the
//!   manifest's staging key, so that the next run can resume a backup this one fails to complete.

mod cleanup;
mod metadata;
mod plan;
mod stream_steps;

pub use plan::{choose_plan, Plan, Start};

use crate::output::{Output, Stage};
use crate::remote::{Connector, Remote};
use crate::report::{BackupReport, HostReport};
use crate::settings::BackupSettings;
use crate::stages::install::NodePushCatalog;
use crate::stages::preflight::{NodeFacts, PreflightInput};
use crate::stages::{bounded, install, preflight, snapshot, streams, upload};
use chrono::Utc;
use node_push::manifest::ObjectEntry;
use node_push::store::ObjectStore;
use node_push::streams::StreamAction;
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
    /// Set when the run changed its plan (an incremental whose stream a node no longer keeps became a
    /// new snapshot).
    replanned: Option<Plan>,
}

/// One `backup` run.
pub struct BackupJob {
    pub settings: BackupSettings,
    pub output: Arc<Output>,
    pub store: Arc<dyn ObjectStore>,
    /// The node-push build for each node's architecture.
    pub node_push: NodePushCatalog,
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
            replanned: None,
        });
        let interrupted = tokio::select! {
            () = self.stages(&plan, &state) => false,
            () = interrupt => true,
        };
        if interrupted {
            self.output
                .error("interrupted: node-push stopped on every host; clearing snapshots");
        }
        let replanned = state.lock().expect("not poisoned").replanned.take();
        let plan = replanned.unwrap_or(plan);
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
            keyspaces: s.keyspaces.clone(),
            table: s.table.clone(),
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

        // Install node-push: the build for each node's architecture. `paths[i]` is where `nodes[i]` has it.
        self.output.stage(Stage::Install, "");
        let installed = bounded(&nodes, pool, |node| async move {
            let binary = self
                .node_push
                .for_node(node.remote.host(), &node.facts.arch)?;
            let path = binary.remote_path(s.node_push_path.as_deref(), &node.facts.home);
            let how =
                install::install(node.remote.as_ref(), &binary, &path, &node.facts.arch).await?;
            anyhow::Ok((path, how))
        })
        .await;
        let mut paths: Vec<String> = Vec::new();
        for (node, result) in nodes.iter().zip(installed) {
            match result {
                Ok((path, how)) => {
                    self.output.verbose(format!(
                        "{}: node-push {how:?} at {path}",
                        node.remote.host()
                    ));
                    paths.push(path);
                }
                Err(error) => self.fail(state, node.index, Stage::Install, format!("{error:#}")),
            }
        }
        if Self::any_failed(state) {
            return;
        }
        let Some(plan) = self.check_streams(plan, &nodes, &paths, state).await else {
            return;
        };
        self.snapshot_and_upload(&plan, &nodes, &paths, state).await;
    }

    /// Snapshot (or flush), upload, manifest, commit: the stages that change something.
    async fn snapshot_and_upload(
        &self,
        plan: &Plan,
        nodes: &[Node],
        paths: &[String],
        state: &Mutex<State>,
    ) {
        let s = &self.settings;
        let pool = s.pool_size;
        let spec = streams::spec(s);
        // Snapshot (or flush for an incremental) on all hosts at once.
        let table = s.table.as_deref();
        let stage = match plan {
            Plan::Snapshot { name, start } => {
                self.output
                    .stage(Stage::Snapshot, format!("nodetool snapshot -t {name}"));
                // The run record goes first: should this run fail, the next one finds the backup by it.
                if let Err(error) = self.write_run_record(plan).await {
                    let error = format!("{error:#} (nothing was changed on the nodes)");
                    self.output.error(&error);
                    state.lock().expect("not poisoned").errors.push(error);
                    return;
                }
                state.lock().expect("not poisoned").snapshot_requested = true;
                let spec = &spec;
                let taken = bounded(nodes, nodes.len(), |node| async move {
                    // Claim every backups/ link flushed from now on, before the snapshot exists.
                    let action = StreamAction::Register {
                        backup: name.clone(),
                    };
                    streams::call(
                        node.remote.as_ref(),
                        self.node_push_at(node, nodes, paths),
                        spec,
                        action,
                    )
                    .await?;
                    if *start == Start::Resume {
                        // The failed run may not have cleared its snapshot (a host it lost): start clean.
                        snapshot::clear(node.remote.as_ref(), &node.facts.nodetool, name).await?;
                    }
                    snapshot::take(node.remote.as_ref(), &node.facts, name, &s.keyspaces, table)
                        .await
                })
                .await;
                (Stage::Snapshot, taken)
            }
            Plan::Incremental { .. } => {
                self.output.stage(Stage::Flush, "nodetool flush");
                let flushed = bounded(nodes, nodes.len(), |node| {
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
        let uploads = bounded(nodes, pool, |node| {
            let path = self.node_push_at(node, nodes, paths).path;
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
        let mut in_backup: Vec<Vec<String>> = vec![Vec::new(); nodes.len()];
        for (position, (node, (result, elapsed))) in nodes.iter().zip(uploads).enumerate() {
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
                report.files_in_backup = result.in_backup.len() as u64;
                report.elapsed_ms = elapsed.as_millis() as u64;
                if let Some(summary) = &result.summary {
                    report.bytes_read = summary.bytes_read;
                    report.bytes_stored = summary.bytes_stored;
                    report.bytes_not_resent = summary.bytes_not_resent;
                }
            }
            // Compaction never removes a snapshot's hard links: a snapshot file that vanished was removed
            // by someone (a clearsnapshot), and the backup would lack part of a table.
            let vanished_from_snapshot = match plan {
                Plan::Snapshot { name, .. } => result.vanished.first().map(|first| {
                    format!(
                        "{host}: {} file(s) of snapshot {name} vanished during the upload, first: {first} \
                         (was the snapshot cleared?)",
                        result.vanished.len()
                    )
                }),
                Plan::Incremental { .. } => None,
            };
            if let Some(failure) = result.failure(host).or(vanished_from_snapshot) {
                self.fail(state, node.index, Stage::Upload, failure);
            } else {
                let not_resent = result.summary.as_ref().map_or(0, |s| s.bytes_not_resent);
                let in_backup = match result.in_backup.len() {
                    0 => String::new(),
                    n => format!(", {n} already in the backup"),
                };
                let not_resent = match not_resent {
                    0 => String::new(),
                    n => format!(" ({} not sent again)", crate::output::human_bytes(n)),
                };
                self.output.info(format!(
                    "{host}: {} uploaded, {} already stored{not_resent}{in_backup}",
                    result.uploaded, result.already_stored,
                ));
            }
            in_backup[position] = result.in_backup;
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
        let manifest = self.with_concurrent_batches(plan, manifest).await;
        if let Err(error) = self.write_metadata(plan, nodes, &manifest, state).await {
            let error = format!("{error:#} (nothing was deleted from the nodes)");
            self.output.error(&error);
            state.lock().expect("not poisoned").errors.push(error);
            return;
        }
        self.commit_streams(plan, nodes, paths, &manifest, in_backup, state)
            .await;
    }
}

#[cfg(test)]
mod tests;
