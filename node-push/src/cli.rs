//! node-push's command line. Each command takes its settings either from flags (standalone runs: cron,
//! systemd, by hand) or, with `--request-stdin` (the coordinator), from one versioned
//! [`contract::request::RequestLine`] on stdin; the flags convert into the same request types
//! ([`UploadArgs::to_request`], [`RestoreArgs::to_input`], [`StreamArgs::to_request`]), so the commands
//! take only requests.
//!
//! Secrets never go here: credentials come from the standard AWS environment variables, the AWS profile
//! files or the instance role, or as a [`contract::message::NodeInput`] line on stdin with `--credentials-stdin`.

use crate::restore_command::{BackupQuery, FilesFrom, RestoreInput};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use contract::request::{
    LzopChecksum, NodeStreamRequest, RestoreFilesRequest, Session, Sse, StoreRequest, UploadRequest,
};
use contract::stream::StreamRequest;
use engine::restore::{BackupSelector, HostMap};
use engine::store::Destination;
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
    /// Download, verify (lzop checksums, size, SHA-256) and decompress backup objects into a directory.
    #[command(after_help = RESTORE_EXAMPLES)]
    Restore(Box<RestoreArgs>),
    /// Register a backup stream on this node, ask whether it is registered, or commit what its batch
    /// stored and delete the `backups/` links every stream has (one JSON request line on stdin).
    Stream(StreamArgs),
    /// Print the hello message (protocol and tool version) and exit.
    Hello,
}

/// `node-push stream`: the request comes as one JSON line on stdin (`contract::stream::StreamRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StreamArgs {
    /// Read the request (a `contract::request::RequestLine`) from stdin instead of these flags: what the
    /// coordinator does.
    #[arg(long, conflicts_with_all = ["cassandra_yaml", "data_dirs", "state_dir"])]
    pub request_stdin: bool,
    /// Read `data_file_directories` from this cassandra.yaml.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["data_dirs", "request_stdin"])]
    pub cassandra_yaml: Option<PathBuf>,
    /// A Cassandra data directory (repeat for several); instead of --cassandra-yaml.
    #[arg(long = "data-dir", value_name = "DIR")]
    pub data_dirs: Vec<PathBuf>,
    /// Where the registry lives (default: `.cassandra-snapshotter` beside the first data directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl StreamArgs {
    /// The request these flags and the stream request line `request` make.
    pub fn to_request(&self, request: StreamRequest) -> NodeStreamRequest {
        NodeStreamRequest {
            cassandra_yaml: self.cassandra_yaml.clone(),
            data_dirs: self.data_dirs.clone(),
            state_dir: self.state_dir.clone(),
            stream: request,
        }
    }
}

const UPLOAD_EXAMPLES: &str = "Examples:
  node-push upload --dir /var/lib/cassandra/data/ks/users/snapshots/t1 --dest s3://bucket/prefix
  node-push upload --cassandra-yaml /etc/cassandra/cassandra.yaml --snapshot-tag 20240101000000 \\
      --dest s3://bucket/cluster/20240101000000/node1 --endpoint http://127.0.0.1:8333
  node-push upload --data-dir /var/lib/cassandra/data --incremental --delete-after-upload \\
      --dest file:///mnt/backups/node1";

const RESTORE_EXAMPLES: &str = "Examples:
  node-push restore --from s3://bucket/cluster --backup LATEST --keyspace ks --table users \\
      --host-label node1 --staging-dir /var/lib/cassandra/staging --owner-of /var/lib/cassandra/data
  node-push restore --from s3://bucket/cluster --backup 20240101000000 --keyspace ks \\
      --restore-dir /tmp/restore_cassandra
  node-push restore --request-stdin   (as the coordinator runs it: one request line on stdin)";

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

/// The store and stdin flags `upload` and `restore` share (the store's URL is `--dest` or `--from`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StoreFlags {
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
    /// Stop (exit 3) when stdin ends, and take each further stdin line as fresh credentials: for the
    /// coordinator, whose SSH connection is the stdin. Standalone runs (cron, systemd) leave it off.
    #[arg(long)]
    pub watch_stdin: bool,
}

