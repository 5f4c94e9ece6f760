//! The backup's stream on the nodes (see `crate::stages::streams`): before an incremental, every node
//! must still keep `backups/` links for it, or the run takes a new snapshot instead; after the manifest
//! is written, each node commits what its batch holds, and only then are links deleted.

use super::{BackupJob, Node, Plan, Start, State};
use crate::output::Stage;
use crate::stages::{bounded, streams};
use crate::store;
use chrono::Utc;
use contract::layout::BackupName;
use contract::manifest::Manifest;
use contract::stream::StreamAction;
use std::sync::Mutex;

impl BackupJob {
    /// How to run node-push on `node` (`paths[i]` is where `nodes[i]` has it).
    pub(super) fn node_push_at<'a>(
        &'a self,
        node: &'a Node,
        nodes: &[Node],
        paths: &'a [String],
    ) -> streams::NodePush<'a> {
        let position = nodes
            .iter()
            .position(|n| n.index == node.index)
            .expect("listed");
        streams::NodePush {
            privilege: self.settings.privilege,
            path: &paths[position],
            yaml_path: &node.facts.yaml_path,
        }
    }

    /// The plan to carry out: an incremental stays one only if every node still keeps `backups/` links
    /// for this stream since its backup; a node that dropped the stream (not seen for too long, or a
    /// rebuilt node whose registry is gone while others exist) may have deleted links the incremental
    /// would need, so the run takes a new snapshot. `None` when a node could not be asked.
    pub(super) async fn check_streams(
        &self,
        plan: &Plan,
        nodes: &[Node],
        paths: &[String],
        state: &Mutex<State>,
    ) -> Option<Plan> {
        let Plan::Incremental { base } = plan else {
            return Some(plan.clone());
        };
        let spec = streams::spec(&self.settings);
        let status = StreamAction::Status {
            backup: base.name.clone(),
        };
        let answers = bounded(nodes, self.settings.pool_size, |node| {
            let action = status.clone();
            let spec = &spec;
            async move {
                streams::call(
                    node.remote.as_ref(),
                    self.node_push_at(node, nodes, paths),
                    spec,
                    action,
                )
                .await
            }
        })
        .await;
        let mut dropped = Vec::new();
        let mut first_use = Vec::new();
        for (node, answer) in nodes.iter().zip(answers) {
            match answer {
                Ok(a) if a.registered => {}
                Ok(a) if !a.registry_existed => first_use.push(node),
                Ok(_) => dropped.push(node.remote.host().to_string()),
                Err(error) => self.fail(state, node.index, Stage::Preflight, format!("{error:#}")),
            }
        }
        if Self::any_failed(state) {
            return None;
        }
        if !dropped.is_empty() {
            return self.replan_as_snapshot(base, &dropped, state).await;
        }
        for node in first_use {
            // The first run of this version on the node: it was the only consumer the tool knew of.
            self.output.info(format!(
                "{}: no backup stream registered yet; registering this one for backup {}",
                node.remote.host(),
                base.name
            ));
            let action = StreamAction::Register {
                backup: base.name.clone(),
            };
            let at = self.node_push_at(node, nodes, paths);
            if let Err(error) = streams::call(node.remote.as_ref(), at, &spec, action).await {
                self.fail(state, node.index, Stage::Preflight, format!("{error:#}"));
            }
        }
        (!Self::any_failed(state)).then(|| plan.clone())
    }

    async fn replan_as_snapshot(
        &self,
        base: &Manifest,
        dropped: &[String],
        state: &Mutex<State>,
    ) -> Option<Plan> {
        let store_base = &self.settings.common.s3.base_path;
        let name = match store::free_name(
            self.store.as_ref(),
            store_base,
            BackupName::from_time(Utc::now()),
        )
        .await
        {
            Ok(name) => name.to_string(),
            Err(error) => {
                let error = format!("{error:#}");
                self.output.error(&error);
                state.lock().expect("not poisoned").errors.push(error);
                return None;
            }
        };
        self.output.warn(format!(
            "{} no longer keep(s) backups/ files for backup {} (the stream expired or the node was \
             rebuilt): an incremental could miss data, taking a new snapshot backup {name} instead",
            dropped.join(", "),
            base.name
        ));
        let plan = Plan::Snapshot {
            name,
            start: Start::Fresh,
        };
        state.lock().expect("not poisoned").replanned = Some(plan.clone());
        Some(plan)
    }

    /// After the manifest is written: each node records what this batch holds for the stream
    /// (`committed[i]`, the source identities of `nodes[i]`), then deletes the `backups/` links every
    /// stream covering them has. A failure costs disk space only (the next commit retries), so it is a
    /// warning.
    pub(super) async fn commit_streams(
        &self,
        plan: &Plan,
        nodes: &[Node],
        paths: &[String],
        committed: Vec<Vec<String>>,
        state: &Mutex<State>,
    ) {
        let spec = streams::spec(&self.settings);
        let commits: Vec<(&Node, StreamAction)> = nodes
            .iter()
            .zip(committed)
            .map(|(node, source_ids)| {
                let action = StreamAction::Commit {
                    backup: plan.name().to_string(),
                    source_ids,
                };
                (node, action)
            })
            .collect();
        let done = bounded(&commits, self.settings.pool_size, |(node, action)| {
            let at = self.node_push_at(node, nodes, paths);
            streams::call(node.remote.as_ref(), at, &spec, action.clone())
        })
        .await;
        for ((node, _), answer) in commits.iter().zip(done) {
            let host = node.remote.host();
            match answer {
                Ok(answer) => {
                    state.lock().expect("not poisoned").reports[node.index].files_deleted =
                        answer.deleted;
                    if !answer.expired.is_empty() {
                        self.output.info(format!(
                            "{host}: dropped backup stream(s) not seen for {} days: {}",
                            contract::stream::DEFAULT_EXPIRE_AFTER_DAYS,
                            answer.expired.join("; ")
                        ));
                    }
                    self.output.verbose(format!(
                        "{host}: {} backups/ link(s) deleted, {} kept for other backup streams",
                        answer.deleted, answer.kept_for_others
                    ));
                }
                Err(error) => self.output.warn(format!(
                    "{error:#} (backups/ links are kept; the next run deletes them)"
                )),
            }
        }
    }
}
