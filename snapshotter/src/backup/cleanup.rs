//! What happens on the nodes after the upload: the snapshot is cleared in every outcome, and after a
//! complete snapshot backup the `backups/` links it made redundant are removed.

use super::{BackupJob, Node, Plan, State};
use crate::output::Stage;
use crate::stages::{bounded, snapshot};
use node_push::manifest::Manifest;
use std::sync::Mutex;

impl BackupJob {
    /// Once a snapshot backup is complete, the `backups/` links of the SSTables it holds are redundant:
    /// remove them so that the next incremental sends only what was flushed after the snapshot. A failure
    /// here costs only bandwidth later, so it is a warning.
    pub(super) async fn prune_incrementals(&self, nodes: &[Node], manifest: &Manifest) {
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

    /// `nodetool clearsnapshot -t NAME` on every host that passed preflight, once a snapshot was requested.
    pub(super) async fn clear_snapshots(&self, plan: &Plan, state: &Mutex<State>) {
        let Plan::Snapshot { name, .. } = plan else {
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
