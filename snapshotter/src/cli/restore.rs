//! `restore`'s raw flags: the old tool's (`--snapshot-name`, `--keyspace`, `--table`, `--hosts`,
//! `--target-hosts`, `--local`, `--no-sstableloader`, `--restore-dir`, `--cassandra-bin-dir`) plus `--until`,
//! `--host-map`, `--mode`, and the node-access group `backup` has ([`NodeAccessArgs`]), for the modes that
//! work on the nodes.

use super::NodeAccessArgs;
use clap::{Args, ValueEnum};
use engine::restore::HostMap;
use std::path::PathBuf;

/// Where the restored files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeArg {
    /// node-push on each target node downloads, verifies and decompresses into a staging dir inside the
    /// data dir (`<data dir>/.restore-staging/<backup>/<source host>/<ks>/<table dir>/`).
    Stage,
    /// Stage, then load into the running Cassandra: `nodetool import` from 4.0, before it a move into the
    /// live table dirs and `nodetool refresh ks table`.
    Refresh,
    /// Stage, then move the SSTables into place on a node whose Cassandra is stopped; prints the node's
    /// tokens for `initial_token`.
    InPlace,
    /// Download to this machine (`--restore-dir`), the old tool's layout `<ks>/<table dir>/<host>_<file>`
    /// (`<table dir>` as on the node: `<table>` up to 2.0, `<table>-<id>` from 2.1).
    Local,
    /// Download to this machine and stream each table with `sstableloader -d <--target-hosts>`.
    Sstableloader,
}

/// `restore`. The node-access group's help is reworded where restore does more, or other things, than
/// `backup` on the nodes.
#[derive(Debug, Args)]
#[command(
    mut_arg("use_sudo", |a| a.help(
        "Run node-push, nodetool and the file moves with `sudo -n` (`--use-sudo` or `--use-sudo=true`)"
    )),
    mut_arg("cassandra_conf_path", |a| a.help(
        "Directory holding cassandra.yaml on the nodes (default: $CASSANDRA_CONF, /etc/cassandra/conf/, \
         /etc/cassandra/)"
    )),
    mut_arg("nodetool_path", |a| a.help(
        "nodetool on the nodes (default: `nodetool` on PATH, else <cassandra-bin-dir>/nodetool)"
    )),
    mut_arg("nodetool_args", |a| a.help(
        "Extra arguments for every nodetool call (JMX credentials); never shown in logs"
    )),
    mut_arg("connection_pool_size", |a| a.help("Target nodes worked on at the same time")),
)]
pub struct RestoreArgs {
    /// The backup to restore: its name, or LATEST for the newest complete one.
    #[arg(long, default_value = "LATEST", value_name = "NAME|LATEST")]
    pub snapshot_name: String,
    /// The keyspace to restore.
    #[arg(long, required = true, value_name = "KS")]
    pub keyspace: String,
    /// Only these tables (comma list); all tables of the keyspace when absent.
    #[arg(long, value_delimiter = ',', value_name = "TABLE,...")]
    pub table: Vec<String>,
    /// Hosts whose data to restore, as the backup names them (default: all of the backup's hosts).
    #[arg(long, value_delimiter = ',', value_name = "HOST,...")]
    pub hosts: Vec<String>,
    /// Stream the downloaded tables with sstableloader to these nodes (the old tool's way; same as
    /// --mode sstableloader).
    #[arg(long, value_delimiter = ',', value_name = "HOST,...")]
    pub target_hosts: Vec<String>,
    /// Only download to --restore-dir (the old tool's flag; same as --mode local).
    #[arg(long)]
    pub local: bool,
    /// Only download to --restore-dir, no sstableloader (the old tool's flag; same as --mode local).
    #[arg(long)]
    pub no_sstableloader: bool,
    /// Where --mode local and sstableloader put the files on this machine.
    #[arg(long, default_value = "/tmp/restore_cassandra/", value_name = "DIR")]
    pub restore_dir: PathBuf,
    /// Directory of Cassandra's tools: sstableloader on this machine, nodetool on the nodes.
    #[arg(long, default_value = "/usr/bin", value_name = "DIR")]
    pub cassandra_bin_dir: String,
    /// Restore the snapshot plus only the incrementals uploaded up to this time: RFC 3339
    /// (2024-01-31T12:00:00Z) or UTC YYYYMMDDhhmmss.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Restore a host's data onto another host: old=new,... (the other hosts keep their own data).
    #[arg(long, value_name = "OLD=NEW,...")]
    pub host_map: Option<HostMap>,
    /// Where the restored files go: stage, refresh, in-place, local or sstableloader (see Modes below).
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<ModeArg>,
    /// First create the backup's schema of --keyspace where it is missing (a new or wiped cluster; an
    /// existing table is refused, nothing is altered), then restore the data (see the examples).
    #[arg(long)]
    pub schema: bool,
    /// Files downloaded at once (per node, or on this machine).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub download_concurrency: usize,
    /// Bandwidth limit per node (or for this machine) in KiB/s; 0 = none.
    #[arg(long, default_value_t = 0, value_name = "KIB")]
    pub rate_limit: u64,
    /// No progress output, only errors and the final result.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten, next_help_heading = "Node access (stage, refresh, in-place)")]
    pub nodes: NodeAccessArgs,
}

pub const RESTORE_EXAMPLES: &str = "Modes:
  stage          node-push on each target node downloads, verifies (SHA-256, lzop checksums) and
                 decompresses into <data dir>/.restore-staging/<backup>/<source host>/<ks>/<table dir>/
  refresh        stage, then load into the running Cassandra: from 4.0 `nodetool import` of the verified
                 staging dir; before 4.0 move the SSTables into the live table dirs (new generation
                 numbers, so nothing live is overwritten) and run `nodetool refresh <ks> <table>`.
                 Secondary-index SSTables are not restored: Cassandra builds the indexes from the data
  in-place       Cassandra must be stopped on the node: stage, move into place, print the node's tokens
                 (from the backup's ring) for initial_token; then start Cassandra. The SSTables are
                 added to what the table dirs hold: empty them (and the commitlog) first to get
                 exactly the backup back
  local          download to --restore-dir on this machine: <ks>/<table dir>/<host>_<file>, where
                 <table dir> is the node's (<table> up to 2.0, <table>-<id> from 2.1)
  sstableloader  download to --restore-dir/<host>/<ks>/<table dir>/ and run sstableloader per table
A table with a missing or damaged object is not moved anywhere Cassandra loads from; the error names it.

Examples:
  # Bring back a truncated table on every node of the latest backup
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod \\
      restore --keyspace=shop --table=orders --mode=refresh --ssh-config=./ssh_config
  # Disaster recovery into a new, empty cluster: the backup's schema (--backup-schema), then the data
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod \\
      restore --keyspace=shop --schema --mode=refresh --ssh-config=./ssh_config
  # Rebuild one node whose disk was lost (Cassandra stopped on it), as of a point in time
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod \\
      restore --keyspace=shop --hosts=10.0.0.3 --mode=in-place --until=2024-01-31T12:00:00Z
  # node1's data onto a new machine node9
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod \\
      restore --keyspace=shop --hosts=node1 --host-map=node1=node9 --mode=in-place
  # The old tool's ways
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod \\
      restore --snapshot-name=20240131120000 --keyspace=shop --local --restore-dir=/tmp/r
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod \\
      restore --keyspace=shop --target-hosts=10.0.0.1,10.0.0.2";
