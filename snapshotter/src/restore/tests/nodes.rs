//! The node modes over scripted hosts: what runs on the node, in which order, with which stdin.

use super::super::node::NodeRestore;
use super::super::report::{TableState, TargetReport};
use super::super::source::{plan_for_nodes, Selected};
use super::settings;
use crate::output::Output;
use crate::remote::{Connector, Remote, RemoteError};
use crate::settings::{OutputMode, Verbosity};
use crate::stages::fake::FakeRemote;
use crate::stages::install::NodePushBinary;
use async_trait::async_trait;
use contract::layout;
use contract::manifest::{Batch, BatchKind, Manifest, ObjectEntry};
use contract::message::{Message, NodeInput, RestoreFailure, RestoreSummary, PROTOCOL_VERSION};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub(super) const NAME: &str = "20240101000000";
pub(super) const YAML: &str = "data_file_directories:\n    - /d\nincremental_backups: true\n\
commitlog_directory: /cl\nlisten_address: 127.0.0.4\n";
const RING: &str = "Address  Rack  Status State  Load  Owns  Token\n\
127.0.0.2  rack1  Up  Normal  1 KB  33%  0\n\
127.0.0.4  rack1  Up  Normal  1 KB  33%  113427455640312821154458202477256070485\n";

pub(super) struct FakeConnector {
    pub(super) hosts: HashMap<String, Arc<FakeRemote>>,
}

#[async_trait]
impl Connector for FakeConnector {
    async fn connect(&self, host: &str) -> Result<Arc<dyn Remote>, RemoteError> {
        Ok(self.hosts[host].clone())
    }

    async fn close_all(&self) {}
}

