//! The JSON-lines protocol between node-push and the coordinator.
//!
//! node-push writes one JSON object per line on stdout and nothing else there (human logs go to stderr).
//! Every object has a `"type"` field naming the variant of [`Message`], in snake case. The first line is
//! always [`Message::Hello`]; the last line of an upload is [`Message::Summary`], of a restore
//! [`Message::RestoreSummary`], or of either [`Message::Fatal`] when it could not go on. Readers
//! skip lines that are not JSON objects (a login banner, say) and reject JSON lines of unknown type.
//!
//! In the other direction, the coordinator writes one [`NodeInput`] JSON line to node-push's stdin (the
//! credentials: never argv or the environment of the remote command line), then keeps stdin open. When stdin
//! closes (the SSH connection dropped), node-push aborts its multipart uploads (or, restoring, removes its
//! unfinished `.part` files) and exits with code 3.
//!
//! `node-push restore --plan-stdin` reads a second line after the credentials line (or the first line without
//! `--credentials-stdin`): one [`RestoreRequest`] JSON object listing every object and its target path. It
//! then prints `hello`, `plan`, one [`Message::RestoreFileDone`] or [`Message::RestoreFileFailed`] per file
//! (with [`Message::RestoreFileProgress`] in between) and ends with [`Message::RestoreSummary`] or
//! [`Message::Fatal`].
//!
//! `node-push stream` reads one [`crate::stream::StreamRequest`] line and answers with
//! [`Message::Stream`].
//!
//! Protocol history: version 1 introduced every message here. The restore messages and [`RestoreRequest`]
//! were added before version 1 shipped, so they are part of version 1 too. Version 2 added
//! [`Message::InBackup`], [`Summary::files_in_backup`], [`Message::Stream`] and `node-push stream`, and
//! removed `file_deleted`: node-push no longer deletes `backups/` files during an upload (the stream
//! commit does, after the manifest is written). Version 3: the coordinator sends every command one
//! [`crate::request::RequestLine`] (`--request-stdin`), before the credentials line; argv carries no
//! settings any more.

use crate::manifest::ObjectEntry;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The protocol version this build speaks. The coordinator refuses a node-push with another.
pub const PROTOCOL_VERSION: u32 = 4;

/// One line node-push prints on stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    /// First line: who is talking.
    Hello {
        protocol: u32,
        tool_version: String,
        hostname: String,
        arch: String,
    },
    /// What the walk found, before any upload starts.
    Plan { files: u64, bytes: u64 },
    /// A file's upload started.
    FileStarted {
        path: String,
        key: String,
        size: u64,
    },
    /// Bytes of a file read and sent so far (throttled: a few per second per file at most).
    FileProgress {
        path: String,
        bytes_read: u64,
        bytes_sent: u64,
    },
    /// A file was uploaded and its ETag verified; `entry` goes into the manifest as it is.
    FileDone { entry: ObjectEntry },
    /// A file was not uploaded, and that is not a failure (see [`SkipReason`]).
    FileSkipped { path: String, reason: SkipReason },
    /// A file's upload failed after its retries; its multipart upload was aborted.
    FileFailed {
        path: String,
        key: String,
        error: String,
        retryable: bool,
    },
    /// An incremental file not sent because the backup it goes into already holds its SSTable byte for
    /// byte (`matches` is a key of that SSTable); its identity is committed with the batch all the same.
    InBackup {
        path: String,
        source_id: String,
        matches: String,
    },
    /// The answer of `node-push stream`.
    Stream(crate::stream::StreamAnswer),
    /// Last line of a run that got to the end.
    Summary(Summary),
    /// Last line of a run that could not go on at all (bad config, store unreachable).
    Fatal { error: String },
    /// Restore: decoded bytes of a file written so far (throttled: a few per second per file at most).
    RestoreFileProgress { key: String, bytes_written: u64 },
    /// Restore: the object was downloaded, its lzop checksums, size and SHA-256 verified, and the file
    /// fsynced and renamed to `target`.
    RestoreFileDone {
        key: String,
        target: PathBuf,
        /// Decoded bytes written.
        size: u64,
        /// Hex SHA-256 of the bytes written.
        sha256: String,
    },
    /// Restore: the file was not restored, and nothing is left at `target` (nor at `target.part`).
    RestoreFileFailed {
        key: String,
        target: PathBuf,
        failure: RestoreFailure,
        /// One line naming the key (and the path, for local errors).
        error: String,
        retryable: bool,
    },
    /// Restore: last line of a run that got to the end.
    RestoreSummary(RestoreSummary),
}

