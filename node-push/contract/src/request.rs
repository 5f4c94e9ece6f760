//! What the coordinator asks node-push to do: one versioned [`RequestLine`] per run, the one contract
//! style of every node-push command.
//!
//! The coordinator runs `node-push upload --request-stdin` (or `restore`, `stream`) and writes, on its
//! stdin, one [`RequestLine`]: the protocol version, the [`Session`] (whether a credentials line follows
//! and whether the end of stdin cancels the run), and the [`Request`]. Then, when the session says so, one
//! [`crate::message::NodeInput`] line with the credentials, and later fresh ones. Secrets never go in argv
//! or in the request: only in those credentials lines.
//!
//! Parsing is strict (`deny_unknown_fields` everywhere), and the version is read first, so that a
//! coordinator and a node-push of different protocols get one clear error instead of a field-by-field
//! complaint. Standalone runs (cron, systemd, by hand) keep node-push's flags; node-push turns them into
//! these same types, so each command's code takes only requests.

use crate::message::{RestoreFile, PROTOCOL_VERSION};
use crate::stream::StreamRequest;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The first line on node-push's stdin with `--request-stdin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLine {
    /// [`PROTOCOL_VERSION`] of the sender; node-push refuses any other.
    pub version: u32,
    #[serde(default)]
    pub session: Session,
    pub request: Request,
}

/// How the run uses its stdin after the request line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// One [`crate::message::NodeInput`] line with credentials follows the request line.
    #[serde(default)]
    pub credentials_stdin: bool,
    /// The end of stdin cancels the run (the SSH connection is stdin), and each further line is fresh
    /// credentials. Standalone runs leave it off: cron's stdin is a pipe already at its end.
    #[serde(default)]
    pub watch_stdin: bool,
}

/// One node-push command's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Upload(Box<UploadRequest>),
    Restore(Box<RestoreFilesRequest>),
    Stream(Box<NodeStreamRequest>),
}

impl Request {
    /// The node-push subcommand that runs this request.
    pub fn command(&self) -> &'static str {
        match self {
            Request::Upload(_) => "upload",
            Request::Restore(_) => "restore",
            Request::Stream(_) => "stream",
        }
    }
}

/// Why a request line was refused. Never quotes the line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("the request line on stdin is not JSON with a version ({0})")]
    NoVersion(String),
    #[error(
        "the request line has protocol version {got}, this node-push speaks {PROTOCOL_VERSION}: \
         coordinator and node-push differ (install the node-push of this coordinator)"
    )]
    Version { got: u32 },
    #[error("the request line is not a valid request ({0})")]
    Invalid(String),
    #[error("node-push {command} got a {got} request")]
    WrongCommand {
        command: &'static str,
        got: &'static str,
    },
}

impl RequestLine {
    /// A request of this build's protocol version.
    pub fn new(session: Session, request: Request) -> Self {
        RequestLine {
            version: PROTOCOL_VERSION,
            session,
            request,
        }
    }

    /// The line, without its newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("requests always serialise")
    }

    /// Parses a line strictly: the version first, then the whole request.
    pub fn parse(line: &str) -> Result<RequestLine, RequestError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let version = serde_json::from_str::<VersionOnly>(line)
            .map_err(|e| RequestError::NoVersion(position(&e)))?
            .version;
        if version != PROTOCOL_VERSION {
            return Err(RequestError::Version { got: version });
        }
        serde_json::from_str(line).map_err(|e| RequestError::Invalid(position(&e)))
    }
}

/// Where a serde error is, and its category; not its message, which may quote the input.
fn position(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Io => "read error",
        Category::Syntax => "not JSON",
        Category::Data => "JSON of the wrong shape",
        Category::Eof => "incomplete JSON",
    };
    format!("{what} at line {}, column {}", error.line(), error.column())
}

/// Where a command's store is. Credentials are never here (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreRequest {
    /// `s3://bucket/prefix` or `file:///absolute/path`.
    pub url: String,
    /// S3-compatible endpoint (path-style requests).
    #[serde(default)]
    pub endpoint: Option<String>,
    pub region: String,
    /// AWS profile, when no credentials line is sent.
    #[serde(default)]
    pub profile: Option<String>,
}

impl StoreRequest {
    /// The store at `url` in the default region, reached with the default credentials.
    pub fn new(url: impl Into<String>) -> Self {
        StoreRequest {
            url: url.into(),
            endpoint: None,
            region: DEFAULT_REGION.to_string(),
            profile: None,
        }
    }
}

/// The region of a store that names none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Server-side encryption of uploaded objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sse {
    Aes256,
    AwsKms,
}

/// The lzop checksum written for every block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LzopChecksum {
    #[default]
    Adler32,
    Crc32,
}

