//! node-push's command line, as a library type so that the coordinator builds the exact argv that
//! node-push parses ([`UploadArgs::to_argv`], [`RestoreArgs::to_argv`] and clap's parser are tested by
//! round trip).
//!
//! Secrets never go here: credentials come from the standard AWS environment variables, the AWS profile
//! files or the instance role, or as a [`crate::message::NodeInput`] line on stdin with `--credentials-stdin`.

use crate::restore::{BackupSelector, HostMap};
use crate::store::Destination;
use chrono::{DateTime, Utc};
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
    /// Download, verify (lzop checksums, size, SHA-256) and decompress backup objects into a directory.
    #[command(after_help = RESTORE_EXAMPLES)]
    Restore(Box<RestoreArgs>),
    /// Register a backup stream on this node, ask whether it is registered, or commit what its batch
    /// stored and delete the `backups/` links every stream has (one JSON request line on stdin).
    Stream(StreamArgs),
    /// Print the hello message (protocol and tool version) and exit.
    Hello,
}

/// `node-push stream`: the request comes as one JSON line on stdin (`node_push::streams::StreamRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct StreamArgs {
    /// Read `data_file_directories` from this cassandra.yaml.
    #[arg(long, value_name = "FILE", required_unless_present = "data_dirs")]
    pub cassandra_yaml: Option<PathBuf>,
    /// A Cassandra data directory (repeat for several); instead of --cassandra-yaml.
    #[arg(long = "data-dir", value_name = "DIR")]
    pub data_dirs: Vec<PathBuf>,
    /// Where the registry lives (default: `.cassandra-snapshotter` beside the first data directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl StreamArgs {
    /// The argv (after `node-push`) that parses back into `self`.
    pub fn to_argv(&self) -> Vec<String> {
        let mut argv = vec!["stream".to_string()];
        if let Some(yaml) = &self.cassandra_yaml {
            argv.extend(["--cassandra-yaml".into(), yaml.display().to_string()]);
        }
        for dir in &self.data_dirs {
            argv.extend(["--data-dir".into(), dir.display().to_string()]);
        }
        if let Some(dir) = &self.state_dir {
            argv.extend(["--state-dir".into(), dir.display().to_string()]);
        }
        argv
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
  node-push restore --from s3://bucket --plan-stdin --credentials-stdin   (as the coordinator runs it)";

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
    /// Where the node's stream registry lives (default: `.cassandra-snapshotter` beside the first data
    /// directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

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
    /// Stop (exit 3) when stdin ends, and take each further stdin line as fresh credentials: for the
    /// coordinator, whose SSH connection is the stdin. Standalone runs (cron, systemd) leave it off.
    #[arg(long)]
    pub watch_stdin: bool,
    /// Write Prometheus metrics (node_exporter textfile format) to this file after the run.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
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
            committed_manifest: None,
            state_dir: None,
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
            watch_stdin: false,
            metrics_file: None,
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
        if let Some(key) = &self.committed_manifest {
            push("committed-manifest", key.clone());
        }
        if let Some(dir) = &self.state_dir {
            push("state-dir", path(dir));
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
        if self.watch_stdin {
            argv.push("--watch-stdin".into());
        }
        if let Some(file) = &self.metrics_file {
            argv.extend(["--metrics-file".into(), file.display().to_string()]);
        }
        argv
    }
}

/// `node-push restore`: from a plan the coordinator sends (`--plan-stdin`) or writes (`--plan FILE`), or by
/// hand from a backup name with `--backup`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct RestoreArgs {
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
        required_unless_present_any = ["plan_stdin", "plan"],
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
        required_unless_present_any = ["restore_dir", "plan_stdin", "plan"]
    )]
    pub staging_dir: Option<PathBuf>,
    /// With --backup: write the old tool's layout `<DIR>/<ks>/<table dir>/<host>_<file>`.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["plan_stdin", "plan"])]
    pub restore_dir: Option<PathBuf>,

    /// Where the backups are: `s3://bucket/base-path` or `file:///directory`. With a plan, whose keys are
    /// complete, only the bucket or directory matters.
    #[arg(long, value_name = "URL")]
    pub from: Destination,
    /// The base path backups are under, instead of the URL's path (for file:// stores, whose URL names the
    /// directory).
    #[arg(long, value_name = "PATH")]
    pub base_path: Option<String>,
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
    /// Stop (exit 3) when stdin ends, and take each further stdin line as fresh credentials: for the
    /// coordinator, whose SSH connection is the stdin.
    #[arg(long)]
    pub watch_stdin: bool,
}

impl RestoreArgs {
    /// Arguments for restoring a plan read from stdin, from the store at `from`.
    pub fn plan_stdin(from: Destination) -> Self {
        RestoreArgs {
            plan_stdin: true,
            plan: None,
            backup: None,
            keyspace: None,
            tables: Vec::new(),
            hosts: Vec::new(),
            host_map: None,
            until: None,
            staging_dir: None,
            restore_dir: None,
            from,
            base_path: None,
            endpoint: None,
            region: "us-east-1".into(),
            profile: None,
            credentials_stdin: false,
            owner_of: None,
            concurrency: 4,
            chunk_size_mib: 8,
            rate_limit: 0,
            keep_going: false,
            watch_stdin: false,
        }
    }

