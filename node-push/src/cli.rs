//! node-push's command line, as a library type so that the coordinator builds the exact argv that
//! node-push parses ([`UploadArgs::to_argv`] and clap's parser are tested by round trip).
//!
//! Secrets never go here: credentials come from the standard AWS environment variables, the AWS profile
//! files or the instance role, or as a [`crate::message::NodeInput`] line on stdin with `--credentials-stdin`.

use crate::store::Destination;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// node-push: compress files to lzop and upload them to S3 or a directory, the Cassandra way or plainly.
#[derive(Debug, Parser)]
#[command(name = "node-push", version, about, long_about = None)]
pub struct Cli {
    /// More log lines on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload a Cassandra snapshot, the incremental `backups/` files, or a plain directory.
    #[command(after_help = UPLOAD_EXAMPLES)]
    Upload(Box<UploadArgs>),
    /// Print the hello message (protocol and tool version) and exit.
    Hello,
}

const UPLOAD_EXAMPLES: &str = "Examples:
  node-push upload --dir /var/lib/cassandra/data/ks/users/snapshots/t1 --dest s3://bucket/prefix
  node-push upload --cassandra-yaml /etc/cassandra/cassandra.yaml --snapshot-tag 20240101000000 \\
      --dest s3://bucket/cluster/20240101000000/node1 --endpoint http://127.0.0.1:8333
  node-push upload --data-dir /var/lib/cassandra/data --incremental --delete-after-upload \\
      --dest file:///mnt/backups/node1";

/// Server-side encryption choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SseArg {
    #[value(name = "AES256", alias = "aes256")]
    Aes256,
    #[value(name = "aws:kms")]
    AwsKms,
}

/// Which lzop checksum to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ChecksumArg {
    #[default]
    Adler32,
    Crc32,
}

/// `node-push upload`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct UploadArgs {
    /// Upload every file under this directory to `<dest>/<path relative to DIR>.lzo` (plain mode).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["cassandra_yaml", "data_dirs", "snapshot_tag", "incremental"])]
    pub dir: Option<PathBuf>,
    /// Read `data_file_directories` from this cassandra.yaml.
    #[arg(long, value_name = "FILE")]
    pub cassandra_yaml: Option<PathBuf>,
    /// A Cassandra data directory (repeat for several); instead of --cassandra-yaml.
    #[arg(long = "data-dir", value_name = "DIR")]
    pub data_dirs: Vec<PathBuf>,
    /// Keyspaces to upload (comma list); all when empty.
    #[arg(long, value_delimiter = ',', value_name = "KS,...")]
    pub keyspaces: Vec<String>,
    /// Only this table (its name, without the 2.1+ `-<id>` suffix).
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Tables to leave out (comma list of `table` or `keyspace.table`).
    #[arg(long, value_delimiter = ',', value_name = "TABLE,...")]
    pub exclude_tables: Vec<String>,
    /// Upload the snapshot with this tag (`snapshots/<TAG>/`).
    #[arg(long, value_name = "TAG", conflicts_with = "incremental")]
    pub snapshot_tag: Option<String>,
    /// Upload the incremental `backups/` files.
    #[arg(long)]
    pub incremental: bool,
    /// With --incremental: delete each file from `backups/` once its upload is verified.
    #[arg(long, requires = "incremental")]
    pub delete_after_upload: bool,
    /// The host name recorded in manifest entries (the coordinator passes the `--hosts` entry).
    #[arg(long, value_name = "NAME")]
    pub host_label: Option<String>,

    /// Where objects go: `s3://bucket/prefix` or `file:///absolute/path`. In Cassandra mode each key is
    /// `<prefix><absolute file path>.lzo`.
    #[arg(long, value_name = "URL")]
    pub dest: Destination,
    /// S3-compatible endpoint (path-style requests), e.g. `http://127.0.0.1:8333`.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The bucket's region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// AWS profile from ~/.aws/credentials.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Read one JSON line with credentials from stdin before starting.
    #[arg(long)]
    pub credentials_stdin: bool,
    /// Server-side encryption.
    #[arg(long, value_enum)]
    pub sse: Option<SseArg>,
    /// KMS key id, with `--sse aws:kms`.
    #[arg(long, value_name = "ID", requires = "sse")]
    pub sse_kms_key_id: Option<String>,
    /// Storage class, e.g. STANDARD, REDUCED_REDUNDANCY, STANDARD_IA.
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,

    /// Multipart part size in MiB; grown automatically so a file fits in 10,000 parts.
    #[arg(long, value_name = "MIB", default_value_t = 8)]
    pub part_size_mib: u64,
    /// Files uploaded at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,
    /// Compression threads (default: half the cores, at least one, leaving the rest to Cassandra).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Node-wide bandwidth limit in KiB/s across all transfers; 0 = none.
    #[arg(long, value_name = "KIB", default_value_t = 0)]
    pub rate_limit: u64,
    /// lzop checksum written for every block.
    #[arg(long, value_enum, default_value_t = ChecksumArg::Adler32)]
    pub checksum: ChecksumArg,
}