impl StoreFlags {
    /// The store of `url` with these flags.
    pub fn request(&self, url: &Destination) -> StoreRequest {
        StoreRequest {
            url: url.to_string(),
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
        }
    }

    /// What the run takes from its stdin.
    pub fn session(&self) -> Session {
        Session {
            credentials_stdin: self.credentials_stdin,
            watch_stdin: self.watch_stdin,
        }
    }
}

/// `node-push upload`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct UploadArgs {
    /// Read the request (a `contract::request::RequestLine`) from stdin instead of these flags: what the
    /// coordinator does.
    #[arg(long, exclusive = true)]
    pub request_stdin: bool,
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
    /// With --incremental: once the run's uploads are verified, delete the `backups/` links that every
    /// backup stream registered on this node has stored (see `node-push stream`); this run is a stream of
    /// its own (its destination and selection). Links another stream still needs stay.
    #[arg(long, requires = "incremental")]
    pub delete_after_upload: bool,
    /// The host name recorded in manifest entries (the coordinator passes the `--hosts` entry).
    #[arg(long, value_name = "NAME")]
    pub host_label: Option<String>,
    /// With --incremental: the key (in the destination's bucket) of the manifest of the backup this batch
    /// goes into. SSTables it already holds byte for byte are not sent again, and a file whose key it
    /// already lists with other content goes to a variant key: a committed object is never rewritten.
    #[arg(long, value_name = "KEY", requires = "incremental")]
    pub committed_manifest: Option<String>,
    /// Snapshot, differential: the store key of the manifest of a complete backup of the same base path.
    /// Snapshot files whose exact bytes it stores for this host (same place, size and content digest,
    /// the digest computed from the file now) are not sent: they are reported as referenced, pointing at
    /// the stored objects.
    #[arg(long, value_name = "KEY")]
    pub reference_manifest: Option<String>,
    /// Where the node's stream registry lives (default: `.cassandra-snapshotter` beside the first data
    /// directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Where objects go: `s3://bucket/prefix` or `file:///absolute/path`. In Cassandra mode each key is
    /// `<prefix><absolute file path>.lzo`.
    #[arg(long, value_name = "URL", required_unless_present = "request_stdin")]
    pub dest: Option<Destination>,
    #[command(flatten)]
    pub store: StoreFlags,
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
    /// Write Prometheus metrics (node_exporter textfile format) to this file after the run.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}

impl UploadArgs {
    /// The session and request these flags stand for (not for `--request-stdin`, which has no flags).
    pub fn to_request(&self) -> anyhow::Result<(Session, UploadRequest)> {
        let Some(dest) = &self.dest else {
            anyhow::bail!("give --dest URL (or --request-stdin)");
        };
        if self.reference_manifest.is_some() && self.snapshot_tag.is_none() {
            anyhow::bail!("--reference-manifest is for snapshots: give --snapshot-tag TAG");
        }
        let session = self.store.session();
        let request = UploadRequest {
            store: self.store.request(dest),
            dir: self.dir.clone(),
            cassandra_yaml: self.cassandra_yaml.clone(),
            data_dirs: self.data_dirs.clone(),
            keyspaces: self.keyspaces.clone(),
            table: self.table.clone(),
            exclude_tables: self.exclude_tables.clone(),
            snapshot_tag: self.snapshot_tag.clone(),
            incremental: self.incremental,
            delete_after_upload: self.delete_after_upload,
            host_label: self.host_label.clone(),
            committed_manifest: self.committed_manifest.clone(),
            reference_manifest: self.reference_manifest.clone(),
            state_dir: self.state_dir.clone(),
            sse: self.sse.map(|sse| match sse {
                SseArg::Aes256 => Sse::Aes256,
                SseArg::AwsKms => Sse::AwsKms,
            }),
            sse_kms_key_id: self.sse_kms_key_id.clone(),
            storage_class: self.storage_class.clone(),
            part_size_mib: self.part_size_mib,
            concurrency: self.concurrency,
            threads: self.threads,
            rate_limit_kib: self.rate_limit,
            checksum: match self.checksum {
                ChecksumArg::Adler32 => LzopChecksum::Adler32,
                ChecksumArg::Crc32 => LzopChecksum::Crc32,
            },
            metrics_file: self.metrics_file.clone(),
        };
        Ok((session, request))
    }
}