/// Why a file was not restored (or, in `verify`, why an object is bad).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreFailure {
    /// The object does not exist.
    Missing,
    /// The stored object's size differs from the manifest's `compressed_size`.
    StoredSizeMismatch,
    /// The lzop stream is damaged (bad header, block checksum, truncated, trailing bytes).
    Corrupt,
    /// The decoded bytes are not as many as the manifest's `size`.
    SizeMismatch,
    /// The decoded bytes do not hash to the manifest's `sha256`.
    Sha256Mismatch,
    /// The target's filesystem is full.
    DiskFull,
    /// Any other error creating, writing, syncing or renaming the target.
    WriteError,
    /// The store failed (after retries): access denied, unreachable, throttled.
    StoreError,
    /// Not attempted: another file of the same table failed first.
    TableFailed,
    /// The run was cancelled (stdin closed) before the file was done.
    Cancelled,
}

/// Totals of one `node-push restore` run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreSummary {
    pub files_total: u64,
    pub files_done: u64,
    pub files_failed: u64,
    /// Decoded bytes written to targets.
    pub bytes_written: u64,
    /// Stored (lzop) bytes downloaded.
    pub bytes_downloaded: u64,
    /// `<keyspace>.<table>` (with `@<host>` when the plan spans several source hosts) of every table with
    /// at least one failed file, sorted.
    pub failed_tables: Vec<String>,
    pub elapsed_ms: u64,
}

/// One file to restore: the object, as its manifest entry says, and the absolute path to write it to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreFile {
    /// An entry with an empty `sha256` comes from listing a backup the old tool wrote: its source size
    /// and hash are unknown, and only its stored size and the lzop checksums can be checked.
    pub entry: ObjectEntry,
    pub target: PathBuf,
}

/// The JSON line `node-push restore --plan-stdin` reads: every file this node restores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    pub files: Vec<RestoreFile>,
}

/// Why a file was skipped.
// One value per file, serialised at once: boxing the entry would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Gone between the walk and the read: compaction removed it.
    Vanished,
    /// An object with the same key, size and ETag is already stored (a resumed run); the entry is reused.
    AlreadyStored { entry: ObjectEntry },
    /// A differential snapshot: the reference backup stores this file's exact bytes (same name, size and
    /// digest, the digest computed from the file now); the entry points at that object.
    Referenced { entry: ObjectEntry },
}

/// Totals of one node-push run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub files_total: u64,
    pub files_done: u64,
    pub files_skipped: u64,
    pub files_failed: u64,
    /// Source bytes read and uploaded.
    pub bytes_read: u64,
    /// Compressed bytes stored.
    pub bytes_stored: u64,
    /// Source bytes of files already stored by an earlier run, not sent again.
    pub bytes_not_resent: u64,
    /// Incremental files whose SSTable the target backup already holds (see [`Message::InBackup`]).
    #[serde(default)]
    pub files_in_backup: u64,
    /// Differential snapshot: files whose bytes the reference backup already stores, not sent.
    #[serde(default)]
    pub files_referenced: u64,
    /// Source bytes of those files.
    #[serde(default)]
    pub bytes_referenced: u64,
    pub elapsed_ms: u64,
}

/// The one line the coordinator sends on node-push's stdin. The secrets are [`Secret`]s: `Debug`
/// redacts them, serde writes them (this line is where they are handed on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInput {
    #[serde(default)]
    pub aws_access_key_id: Option<String>,
    #[serde(default)]
    pub aws_secret_access_key: Option<Secret>,
    #[serde(default)]
    pub aws_session_token: Option<Secret>,
}

/// A line that is JSON but not a message of this protocol.
#[derive(Debug, thiserror::Error)]
#[error("bad message from node-push: {source}: {line}")]
pub struct MessageError {
    pub line: String,
    pub source: serde_json::Error,
}

impl Message {
    /// The message as one line, without the trailing newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("messages always serialise")
    }

    /// Parse one line of node-push's stdout: `Ok(None)` for a line that is not a JSON object (skipped),
    /// an error for a JSON object that is not a valid message.
    pub fn parse_line(line: &str) -> Result<Option<Message>, MessageError> {
        let trimmed = line.trim();
        if !trimmed.starts_with('{') {
            return Ok(None);
        }
        serde_json::from_str(trimmed)
            .map(Some)
            .map_err(|source| MessageError {
                line: truncate(trimmed),
                source,
            })
    }
}

