//! The store flag group: which bucket, where in it, and how objects are written. Part of every command's
//! globals ([`super::GlobalArgs`]); [`crate::settings::S3Settings`] checks it.

use clap::{Args, ValueEnum};

/// The bucket and how objects are written (flattened into the globals, under their heading).
#[derive(Debug, Args)]
pub struct StoreArgs {
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
}

/// Server-side encryption algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SseChoice {
    #[value(name = "AES256", alias = "aes256")]
    Aes256,
    #[value(name = "aws:kms")]
    AwsKms,
}
