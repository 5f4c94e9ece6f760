//! Backup streams on a node, and when a `backups/` link may go.
//!
//! Cassandra hard-links every flushed SSTable into `backups/` and never removes the links; whoever backs
//! them up must. But a node often has several consumers of that one directory: the coordinator's backups
//! of different selections or base paths, a node-push under cron, each needing every link flushed since
//! its own last run. Deleting what one of them has stored would make the others' next incremental miss
//! rows while every run reports success.
//!
//! So each consumer is a *stream* (one store, base path and selection; [`StreamSpec`]), registered on
//! the node in a small registry ([`registry`]) before its snapshot is taken. After a stream commits a
//! batch (its manifest is written), node-push records the identities ([`crate::sstable::source_id`]) of
//! the files it holds and deletes a `backups/` link only when **every** registered stream whose selection
//! covers that table has committed that very file ([`prune`]). A stream that has not been seen for
//! `expire_after_days` is dropped, and an incremental of a stream the node does not know (dropped, or its
//! registry lost with a rebuilt node) must not rely on `backups/`: the coordinator takes a new snapshot.
//!
//! `node-push stream` reads one [`StreamRequest`] JSON line on stdin and prints one
//! [`contract::message::Message::Stream`] answer.

pub mod prune;
pub mod registry;

use contract::stream::{
    stream_id, StreamAction, StreamAnswer, StreamRequest, StreamSpec, STREAM_REQUEST_VERSION,
};
use std::path::{Path, PathBuf};

/// Whether `stream` backs up `table` of `keyspace` (same rules as `--keyspaces`, `--table` and
/// `--exclude-tables`).
pub fn covers(stream: &StreamSpec, keyspace: &str, table: &str) -> bool {
    let keyspace_taken =
        stream.keyspaces.is_empty() || stream.keyspaces.iter().any(|k| k == keyspace);
    let table_taken = stream.table.as_deref().is_none_or(|t| t == table);
    // The walk's own rule; an entry the walk would have refused excludes nothing.
    let excluded = stream.exclude_tables.iter().any(|entry| {
        crate::select::filter::ExcludeRule::parse(entry)
            .is_ok_and(|rule| rule.matches(keyspace, table))
    });
    keyspace_taken && table_taken && !excluded
}

/// The registry directory for a node whose first data directory is `first_data_dir`: a hidden directory
/// beside it (never inside: Cassandra takes every directory in a data dir for a keyspace). A user who
/// may not write there (an SSH user that reads the data but does not own it) gets one under
/// `~/.cache/cassandra-snapshotter/`, per data directory; such a user cannot delete `backups/` links
/// anyway, so a registry of its own takes nothing from Cassandra's owner.
pub fn default_state_dir(first_data_dir: &Path) -> PathBuf {
    let parent = first_data_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("/"));
    let beside = parent.join(".cassandra-snapshotter");
    if fs_err::create_dir_all(&beside).is_ok() {
        return beside;
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let tag = stream_id(&first_data_dir.display().to_string(), "", "state");
    home.join(".cache/cassandra-snapshotter")
        .join(format!("streams-{}", &tag[..12]))
}

/// `--state-dir` when given, else [`default_state_dir`] of the first data directory.
pub fn state_dir(given: Option<&Path>, data_dirs: &[PathBuf]) -> anyhow::Result<PathBuf> {
    match (given, data_dirs.first()) {
        (Some(dir), _) => Ok(dir.to_path_buf()),
        (None, Some(first)) => Ok(default_state_dir(first)),
        (None, None) => anyhow::bail!("no data directory to keep the stream registry beside"),
    }
}

/// Carry out `request` for a node with `data_dirs`, keeping the registry in `state_dir`.
pub fn run(
    request: &StreamRequest,
    data_dirs: &[PathBuf],
    state_dir: &Path,
) -> anyhow::Result<StreamAnswer> {
    anyhow::ensure!(
        request.version == STREAM_REQUEST_VERSION,
        "stream request version {} is not {STREAM_REQUEST_VERSION}: coordinator and node-push differ",
        request.version
    );
    let now = chrono::Utc::now();
    let mut registry = registry::Registry::open(state_dir)?;
    let mut answer = StreamAnswer {
        registry: state_dir.display().to_string(),
        registry_existed: !registry.is_empty(),
        ..StreamAnswer::default()
    };
    answer.expired = registry.expire(now, request.expire_after_days, &request.stream.id);
    match &request.action {
        StreamAction::Register { backup } => registry.register(&request.stream, backup, now),
        StreamAction::Status { .. } => {}
        StreamAction::Commit { backup, source_ids } => {
            registry.commit(&request.stream, backup, source_ids, now);
            // What the batch holds is recorded even if the prune below fails part way.
            registry.save()?;
            let pruned = prune::prune(&mut registry, &request.stream.id, data_dirs)?;
            answer.deleted = pruned.deleted;
            answer.kept_for_others = pruned.kept_for_others;
        }
    }
    let backup = match &request.action {
        StreamAction::Register { backup }
        | StreamAction::Status { backup }
        | StreamAction::Commit { backup, .. } => backup,
    };
    answer.registered = registry.is_registered(&request.stream.id, backup);
    registry.save()?;
    Ok(answer)
}

#[cfg(test)]
mod tests;
