//! `--mode refresh` by Cassandra version over a scripted host: `nodetool import` of the staging dir on
//! 4.0+, moves and `nodetool refresh` before; secondary-index files never restored; truthful counts.

use super::super::node::NodeRestore;
use super::super::report::{RestoreReport, TableState, TargetReport};
use super::super::source::plan_for_nodes;
use super::nodes::{binary, hello, lines, selected, stdin_of, FakeConnector, NAME, YAML};
use super::settings;
use crate::output::Output;
use crate::settings::{OutputMode, Verbosity};
use crate::stages::fake::FakeRemote;
use contract::layout;
use contract::manifest::ObjectEntry;
use contract::message::{Message, RestoreRequest, RestoreSummary};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const T: &str = "t-0123456789abcdef0123456789abcdef";

fn entry(file: &str, sha: &str) -> ObjectEntry {
    let source = format!("/d/ks/{T}/snapshots/{NAME}/{file}");
    ObjectEntry {
        key: layout::data_key("base", NAME, "n1", Path::new(&source)),
        host: "n1".into(),
        source_path: source,
        keyspace: "ks".into(),
        table: "t".into(),
        size: 10,
        compressed_size: 8,
        sha256: sha.repeat(64),
        blake3: String::new(),
        etag: "e".into(),
        variant: 0,
        source_id: None,
    }
}

/// Two SSTables, one index SSTable and the snapshot's manifest.json.
fn entries() -> Vec<ObjectEntry> {
    vec![
        entry("nb-1-big-Data.db", "1"),
        entry("nb-1-big-TOC.txt", "2"),
        entry("nb-2-big-Data.db", "3"),
        entry(".t_idx/nb-1-big-Data.db", "4"),
        entry("manifest.json", "5"),
    ]
}

/// What node-push answers for `request`: every file restored.
fn node_push_answer(request: &RestoreRequest) -> String {
    let mut messages = vec![hello()];
    for file in &request.files {
        messages.push(Message::RestoreFileDone {
            key: file.entry.key.clone(),
            target: file.target.clone(),
            size: 10,
            sha256: file.entry.sha256.clone(),
        });
    }
    messages.push(Message::RestoreSummary(RestoreSummary {
        files_total: request.files.len() as u64,
        files_done: request.files.len() as u64,
        files_failed: 0,
        bytes_written: 10 * request.files.len() as u64,
        bytes_downloaded: 8,
        failed_tables: Vec::new(),
        elapsed_ms: 1,
    }));
    lines(&messages)
}

fn node(version: &str, request: &RestoreRequest) -> FakeRemote {
    FakeRemote::new("n1")
        .on("ln --", 0, "moved\t3\n")
        .on("cd --", 0, "")
        .on("rm -rf", 0, "")
        .on("stat -c %Y", 0, &format!("100\t/d/ks/{T}\n"))
        .on(
            "printf 'arch=%s",
            0,
            "arch=x86_64\nhome=/root\nconf=/c\nnodetool=/bin/nodetool\n",
        )
        .on("cat -- /c/cassandra.yaml", 0, YAML)
        .on("missing:", 0, "")
        .on(
            "nodetool version",
            0,
            &format!("ReleaseVersion: {version}\n"),
        )
        .on(
            "nodetool refresh",
            0,
            "nodetool refresh is deprecated, use nodetool import instead\n",
        )
        .on("nodetool import", 0, "")
        .on("sha256sum", 0, &format!("{}  /p\n", binary().sha256))
        .on(" hello", 0, &lines(&[hello()]))
        .on(" restore ", 0, &node_push_answer(request))
}

async fn refresh(version: &str) -> (TargetReport, Arc<FakeRemote>) {
    let settings = Arc::new(settings(&["--keyspace=ks", "--mode=refresh"]).unwrap());
    let files = plan_for_nodes(&selected(entries()), &settings)
        .unwrap()
        .files;
    // node-push's answer names the staging targets the runner gives the files; refresh leaves the index
    // file out, so it answers for the others.
    let staged = |f: &str| format!("/d/.restore-staging/{NAME}/n1/ks/{T}/{f}");
    let request = RestoreRequest {
        files: files
            .iter()
            .filter(|f| !f.file.target.to_string_lossy().contains(".t_idx"))
            .map(|f| {
                let mut file = f.file.clone();
                let name = file
                    .target
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                file.target = staged(&name).into();
                file
            })
            .collect(),
    };
    let remote = Arc::new(node(version, &request));
    let job = NodeRestore {
        settings,
        output: Arc::new(Output::new(OutputMode::Plain, Verbosity::Quiet)),
        binary: binary(),
        connector: Arc::new(FakeConnector {
            hosts: HashMap::from([("n1".to_string(), remote.clone())]),
        }),
        backup_name: NAME.into(),
        ring: None,
    };
    (job.run("n1", &files).await, remote)
}

/// The request node-push got on its stdin.
fn request_sent(remote: &FakeRemote) -> RestoreRequest {
    let received = remote.stdin_received.lock().unwrap().clone();
    let text = String::from_utf8(received[0].clone()).unwrap();
    match contract::request::RequestLine::parse(text.lines().next().unwrap())
        .unwrap()
        .request
    {
        contract::request::Request::Restore(request) => RestoreRequest {
            files: request.files,
        },
        other => panic!("not a restore request: {other:?}"),
    }
}

