//! The request and answer of `node-push stream`: one consumer of a node's `backups/` directories (a
//! *stream*: one store, base path and selection) registering, asking and committing on a node. The
//! registry and the prune that act on it are in the engine (`engine::streams`).

use serde::{Deserialize, Serialize};

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
