//! Format 2 and differential snapshots: records documents per host and batch, the reference a new
//! snapshot names (in its run record, its request and its manifest), `--full`, and a reference purged
//! while the run starts.

use super::*;
use contract::manifest::Batch;
use contract::message::SkipReason;

/// A complete backup older than [`NAME`], the newest a new snapshot can reference.
const REF: &str = "20231201000000";
const OLDER: &str = "20231101000000";

async fn complete(store: &MemoryStore, name: &str) -> Manifest {
    let mut m = Manifest::new(
        name,
        "base",
        vec!["a".into(), "b".into()],
        Some(vec!["ks".into()]),
        "",
    );
    let t = chrono::Utc::now();
    m.batches
        .push(Batch::new(BatchKind::Snapshot, t, t, Batch::new_id(t, 1)));
    crate::store::write_manifest(store, &m, &Default::default())
        .await
        .unwrap();
    m
}

/// `host` with node-push answering `messages` to the upload.
fn uploading(host: &str, messages: &[Message]) -> FakeRemote {
    let h = healthy(host, NAME);
    h.rules.lock().unwrap().retain(|r| r.contains != " upload ");
    h.on(" upload ", 0, &node_push_output(messages))
}

/// `host` whose one file's bytes the reference stores: node-push points its entry at that object.
fn referencing(host: &str, reference: &str) -> FakeRemote {
    let path = format!("/d/ks/t/snapshots/{NAME}/ks-t-ia-1-Data.db");
    let mut referenced = entry(host, reference, "ks-t-ia-1-Data.db");
    referenced.source_path = path.clone();
    uploading(
        host,
        &[
            Message::FileSkipped {
                path,
                reason: SkipReason::Referenced { entry: referenced },
            },
            Message::Summary(Summary {
                files_total: 1,
                files_skipped: 1,
                files_referenced: 1,
                bytes_referenced: 10,
                ..Summary::default()
            }),
        ],
    )
}

async fn manifest_of(store: &MemoryStore, name: &str) -> Manifest {
    match crate::store::read_manifest(store, "base", name)
        .await
        .unwrap()
    {
        crate::store::ManifestRead::Found(m) => *m,
        other => panic!("{other:?}"),
    }
}

async fn run_record(store: &MemoryStore, name: &str) -> Manifest {
    let key = layout::manifest_staging_key("base", name);
    let bytes = crate::store::get(store, &key)
        .await
        .unwrap()
        .expect("a run record");
    Manifest::from_json(&key, &bytes).unwrap()
}

async fn reference_requested(host: &FakeRemote) -> Option<String> {
    upload_request(host).await.0.reference_manifest
}

#[tokio::test]
async fn a_snapshot_writes_one_records_document_per_host_and_reads_back() {
    let r = run(
        snapshot_plan(NAME),
        vec![healthy("a", NAME), healthy("b", NAME)],
        Arc::default(),
    )
    .await;
    assert!(r.report.complete, "{:?}", r.report.failure_lines());
    let manifest = manifest_of(&r.store, NAME).await;
    assert_eq!(manifest.format_version, 2);
    let batch = &manifest.batches[0];
    assert!(batch.objects.is_empty() && !batch.id.is_empty());
    let hosts: Vec<&str> = batch.records.iter().map(|s| s.host.as_str()).collect();
    assert_eq!(hosts, ["a", "b"], "--hosts order");
    for summary in &batch.records {
        let key = layout::records_key("base", NAME, &batch.id, &summary.host);
        let stored = crate::store::get(r.store.as_ref(), &key).await.unwrap();
        assert_eq!(stored.map(|b| b.len() as u64), Some(summary.document_size));
        assert_eq!((summary.objects, summary.stored, summary.added), (1, 8, 8));
        let entries =
            engine::records::host_entries(r.store.as_ref(), &manifest, &summary.host, None)
                .await
                .unwrap();
        assert_eq!(entries, [entry(&summary.host, NAME, "ks-t-ia-1-Data.db")]);
    }
    assert!(
        !manifest.to_json().contains("source_path"),
        "no object inline in manifest.json"
    );
}

