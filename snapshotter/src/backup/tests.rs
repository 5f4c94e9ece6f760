//! The failure rules of a backup, over scripted hosts and an in-memory store.

use super::*;
use crate::cli::{Cli, Command as CliCommand};
use crate::memstore::MemoryStore;
use crate::remote::RemoteError;
use crate::settings::{OutputMode, Verbosity};
use crate::stages::fake::FakeRemote;
use crate::stages::install::NodePushBinary;
use async_trait::async_trait;
use clap::Parser;
use contract::layout;
use contract::manifest::{BatchKind, Manifest, ObjectEntry};
use contract::message::{Message, Summary, PROTOCOL_VERSION};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const YAML: &str = "data_file_directories:\n    - /d\nincremental_backups: true\n";

struct FakeConnector {
    hosts: HashMap<String, Arc<FakeRemote>>,
}

#[async_trait]
impl Connector for FakeConnector {
    async fn connect(&self, host: &str) -> Result<Arc<dyn Remote>, RemoteError> {
        let remote = self.hosts[host].clone();
        if let Some(message) = &remote.unreachable {
            return Err(RemoteError::Connection {
                host: host.to_string(),
                message: message.clone(),
            });
        }
        Ok(remote)
    }

    async fn close_all(&self) {}
}

fn binary() -> NodePushBinary {
    let bytes = b"not an elf".to_vec();
    NodePushBinary {
        path: "/local/node-push".into(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        arch: None,
        bytes: Arc::new(bytes),
    }
}

fn entry(host: &str, name: &str, file: &str) -> ObjectEntry {
    let source = format!("/d/ks/t/snapshots/{name}/{file}");
    ObjectEntry {
        key: layout::data_key("base", name, host, std::path::Path::new(&source)),
        host: host.into(),
        source_path: source,
        keyspace: "ks".into(),
        table: "t".into(),
        size: 10,
        compressed_size: 8,
        sha256: "0".repeat(64),
        blake3: String::new(),
        etag: "e".into(),
        variant: 0,
        source_id: Some(format!("1:{host}:{file}")),
    }
}

/// The stream requests a host received, in order: (script index, request).
fn stream_requests(remote: &FakeRemote) -> Vec<(usize, contract::stream::StreamRequest)> {
    remote
        .log
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, (script, _))| script.contains(" stream "))
        .map(|(i, (_, stdin))| {
            let line = std::str::from_utf8(stdin).unwrap().trim();
            match contract::request::RequestLine::parse(line).unwrap().request {
                contract::request::Request::Stream(request) => (i, request.stream),
                other => panic!("not a stream request: {other:?}"),
            }
        })
        .collect()
}

/// The upload request node-push got on its stdin (the first line), and the lines after it.
/// The fake records a stdin once it is closed, from a task of its own: waits for it (2 s at most).
async fn upload_request(remote: &FakeRemote) -> (contract::request::UploadRequest, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let text = loop {
        let found = remote
            .stdin_received
            .lock()
            .unwrap()
            .iter()
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .find(|text| text.contains("\"upload\""));
        match found {
            Some(text) => break text,
            None if std::time::Instant::now() < deadline => tokio::task::yield_now().await,
            None => panic!("no upload request on node-push's stdin"),
        }
    };
    let (line, rest) = text.split_once('\n').unwrap();
    match contract::request::RequestLine::parse(line).unwrap().request {
        contract::request::Request::Upload(request) => (*request, rest.to_string()),
        other => panic!("not an upload request: {other:?}"),
    }
}

fn position(remote: &FakeRemote, pattern: &str) -> usize {
    remote
        .scripts()
        .iter()
        .position(|s| s.contains(pattern))
        .unwrap_or_else(|| panic!("{pattern} never ran"))
}

fn node_push_output(messages: &[Message]) -> String {
    let hello = Message::Hello {
        protocol: PROTOCOL_VERSION,
        tool_version: "0.1.0".into(),
        hostname: "h".into(),
        arch: "x86_64".into(),
    };
    std::iter::once(&hello)
        .chain(messages)
        .map(|m| m.to_line() + "\n")
        .collect()
}

/// What `node-push stream` answers on a node that keeps this stream (or not).
fn stream_answer(registered: bool) -> String {
    node_push_output(&[Message::Stream(contract::stream::StreamAnswer {
        registry: "/.cassandra-snapshotter".into(),
        registry_existed: true,
        registered,
        ..Default::default()
    })])
}

fn hello_line() -> String {
    node_push_output(&[])
}

