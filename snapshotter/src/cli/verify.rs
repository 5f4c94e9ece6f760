//! `verify`'s raw flags.

use clap::Args;

pub const VERIFY_EXAMPLES: &str = "Examples:
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod verify
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod verify --snapshot-name=20240131120000 --deep";

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The backup to verify: its name, or LATEST for the newest complete one.
    #[arg(long, default_value = "LATEST", value_name = "NAME|LATEST")]
    pub snapshot_name: String,
    /// Also download every object and check its lzop checksums, size and SHA-256.
    #[arg(long)]
    pub deep: bool,
    /// Objects checked at once (default: 16 shallow, 4 deep).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// No progress output, only the result.
    #[arg(long)]
    pub quiet: bool,
}
