//! node-push: the node-side half of cassandra-snapshotter, and the contract both halves share.
//!
//! The contract lives here so that the coordinator (`cassandra-snapshotter`) and the agent (`node-push`)
//! can never disagree about it:
//! - [`layout`]: the S3 key layout (the old Python tool's, both key forms) as builders with parsers;
//! - [`manifest`]: `manifest.json`, the old tool's fields plus per-object entries;
//! - [`message`]: the JSON-lines protocol node-push prints on stdout;
//! - [`lzop`]: the lzop container on top of the `lzo1x` crate;
//! - [`store`]: the object-store trait with S3 and local-directory implementations.
//!
//! The rest is the agent itself: [`select`] finds the files the Cassandra way, [`upload`] runs the
//! walk → compress → multipart pipeline, [`ratelimit`] shares one bandwidth budget across transfers,
//! [`restore`] streams objects back into verified files, and [`verify`] checks a backup's objects in the
//! store (the coordinator's `verify` command runs it).

pub mod agent;
pub mod cli;
pub mod layout;
pub mod lzop;
pub mod manifest;
pub mod message;
pub mod metrics;
pub mod ratelimit;
pub mod restore;
pub mod select;
pub mod session;
pub mod sstable;
pub mod store;
pub mod streams;
pub mod upload;
pub mod verify;

/// The tool's version, reported in the hello message and in manifests.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