pub(super) fn binary() -> NodePushBinary {
    let bytes = b"not an elf".to_vec();
    NodePushBinary {
        path: "/local/node-push".into(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        arch: None,
        bytes: Arc::new(bytes),
    }
}

fn entry(host: &str, table: &str, file: &str) -> ObjectEntry {
    let source = format!("/d/ks/{table}/snapshots/{NAME}/{file}");
    ObjectEntry {
        key: layout::data_key("base", NAME, host, Path::new(&source)),
        host: host.into(),
        source_path: source,
        keyspace: "ks".into(),
        table: table.into(),
        size: 10,
        compressed_size: 8,
        sha256: "0".repeat(64),
        blake3: String::new(),
        etag: "e".into(),
        variant: 0,
        source_id: None,
    }
}

pub(super) fn selected(entries: Vec<ObjectEntry>) -> Selected {
    let mut manifest = Manifest::new(NAME, "base", vec!["n1".into()], None, "");
    let t = chrono::Utc::now();
    manifest.batches.push(Batch {
        kind: BatchKind::Snapshot,
        started_at: t,
        completed_at: t,
        objects: entries.clone(),
        id: String::new(),
        records: Vec::new(),
    });
    Selected {
        manifest,
        objects: entries,
    }
}

fn staged(table: &str, file: &str) -> String {
    format!("/d/.restore-staging/{NAME}/n1/ks/{table}/{file}")
}

pub(super) fn lines(messages: &[Message]) -> String {
    messages.iter().map(|m| m.to_line() + "\n").collect()
}

pub(super) fn hello() -> Message {
    Message::Hello {
        protocol: PROTOCOL_VERSION,
        tool_version: "0.1.0".into(),
        hostname: "n1".into(),
        arch: "x86_64".into(),
    }
}

/// node-push restores t1's two files and fails t2's one.
fn node_push_output() -> String {
    let done = |table: &str, file: &str| Message::RestoreFileDone {
        key: entry("n1", table, file).key,
        target: staged(table, file).into(),
        size: 10,
        sha256: "0".repeat(64),
    };
    let bad = entry("n1", "t2", "ks-t2-ia-1-Data.db").key;
    lines(&[
        hello(),
        Message::Plan {
            files: 3,
            bytes: 30,
        },
        done("t1", "ks-t1-ia-1-Index.db"),
        done("t1", "ks-t1-ia-1-Data.db"),
        Message::RestoreFileFailed {
            key: bad.clone(),
            target: staged("t2", "ks-t2-ia-1-Data.db").into(),
            failure: RestoreFailure::Corrupt,
            error: format!("{bad}: corrupt: block 1 checksum mismatch"),
            retryable: false,
        },
        Message::RestoreSummary(RestoreSummary {
            files_total: 3,
            files_done: 2,
            files_failed: 1,
            bytes_written: 20,
            bytes_downloaded: 16,
            failed_tables: vec!["ks.t2".into()],
            elapsed_ms: 1,
        }),
    ])
}

/// A node; `nodetool version` answers when `running`.
fn node(running: bool, processes: &str, table_dirs: &str, live_files: &str) -> FakeRemote {
    FakeRemote::new("n1")
        .on("ln --", 0, "moved\t2\n")
        .on("cd --", 0, live_files)
        .on("rm -rf", 0, "")
        .on("stat -c %Y", 0, table_dirs)
        .on("daemon=Cassandra", 0, processes)
        .on(
            "printf 'arch=%s",
            0,
            "arch=x86_64\nhome=/root\nconf=/c\nnodetool=/bin/nodetool\n",
        )
        .on("cat -- /c/cassandra.yaml", 0, YAML)
        .on("missing:", 0, "")
        .on_err(
            "nodetool version",
            if running { 0 } else { 1 },
            if running {
                "ReleaseVersion: 1.2.0\n"
            } else {
                ""
            },
            if running { "" } else { "Connection refused" },
        )
        .on("nodetool refresh", 0, "")
        .on("sha256sum", 0, &format!("{}  /p\n", binary().sha256))
        .on(" hello", 0, &lines(&[hello()]))
        .on(" restore ", 0, &node_push_output())
}

async fn restore(mode: &str, remote: FakeRemote) -> (TargetReport, Arc<FakeRemote>) {
    let settings = Arc::new(settings(&["--keyspace=ks", &format!("--mode={mode}")]).unwrap());
    let entries = vec![
        entry("n1", "t1", "ks-t1-ia-1-Index.db"),
        entry("n1", "t1", "ks-t1-ia-1-Data.db"),
        entry("n1", "t2", "ks-t2-ia-1-Data.db"),
    ];
    let files = plan_for_nodes(&selected(entries), &settings).unwrap().files;
    let remote = Arc::new(remote);
    let job = NodeRestore {
        settings,
        output: Arc::new(Output::new(OutputMode::Plain, Verbosity::Quiet)),
        binary: binary(),
        connector: Arc::new(FakeConnector {
            hosts: HashMap::from([("n1".to_string(), remote.clone())]),
        }),
        backup_name: NAME.into(),
        ring: Some(RING.into()),
    };
    (job.run("n1", &files).await, remote)
}

pub(super) fn stdin_of(remote: &FakeRemote, pattern: &str) -> Vec<String> {
    remote
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(script, _)| script.contains(pattern))
        .map(|(_, stdin)| String::from_utf8_lossy(stdin).into_owned())
        .collect()
}