fn truncate(line: &str) -> String {
    const MAX: usize = 200;
    match line.char_indices().nth(MAX) {
        Some((idx, _)) => format!("{}…", &line[..idx]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ObjectEntry {
        ObjectEntry {
            key: "b/n/h/d/ks/t/snapshots/n/f.lzo".into(),
            host: "h".into(),
            source_path: "/d/ks/t/snapshots/n/f".into(),
            keyspace: "ks".into(),
            table: "t".into(),
            size: 3,
            compressed_size: 60,
            sha256: String::new(),
            blake3: "ab".repeat(32),
            etag: "e".into(),
            variant: 0,
            source_id: None,
        }
    }

    #[test]
    fn every_message_round_trips_through_one_line() {
        let messages = vec![
            Message::Hello {
                protocol: 1,
                tool_version: "0.1.0".into(),
                hostname: "n1".into(),
                arch: "x86_64".into(),
            },
            Message::Plan {
                files: 2,
                bytes: 10,
            },
            Message::FileStarted {
                path: "/p".into(),
                key: "k".into(),
                size: 3,
            },
            Message::FileProgress {
                path: "/p".into(),
                bytes_read: 1,
                bytes_sent: 1,
            },
            Message::FileDone { entry: entry() },
            Message::FileSkipped {
                path: "/p".into(),
                reason: SkipReason::Vanished,
            },
            Message::FileSkipped {
                path: "/p".into(),
                reason: SkipReason::AlreadyStored { entry: entry() },
            },
            Message::FileFailed {
                path: "/p".into(),
                key: "k".into(),
                error: "boom".into(),
                retryable: true,
            },
            Message::Summary(Summary {
                files_total: 2,
                files_done: 1,
                ..Summary::default()
            }),
            Message::Fatal { error: "no".into() },
            Message::RestoreFileProgress {
                key: "k".into(),
                bytes_written: 5,
            },
            Message::RestoreFileDone {
                key: "k".into(),
                target: "/stage/ks/t/f".into(),
                size: 3,
                sha256: "ab".repeat(32),
            },
            Message::RestoreFileFailed {
                key: "k".into(),
                target: "/stage/ks/t/f".into(),
                failure: RestoreFailure::Sha256Mismatch,
                error: "k: bad".into(),
                retryable: false,
            },
            Message::RestoreSummary(RestoreSummary {
                files_total: 2,
                files_done: 1,
                files_failed: 1,
                failed_tables: vec!["ks.t".into()],
                ..RestoreSummary::default()
            }),
        ];
        for message in messages {
            let line = message.to_line();
            assert!(!line.contains('\n'));
            assert_eq!(Message::parse_line(&line).unwrap(), Some(message));
        }
    }

    #[test]
    fn the_wire_format_is_stable() {
        let line = Message::Plan {
            files: 2,
            bytes: 10,
        }
        .to_line();
        assert_eq!(line, r#"{"type":"plan","files":2,"bytes":10}"#);
        let line = Message::Summary(Summary::default()).to_line();
        assert!(
            line.starts_with(r#"{"type":"summary","files_total":0,"#),
            "{line}"
        );
    }

    #[test]
    fn skips_noise_and_rejects_unknown_messages() {
        assert_eq!(Message::parse_line("Welcome to node1").unwrap(), None);
        assert_eq!(Message::parse_line("").unwrap(), None);
        assert!(Message::parse_line(r#"{"type":"launch_missiles"}"#).is_err());
        assert!(Message::parse_line(r#"{"type":"plan","files":1}"#).is_err());
        assert!(Message::parse_line(r#"{"type":"plan","files":1,"bytes":2,"extra":3}"#).is_err());
    }

    #[test]
    fn restore_requests_round_trip_and_reject_unknown_fields() {
        let request = RestoreRequest {
            files: vec![RestoreFile {
                entry: entry(),
                target: "/var/lib/cassandra/staging/ks/t/f".into(),
            }],
        };
        let line = serde_json::to_string(&request).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(
            serde_json::from_str::<RestoreRequest>(&line).unwrap(),
            request
        );
        assert!(serde_json::from_str::<RestoreRequest>(r#"{"files":[],"mode":"x"}"#).is_err());
        let failed = Message::RestoreFileFailed {
            key: "k".into(),
            target: "/t".into(),
            failure: RestoreFailure::DiskFull,
            error: "e".into(),
            retryable: false,
        };
        assert!(failed.to_line().contains(r#""failure":"disk_full""#));
    }

    #[test]
    fn node_input_debug_hides_secrets() {
        let input = NodeInput {
            aws_access_key_id: Some("AKIAEXAMPLE".into()),
            aws_secret_access_key: Some("s3cr3t-value".into()),
            aws_session_token: None,
        };
        let shown = format!("{input:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("AKIAEXAMPLE"));
    }
}