/// `node-push restore`: from a plan the coordinator sends (`--plan-stdin`) or writes (`--plan FILE`), or by
/// hand from a backup name with `--backup`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct RestoreArgs {
    /// Read the request (a `contract::request::RequestLine`) from stdin instead of these flags: what the
    /// coordinator does.
    #[arg(long, exclusive = true)]
    pub request_stdin: bool,
    /// Read the plan, one JSON line (a restore request), from stdin; after the credentials line with
    /// --credentials-stdin.
    #[arg(long, conflicts_with = "plan")]
    pub plan_stdin: bool,
    /// Read the plan (a restore request in JSON) from this file.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// The backup to restore: its name, or LATEST for the newest complete one.
    #[arg(
        long,
        value_name = "NAME|LATEST",
        required_unless_present_any = ["plan_stdin", "plan", "request_stdin"],
        conflicts_with_all = ["plan_stdin", "plan"]
    )]
    pub backup: Option<BackupSelector>,
    /// With --backup: only this keyspace (all when absent).
    #[arg(long, value_name = "KS", conflicts_with_all = ["plan_stdin", "plan"])]
    pub keyspace: Option<String>,
    /// With --backup: only these tables (comma list of names or `name-<id>` directories).
    #[arg(
        long = "table",
        value_delimiter = ',',
        value_name = "TABLE,...",
        conflicts_with_all = ["plan_stdin", "plan"]
    )]
    pub tables: Vec<String>,
    /// With --backup: only the files of these hosts, as the backup names them (comma list); on a node,
    /// its own name. With LATEST, the newest backup that includes the first of them.
    #[arg(
        long = "host-label",
        value_delimiter = ',',
        value_name = "NAME,...",
        conflicts_with_all = ["plan_stdin", "plan"]
    )]
    pub hosts: Vec<String>,
    /// With --backup: restore a host's files under another host's name (`old=new,...`, flat layout).
    #[arg(long, value_name = "OLD=NEW,...", conflicts_with_all = ["plan_stdin", "plan"])]
    pub host_map: Option<HostMap>,
    /// With --backup: the snapshot plus only the incrementals uploaded up to this time (RFC 3339).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["plan_stdin", "plan"])]
    pub until: Option<DateTime<Utc>>,
    /// With --backup: write `<DIR>/<ks>/<table dir>/<file>`, the names Cassandra expects.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["restore_dir", "plan_stdin", "plan"],
        required_unless_present_any = ["restore_dir", "plan_stdin", "plan", "request_stdin"]
    )]
    pub staging_dir: Option<PathBuf>,
    /// With --backup: write the old tool's layout `<DIR>/<ks>/<table dir>/<host>_<file>`.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["plan_stdin", "plan"])]
    pub restore_dir: Option<PathBuf>,

    /// Where the backups are: `s3://bucket/base-path` or `file:///directory`. With a plan, whose keys are
    /// complete, only the bucket or directory matters.
    #[arg(long, value_name = "URL", required_unless_present = "request_stdin")]
    pub from: Option<Destination>,
    /// The base path backups are under, instead of the URL's path (for file:// stores, whose URL names the
    /// directory).
    #[arg(long, value_name = "PATH")]
    pub base_path: Option<String>,
    #[command(flatten)]
    pub store: StoreFlags,

    /// Give restored files and the directories created for them the owner of this path (e.g. the data
    /// directory), so that Cassandra can read and move them.
    #[arg(long, value_name = "PATH")]
    pub owner_of: Option<PathBuf>,
    /// Files downloaded at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,
    /// Bytes per ranged GET, in MiB; each download holds at most three such chunks in memory.
    #[arg(long, value_name = "MIB", default_value_t = 8)]
    pub chunk_size_mib: u64,
    /// Node-wide bandwidth limit in KiB/s across all downloads; 0 = none.
    #[arg(long, value_name = "KIB", default_value_t = 0)]
    pub rate_limit: u64,
    /// Keep restoring the other files of a table after one of its files failed.
    #[arg(long)]
    pub keep_going: bool,
}