impl UploadArgs {
    /// Minimal arguments for `dest`; everything else at its default.
    pub fn new(dest: Destination) -> Self {
        UploadArgs {
            dir: None,
            cassandra_yaml: None,
            data_dirs: Vec::new(),
            keyspaces: Vec::new(),
            table: None,
            exclude_tables: Vec::new(),
            snapshot_tag: None,
            incremental: false,
            delete_after_upload: false,
            host_label: None,
            dest,
            endpoint: None,
            region: "us-east-1".to_string(),
            profile: None,
            credentials_stdin: false,
            sse: None,
            sse_kms_key_id: None,
            storage_class: None,
            part_size_mib: 8,
            concurrency: 4,
            threads: None,
            rate_limit: 0,
            checksum: ChecksumArg::Adler32,
        }
    }

    /// The argv (after `node-push`) that parses back into `self`.
    pub fn to_argv(&self) -> Vec<String> {
        let mut argv = vec!["upload".to_string()];
        let mut push = |flag: &str, value: String| {
            argv.push(format!("--{flag}"));
            argv.push(value);
        };
        let path = |p: &PathBuf| p.display().to_string();
        if let Some(dir) = &self.dir {
            push("dir", path(dir));
        }
        if let Some(yaml) = &self.cassandra_yaml {
            push("cassandra-yaml", path(yaml));
        }
        for dir in &self.data_dirs {
            push("data-dir", path(dir));
        }
        if !self.keyspaces.is_empty() {
            push("keyspaces", self.keyspaces.join(","));
        }
        if let Some(table) = &self.table {
            push("table", table.clone());
        }
        if !self.exclude_tables.is_empty() {
            push("exclude-tables", self.exclude_tables.join(","));
        }
        if let Some(tag) = &self.snapshot_tag {
            push("snapshot-tag", tag.clone());
        }
        if let Some(label) = &self.host_label {
            push("host-label", label.clone());
        }
        push("dest", self.dest.to_string());
        if let Some(endpoint) = &self.endpoint {
            push("endpoint", endpoint.clone());
        }
        push("region", self.region.clone());
        if let Some(profile) = &self.profile {
            push("profile", profile.clone());
        }
        if let Some(sse) = self.sse {
            push(
                "sse",
                sse.to_possible_value()
                    .expect("no skipped values")
                    .get_name()
                    .to_string(),
            );
        }
        if let Some(key) = &self.sse_kms_key_id {
            push("sse-kms-key-id", key.clone());
        }
        if let Some(class) = &self.storage_class {
            push("storage-class", class.clone());
        }
        push("part-size-mib", self.part_size_mib.to_string());
        push("concurrency", self.concurrency.to_string());
        if let Some(threads) = self.threads {
            push("threads", threads.to_string());
        }
        push("rate-limit", self.rate_limit.to_string());
        push(
            "checksum",
            self.checksum
                .to_possible_value()
                .expect("no skipped values")
                .get_name()
                .to_string(),
        );
        for (flag, set) in [
            ("incremental", self.incremental),
            ("delete-after-upload", self.delete_after_upload),
            ("credentials-stdin", self.credentials_stdin),
        ] {
            if set {
                argv.push(format!("--{flag}"));
            }
        }
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[String]) -> UploadArgs {
        let cli = Cli::try_parse_from(
            std::iter::once("node-push".to_string()).chain(argv.iter().cloned()),
        )
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        match cli.command {
            Command::Upload(args) => *args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn argv_round_trips_for_a_snapshot_upload() {
        let mut args = UploadArgs::new(
            "s3://bucket.with.dots/base/20240101000000/node1"
                .parse()
                .unwrap(),
        );
        args.cassandra_yaml = Some("/etc/cassandra/cassandra.yaml".into());
        args.keyspaces = vec!["ks1".into(), "ks2".into()];
        args.table = Some("users".into());
        args.exclude_tables = vec!["ks1.audit".into()];
        args.snapshot_tag = Some("20240101000000".into());
        args.host_label = Some("node1".into());
        args.endpoint = Some("http://127.0.0.1:8333".into());
        args.region = "eu-west-1".into();
        args.sse = Some(SseArg::AwsKms);
        args.sse_kms_key_id = Some("key-1".into());
        args.storage_class = Some("STANDARD_IA".into());
        args.threads = Some(1);
        args.rate_limit = 1024;
        args.checksum = ChecksumArg::Crc32;
        args.credentials_stdin = true;
        assert_eq!(parse(&args.to_argv()), args);
    }

    #[test]
    fn argv_round_trips_for_incremental_and_plain_uploads() {
        let mut args = UploadArgs::new("file:///mnt/backups".parse().unwrap());
        args.data_dirs = vec!["/d1".into(), "/d2".into()];
        args.incremental = true;
        args.delete_after_upload = true;
        args.sse = Some(SseArg::Aes256);
        assert_eq!(parse(&args.to_argv()), args);

        let mut plain = UploadArgs::new("s3://bkt/p".parse().unwrap());
        plain.dir = Some("/tmp/x".into());
        assert_eq!(parse(&plain.to_argv()), plain);
    }

    #[test]
    fn rejects_contradictory_flags() {
        let bad = [
            vec![
                "upload",
                "--dest",
                "s3://bucket/p",
                "--snapshot-tag",
                "t",
                "--incremental",
            ],
            vec!["upload", "--dest", "s3://bucket/p", "--delete-after-upload"],
            vec!["upload", "--dest", "ftp://x"],
            vec![
                "upload",
                "--dest",
                "s3://bucket/p",
                "--dir",
                "/x",
                "--incremental",
            ],
        ];
        for argv in bad {
            assert!(
                Cli::try_parse_from(std::iter::once("node-push").chain(argv.iter().copied()))
                    .is_err(),
                "{argv:?}"
            );
        }
    }
}
