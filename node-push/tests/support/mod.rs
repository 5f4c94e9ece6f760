//! Helpers of the node-push binary tests (upload and restore): running the node-push binary with lines on its stdin (kept
//! open until it exits, as the coordinator does), reading its JSON lines strictly, uploading a tree, and
//! comparing restored files with their sources.
#![allow(dead_code)] // not every test uses every helper

use contract::manifest::{Batch, BatchKind, Manifest, ObjectEntry};
use contract::message::{Message, RestoreFailure, RestoreFile, RestoreRequest, RestoreSummary};
use engine::store::s3::S3Store;
use engine::store::{ObjectStore, PutOptions};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use testkit::seaweed::SeaweedFs;

/// The backup name (and snapshot tag) of every test.
pub const NAME: &str = "20240101000000";

/// A restore request as one JSON line.
pub fn request_line(files: Vec<RestoreFile>) -> String {
    serde_json::to_string(&RestoreRequest { files }).unwrap()
}

/// What one node-push run printed and how it ended.
pub struct Run {
    pub messages: Vec<Message>,
    pub status: std::process::ExitStatus,
    pub stderr: String,
    pub peak_rss_kib: u64,
}

impl Run {
    /// The upload summary, which must be the last line.
    pub fn summary(&self) -> &contract::message::Summary {
        match self.messages.last() {
            Some(Message::Summary(summary)) => summary,
            other => panic!(
                "last line is not a summary: {other:?}\nstderr: {}",
                self.stderr
            ),
        }
    }

    pub fn restore_summary(&self) -> &RestoreSummary {
        match self.messages.last() {
            Some(Message::RestoreSummary(summary)) => summary,
            other => panic!(
                "last line is not a restore summary: {other:?}\nstderr: {}",
                self.stderr
            ),
        }
    }

    /// Upload entries by source path.
    pub fn uploaded(&self) -> BTreeMap<String, ObjectEntry> {
        self.messages
            .iter()
            .filter_map(|m| match m {
                Message::FileDone { entry } => Some((entry.source_path.clone(), entry.clone())),
                _ => None,
            })
            .collect()
    }

    /// Restored files: target -> key.
    pub fn restored(&self) -> BTreeMap<PathBuf, String> {
        self.messages
            .iter()
            .filter_map(|m| match m {
                Message::RestoreFileDone { key, target, .. } => Some((target.clone(), key.clone())),
                _ => None,
            })
            .collect()
    }

    /// Failed files: key -> (failure, error line, target).
    pub fn failed(&self) -> BTreeMap<String, (RestoreFailure, String, PathBuf)> {
        self.messages
            .iter()
            .filter_map(|m| match m {
                Message::RestoreFileFailed {
                    key,
                    failure,
                    error,
                    target,
                    ..
                } => Some((key.clone(), (*failure, error.clone(), target.clone()))),
                _ => None,
            })
            .collect()
    }
}

/// Runs `prefix... node-push args...` (prefix: e.g. `unshare -r -m ...`), writing `stdin_lines` first and
/// keeping stdin open until it exits. Every stdout line must be a message; the first one `hello`.
pub fn node_push_with(prefix: &[String], args: &[String], stdin_lines: &[String]) -> Run {
    node_push_full(prefix, args, stdin_lines, None)
}

/// Like [`node_push_with`]; with `close_stdin_after`, stdin is closed that long after the start (the
/// coordinator's SSH connection dropping).
pub fn node_push_full(
    prefix: &[String],
    args: &[String],
    stdin_lines: &[String],
    close_stdin_after: Option<Duration>,
) -> Run {
    // NODE_PUSH_BIN: another build of the same binary (a release build, for a measurement).
    let bin = std::env::var("NODE_PUSH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_node-push").to_string());
    let mut command = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node-push starts");
    let mut stdin = Some(child.stdin.take().unwrap());
    for line in stdin_lines {
        writeln!(stdin.as_mut().unwrap(), "{line}").unwrap();
    }
    let started = std::time::Instant::now();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let mut peak_rss_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if close_stdin_after.is_some_and(|after| started.elapsed() >= after) {
            stdin = None;
        }
        if let Ok(status) = fs_err::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(hwm) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                let kib = hwm
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .unwrap_or(0);
                peak_rss_kib = peak_rss_kib.max(kib);
            }
        }
        // The sampling interval of the RSS measurement, not a wait.
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let messages: Vec<Message> = stdout
        .lines()
        .map(|line| {
            Message::parse_line(line)
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("stdout holds only JSON lines: {line}\nstderr: {stderr}"))
        })
        .collect();
    assert!(
        matches!(
            messages.first(),
            Some(Message::Hello {
                protocol: contract::message::PROTOCOL_VERSION,
                ..
            })
        ),
        "{messages:?}\nstderr: {stderr}"
    );
    Run {
        messages,
        status,
        stderr,
        peak_rss_kib,
    }
}

