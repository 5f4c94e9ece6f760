//! What happens on the nodes after the upload: the snapshot is cleared in every outcome (the `backups/`
//! links are the business of the stream commit, see `stream_steps`).

use super::{BackupJob, Plan, State};
use crate::output::Stage;
use crate::stages::{bounded, snapshot};
use std::sync::Mutex;

impl BackupJob {
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