/// `node-push upload`: what to upload, where, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    pub store: StoreRequest,
    /// Plain mode: every file under this directory, keyed by its relative path.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Cassandra mode: `data_file_directories` from this cassandra.yaml, or `data_dirs`.
    #[serde(default)]
    pub cassandra_yaml: Option<PathBuf>,
    #[serde(default)]
    pub data_dirs: Vec<PathBuf>,
    /// Keyspaces to upload; all when empty.
    #[serde(default)]
    pub keyspaces: Vec<String>,
    /// Only this table.
    #[serde(default)]
    pub table: Option<String>,
    /// `table` or `keyspace.table` entries left out.
    #[serde(default)]
    pub exclude_tables: Vec<String>,
    /// The snapshot with this tag; or, with `incremental`, the `backups/` files.
    #[serde(default)]
    pub snapshot_tag: Option<String>,
    #[serde(default)]
    pub incremental: bool,
    /// Incremental, standalone: delete the `backups/` links every stream has stored, after the run.
    #[serde(default)]
    pub delete_after_upload: bool,
    /// The host name recorded in manifest entries (default: the node's hostname).
    #[serde(default)]
    pub host_label: Option<String>,
    /// Incremental: the key of the manifest of the backup this batch goes into.
    #[serde(default)]
    pub committed_manifest: Option<String>,
    /// Snapshot, differential: the key of the manifest of the complete backup whose objects may be
    /// referenced instead of uploaded, for files whose bytes it provably stores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_manifest: Option<String>,
    /// Where the node's stream registry lives.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    #[serde(default)]
    pub sse: Option<Sse>,
    #[serde(default)]
    pub sse_kms_key_id: Option<String>,
    #[serde(default)]
    pub storage_class: Option<String>,
    pub part_size_mib: u64,
    /// Files uploaded at once.
    pub concurrency: usize,
    /// Compression threads (default: half the cores).
    #[serde(default)]
    pub threads: Option<usize>,
    /// Node-wide bandwidth limit in KiB/s; 0 = none.
    pub rate_limit_kib: u64,
    #[serde(default)]
    pub checksum: LzopChecksum,
    /// Prometheus textfile written after the run.
    #[serde(default)]
    pub metrics_file: Option<PathBuf>,
}

impl UploadRequest {
    /// An upload to `store` with every other setting at its default (what the flags default to).
    pub fn new(store: StoreRequest) -> Self {
        UploadRequest {
            store,
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
            reference_manifest: None,
            state_dir: None,
            sse: None,
            sse_kms_key_id: None,
            storage_class: None,
            part_size_mib: 8,
            concurrency: 4,
            threads: None,
            rate_limit_kib: 0,
            checksum: LzopChecksum::Adler32,
            metrics_file: None,
        }
    }
}

/// `node-push restore`: these files, from this store, with these settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreFilesRequest {
    /// Only the bucket or directory matters: the files' keys are complete.
    pub store: StoreRequest,
    pub files: Vec<RestoreFile>,
    /// Give restored files and their new directories the owner of this path.
    #[serde(default)]
    pub owner_of: Option<PathBuf>,
    pub concurrency: usize,
    pub chunk_size_mib: u64,
    /// Node-wide bandwidth limit in KiB/s; 0 = none.
    pub rate_limit_kib: u64,
    /// Keep restoring a table's other files after one of them failed.
    #[serde(default)]
    pub keep_going: bool,
}

impl RestoreFilesRequest {
    /// Restoring `files` from `store` with the default settings.
    pub fn new(store: StoreRequest, files: Vec<RestoreFile>) -> Self {
        RestoreFilesRequest {
            store,
            files,
            owner_of: None,
            concurrency: 4,
            chunk_size_mib: 8,
            rate_limit_kib: 0,
            keep_going: false,
        }
    }
}

/// `node-push stream`: the node's data directories and registry, and the stream request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeStreamRequest {
    #[serde(default)]
    pub cassandra_yaml: Option<PathBuf>,
    #[serde(default)]
    pub data_dirs: Vec<PathBuf>,
    /// Where the registry lives (default: `.cassandra-snapshotter` beside the first data directory).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    pub stream: StreamRequest,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{StreamAction, StreamSpec, STREAM_REQUEST_VERSION};

    fn upload() -> RequestLine {
        let mut request = UploadRequest::new(StoreRequest::new("s3://bucket/base/2024/node1"));
        request.cassandra_yaml = Some("/etc/cassandra/cassandra.yaml".into());
        request.snapshot_tag = Some("2024".into());
        request.sse = Some(Sse::AwsKms);
        RequestLine::new(
            Session {
                credentials_stdin: true,
                watch_stdin: true,
            },
            Request::Upload(Box::new(request)),
        )
    }

    #[test]
    fn every_request_round_trips_through_its_line() {
        let stream = NodeStreamRequest {
            cassandra_yaml: Some("/etc/cassandra/cassandra.yaml".into()),
            data_dirs: vec![],
            state_dir: None,
            stream: StreamRequest {
                version: STREAM_REQUEST_VERSION,
                stream: StreamSpec {
                    id: "abc".into(),
                    label: "s3://b/p (all)".into(),
                    keyspaces: vec![],
                    table: None,
                    exclude_tables: vec![],
                },
                action: StreamAction::Status {
                    backup: "2024".into(),
                },
                expire_after_days: 14,
            },
        };
        let restore = RestoreFilesRequest::new(StoreRequest::new("s3://bucket"), vec![]);
        for line in [
            upload(),
            RequestLine::new(Session::default(), Request::Restore(Box::new(restore))),
            RequestLine::new(Session::default(), Request::Stream(Box::new(stream))),
        ] {
            assert_eq!(RequestLine::parse(&line.to_line()), Ok(line));
        }
    }

    #[test]
    fn another_version_is_named_as_such_and_unknown_fields_are_refused() {
        let mut line = upload();
        line.version = PROTOCOL_VERSION + 1;
        let err = RequestLine::parse(&line.to_line()).unwrap_err();
        assert_eq!(
            err,
            RequestError::Version {
                got: PROTOCOL_VERSION + 1
            }
        );
        assert!(err.to_string().contains("coordinator and node-push differ"));

        let text = upload().to_line().replace("\"table\":", "\"tabel\":");
        assert!(matches!(
            RequestLine::parse(&text),
            Err(RequestError::Invalid(_))
        ));
        assert!(matches!(
            RequestLine::parse("{\"secret\": \"hunter2\"}"),
            Err(RequestError::NoVersion(why)) if !why.contains("hunter2")
        ));
    }
}