#[tokio::test]
async fn an_incremental_adds_its_documents_without_rewriting_earlier_ones() {
    let store: Arc<MemoryStore> = Arc::default();
    let r = run(snapshot_plan(NAME), vec![healthy("a", NAME)], store.clone()).await;
    assert!(r.report.complete, "{:?}", r.report.failure_lines());
    let first = manifest_of(&store, NAME).await;
    let first_id = first.batches[0].id.clone();
    let first_key = layout::records_key("base", NAME, &first_id, "a");
    let first_document = crate::store::get(store.as_ref(), &first_key).await.unwrap();
    // Any write to the snapshot's document fails the run.
    *store.refuse_puts_ending.lock().unwrap() = Some(format!("{first_id}/a.jsonl.lzo"));
    let new_file = entry("a", NAME, "ks-t-ia-2-Data.db");
    let host = uploading(
        "a",
        &[
            Message::FileDone {
                entry: new_file.clone(),
            },
            Message::Summary(Summary {
                files_total: 1,
                files_done: 1,
                ..Summary::default()
            }),
        ],
    );
    let plan = Plan::Incremental {
        base: Box::new(first.clone()),
    };
    let r = run(plan, vec![host], store.clone()).await;
    assert!(r.report.complete, "{:?}", r.report.failure_lines());
    let manifest = manifest_of(&store, NAME).await;
    assert_eq!(manifest.batches.len(), 2);
    assert_eq!(manifest.batches[0], first.batches[0], "batch 0 as it was");
    let second = &manifest.batches[1];
    assert_eq!(second.kind, BatchKind::Incremental);
    assert_ne!(second.id, first_id);
    assert_eq!(
        crate::store::get(store.as_ref(), &first_key).await.unwrap(),
        first_document
    );
    let entries = engine::records::host_entries(store.as_ref(), &manifest, "a", None)
        .await
        .unwrap();
    assert_eq!(
        entries,
        [entry("a", NAME, "ks-t-ia-1-Data.db"), new_file],
        "oldest batch first"
    );
}

#[tokio::test]
async fn a_new_snapshot_references_the_newest_complete_backup() {
    let store: Arc<MemoryStore> = Arc::default();
    complete(&store, OLDER).await;
    complete(&store, REF).await;
    // Newer, but no reference: one the old tool wrote, and one without manifest.json.
    let legacy = r#"{"name": "20231220000000", "base_path": "base", "hosts": ["a"], "keyspaces": null, "table": ""}"#;
    crate::store::put(
        store.as_ref(),
        "base/20231220000000/manifest.json",
        legacy.into(),
        &Default::default(),
    )
    .await
    .unwrap();
    crate::store::put(
        store.as_ref(),
        "base/20231215000000/a/d/ks/t/snapshots/20231215000000/f.lzo",
        "x".into(),
        &Default::default(),
    )
    .await
    .unwrap();

    let r = run(
        snapshot_plan(NAME),
        vec![referencing("a", REF), healthy("b", NAME)],
        store.clone(),
    )
    .await;
    assert!(r.report.complete, "{:?}", r.report.failure_lines());
    for host in &r.hosts {
        assert_eq!(
            reference_requested(host).await,
            Some(format!("base/{REF}/manifest.json"))
        );
    }
    let manifest = manifest_of(&store, NAME).await;
    assert_eq!(manifest.reference.as_deref(), Some(REF));
    let totals = manifest.totals();
    assert_eq!((totals.added, totals.referenced()), (8, 8));
    assert_eq!(manifest.batches[0].records[0].refers_to, [REF]);
    let a = engine::records::host_entries(store.as_ref(), &manifest, "a", None)
        .await
        .unwrap();
    assert!(a[0].key.starts_with(&format!("base/{REF}/")), "{a:?}");

    let report = &r.report;
    assert_eq!(report.reference.as_deref(), Some(REF));
    assert_eq!((report.files_referenced, report.bytes_referenced), (1, 10));
    assert_eq!(report.bytes_uploaded, 0);
    let line = report.data_line();
    assert!(
        line.starts_with("0 data bytes uploaded;") && line.contains(&format!("from backup {REF}")),
        "{line}"
    );
    assert!(report.table().contains(&line));
    let json = serde_json::to_value(report).unwrap();
    assert_eq!(json["bytes_uploaded"], 0);
    assert_eq!(json["files_referenced"], 1);
    assert_eq!(json["reference"], REF);
}

