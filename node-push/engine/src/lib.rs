//! node-push's engine: everything that moves or checks data bytes, as a library. The `node-push` binary
//! is a thin command line over it, and the coordinator uses it where it must read the store itself
//! (`list`, `verify`, `purge`, `restore --local`).
//!
//! - [`digest`]: the content digest of source bytes (BLAKE3; SHA-256 for older entries);
//! - [`lzop`]: the lzop container on top of the `lzo1x` crate, blocks compressed in parallel;
//! - [`store`]: the object-store trait with S3 and local-directory implementations, retries, credentials;
//! - [`select`]: finds the files to back up the Cassandra way (cassandra.yaml, 1.2 to 5.0 layouts);
//! - [`sstable`]: SSTables as component groups, content fingerprints and node-local file identities;
//! - [`upload`]: the walk → compress → multipart pipeline, and what an incremental sends;
//! - [`streams`]: the node's registry of backup streams and the prune of `backups/` links;
//! - [`restore`]: plans where each object goes and streams objects back into verified files;
//! - [`verify`]: checks a backup's objects in the store, shallow or deep;
//! - [`ratelimit`]: one bandwidth budget shared by every transfer of a process;
//! - [`metrics`]: Prometheus textfile metrics.
//!
//! The types both binaries exchange (key layout, manifest, messages, requests, exit codes) are in the
//! `contract` crate; nothing here parses a command line.

pub mod digest;
pub mod lzop;
pub mod metrics;
pub mod ratelimit;
pub mod records;
pub mod restore;
pub mod select;
pub mod sstable;
pub mod store;
pub mod streams;
pub mod upload;
pub mod verify;