impl RestoreArgs {
    /// The session and restore these flags stand for (not for `--request-stdin`, which has no flags).
    pub fn to_input(&self) -> anyhow::Result<(Session, RestoreInput)> {
        let Some(from) = &self.from else {
            anyhow::bail!("give --from URL (or --request-stdin)");
        };
        let session = self.store.session();
        let request = RestoreFilesRequest {
            store: self.store.request(from),
            files: Vec::new(),
            owner_of: self.owner_of.clone(),
            concurrency: self.concurrency,
            chunk_size_mib: self.chunk_size_mib,
            rate_limit_kib: self.rate_limit,
            keep_going: self.keep_going,
        };
        let files_from = if self.plan_stdin {
            FilesFrom::PlanStdin
        } else if let Some(path) = &self.plan {
            FilesFrom::PlanFile(path.clone())
        } else {
            FilesFrom::Backup(BackupQuery {
                backup: self.backup.clone().unwrap_or(BackupSelector::Latest),
                base_path: self
                    .base_path
                    .clone()
                    .unwrap_or_else(|| from.prefix().to_string())
                    .trim_matches('/')
                    .to_string(),
                keyspace: self.keyspace.clone(),
                tables: self.tables.clone(),
                hosts: self.hosts.clone(),
                host_map: self.host_map.clone().unwrap_or_default(),
                until: self.until,
                staging_dir: self.staging_dir.clone(),
                restore_dir: self.restore_dir.clone(),
            })
        };
        Ok((
            session,
            RestoreInput {
                request,
                files_from,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("node-push").chain(argv.iter().copied()))
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
            .command
    }

    #[test]
    fn upload_flags_become_the_request_the_coordinator_would_send() {
        let Command::Upload(args) = parse(&[
            "upload",
            "--cassandra-yaml",
            "/etc/cassandra/cassandra.yaml",
            "--keyspaces",
            "ks1,ks2",
            "--snapshot-tag",
            "20240101000000",
            "--reference-manifest",
            "base/20231231000000/manifest.json",
            "--dest",
            "s3://bucket.with.dots/base/20240101000000/node1",
            "--endpoint",
            "http://127.0.0.1:8333",
            "--sse",
            "aws:kms",
            "--sse-kms-key-id",
            "key-1",
            "--checksum",
            "crc32",
            "--rate-limit",
            "1024",
            "--credentials-stdin",
        ]) else {
            panic!("not an upload")
        };
        let (session, request) = args.to_request().unwrap();
        assert!(session.credentials_stdin && !session.watch_stdin);
        let mut expected = UploadRequest::new(StoreRequest {
            url: "s3://bucket.with.dots/base/20240101000000/node1".into(),
            endpoint: Some("http://127.0.0.1:8333".into()),
            region: "us-east-1".into(),
            profile: None,
        });
        expected.cassandra_yaml = Some("/etc/cassandra/cassandra.yaml".into());
        expected.keyspaces = vec!["ks1".into(), "ks2".into()];
        expected.snapshot_tag = Some("20240101000000".into());
        expected.reference_manifest = Some("base/20231231000000/manifest.json".into());
        expected.sse = Some(Sse::AwsKms);
        expected.sse_kms_key_id = Some("key-1".into());
        expected.checksum = LzopChecksum::Crc32;
        expected.rate_limit_kib = 1024;
        assert_eq!(request, expected);
    }

    #[test]
    fn a_reference_manifest_is_for_snapshots_only() {
        let argv = [
            "upload",
            "--data-dir",
            "/d",
            "--incremental",
            "--reference-manifest",
            "b/n/manifest.json",
            "--dest",
            "s3://bucket/p",
        ];
        let Command::Upload(args) = parse(&argv) else {
            panic!("not an upload")
        };
        assert!(args.to_request().is_err());
    }

    #[test]
    fn request_stdin_stands_alone() {
        for command in ["upload", "restore", "stream"] {
            assert!(matches!(
                parse(&[command, "--request-stdin"]),
                Command::Upload(_) | Command::Restore(_) | Command::Stream(_)
            ));
        }
        for argv in [
            ["upload", "--request-stdin", "--dest", "s3://bucket/p"],
            ["restore", "--request-stdin", "--from", "s3://bucket/p"],
            ["stream", "--request-stdin", "--data-dir", "/d"],
        ] {
            assert!(
                Cli::try_parse_from(std::iter::once("node-push").chain(argv)).is_err(),
                "{argv:?}"
            );
        }
    }

    #[test]
    fn restore_flags_say_where_the_files_come_from() {
        let Command::Restore(args) = parse(&[
            "restore",
            "--from",
            "s3://bucket/cluster/prod",
            "--backup",
            "LATEST",
            "--keyspace",
            "ks",
            "--table",
            "users,events",
            "--staging-dir",
            "/var/lib/cassandra/staging",
            "--keep-going",
        ]) else {
            panic!("not a restore")
        };
        let (session, input) = args.to_input().unwrap();
        assert_eq!(session, Session::default());
        assert!(input.request.keep_going && input.request.files.is_empty());
        let FilesFrom::Backup(query) = input.files_from else {
            panic!("not by hand")
        };
        assert_eq!(query.base_path, "cluster/prod");
        assert_eq!(query.tables, ["users", "events"]);
        let Command::Restore(args) = parse(&["restore", "--from", "s3://bucket", "--plan-stdin"])
        else {
            panic!("not a restore")
        };
        assert!(matches!(
            args.to_input().unwrap().1.files_from,
            FilesFrom::PlanStdin
        ));
    }

    #[test]
    fn restore_rejects_contradictory_flags() {
        let bad = [
            // Nothing to restore, or two sources.
            vec!["restore", "--from", "s3://bucket/p"],
            vec![
                "restore",
                "--from",
                "s3://bucket/p",
                "--plan-stdin",
                "--plan",
                "/x",
            ],
            vec![
                "restore",
                "--from",
                "s3://bucket/p",
                "--plan-stdin",
                "--backup",
                "LATEST",
            ],
            // A backup needs exactly one place to go.
            vec!["restore", "--from", "s3://bucket/p", "--backup", "LATEST"],
            vec![
                "restore",
                "--from",
                "s3://bucket/p",
                "--backup",
                "LATEST",
                "--staging-dir",
                "/a",
                "--restore-dir",
                "/b",
            ],
            // Filters belong to --backup; a plan is already filtered.
            vec![
                "restore",
                "--from",
                "s3://bucket/p",
                "--plan-stdin",
                "--keyspace",
                "ks",
            ],
            vec![
                "restore",
                "--from",
                "s3://bucket/p",
                "--plan-stdin",
                "--staging-dir",
                "/a",
            ],
            vec![
                "restore",
                "--from",
                "s3://b/p",
                "--backup",
                "2024",
                "--staging-dir",
                "/a",
            ],
            vec![
                "restore",
                "--from",
                "s3://b/p",
                "--backup",
                "LATEST",
                "--staging-dir",
                "/a",
                "--host-map",
                "a",
            ],
            vec![
                "restore",
                "--from",
                "s3://b/p",
                "--backup",
                "LATEST",
                "--staging-dir",
                "/a",
                "--until",
                "yesterday",
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