#[tokio::test]
async fn the_run_record_names_the_reference_before_any_snapshot() {
    let store: Arc<MemoryStore> = Arc::default();
    complete(&store, REF).await;
    let failing = healthy("a", NAME);
    failing
        .rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != "snapshot -t");
    let failing = failing.on("snapshot -t", 1, "");
    let r = run(snapshot_plan(NAME), vec![failing], store.clone()).await;
    assert!(!r.report.complete);
    assert_eq!(
        run_record(&store, NAME).await.reference.as_deref(),
        Some(REF)
    );
}

#[tokio::test]
async fn full_takes_no_reference() {
    let store: Arc<MemoryStore> = Arc::default();
    complete(&store, REF).await;
    let r = run_with(
        snapshot_plan(NAME),
        vec![healthy("a", NAME)],
        store.clone(),
        &["--full"],
    )
    .await;
    assert!(r.report.complete, "{:?}", r.report.failure_lines());
    assert_eq!(reference_requested(&r.hosts[0]).await, None);
    assert_eq!(manifest_of(&store, NAME).await.reference, None);
    assert_eq!(r.report.reference, None);
    assert!(!r.report.data_line().contains("referenced"));
}

#[tokio::test]
async fn a_reference_purged_after_the_run_record_is_chosen_again_or_dropped() {
    // Two complete backups: the newest goes as soon as the run record names it; the older one is used.
    let store: Arc<MemoryStore> = Arc::default();
    complete(&store, OLDER).await;
    complete(&store, REF).await;
    *store.delete_on_put.lock().unwrap() = Some((
        "manifest.json.partial".into(),
        layout::manifest_key("base", REF),
    ));
    let r = run(snapshot_plan(NAME), vec![healthy("a", NAME)], store.clone()).await;
    assert!(r.report.complete, "{:?}", r.report.failure_lines());
    assert_eq!(
        reference_requested(&r.hosts[0]).await,
        Some(format!("base/{OLDER}/manifest.json"))
    );
    assert_eq!(
        manifest_of(&store, NAME).await.reference.as_deref(),
        Some(OLDER)
    );

    // The only complete backup goes: a full snapshot, and the run record says so.
    let store: Arc<MemoryStore> = Arc::default();
    complete(&store, REF).await;
    *store.delete_on_put.lock().unwrap() = Some((
        "manifest.json.partial".into(),
        layout::manifest_key("base", REF),
    ));
    let failing = healthy("a", NAME);
    failing
        .rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != "snapshot -t");
    let r = run(
        snapshot_plan(NAME),
        vec![failing.on("snapshot -t", 1, "")],
        store.clone(),
    )
    .await;
    assert!(!r.report.complete);
    assert_eq!(r.report.reference, None);
    assert_eq!(run_record(&store, NAME).await.reference, None);
}

#[tokio::test]
async fn a_resumed_snapshot_keeps_its_run_records_choice() {
    let resume = || Plan::Snapshot {
        name: NAME.to_string(),
        start: Start::Resume,
    };
    let record = |reference: Option<&str>| {
        let mut m = Manifest::new(NAME, "base", vec!["a".into()], Some(vec!["ks".into()]), "");
        m.reference = reference.map(str::to_string);
        bytes::Bytes::from(m.to_json())
    };
    let staging = layout::manifest_staging_key("base", NAME);
    // Started full (an earlier version's record says nothing either): stays full.
    let store: Arc<MemoryStore> = Arc::default();
    complete(&store, REF).await;
    crate::store::put(store.as_ref(), &staging, record(None), &Default::default())
        .await
        .unwrap();
    let r = run(resume(), vec![healthy("a", NAME)], store.clone()).await;
    assert!(r.report.complete, "{:?}", r.report.failure_lines());
    assert_eq!(reference_requested(&r.hosts[0]).await, None);
    // Started against an older backup that is still complete: keeps it, although a newer one exists.
    let store: Arc<MemoryStore> = Arc::default();
    complete(&store, OLDER).await;
    complete(&store, REF).await;
    crate::store::put(
        store.as_ref(),
        &staging,
        record(Some(OLDER)),
        &Default::default(),
    )
    .await
    .unwrap();
    let r = run(resume(), vec![healthy("a", NAME)], store.clone()).await;
    assert!(r.report.complete, "{:?}", r.report.failure_lines());
    assert_eq!(
        manifest_of(&store, NAME).await.reference.as_deref(),
        Some(OLDER)
    );
}