    /// The argv (after `node-push`) that parses back into `self`.
    pub fn to_argv(&self) -> Vec<String> {
        let mut argv = vec!["restore".to_string()];
        let mut push = |flag: &str, value: String| {
            argv.push(format!("--{flag}"));
            argv.push(value);
        };
        let path = |p: &PathBuf| p.display().to_string();
        if let Some(plan) = &self.plan {
            push("plan", path(plan));
        }
        if let Some(backup) = &self.backup {
            push("backup", backup.to_string());
        }
        if let Some(keyspace) = &self.keyspace {
            push("keyspace", keyspace.clone());
        }
        if !self.tables.is_empty() {
            push("table", self.tables.join(","));
        }
        if !self.hosts.is_empty() {
            push("host-label", self.hosts.join(","));
        }
        if let Some(map) = &self.host_map {
            push("host-map", map.to_string());
        }
        if let Some(until) = &self.until {
            push("until", until.to_rfc3339());
        }
        if let Some(dir) = &self.staging_dir {
            push("staging-dir", path(dir));
        }
        if let Some(dir) = &self.restore_dir {
            push("restore-dir", path(dir));
        }
        push("from", self.from.to_string());
        if let Some(base) = &self.base_path {
            push("base-path", base.clone());
        }
        if let Some(endpoint) = &self.endpoint {
            push("endpoint", endpoint.clone());
        }
        push("region", self.region.clone());
        if let Some(profile) = &self.profile {
            push("profile", profile.clone());
        }
        if let Some(owner) = &self.owner_of {
            push("owner-of", path(owner));
        }
        push("concurrency", self.concurrency.to_string());
        push("chunk-size-mib", self.chunk_size_mib.to_string());
        push("rate-limit", self.rate_limit.to_string());
        for (flag, set) in [
            ("plan-stdin", self.plan_stdin),
            ("credentials-stdin", self.credentials_stdin),
            ("keep-going", self.keep_going),
        ] {
            if set {
                argv.push(format!("--{flag}"));
            }
        }
        if self.watch_stdin {
            argv.push("--watch-stdin".into());
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
        args.watch_stdin = true;
        args.metrics_file = Some("/var/lib/node_exporter/node-push.prom".into());
        assert_eq!(parse(&args.to_argv()), args);
    }

    #[test]
    fn argv_round_trips_for_incremental_and_plain_uploads() {
        let mut args = UploadArgs::new("file:///mnt/backups".parse().unwrap());
        args.data_dirs = vec!["/d1".into(), "/d2".into()];
        args.incremental = true;
        args.delete_after_upload = true;
        args.committed_manifest = Some("b/20240101000000/manifest.json".into());
        args.state_dir = Some("/var/lib/cassandra/.state".into());
        args.sse = Some(SseArg::Aes256);
        assert_eq!(parse(&args.to_argv()), args);

        let mut plain = UploadArgs::new("s3://bkt/p".parse().unwrap());
        plain.dir = Some("/tmp/x".into());
        assert_eq!(parse(&plain.to_argv()), plain);
    }

    #[test]
    fn stream_argv_round_trips() {
        let args = StreamArgs {
            cassandra_yaml: Some("/etc/cassandra/cassandra.yaml".into()),
            data_dirs: Vec::new(),
            state_dir: Some("/var/lib/cassandra/.cassandra-snapshotter".into()),
        };
        let argv = args.to_argv();
        let cli =
            Cli::try_parse_from(std::iter::once("node-push".to_string()).chain(argv)).unwrap();
        assert!(matches!(cli.command, Command::Stream(parsed) if parsed == args));
    }

    fn parse_restore(argv: &[String]) -> RestoreArgs {
        let cli = Cli::try_parse_from(
            std::iter::once("node-push".to_string()).chain(argv.iter().cloned()),
        )
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        match cli.command {
            Command::Restore(args) => *args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn restore_argv_round_trips_for_a_plan_and_by_hand() {
        let mut args = RestoreArgs::plan_stdin("s3://bucket.with.dots".parse().unwrap());
        args.credentials_stdin = true;
        args.endpoint = Some("http://127.0.0.1:8333".into());
        args.owner_of = Some("/var/lib/cassandra/data".into());
        args.concurrency = 2;
        args.chunk_size_mib = 16;
        args.rate_limit = 512;
        args.keep_going = true;
        args.watch_stdin = true;
        assert_eq!(parse_restore(&args.to_argv()), args);

        let mut by_hand = RestoreArgs::plan_stdin("file:///mnt/store".parse().unwrap());
        by_hand.plan_stdin = false;
        by_hand.backup = Some("LATEST".parse().unwrap());
        by_hand.keyspace = Some("ks".into());
        by_hand.tables = vec!["users".into(), "events".into()];
        by_hand.hosts = vec!["node1".into()];
        by_hand.host_map = Some("node1=node9".parse().unwrap());
        by_hand.until = Some("2024-01-02T03:04:05Z".parse().unwrap());
        by_hand.restore_dir = Some("/tmp/restore".into());
        by_hand.base_path = Some("cluster/prod".into());
        by_hand.profile = Some("backup".into());
        assert_eq!(parse_restore(&by_hand.to_argv()), by_hand);

        by_hand.restore_dir = None;
        by_hand.staging_dir = Some("/var/lib/cassandra/staging".into());
        by_hand.backup = Some("20240101000000".parse().unwrap());
        assert_eq!(parse_restore(&by_hand.to_argv()), by_hand);

        let mut from_file = RestoreArgs::plan_stdin("s3://bkt".parse().unwrap());
        from_file.plan_stdin = false;
        from_file.plan = Some("/tmp/plan.json".into());
        assert_eq!(parse_restore(&from_file.to_argv()), from_file);
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
