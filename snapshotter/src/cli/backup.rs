//! `backup`'s raw flags: the old tool's, plus the node-access group `restore` shares.

use super::NodeAccessArgs;
use crate::secret::Secret;
use clap::Args;
use std::path::PathBuf;

pub const BACKUP_EXAMPLES: &str = "Examples:
  # First run: a snapshot; later runs: incrementals into it (needs incremental_backups: true)
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod \\
      backup --hosts=10.0.0.1,10.0.0.2,10.0.0.3 --user=cassandra --use-sudo
  # A new snapshot uploads only files no complete backup stores yet; --full uploads everything
  # Two keyspaces, one table left out, a fresh snapshot, a MinIO endpoint
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod --s3-endpoint=http://minio:9000 \\
      backup --hosts=node1,node2 --keyspaces=shop,users --exclude-tables=shop.audit --new-snapshot
  # Hosts from an ssh config file, JMX credentials for nodetool, JSON report
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod --json \\
      backup --hosts=node1,node2 --ssh-config=./ssh_config --nodetool-args='-u jmx -pw secret'";

/// `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Hosts to back up (comma list), as ssh reaches them; each is recorded in the S3 keys as given.
    #[arg(long, required = true, value_delimiter = ',', value_name = "HOST,...")]
    pub hosts: Vec<String>,
    /// Keyspaces to back up (comma list); all when empty.
    #[arg(long, value_delimiter = ',', value_name = "KS,...")]
    pub keyspaces: Vec<String>,
    /// Only this table (needs --keyspaces).
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Tables to leave out (comma list of `table` or `keyspace.table`).
    #[arg(long, value_delimiter = ',', value_name = "TABLE,...")]
    pub exclude_tables: Vec<String>,
    /// Multipart part size in MiB (grown automatically for very large files).
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub buffer_size: u64,
    /// Directory of Cassandra's tools on the nodes (nodetool, cqlsh).
    #[arg(long, default_value = "/usr/bin", value_name = "DIR")]
    pub cassandra_bin_dir: String,
    #[command(flatten)]
    pub nodes: NodeAccessArgs,
    /// Take a new snapshot even when an incremental into the latest backup is possible.
    #[arg(long)]
    pub new_snapshot: bool,
    /// A new snapshot uploads every file (a self-contained backup) instead of referencing the objects
    /// of the newest complete backup that already stores a file's exact bytes.
    #[arg(long)]
    pub full: bool,
    /// Also save the schema (cqlsh DESCRIBE) of the first host.
    #[arg(long)]
    pub backup_schema: bool,
    /// cqlsh user for --backup-schema.
    #[arg(long, value_name = "USER")]
    pub cqlsh_user: Option<String>,
    /// cqlsh password for --backup-schema (sent through a 0600 file, never a command line).
    #[arg(long, value_name = "PASSWORD")]
    pub cqlsh_password: Option<Secret>,
    /// cqlsh host to connect to from each node (default: cqlsh's own default).
    #[arg(long, value_name = "HOST")]
    pub cqlsh_host: Option<String>,
    /// Store objects as REDUCED_REDUNDANCY (same as --s3-storage-class=REDUCED_REDUNDANCY).
    #[arg(long)]
    pub reduced_redundancy: bool,
    /// Bandwidth limit per node in KiB/s; 0 = none.
    #[arg(long, default_value_t = 0, value_name = "KIB")]
    pub rate_limit: u64,
    /// No progress output, only errors and the final result.
    #[arg(long)]
    pub quiet: bool,
    /// Files uploaded at once per node.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub upload_concurrency: usize,
    /// Write Prometheus metrics for this run (node_exporter textfile format) to this file, atomically:
    /// last success time, outcome, duration, bytes and files per host.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}