/// A host where everything works and node-push uploads one file.
fn healthy(host: &str, name: &str) -> FakeRemote {
    let done = node_push_output(&[
        Message::FileDone {
            entry: entry(host, name, "ks-t-ia-1-Data.db"),
        },
        Message::Summary(Summary {
            files_total: 1,
            files_done: 1,
            ..Summary::default()
        }),
    ]);
    FakeRemote::new(host)
        .on(
            "printf 'arch=%s",
            0,
            "arch=x86_64\nhome=/root\nconf=/c\nnodetool=/bin/nodetool\n",
        )
        .on("cat -- /c/cassandra.yaml", 0, YAML)
        .on("for d do", 0, "")
        .on("nokeyspace:", 0, "")
        .on("nodetool version", 0, "ReleaseVersion: 1.2.0\n")
        .on("sha256sum", 0, &format!("{}  /p\n", binary().sha256))
        .on(" hello", 0, &hello_line())
        .on("clearsnapshot", 0, "")
        .on("snapshot -t", 0, "Requested snapshot for: ks\n")
        .on("nodetool flush", 0, "")
        .on(
            "nodetool ring",
            0,
            "Address DC Rack Status\n127.0.0.2 dc1 r1 Up\n",
        )
        .on(" stream ", 0, &stream_answer(true))
        .on(" upload ", 0, &done)
}

