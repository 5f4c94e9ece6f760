//! The command line as the user types it (raw flags); [`crate::settings`] turns it into checked settings.
//!
//! Every global, `backup` and `list` flag of the old Python tool keeps its name and meaning. Its globals came
//! before the subcommand; here they are `global = true`, so they may also come after it. Because clap does
//! not allow required global flags, `--s3-bucket-name` and `--s3-base-path` are checked in
//! [`crate::settings`] with the same one-line error a missing required flag gets.
//!
//! One file per command (`*Args` and its help examples) plus the flag groups several commands share:
//! [`StoreArgs`] (the bucket, in every command's globals) and [`NodeAccessArgs`] (how `backup` and
//! `restore` reach the nodes). This module depends on no command module: the commands and
//! [`crate::settings`] read it, never the other way round.

mod backup;
mod completions;
mod duration;
mod list;
mod node_access;
mod purge;
mod restore;
mod store;
mod verify;

pub use backup::BackupArgs;
pub use completions::{CompletionsArgs, ManArgs};
pub use list::ListArgs;
pub use node_access::NodeAccessArgs;
pub use purge::PurgeArgs;
pub use restore::{ModeArg, RestoreArgs};
pub use store::{SseChoice, StoreArgs};
pub use verify::VerifyArgs;

use crate::secret::Secret;
use clap::{Args, Parser, Subcommand};
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
    #[command(flatten)]
    pub store: StoreArgs,
    /// Machine-readable JSON on stdout instead of tables; logs stay on stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// Config file of defaults for repeated flags (default: ~/.config/cassandra-snapshotter/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Snapshot the nodes and upload the snapshot, or upload an incremental into the latest matching backup.
    #[command(after_help = backup::BACKUP_EXAMPLES)]
    Backup(Box<BackupArgs>),
    /// List the backups under the base path, newest first.
    #[command(after_help = list::LIST_EXAMPLES)]
    List(ListArgs),
    /// Restore a backup: stage it on the nodes, refresh live tables, rebuild a stopped node in place, or
    /// download it here (and stream it with sstableloader).
    #[command(after_help = restore::RESTORE_EXAMPLES)]
    Restore(Box<RestoreArgs>),
    /// Check that every object of a backup is stored as its manifest says (--deep: download and decode).
    #[command(after_help = verify::VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Remove old backups (never the newest complete one of a selection unless named), abandoned incomplete
    /// ones and multipart uploads.
    #[command(after_help = purge::PURGE_EXAMPLES)]
    Purge(PurgeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout; `man backup` prints that command's page.
    Man(ManArgs),
}

#[cfg(test)]
mod tests;
