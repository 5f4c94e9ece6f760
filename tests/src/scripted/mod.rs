//! A scripted Cassandra node: a generated data tree that changes as Cassandra 2.1 to 5.0 would change it,
//! driven by the model tests directly and by the coordinator through `scripted-nodetool`.
//!
//! What it does the Cassandra way (ColumnFamilyStore, Directories, Descriptor, Tracker):
//! - a flush writes each table's memtable as a new SSTable (in one of several data dirs) and, with
//!   `incremental_backups`, hard-links every component into `backups/` (an index's into `backups/.<idx>/`);
//! - compaction writes one new SSTable from a table's live ones and deletes them; its output is not linked;
//! - a snapshot flushes, then hard-links the live SSTables into `snapshots/<tag>/` (3.0+: with
//!   `manifest.json` and `schema.cql`); TRUNCATE flushes, takes `truncated-<ms>-<table>`, drops the live
//!   SSTables and keeps `backups/`;
//! - generations come from a counter per table (and per index) that a restart sets to the highest
//!   generation in the live and `backups/` dirs plus one (4.1+ with `uuid_sstable_identifiers_enabled`:
//!   ULID-like ids that never repeat); a table dir wiped by a rebuild starts again at 1;
//! - refresh loads the SSTables it finds in a table dir under new generations, links them into `backups/`
//!   and builds the table's index entries for them.
//!
//! The node's state (memtables, counters, which SSTables are live) lives in `<node>/scripted/`, so that
//! every `nodetool` process sees the same node. Every nodetool command is appended to `<node>/nodetool.log`.

mod call;
mod naming;
pub mod node;
pub mod sstable;

pub use call::NodetoolCall;
pub use naming::{table_dir_name, uuid_id, Format, Generation, Namer, Version};
pub use node::{Node, NodeSpec, TableSpec};

#[cfg(test)]
mod tests;
