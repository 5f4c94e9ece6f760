//! `backup`: the stages in order, hosts in parallel (at most `--connection-pool-size` at a time), and the
//! rules that keep a backup honest:
//! - nothing changes on any node unless every host passed preflight and got node-push;
//! - a snapshot backup gets its manifest only when every host uploaded everything; an incremental's
//!   batch lists exactly the objects that were verified (their files may already be gone from the node);
//! - `nodetool clearsnapshot` runs on every host once a snapshot was requested, whatever happened,
//!   Ctrl-C and SIGTERM included;
//! - before a snapshot is taken, the backup's run record (its manifest without objects) is written to the
//!   manifest's staging key, so that the next run can resume a backup this one fails to complete;
//! - a new snapshot is differential unless `--full`: the run record names its reference backup before
//!   any node is touched, and node-push references that backup's objects for files whose exact bytes
//!   it stores (see `reference`).

mod batch;
mod cleanup;
mod metadata;
mod plan;
mod reference;
mod steps;
mod stream_steps;

pub use plan::{choose_plan, Plan, Start};

use crate::output::{Output, Stage};
use crate::remote::{Connector, Remote};
use crate::report::{BackupReport, HostReport};
use crate::settings::BackupSettings;
use crate::stages::install::NodePushCatalog;
use crate::stages::preflight::NodeFacts;
use engine::store::ObjectStore;
use std::sync::{Arc, Mutex};

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
    /// A differential snapshot's reference backup, once named in the run record.
    reference: Option<String>,
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
            reference: None,
            replanned: None,
        });
        let interrupted = tokio::select! {
            _ = self.stages(&plan, &state) => false,
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
            reference: state.reference,
            ..BackupReport::default()
        }
        .with_totals()
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

    /// The stages in order (`steps.rs`, one function each). Each returns `None` when the run stops
    /// there; the manifest is written last, and the nodes' streams commit only after it.
    async fn stages(&self, plan: &Plan, state: &Mutex<State>) -> Option<()> {
        let nodes = self.preflight(plan, state).await?;
        let paths = self.install(&nodes, state).await?;
        let plan = self.check_streams(plan, &nodes, &paths, state).await?;
        self.take_snapshots(&plan, &nodes, &paths, state).await?;
        self.flush(&plan, &nodes, state).await?;
        let uploaded = self.upload(&plan, &nodes, &paths, state).await;
        let committed = self.write_manifest(&plan, &nodes, uploaded, state).await?;
        self.commit_streams(&plan, &nodes, &paths, committed, state)
            .await;
        Some(())
    }
}

#[cfg(test)]
mod tests;
