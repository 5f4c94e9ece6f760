//! The command line as the user types it (raw flags); [`crate::settings`] turns it into checked settings.
//!
//! Every global, `backup` and `list` flag of the old Python tool keeps its name and meaning. Its globals came
//! before the subcommand; here they are `global = true`, so they may also come after it. Because clap does
//! not allow required global flags, `--s3-bucket-name` and `--s3-base-path` are checked in
//! [`crate::settings`] with the same one-line error a missing required flag gets.

use crate::secret::Secret;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Back up Apache Cassandra nodes to S3 with snapshots and incremental backups, over SSH.
#[derive(Debug, Parser)]
#[command(name = "cassandra-snapshotter", version, about, after_help = TOP_EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

const TOP_EXAMPLES: &str = "Examples:
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=mycluster \\
      backup --hosts=h1,h2,h3 --user=cassandra
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=mycluster list

Credentials: the usual AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, --aws-profile or AWS_PROFILE,
the instance role). They reach the nodes on node-push's stdin, never on a command line.";

/// Flags shared by every subcommand (before or after it).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options (S3, credentials, output)")]
pub struct GlobalArgs {
    /// More log lines on stderr (the commands run on each host, node-push's own log).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// AWS access key id (else the environment, the profile, or the instance role).
    #[arg(long, global = true, value_name = "ID")]
    pub aws_access_key_id: Option<String>,
    /// AWS secret access key. Accepted for compatibility; prefer AWS_SECRET_ACCESS_KEY or a profile, since
    /// a value here is visible in the local process list.
    #[arg(long, global = true, value_name = "KEY", hide_env_values = true)]
    pub aws_secret_access_key: Option<Secret>,
    /// AWS profile from ~/.aws/credentials (default: $AWS_PROFILE, else `default` when present).
    #[arg(long, global = true, value_name = "NAME")]
    pub aws_profile: Option<String>,
    /// The bucket's region.
    #[arg(
        long,
        global = true,
        default_value = "us-east-1",
        value_name = "REGION"
    )]
    pub s3_bucket_region: String,
    /// Server-side encryption with S3-managed keys (AES256).
    #[arg(long, global = true, conflicts_with = "s3_sse")]
    pub s3_ssenc: bool,
    /// Server-side encryption: AES256 or aws:kms.
    #[arg(long, global = true, value_enum, value_name = "ALGORITHM")]
    pub s3_sse: Option<SseChoice>,
    /// KMS key id for --s3-sse aws:kms (default: the bucket's AWS-managed key).
    #[arg(long, global = true, value_name = "ID")]
    pub s3_sse_kms_key_id: Option<String>,
    /// Storage class for new objects (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, ...).
    #[arg(long, global = true, value_name = "CLASS")]
    pub s3_storage_class: Option<String>,
    /// The bucket (required).
    #[arg(long, global = true, value_name = "BUCKET")]
    pub s3_bucket_name: Option<String>,
    /// The key prefix backups live under, e.g. the cluster's name (required).
    #[arg(long, global = true, value_name = "PATH")]
    pub s3_base_path: Option<String>,
    /// An S3-compatible endpoint (MinIO, SeaweedFS, Ceph), addressed path-style.
    #[arg(long, global = true, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Machine-readable JSON on stdout instead of tables; logs stay on stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// Config file of defaults for repeated flags (default: ~/.config/cassandra-snapshotter/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Server-side encryption algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SseChoice {
    #[value(name = "AES256", alias = "aes256")]
    Aes256,
    #[value(name = "aws:kms")]
    AwsKms,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Snapshot the nodes and upload the snapshot, or upload an incremental into the latest matching backup.
    #[command(after_help = BACKUP_EXAMPLES)]
    Backup(Box<BackupArgs>),
    /// List the backups under the base path, newest first.
    #[command(after_help = LIST_EXAMPLES)]
    List(ListArgs),
    /// Restore a backup: stage it on the nodes, refresh live tables, rebuild a stopped node in place, or
    /// download it here (and stream it with sstableloader).
    #[command(after_help = crate::restore::RESTORE_EXAMPLES)]
    Restore(Box<crate::restore::RestoreArgs>),
    /// Check that every object of a backup is stored as its manifest says (--deep: download and decode).
    #[command(after_help = crate::verify::VERIFY_EXAMPLES)]
    Verify(crate::verify::VerifyArgs),
    /// Remove old backups (never the newest complete one of a selection unless named), abandoned incomplete
    /// ones and multipart uploads.
    #[command(after_help = crate::purge::PURGE_EXAMPLES)]
    Purge(crate::purge::PurgeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(crate::completions::CompletionsArgs),
    /// Print the manual page (roff) on stdout; `man backup` prints that command's page.
    Man(crate::completions::ManArgs),
}

