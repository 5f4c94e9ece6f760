//! Restore: bring backup objects back as the files they were, byte for byte, without ever leaving a
//! half-written or unverified file where Cassandra would load it.
//!
//! The steps, each usable on its own (the coordinator plans on the laptop and sends each node its part):
//! 1. find the objects: [`find_backup`] (`NAME` or `LATEST`) and [`backup_objects`] (the manifest's entries,
//!    up to a point in time; or, for a backup the old tool wrote, [`objects_from_listing`]);
//! 2. plan: [`plan_restore`] maps each object to its target path ([`RestoreMode::Stage`] with Cassandra's
//!    names, or the old tool's [`RestoreMode::Flat`] layout), filtered by keyspace, table and host, with a
//!    [`HostMap`]; [`RestorePlan::request_for`] is one node's [`RestoreRequest`];
//! 3. run: [`restore_files`] streams every object through the lzop decoder with bounded memory (ranged
//!    GETs of `chunk_size`, at most three chunks per file in flight, `concurrency` files at a time),
//!    checks the lzop checksums, the size and the recorded digest (BLAKE3, or SHA-256) against the entry, writes `<target>.part`, and
//!    fsyncs and renames it to `<target>` only when everything matched.
//!
//! `node-push restore` (the `node-push` crate's `restore_command`) and the stdin protocol in
//! [`contract::message`]).

mod error;
mod fetch;
mod host_map;
mod keys;
mod plan;
mod run;
mod source;
pub mod sstable;
mod write;

pub use error::RestoreError;
pub use fetch::{Decoded, FetchConfig, ObjectError};
pub use host_map::{HostMap, HostMapError};
pub use keys::{list_backup_objects, objects_from_listing};
pub use plan::{
    check_request, plan_restore, PlanError, PlannedFile, RestoreMode, RestoreOptions, RestorePlan,
};
pub use run::{
    restore_files, restore_one, Events, FileResult, OnFailure, RestoreConfig, RestoreReport,
};
pub use source::{backup_objects, find_backup, read_manifest, BackupSelector, SourceError};
pub use write::{part_path, Owner};

pub(crate) use fetch::{check_stored, decode_checked, ChunkedReader, DecodeError, Discard};