fn settings(hosts: &str, extra: &[&str]) -> BackupSettings {
    let mut argv = vec![
        "x".to_string(),
        "--s3-bucket-name=bkt".into(),
        "--s3-base-path=base".into(),
        "--aws-access-key-id=AKIA".into(),
        "--aws-secret-access-key=secret-in-test".into(),
        "backup".into(),
        format!("--hosts={hosts}"),
        "--keyspaces=ks".into(),
        "--node-push-binary=/local/node-push".into(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    let cli = Cli::try_parse_from(argv).unwrap();
    match &cli.command {
        CliCommand::Backup(args) => BackupSettings::resolve(&cli.global, args).unwrap(),
        _ => unreachable!(),
    }
}

struct Run {
    report: BackupReport,
    store: Arc<MemoryStore>,
    hosts: Vec<Arc<FakeRemote>>,
}

async fn run(plan: Plan, hosts: Vec<FakeRemote>, store: Arc<MemoryStore>) -> Run {
    run_with(plan, hosts, store, &[]).await
}

/// [`run`] with more `backup` flags.
async fn run_with(
    plan: Plan,
    hosts: Vec<FakeRemote>,
    store: Arc<MemoryStore>,
    extra: &[&str],
) -> Run {
    let names: Vec<String> = hosts.iter().map(|h| h.host.clone()).collect();
    let hosts: Vec<Arc<FakeRemote>> = hosts.into_iter().map(Arc::new).collect();
    let connector = FakeConnector {
        hosts: hosts.iter().map(|h| (h.host.clone(), h.clone())).collect(),
    };
    let job = BackupJob {
        settings: settings(&names.join(","), extra),
        output: Arc::new(Output::new(OutputMode::Plain, Verbosity::Quiet)),
        store: store.clone(),
        node_push: NodePushCatalog::given(binary()),
        connector: Arc::new(connector),
    };
    let report = job.run(plan, std::future::pending()).await;
    Run {
        report,
        store,
        hosts,
    }
}

fn ran(remote: &FakeRemote, pattern: &str) -> bool {
    remote.scripts().iter().any(|s| s.contains(pattern))
}

fn snapshot_plan(name: &str) -> Plan {
    Plan::Snapshot {
        name: name.to_string(),
        start: Start::Fresh,
    }
}

const NAME: &str = "20240101000000";

mod differential;

#[tokio::test]
async fn a_good_snapshot_writes_ring_and_manifest_and_clears_everywhere() {
    let r = run(
        snapshot_plan(NAME),
        vec![healthy("a", NAME), healthy("b", NAME)],
        Arc::default(),
    )
    .await;
    assert!(!r.report.failed(), "{:?}", r.report.failure_lines());
    assert!(r.report.complete);
    let manifest = match crate::store::read_manifest(r.store.as_ref(), "base", NAME)
        .await
        .unwrap()
    {
        crate::store::ManifestRead::Found(m) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(manifest.format_version, 2);
    for host in ["a", "b"] {
        let entries = engine::records::host_entries(r.store.as_ref(), &manifest, host, None)
            .await
            .unwrap();
        assert_eq!(entries, [entry(host, NAME, "ks-t-ia-1-Data.db")]);
    }
    assert_eq!(manifest.keyspaces, Some(vec!["ks".to_string()]));
    assert!(
        crate::store::get(r.store.as_ref(), "base/20240101000000/ring")
            .await
            .unwrap()
            .is_some()
    );
    for host in &r.hosts {
        assert!(ran(host, "clearsnapshot -t 20240101000000"));
        // Registered before the snapshot, committed (with what it stored) after the manifest.
        use contract::stream::StreamAction;
        let requests = stream_requests(host);
        assert_eq!(requests.len(), 2, "{:?}", host.scripts());
        assert!(
            matches!(&requests[0].1.action, StreamAction::Register { backup } if backup == NAME)
        );
        assert!(requests[0].0 < position(host, "snapshot -t"));
        match &requests[1].1.action {
            StreamAction::Commit { backup, source_ids } => {
                assert_eq!(backup, NAME);
                assert_eq!(source_ids, &[format!("1:{}:ks-t-ia-1-Data.db", host.host)]);
            }
            other => panic!("{other:?}"),
        }
        assert!(requests[1].0 > position(host, " upload "));
        let upload = host
            .scripts()
            .into_iter()
            .find(|s| s.contains(" upload "))
            .unwrap();
        assert!(upload.ends_with(" upload --request-stdin"), "{upload}");
        let (request, credentials) = upload_request(host).await;
        assert!(credentials.contains("secret-in-test"));
        assert_eq!(
            request.store.url,
            format!("s3://bkt/base/{NAME}/{}", host.host)
        );
    }
}

#[tokio::test]
async fn an_unreachable_host_stops_everything_before_any_change() {
    let mut down = FakeRemote::new("b");
    down.unreachable = Some("ssh: connect to host b port 22: Connection refused".into());
    let r = run(
        snapshot_plan(NAME),
        vec![healthy("a", NAME), down],
        Arc::default(),
    )
    .await;
    assert!(r.report.failed() && !r.report.complete);
    assert_eq!(
        r.report.failure_lines(),
        ["b: ssh: connect to host b port 22: Connection refused"]
    );
    let a = &r.hosts[0];
    assert!(!ran(a, "snapshot -t") && !ran(a, "clearsnapshot") && !ran(a, " upload "));
    assert!(crate::store::backup_names(r.store.as_ref(), "base")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_failed_snapshot_skips_the_upload_and_clears_every_host() {
    let broken = healthy("b", NAME);
    broken
        .rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != "snapshot -t");
    let broken = broken.on_err("snapshot -t", 1, "", "Error: keyspace ks does not exist");
    let r = run(
        snapshot_plan(NAME),
        vec![healthy("a", NAME), broken],
        Arc::default(),
    )
    .await;
    assert!(r.report.failed() && !r.report.complete);
    assert_eq!(r.report.hosts[1].failed_stage, Some(Stage::Snapshot));
    assert!(r.report.failure_lines()[0]
        .starts_with("b: `/bin/nodetool snapshot -t 20240101000000 ks` failed: Error: keyspace"));
    for host in &r.hosts {
        assert!(!ran(host, " upload "), "no upload on {}", host.host);
        assert!(
            ran(host, "clearsnapshot -t 20240101000000"),
            "cleared on {}",
            host.host
        );
    }
    assert_eq!(r.report.hosts[0].snapshot_cleared, Some(true));
}

#[tokio::test]
async fn a_failed_upload_leaves_no_manifest() {
    let failing = healthy("b", NAME);
    failing
        .rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != " upload ");
    let failing = failing.on(
        " upload ",
        1,
        &node_push_output(&[Message::Fatal {
            error: "bucket bkt: access denied".into(),
        }]),
    );
    let r = run(
        snapshot_plan(NAME),
        vec![healthy("a", NAME), failing],
        Arc::default(),
    )
    .await;
    assert!(r.report.failed() && !r.report.complete);
    assert_eq!(
        r.report.failure_lines(),
        ["b: node-push: bucket bkt: access denied"]
    );
    assert!(matches!(
        crate::store::read_manifest(r.store.as_ref(), "base", NAME)
            .await
            .unwrap(),
        crate::store::ManifestRead::Missing
    ));
    assert!(r
        .hosts
        .iter()
        .all(|h| ran(h, "clearsnapshot") && !ran(h, "while IFS= read")));
    // The run record stays, for the next run to resume this backup by.
    let record = crate::store::get(
        r.store.as_ref(),
        &layout::manifest_staging_key("base", NAME),
    )
    .await
    .unwrap()
    .expect("a run record");
    let record = Manifest::from_json("record", &record).unwrap();
    assert_eq!(record.hosts, ["a", "b"]);
    assert!(record.batches.is_empty());
}

#[tokio::test]
async fn a_resumed_snapshot_clears_the_old_tag_first_and_reports_what_it_did_not_send() {
    let resumed_host = |host: &str| {
        let h = healthy(host, NAME);
        h.rules.lock().unwrap().retain(|r| r.contains != " upload ");
        h.on(
            " upload ",
            0,
            &node_push_output(&[
                Message::FileSkipped {
                    path: format!("/d/ks/t/snapshots/{NAME}/ks-t-ia-1-Data.db"),
                    reason: contract::message::SkipReason::AlreadyStored {
                        entry: entry(host, NAME, "ks-t-ia-1-Data.db"),
                    },
                },
                Message::Summary(Summary {
                    files_total: 1,
                    files_skipped: 1,
                    bytes_not_resent: 10,
                    ..Summary::default()
                }),
            ]),
        )
    };
    let plan = Plan::Snapshot {
        name: NAME.to_string(),
        start: Start::Resume,
    };
    let r = run(
        plan,
        vec![resumed_host("a"), resumed_host("b")],
        Arc::default(),
    )
    .await;
    assert!(r.report.complete, "{:?}", r.report.failure_lines());
    for (host, report) in r.hosts.iter().zip(&r.report.hosts) {
        let scripts = host.scripts();
        let clear = scripts.iter().position(|s| s.contains("clearsnapshot"));
        let take = scripts
            .iter()
            .position(|s| s.contains("nodetool snapshot -t"));
        assert!(clear < take, "{}: {scripts:?}", host.host);
        assert_eq!(
            (report.files_already_stored, report.bytes_not_resent),
            (1, 10)
        );
    }
    assert!(
        crate::store::get(
            r.store.as_ref(),
            &layout::manifest_staging_key("base", NAME)
        )
        .await
        .unwrap()
        .is_none(),
        "the run record is gone once the manifest is written"
    );
}

#[tokio::test]
async fn an_incremental_records_every_verified_object_even_when_a_host_fails() {
    let store: Arc<MemoryStore> = Arc::default();
    let base = Manifest::new(
        NAME,
        "base",
        vec!["a".into(), "b".into()],
        Some(vec!["ks".into()]),
        "",
    );
    crate::store::write_manifest(store.as_ref(), &base, &Default::default())
        .await
        .unwrap();
    // b uploads and deletes one file, then loses its store.
    let partial = healthy("b", NAME);
    partial
        .rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != " upload ");
    let partial = partial.on(
        " upload ",
        1,
        &node_push_output(&[
            Message::FileDone {
                entry: entry("b", NAME, "ks-t-ia-2-Data.db"),
            },
            Message::Fatal {
                error: "connection reset".into(),
            },
        ]),
    );
    let plan = Plan::Incremental {
        base: Box::new(base),
    };
    let r = run(plan, vec![healthy("a", NAME), partial], store).await;
    assert!(r.report.failed());
    let manifest = match crate::store::read_manifest(r.store.as_ref(), "base", NAME)
        .await
        .unwrap()
    {
        crate::store::ManifestRead::Found(m) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(manifest.batches.len(), 1);
    assert_eq!(manifest.batches[0].kind, BatchKind::Incremental);
    let mut listed = Vec::new();
    for host in ["a", "b"] {
        listed.extend(
            engine::records::host_entries(r.store.as_ref(), &manifest, host, None)
                .await
                .unwrap(),
        );
    }
    assert_eq!(listed.len(), 2, "a's file and b's verified file");
    for host in &r.hosts {
        assert!(ran(host, "nodetool flush ks"));
        assert!(!ran(host, "snapshot -t") && !ran(host, "clearsnapshot"));
        let upload = host
            .scripts()
            .into_iter()
            .find(|s| s.contains(" upload "))
            .unwrap();
        assert!(upload.ends_with(" upload --request-stdin"), "{upload}");
        let (request, _) = upload_request(host).await;
        assert!(request.incremental && !request.delete_after_upload);
        assert_eq!(
            request.committed_manifest,
            Some(format!("base/{NAME}/manifest.json"))
        );
        // b's verified file is committed too: its link may go, the others stay for the next run.
        let commit = stream_requests(host).pop().unwrap().1;
        assert!(
            matches!(&commit.action, contract::stream::StreamAction::Commit { source_ids, .. } if source_ids.len() == 1),
            "{commit:?}"
        );
    }
}

#[tokio::test]
async fn a_failed_manifest_write_deletes_nothing() {
    let store = Arc::<MemoryStore>::default();
    *store.refuse_puts_ending.lock().unwrap() = Some("/manifest.json".into());
    let r = run(
        snapshot_plan(NAME),
        vec![healthy("a", NAME), healthy("b", NAME)],
        store,
    )
    .await;
    assert!(r.report.failed() && !r.report.complete);
    for host in &r.hosts {
        let requests = stream_requests(host);
        assert_eq!(requests.len(), 1, "registered, never committed");
        assert!(matches!(
            requests[0].1.action,
            contract::stream::StreamAction::Register { .. }
        ));
    }
}

#[tokio::test]
async fn an_incremental_a_node_no_longer_keeps_becomes_a_new_snapshot() {
    let base = Manifest::new(
        NAME,
        "base",
        vec!["a".into(), "b".into()],
        Some(vec!["ks".into()]),
        "",
    );
    let dropped = healthy("b", NAME);
    dropped
        .rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != " stream ");
    let dropped =
        dropped
            .once(" stream ", 0, &stream_answer(false))
            .on(" stream ", 0, &stream_answer(true));
    let plan = Plan::Incremental {
        base: Box::new(base),
    };
    let r = run(plan, vec![healthy("a", NAME), dropped], Arc::default()).await;
    assert!(!r.report.failed(), "{:?}", r.report.failure_lines());
    assert_eq!(r.report.kind, "snapshot");
    assert_ne!(r.report.backup, NAME);
    for host in &r.hosts {
        assert!(!ran(host, "nodetool flush"));
        assert!(ran(host, &format!("snapshot -t {}", r.report.backup)));
        assert!(ran(host, &format!("clearsnapshot -t {}", r.report.backup)));
    }
}

#[tokio::test]
async fn an_incremental_needs_incremental_backups_on_every_host() {
    let off = healthy("b", NAME);
    off.rules
        .lock()
        .unwrap()
        .retain(|r| !r.contains.starts_with("cat --"));
    let off = off.on(
        "cat -- /c/cassandra.yaml",
        0,
        "data_file_directories: [/d]\nincremental_backups: false\n",
    );
    let base = Manifest::new(
        NAME,
        "base",
        vec!["a".into(), "b".into()],
        Some(vec!["ks".into()]),
        "",
    );
    let r = run(
        Plan::Incremental {
            base: Box::new(base),
        },
        vec![healthy("a", NAME), off],
        Arc::default(),
    )
    .await;
    assert!(r.report.failed());
    assert!(r.report.failure_lines()[0]
        .starts_with("b: incremental_backups is not true in /c/cassandra.yaml"));
    assert!(r
        .hosts
        .iter()
        .all(|h| !ran(h, "flush") && !ran(h, " upload ")));
}

#[tokio::test]
async fn a_missing_keyspace_is_found_in_preflight() {
    let missing = healthy("b", NAME);
    missing
        .rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != "nokeyspace:");
    let missing = missing.on("nokeyspace:", 0, "nokeyspace:ks\n");
    let r = run(
        snapshot_plan(NAME),
        vec![healthy("a", NAME), missing],
        Arc::default(),
    )
    .await;
    assert_eq!(
        r.report.failure_lines(),
        ["b: keyspace ks (--keyspaces) not found in data directories /d"]
    );
    assert!(r.hosts.iter().all(|h| !ran(h, "snapshot -t")));
}

#[tokio::test]
async fn a_snapshot_file_that_vanished_fails_its_host() {
    let host = healthy("b", NAME);
    host.rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != " upload ");
    let gone = format!("/d/ks/t/snapshots/{NAME}/ks-t-ia-2-Index.db");
    let host = host.on(
        " upload ",
        0,
        &node_push_output(&[
            Message::FileDone {
                entry: entry("b", NAME, "ks-t-ia-1-Data.db"),
            },
            Message::FileSkipped {
                path: gone.clone(),
                reason: contract::message::SkipReason::Vanished,
            },
            Message::Summary(Summary {
                files_total: 2,
                files_done: 1,
                files_skipped: 1,
                ..Summary::default()
            }),
        ]),
    );
    let r = run(
        snapshot_plan(NAME),
        vec![healthy("a", NAME), host],
        Arc::default(),
    )
    .await;
    assert!(!r.report.complete);
    assert_eq!(
        r.report.failure_lines(),
        [format!(
            "b: 1 file(s) of snapshot {NAME} vanished during the upload, first: {gone} (was the snapshot cleared?)"
        )]
    );
}