const BACKUP_EXAMPLES: &str = "Examples:
  # First run: a snapshot; later runs: incrementals into it (needs incremental_backups: true)
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod \\
      backup --hosts=10.0.0.1,10.0.0.2,10.0.0.3 --user=cassandra --use-sudo
  # Two keyspaces, one table left out, a fresh snapshot, a MinIO endpoint
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod --s3-endpoint=http://minio:9000 \\
      backup --hosts=node1,node2 --keyspaces=shop,users --exclude-tables=shop.audit --new-snapshot
  # Hosts from an ssh config file, JMX credentials for nodetool, JSON report
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod --json \\
      backup --hosts=node1,node2 --ssh-config=./ssh_config --nodetool-args='-u jmx -pw secret'";

const LIST_EXAMPLES: &str = "Examples:
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod list
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod list --json";

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
    /// Directory holding cassandra.yaml (default per node: $CASSANDRA_CONF, else /etc/cassandra/conf/,
    /// else /etc/cassandra/).
    #[arg(long, value_name = "DIR")]
    pub cassandra_conf_path: Option<String>,
    /// nodetool on the nodes (default per node: `nodetool` on PATH, else <cassandra-bin-dir>/nodetool).
    #[arg(long, value_name = "PATH")]
    pub nodetool_path: Option<String>,
    /// Directory of Cassandra's tools on the nodes (nodetool, cqlsh).
    #[arg(long, default_value = "/usr/bin", value_name = "DIR")]
    pub cassandra_bin_dir: String,
    /// SSH user (overrides the ssh config).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// SSH password, for hosts without key authentication (prefer keys or an agent).
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<Secret>,
    /// SSH private key file (overrides the ssh config).
    #[arg(long, value_name = "FILE")]
    pub sshkey: Option<PathBuf>,
    /// SSH port (overrides the ssh config).
    #[arg(long, value_name = "PORT")]
    pub sshport: Option<u16>,
    /// Run nodetool and node-push with `sudo -n` (`--use-sudo` or `--use-sudo=true|false`).
    #[arg(long, num_args = 0..=1, default_value = "false", default_missing_value = "true",
          value_parser = parse_bool_word, value_name = "BOOL")]
    pub use_sudo: bool,
    /// Take a new snapshot even when an incremental into the latest backup is possible.
    #[arg(long)]
    pub new_snapshot: bool,
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
    /// Hosts worked on at the same time.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub connection_pool_size: usize,
    /// Store objects as REDUCED_REDUNDANCY (same as --s3-storage-class=REDUCED_REDUNDANCY).
    #[arg(long)]
    pub reduced_redundancy: bool,
    /// Bandwidth limit per node in KiB/s; 0 = none.
    #[arg(long, default_value_t = 0, value_name = "KIB")]
    pub rate_limit: u64,
    /// No progress output, only errors and the final result.
    #[arg(long)]
    pub quiet: bool,
    /// An ssh config file to use instead of ~/.ssh/config (ssh -F).
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Where node-push goes on each node (default: ~/.cache/cassandra-snapshotter/node-push-<sha256>).
    #[arg(long, value_name = "PATH")]
    pub node_push_path: Option<String>,
    /// The node-push binary to copy to the nodes (default: `node-push` next to this program).
    #[arg(long, value_name = "FILE")]
    pub node_push_binary: Option<PathBuf>,
    /// Extra arguments for every nodetool call, e.g. JMX credentials: '-u jmx -pw secret'. They are never
    /// shown in logs.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub nodetool_args: Option<Secret>,
    /// Files uploaded at once per node.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub upload_concurrency: usize,
    /// Write Prometheus metrics for this run (node_exporter textfile format) to this file, atomically:
    /// last success time, outcome, duration, bytes and files per host.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Count objects and bytes of backups whose manifest has no object list (old tool's backups) by
    /// listing their keys.
    #[arg(long)]
    pub count_legacy: bool,
}

/// The old tool's boolean words, for `--use-sudo=true`.
fn parse_bool_word(word: &str) -> Result<bool, String> {
    match word.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(format!("{word:?} is not true or false")),
    }
}

#[cfg(test)]
mod tests;
