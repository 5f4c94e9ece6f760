//! `list`'s raw flags.

use clap::Args;

pub const LIST_EXAMPLES: &str = "Examples:
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod list
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod list --json";

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Count objects and bytes of backups whose manifest has no object list (old tool's backups) by
    /// listing their keys.
    #[arg(long)]
    pub count_legacy: bool,
}
