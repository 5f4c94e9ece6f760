//! The backup's stages, one function each, in the order [`BackupJob::stages`](super::BackupJob) runs
//! them: preflight, install, (streams check), snapshot or flush, upload, manifest. Each stage records its
//! failures per host in the shared [`State`] and returns `None` when the run must stop there; the
//! manifest stage runs last and only after every upload was checked.

use super::batch::BatchInput;
use super::{BackupJob, Node, Plan, Start, State};
use crate::output::{human_bytes, Stage};
use crate::stages::preflight::PreflightInput;
use crate::stages::upload::HostUpload;
use crate::stages::{bounded, install, preflight, snapshot, streams, upload};
use chrono::{DateTime, Utc};
use contract::manifest::ObjectEntry;
use contract::stream::StreamAction;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the upload stage leaves for the manifest and the streams' commit.
pub(super) struct Uploaded {
    entries: Vec<ObjectEntry>,
    /// Per node (in the order of `nodes`), the incremental files the target backup already holds.
    in_backup: Vec<Vec<String>>,
    started_at: DateTime<Utc>,
    completed_at: DateTime<Utc>,
}

impl BackupJob {
    /// `Some(())` while no host has failed: the next stage may run.
    pub(super) fn go_on(state: &Mutex<State>) -> Option<()> {
        (!Self::any_failed(state)).then_some(())
    }

    /// Connect and check every host; nothing has changed anywhere yet. An incremental needs
    /// `incremental_backups` on every node.
    pub(super) async fn preflight(&self, plan: &Plan, state: &Mutex<State>) -> Option<Vec<Node>> {
        let s = &self.settings;
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
        let checked = bounded(&indices, s.pool_size, |&index| {
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
                Ok(node) => self.accept_node(plan, node, state),
                Err(error) => self.fail(state, index, Stage::Preflight, format!("{error:#}")),
            }
        }
        Self::go_on(state)?;
        Some(Self::nodes(state))
    }