pub fn node_push(args: &[String], stdin_lines: &[String]) -> Run {
    node_push_with(&[], args, stdin_lines)
}

pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn s3_store(weed: &SeaweedFs, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        runtime()
            .block_on(S3Store::connect(weed.s3_config(bucket)))
            .expect("connects to SeaweedFS"),
    )
}

/// [`SeaweedFs::credentials_line`], under the name upload_pipeline.rs calls it by.
pub fn credentials_line(weed: &SeaweedFs) -> String {
    weed.credentials_line()
}

/// Store flags for node-push against `weed`, credentials on stdin.
pub fn s3_flags(weed: &SeaweedFs) -> Vec<String> {
    let mut flags = weed.node_push_flags();
    flags.push("--credentials-stdin".to_string());
    flags
}

/// Uploads `data_dirs`' snapshot `tag` (or incrementals) with the node-push binary; returns the entries
/// in the order node-push reported them.
pub fn upload(
    data_dirs: &[&Path],
    source: &[&str],
    dest: &str,
    host: &str,
    store_flags: &[String],
    stdin_lines: &[String],
) -> Vec<ObjectEntry> {
    let mut argv = args(&[
        "upload",
        "--dest",
        dest,
        "--host-label",
        host,
        "--part-size-mib",
        "5",
    ]);
    for dir in data_dirs {
        argv.extend(args(&["--data-dir", dir.to_str().unwrap()]));
    }
    argv.extend(source.iter().map(|s| s.to_string()));
    argv.extend(store_flags.iter().cloned());
    let run = node_push(&argv, stdin_lines);
    assert!(run.status.success(), "upload failed: {}", run.stderr);
    run.messages
        .iter()
        .filter_map(|m| match m {
            Message::FileDone { entry } => Some(entry.clone()),
            _ => None,
        })
        .collect()
}

/// A manifest of our format with one batch per `(kind, completed_at, entries)`.
pub fn manifest(
    name: &str,
    base: &str,
    hosts: &[&str],
    batches: Vec<(BatchKind, chrono::DateTime<chrono::Utc>, Vec<ObjectEntry>)>,
) -> Manifest {
    let mut manifest = Manifest::new(
        name,
        base,
        hosts.iter().map(|h| h.to_string()).collect(),
        None,
        "",
    );
    // Objects inline: a format-1 manifest (format 2 keeps them in records documents).
    manifest.format_version = 1;
    for (kind, completed_at, objects) in batches {
        manifest.batches.push(Batch {
            kind,
            started_at: completed_at - chrono::Duration::seconds(1),
            completed_at,
            objects,
            id: String::new(),
            records: Vec::new(),
        });
    }
    manifest
}

pub fn put(store: &dyn ObjectStore, key: &str, body: Vec<u8>) {
    runtime()
        .block_on(store.put_object(key, body.into(), &PutOptions::default()))
        .unwrap_or_else(|e| panic!("PUT {key}: {e}"));
}

pub fn get(store: &dyn ObjectStore, key: &str) -> Vec<u8> {
    runtime()
        .block_on(store.get(key, None))
        .unwrap_or_else(|e| panic!("GET {key}: {e}"))
        .to_vec()
}

/// Asserts `restored` holds exactly the bytes of `source` (without printing megabytes on failure).
pub fn assert_same_bytes(restored: &Path, source: &Path) {
    let (a, b) = (
        fs_err::read(restored).unwrap(),
        fs_err::read(source).unwrap(),
    );
    assert!(
        a.len() == b.len() && a == b,
        "{} ({} bytes) differs from {} ({} bytes)",
        restored.display(),
        a.len(),
        source.display(),
        b.len()
    );
}

/// Every regular file below `dir`, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new();
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// No `.part` file anywhere below `dir`.
pub fn assert_no_part_files(dir: &Path) {
    let parts: Vec<PathBuf> = files_below(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "part"))
        .collect();
    assert!(parts.is_empty(), "left behind: {parts:?}");
}

/// The file below a snapshot or `backups/` dir as Cassandra names it in a table dir:
/// `<ks>/<table dir>/<file or .idx/file>`.
pub fn staged_relative(source: &Path) -> PathBuf {
    let parts: Vec<&str> = source.to_str().unwrap().split('/').collect();
    let marker = parts
        .iter()
        .rposition(|p| *p == "snapshots" || *p == "backups")
        .expect("a snapshot or backups path");
    let file_start = if parts[marker] == "snapshots" {
        marker + 2
    } else {
        marker + 1
    };
    let mut relative = PathBuf::from(parts[marker - 2]);
    relative.push(parts[marker - 1]);
    for part in &parts[file_start..] {
        relative.push(part);
    }
    relative
}
