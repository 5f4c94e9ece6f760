//! The contract between the coordinator (`cassandra-snapshotter`) and the agent (`node-push`), and
//! between both and the backups already in a store. Both binaries depend on this crate, so they can
//! never disagree about it:
//! - [`layout`]: the S3 key layout (the old Python tool's, both key forms) as builders with parsers;
//! - [`manifest`]: `manifest.json`, the old tool's fields plus per-object entries, and the one rule of
//!   which backups share a selection;
//! - [`message`]: the JSON-lines protocol node-push prints on stdout, and the lines it reads on stdin;
//! - [`request`]: the one versioned request line every node-push command takes from the coordinator;
//! - [`secret`]: [`secret::Secret`], the string whose `Debug` and `Display` never show it;
//! - [`stream`]: the request and answer of `node-push stream`;
//! - [`exit`]: the exit codes both binaries use.
//!
//! Nothing here does I/O: these are types with builders and parsers, tested by round trip.

pub mod exit;
pub mod layout;
pub mod manifest;
pub mod message;
pub mod request;
pub mod secret;
pub mod stream;

/// The tool's version, reported in the hello message and in manifests.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
