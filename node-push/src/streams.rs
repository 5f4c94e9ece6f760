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
//! [`crate::message::Message::Stream`] answer.

pub mod prune;
pub mod registry;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The version of [`StreamRequest`] this build reads.
pub const STREAM_REQUEST_VERSION: u32 = 1;

/// How long a stream that is not seen again keeps its claim on `backups/` links, by default.
pub const DEFAULT_EXPIRE_AFTER_DAYS: u32 = 14;

/// One consumer of a node's `backups/` directories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// Stable id: [`stream_id`] of the store, base path and selection.
    pub id: String,
    /// What an operator reads in logs and in the registry: `s3://bucket/base (keyspaces shop; all tables)`.
    pub label: String,
    /// Keyspaces covered; empty means all.
    #[serde(default)]
    pub keyspaces: Vec<String>,
    /// The one table covered (a table name), or none for all.
    #[serde(default)]
    pub table: Option<String>,
    /// `table` or `keyspace.table` entries left out.
    #[serde(default)]
    pub exclude_tables: Vec<String>,
}

impl StreamSpec {
    /// Whether this stream backs up `table` of `keyspace` (same rules as `--keyspaces`, `--table` and
    /// `--exclude-tables`).
    pub fn covers(&self, keyspace: &str, table: &str) -> bool {
        let keyspace_taken =
            self.keyspaces.is_empty() || self.keyspaces.iter().any(|k| k == keyspace);
        let table_taken = self.table.as_deref().is_none_or(|t| t == table);
        // The walk's own rule; an entry the walk would have refused excludes nothing.
        let excluded = self.exclude_tables.iter().any(|entry| {
            crate::select::filter::ExcludeRule::parse(entry)
                .is_ok_and(|rule| rule.matches(keyspace, table))
        });
        keyspace_taken && table_taken && !excluded
    }
}

/// The id of a stream: hex SHA-256 (first 16 bytes) of where it stores and what it selects.
pub fn stream_id(store: &str, base_path: &str, selection: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{store}\n{base_path}\n{selection}").as_bytes());
    hex::encode(&digest[..16])
}

/// What a `node-push stream` run does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StreamAction {
    /// Before a snapshot backup: the stream now continues backup `backup`, and claims every link
    /// flushed from now on.
    Register { backup: String },
    /// Before an incremental into `backup`: does this node keep `backups/` links for it?
    Status { backup: String },
    /// After the batch of `backup` listing these files was committed: record them, then delete the links
    /// every covering stream has.
    Commit {
        backup: String,
        source_ids: Vec<String>,
    },
}

/// The JSON line `node-push stream` reads on stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRequest {
    pub version: u32,
    pub stream: StreamSpec,
    pub action: StreamAction,
    #[serde(default = "default_expiry")]
    pub expire_after_days: u32,
}

fn default_expiry() -> u32 {
    DEFAULT_EXPIRE_AFTER_DAYS
}

/// What `node-push stream` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamAnswer {
    /// The registry directory used.
    pub registry: String,
    /// False when the registry held no stream at all before this run (first use on this node).
    pub registry_existed: bool,
    /// Whether the stream is registered for the request's backup (after this run).
    pub registered: bool,
    /// `backups/` links deleted because every covering stream has them.
    pub deleted: u64,
    /// Links this stream has committed that another stream still needs.
    pub kept_for_others: u64,
    /// Labels of streams dropped for not being seen within `expire_after_days`.
    pub expired: Vec<String>,
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

/// `node-push stream`: read the request line from `stdin`, find the data dirs and the registry, run it.
pub fn command(
    args: &crate::cli::StreamArgs,
    stdin: &mut impl std::io::BufRead,
) -> anyhow::Result<StreamAnswer> {
    let request: StreamRequest = crate::session::read_json_line(stdin, "stream request")?;
    let data_dirs = if !args.data_dirs.is_empty() {
        args.data_dirs.clone()
    } else {
        let yaml = args
            .cassandra_yaml
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("give --cassandra-yaml FILE or --data-dir DIR"))?;
        let located = crate::select::locate_cassandra_yaml(yaml);
        crate::select::cassandra_yaml_settings(&located)?.dirs_to_walk()
    };
    let state_dir = state_dir(args.state_dir.as_deref(), &data_dirs)?;
    run(&request, &data_dirs, &state_dir)
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
