//! `purge`'s raw flags; durations and backup names are checked by clap, so a bad one is a usage error.

use super::duration::parse_duration;
use clap::{ArgGroup, Args};
use contract::layout::BackupName;

pub const PURGE_EXAMPLES: &str = "Examples:
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod purge --keep-last=7 --dry-run
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod purge --older-than=30d
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod purge --remove=20240101000000
Retention is per selection: backups of the same hosts, keyspaces, table and excluded tables. The newest
complete backup of each selection is never removed unless named with --remove, so an ad-hoc one-table
backup never pushes out the last whole-cluster one. An object is deleted only when no remaining
manifest lists it. A backup's manifest.json is deleted before its other objects, so a purge stopped
half way leaves an incomplete backup, never a complete-looking one.";

/// `purge`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).multiple(true).args(["keep_last", "older_than", "remove"])))]
pub struct PurgeArgs {
    /// Keep the N newest complete backups of each selection (same hosts, keyspaces, table and excluded
    /// tables), remove the older ones.
    #[arg(long, value_name = "N", conflicts_with = "older_than")]
    pub keep_last: Option<usize>,
    /// Remove complete backups last written longer ago than this (30d, 12h, 2w, 1d12h), except the
    /// newest of each selection.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<chrono::Duration>,
    /// Remove this backup too, even when it is the newest of its selection (repeat the flag or separate
    /// names with commas). Alone, removes only the named backups.
    #[arg(long, value_name = "NAME", value_delimiter = ',', value_parser = parse_name)]
    pub remove: Vec<String>,
    /// Incomplete backups (no manifest) started, and multipart uploads begun, longer ago than this are
    /// abandoned and removed; younger ones may still be running.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1d")]
    pub abandoned_after: chrono::Duration,
    /// Show what would be removed, backup by backup under its selection; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress output, only the result.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_name(text: &str) -> Result<String, String> {
    text.parse::<BackupName>()
        .map(|name| name.to_string())
        .map_err(|e| e.to_string())
}