#[tokio::test]
async fn refresh_moves_and_refreshes_only_complete_tables() {
    let live = "/d/ks/t1\tks-t1-ia-1-Data.db\n/d/ks/t1\tks-t1-ia-1-Index.db\n";
    let dirs = "100\t/d/ks/t1\n100\t/d/ks/t2\n";
    let (report, remote) = restore("refresh", node(true, "", dirs, live)).await;
    assert!(!report.ok);
    let t1 = report.tables.iter().find(|t| t.table == "t1").unwrap();
    assert_eq!(t1.state, TableState::Refreshed, "{report:?}");
    assert_eq!(t1.live_dir.as_deref(), Some("/d/ks/t1"));
    assert_eq!(t1.renumbered, 1);
    let t2 = report.tables.iter().find(|t| t.table == "t2").unwrap();
    assert_eq!(t2.state, TableState::Failed);
    let error = t2.error.as_deref().unwrap();
    assert!(error.contains("ks-t2-ia-1-Data.db.lzo: corrupt"), "{error}");
    assert!(error.contains("nothing of it was moved"), "{error}");

    // One move, of t1 only, to a generation far above the live one, data component last.
    let moves = stdin_of(&remote, "ln --");
    assert_eq!(moves.len(), 1);
    assert_eq!(
        moves[0],
        format!(
            "{}\t/d/ks/t1/ks-t1-ia-100001-Index.db\n{}\t/d/ks/t1/ks-t1-ia-100001-Data.db\n",
            staged("t1", "ks-t1-ia-1-Index.db"),
            staged("t1", "ks-t1-ia-1-Data.db")
        )
    );
    let scripts = remote.scripts();
    assert!(scripts
        .iter()
        .any(|s| s.ends_with("/bin/nodetool refresh ks t1")));
    assert!(!scripts.iter().any(|s| s.contains("refresh ks t2")));
    let clean = scripts.iter().find(|s| s.contains("rm -rf")).unwrap();
    assert!(clean.contains(&format!("/d/.restore-staging/{NAME}/n1/ks/t1")));
    assert!(
        !clean.contains("ks/t2"),
        "t2's verified files stay staged: {clean}"
    );

    // node-push got the credentials line, then every file with its staging target.
    let mut waited = 0;
    while remote.stdin_received.lock().unwrap().is_empty() && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    }
    let received = remote.stdin_received.lock().unwrap().clone();
    let text = String::from_utf8(received[0].clone()).unwrap();
    let mut input_lines = text.lines();
    let line = contract::request::RequestLine::parse(input_lines.next().unwrap()).unwrap();
    let contract::request::Request::Restore(request) = line.request else {
        panic!("not a restore request")
    };
    assert!(line.session.credentials_stdin && line.session.watch_stdin);
    assert_eq!(request.owner_of.as_deref(), Some(Path::new("/d")));
    let input: NodeInput = serde_json::from_str(input_lines.next().unwrap()).unwrap();
    assert_eq!(input.aws_access_key_id.as_deref(), Some("AKIA"));
    assert_eq!(request.files.len(), 3);
    assert_eq!(
        request.files[0].target,
        Path::new(&staged("t1", "ks-t1-ia-1-Index.db"))
    );
    let command = scripts.iter().find(|s| s.contains(" restore ")).unwrap();
    assert!(command.ends_with(" restore --request-stdin"), "{command}");
    assert!(!command.contains("secret-in-test"));
}

#[tokio::test]
async fn in_place_needs_cassandra_stopped_and_prints_the_tokens() {
    let (report, remote) = restore("in-place", node(true, "", "", "")).await;
    assert!(!report.ok);
    assert!(
        report.errors[0].contains("n1: Cassandra is running"),
        "{:?}",
        report.errors
    );
    assert!(!remote.scripts().iter().any(|s| s.contains(" restore ")));

    let (report, _) = restore("in-place", node(false, "uses\t4242\t/cl\n", "", "")).await;
    assert!(
        report.errors[0].contains("process 4242") && report.errors[0].contains("/cl"),
        "{:?}",
        report.errors
    );

    // Stopped, data dir wiped: the table dirs are created and the generations kept.
    let (report, remote) = restore("in-place", node(false, "", "", "")).await;
    let t1 = report.tables.iter().find(|t| t.table == "t1").unwrap();
    assert_eq!(t1.state, TableState::Moved, "{report:?}");
    let moves = stdin_of(&remote, "ln --");
    assert!(
        moves[0].contains("\t/d/ks/t1/ks-t1-ia-1-Data.db\n"),
        "{}",
        moves[0]
    );
    let move_script = remote
        .scripts()
        .into_iter()
        .find(|s| s.contains("ln --"))
        .unwrap();
    assert!(move_script.ends_with(" /d /d/ks /d/ks/t1"), "{move_script}");
    assert_eq!(report.tokens.len(), 1);
    assert_eq!(report.tokens[0].address.as_deref(), Some("127.0.0.4"));
    assert_eq!(
        report.tokens[0].tokens,
        ["113427455640312821154458202477256070485"]
    );
    assert!(!remote.scripts().iter().any(|s| s.contains("refresh")));
}

#[tokio::test]
async fn stage_only_stages() {
    let (report, remote) = restore("stage", node(false, "", "", "")).await;
    let t1 = report.tables.iter().find(|t| t.table == "t1").unwrap();
    assert_eq!(t1.state, TableState::Staged);
    assert_eq!(
        t1.staged_in,
        [format!("/d/.restore-staging/{NAME}/n1/ks/t1")]
    );
    let scripts = remote.scripts();
    assert!(!scripts
        .iter()
        .any(|s| s.contains("ln --") || s.contains("rm -rf")));
    assert!(!scripts.iter().any(|s| s.contains("nodetool version")));
}