#[tokio::test]
async fn refresh_on_4_0_imports_the_staging_dir_and_leaves_index_files_out() {
    let (report, remote) = refresh("4.0.11").await;
    assert!(report.ok, "{report:?}");
    let table = &report.tables[0];
    assert_eq!(table.state, TableState::Imported);
    assert_eq!((table.sstables, table.files, table.left_out), (2, 3, 1));
    assert_eq!(table.indexes_rebuilt, ["t_idx"]);
    let scripts = remote.scripts();
    let import = scripts
        .iter()
        .find(|s| s.contains("nodetool import"))
        .unwrap();
    assert!(
        import.ends_with(&format!(
            "/bin/nodetool import --keep-level ks t /d/.restore-staging/{NAME}/n1/ks/{T}"
        )),
        "{import}"
    );
    assert!(!scripts
        .iter()
        .any(|s| s.contains("ln --") || s.contains("nodetool refresh")));
    // The index SSTable is never downloaded.
    wait_for_stdin(&remote).await;
    let request = request_sent(&remote);
    assert_eq!(request.files.len(), 4);
    assert!(request.files.iter().all(|f| !f.entry.key.contains("t_idx")));
    // After the import Cassandra has the files: the staging dir goes.
    let clean = scripts.iter().find(|s| s.contains("rm -rf")).unwrap();
    assert!(clean.contains(&format!("/d/.restore-staging/{NAME}/n1/ks/{T}")));
}

#[tokio::test]
async fn refresh_before_4_0_moves_then_refreshes_and_counts_what_moved() {
    let (report, remote) = refresh("3.11.16").await;
    assert!(report.ok, "{report:?}");
    let table = &report.tables[0];
    assert_eq!(table.state, TableState::Refreshed);
    assert_eq!((table.sstables, table.files, table.left_out), (2, 3, 1));
    assert_eq!(table.renumbered, 2);
    let moves = stdin_of(&remote, "ln --");
    assert_eq!(moves[0].lines().count(), 3, "{}", moves[0]);
    assert!(!moves[0].contains("t_idx") && !moves[0].contains("manifest.json"));
    assert!(remote
        .scripts()
        .iter()
        .any(|s| s.ends_with("nodetool refresh ks t")));
    assert!(!remote
        .scripts()
        .iter()
        .any(|s| s.contains("nodetool import")));
}

#[tokio::test]
async fn an_import_that_leaves_sstables_behind_fails_the_table() {
    let settings = Arc::new(settings(&["--keyspace=ks", "--mode=refresh"]).unwrap());
    let files = plan_for_nodes(&selected(entries()[..3].to_vec()), &settings)
        .unwrap()
        .files;
    let staged = format!("/d/.restore-staging/{NAME}/n1/ks/{T}");
    let request = RestoreRequest {
        files: files
            .iter()
            .map(|f| {
                let mut file = f.file.clone();
                let name = file
                    .target
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                file.target = format!("{staged}/{name}").into();
                file
            })
            .collect(),
    };
    let remote = FakeRemote::new("n1")
        .on("cd --", 0, &format!("{staged}\tnb-2-big-Data.db\n"))
        .on("nodetool import", 0, "");
    let remote = Arc::new(merge(remote, node("4.1.3", &request)));
    let job = NodeRestore {
        settings,
        output: Arc::new(Output::new(OutputMode::Plain, Verbosity::Quiet)),
        binary: binary(),
        connector: Arc::new(FakeConnector {
            hosts: HashMap::from([("n1".to_string(), remote.clone())]),
        }),
        backup_name: NAME.into(),
        ring: None,
    };
    let report = job.run("n1", &files).await;
    assert!(!report.ok);
    let error = report.tables[0].error.as_deref().unwrap();
    assert!(
        error.contains("left 1 file(s)") && error.contains("nb-2-big-Data.db"),
        "{error}"
    );
    let scripts = remote.scripts();
    let clean = scripts.iter().find(|s| s.contains("rm -rf")).unwrap();
    assert!(
        !clean.contains(&staged),
        "what import left stays staged: {clean}"
    );
}

/// `first`'s rules before `second`'s.
fn merge(first: FakeRemote, second: FakeRemote) -> FakeRemote {
    let rules = std::mem::take(&mut *second.rules.lock().unwrap());
    first.rules.lock().unwrap().extend(rules);
    first
}

async fn wait_for_stdin(remote: &FakeRemote) {
    for _ in 0..200 {
        if !remote.stdin_received.lock().unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("node-push got no stdin");
}

#[test]
fn the_report_names_the_mode_and_counts_sstables_and_files() {
    let mut target = TargetReport::new("n1");
    target.files_restored = 4;
    target.bytes_written = 40;
    target.tables.push(super::super::report::TableReport {
        keyspace: "ks".into(),
        table: "t".into(),
        source_hosts: vec!["n1".into()],
        state: TableState::Imported,
        sstables: 2,
        files: 3,
        left_out: 1,
        indexes_rebuilt: vec!["t_idx".into()],
        staged_in: vec![format!("/d/.restore-staging/{NAME}/n1/ks/{T}")],
        live_dir: Some(format!("/d/ks/{T}")),
        renumbered: 0,
        error: None,
    });
    let report = RestoreReport {
        backup: NAME.into(),
        mode: crate::cli::ModeArg::Refresh,
        until: None,
        keyspace: "ks".into(),
        targets: vec![target],
        interrupted: false,
    };
    insta::assert_snapshot!(report.table());
}