    fn accept_node(&self, plan: &Plan, node: Node, state: &Mutex<State>) {
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
                self.fail(
                    state,
                    node.index,
                    Stage::Preflight,
                    format!(
                        "{}: incremental_backups is not true in {}, and an incremental into backup {} is due: \
                         enable it (and restart Cassandra) or use --new-snapshot",
                        node.remote.host(),
                        node.facts.yaml_path,
                        base.name
                    ),
                );
            }
        }
        state.lock().expect("not poisoned").nodes.push(node);
    }

    /// Install node-push: the build for each node's architecture. `paths[i]` is where `nodes[i]` has it.
    pub(super) async fn install(
        &self,
        nodes: &[Node],
        state: &Mutex<State>,
    ) -> Option<Vec<String>> {
        let s = &self.settings;
        self.output.stage(Stage::Install, "");
        let installed = bounded(nodes, s.pool_size, |node| async move {
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
        Self::go_on(state)?;
        Some(paths)
    }

    /// A snapshot backup: the run record first (should this run fail, the next one finds the backup by
    /// it), then on all hosts at once: register the stream (claiming every `backups/` link flushed from
    /// now on, before the snapshot exists), and take the snapshot.
    pub(super) async fn take_snapshots(
        &self,
        plan: &Plan,
        nodes: &[Node],
        paths: &[String],
        state: &Mutex<State>,
    ) -> Option<()> {
        let Plan::Snapshot { name, start } = plan else {
            return Some(());
        };
        let s = &self.settings;
        self.output
            .stage(Stage::Snapshot, format!("nodetool snapshot -t {name}"));
        match self.settle_reference(name, *start).await {
            Ok(reference) => state.lock().expect("not poisoned").reference = reference,
            Err(error) => {
                let error = format!("{error:#} (nothing was changed on the nodes)");
                self.output.error(&error);
                state.lock().expect("not poisoned").errors.push(error);
                return None;
            }
        }
        state.lock().expect("not poisoned").snapshot_requested = true;
        let spec = &streams::spec(s);
        let taken = bounded(nodes, nodes.len(), |node| async move {
            let action = StreamAction::Register {
                backup: name.clone(),
            };
            let node_push = self.node_push_at(node, nodes, paths);
            streams::call(node.remote.as_ref(), node_push, spec, action).await?;
            if *start == Start::Resume {
                // The failed run may not have cleared its snapshot (a host it lost): start clean.
                snapshot::clear(node.remote.as_ref(), &node.facts.nodetool, name).await?;
            }
            let table = s.table.as_deref();
            snapshot::take(node.remote.as_ref(), &node.facts, name, &s.keyspaces, table).await
        })
        .await;
        self.fail_each(nodes, taken, Stage::Snapshot, state)
    }

    /// An incremental: flush on all hosts at once, so that memtables reach `backups/`.
    pub(super) async fn flush(
        &self,
        plan: &Plan,
        nodes: &[Node],
        state: &Mutex<State>,
    ) -> Option<()> {
        if !matches!(plan, Plan::Incremental { .. }) {
            return Some(());
        }
        let s = &self.settings;
        self.output.stage(Stage::Flush, "nodetool flush");
        let flushed = bounded(nodes, nodes.len(), |node| {
            let table = s.table.as_deref();
            snapshot::flush(
                node.remote.as_ref(),
                &node.facts.nodetool,
                &s.keyspaces,
                table,
            )
        })
        .await;
        self.fail_each(nodes, flushed, Stage::Flush, state)
    }

    fn fail_each(
        &self,
        nodes: &[Node],
        results: Vec<anyhow::Result<()>>,
        stage: Stage,
        state: &Mutex<State>,
    ) -> Option<()> {
        for (node, result) in nodes.iter().zip(results) {
            if let Err(error) = result {
                self.fail(state, node.index, stage, format!("{error:#}"));
            }
        }
        Self::go_on(state)
    }

    /// node-push on every host (at most `--connection-pool-size` at once); each host's outcome is
    /// recorded in its report. Hosts that failed still contribute the objects they verified.
    pub(super) async fn upload(
        &self,
        plan: &Plan,
        nodes: &[Node],
        paths: &[String],
        state: &Mutex<State>,
    ) -> Uploaded {
        let s = &self.settings;
        self.output.stage(
            Stage::Upload,
            format!("{} host(s), at most {} at once", nodes.len(), s.pool_size),
        );
        let started_at = Utc::now();
        let input = s.common.s3.credentials.node_input();
        let reference = state.lock().expect("not poisoned").reference.clone();
        let uploads = bounded(nodes, s.pool_size, |node| {
            let path = self.node_push_at(node, nodes, paths).path;
            let request = self.upload_args(plan, node, reference.as_deref());
            let command = upload::node_push_command(s.privilege, path, &request);
            let input = &input;
            async move {
                let start = Instant::now();
                let result = upload::run(node.remote.as_ref(), &command, input, &self.output).await;
                (result, start.elapsed())
            }
        })
        .await;
        let mut uploaded = Uploaded {
            entries: Vec::new(),
            in_backup: vec![Vec::new(); nodes.len()],
            started_at,
            completed_at: Utc::now(),
        };
        for (position, (node, (result, elapsed))) in nodes.iter().zip(uploads).enumerate() {
            match result {
                Ok(result) => {
                    let result = self.record_upload(plan, node, result, elapsed, state);
                    uploaded.in_backup[position] = result.in_backup;
                    uploaded.entries.extend(result.entries);
                }
                Err(error) => self.fail(state, node.index, Stage::Upload, format!("{error:#}")),
            }
        }
        uploaded
    }

    /// One host's upload into its report and the log; a failure (or a vanished snapshot file) fails it.
    fn record_upload(
        &self,
        plan: &Plan,
        node: &Node,
        result: HostUpload,
        elapsed: Duration,
        state: &Mutex<State>,
    ) -> HostUpload {
        let host = node.remote.host();
        {
            let mut st = state.lock().expect("not poisoned");
            let report = &mut st.reports[node.index];
            report.files_uploaded = result.uploaded;
            report.files_already_stored = result.already_stored;
            report.files_referenced = result.referenced;
            report.bytes_referenced = result.bytes_referenced;
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
            return result;
        }
        let in_backup = match result.in_backup.len() {
            0 => String::new(),
            n => format!(", {n} already in the backup"),
        };
        let not_resent = match result.summary.as_ref().map_or(0, |s| s.bytes_not_resent) {
            0 => String::new(),
            n => format!(" ({} not sent again)", human_bytes(n)),
        };
        let referenced = match result.referenced {
            0 => String::new(),
            n => format!(
                ", {n} ({}) referenced from an earlier backup",
                human_bytes(result.bytes_referenced)
            ),
        };
        self.output.info(format!(
            "{host}: {} uploaded, {} already stored{not_resent}{in_backup}{referenced}",
            result.uploaded, result.already_stored,
        ));
        result
    }

    /// The manifest, last: a snapshot's only when every host uploaded everything; an incremental's
    /// batch lists what was verified even when a host failed (those files may already be gone from
    /// the node). `None` when none was written: then nothing is deleted from the nodes. Else, per node
    /// (in the order of `nodes`), the source identities its stream commits: the files this batch lists
    /// and those the backup already held.
    pub(super) async fn write_manifest(
        &self,
        plan: &Plan,
        nodes: &[Node],
        uploaded: Uploaded,
        state: &Mutex<State>,
    ) -> Option<Vec<Vec<String>>> {
        let all_ok = !Self::any_failed(state);
        match plan {
            Plan::Snapshot { .. } if !all_ok => {
                self.output
                    .error("not writing a manifest: not every host uploaded its snapshot");
                return None;
            }
            Plan::Incremental { .. } if !all_ok && uploaded.entries.is_empty() => return None,
            _ => {}
        }
        let committed = nodes
            .iter()
            .zip(uploaded.in_backup)
            .map(|(node, mut ids)| {
                let host = node.remote.host();
                ids.extend(
                    uploaded
                        .entries
                        .iter()
                        .filter(|o| o.host == host)
                        .filter_map(|o| o.source_id.clone()),
                );
                ids
            })
            .collect();
        let batch = BatchInput {
            entries: uploaded.entries,
            started_at: uploaded.started_at,
            completed_at: uploaded.completed_at,
            reference: state.lock().expect("not poisoned").reference.clone(),
        };
        if let Err(error) = self.write_metadata(plan, nodes, batch, state).await {
            let error = format!("{error:#} (nothing was deleted from the nodes)");
            self.output.error(&error);
            state.lock().expect("not poisoned").errors.push(error);
            return None;
        }
        Some(committed)
    }
}
