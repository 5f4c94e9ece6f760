//! `list` over a local store holding our backups, an old tool's backup in both key forms, and a failed one.

use super::*;
use crate::memstore::MemoryStore;
use bytes::Bytes;
use chrono::Utc;
use contract::manifest::{Batch, BatchKind, ObjectEntry};
use engine::store::PutOptions;

fn entry(key: &str, size: u64) -> ObjectEntry {
    ObjectEntry {
        key: key.into(),
        host: "n1".into(),
        source_path: "/d/ks/t/snapshots/x/f".into(),
        keyspace: "ks".into(),
        table: "t".into(),
        size: size * 2,
        compressed_size: size,
        sha256: "0".repeat(64),
        blake3: String::new(),
        etag: "e".into(),
        variant: 0,
        source_id: None,
    }
}

async fn put(store: &MemoryStore, key: &str, body: &str) {
    store
        .put_object(key, Bytes::from(body.to_string()), &PutOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn lists_ours_the_old_tools_and_incomplete_backups_newest_first() {
    let store = MemoryStore::default();
    // Ours: a snapshot and one incremental.
    let mut m = Manifest::new(
        "20240301000000",
        "c",
        vec!["n1".into(), "n2".into()],
        Some(vec!["ks".into()]),
        "",
    );
    m.format_version = 1;
    let t = Utc::now();
    for (kind, n) in [(BatchKind::Snapshot, 3), (BatchKind::Incremental, 1)] {
        m.batches.push(Batch {
            kind,
            started_at: t,
            completed_at: t,
            objects: (0..n)
                .map(|i| entry(&format!("c/20240301000000/n1/k{i}-{n}"), 100))
                .collect(),
            id: String::new(),
            records: Vec::new(),
        });
    }
    put(&store, "c/20240301000000/manifest.json", &m.to_json()).await;
    // The old tool's: a manifest without objects, keys in the double-slash form.
    put(
        &store,
        "c/20150101000000/manifest.json",
        r#"{"name": "20150101000000", "base_path": "c", "hosts": ["h1"], "keyspaces": null, "table": ""}"#,
    )
    .await;
    put(&store, "c/20150101000000/h1//var/lib/cassandra/data/ks/cf/snapshots/20150101000000/ks-cf-ic-1-Data.db.lzo", "12345").await;
    // A failed one: data, no manifest.
    put(
        &store,
        "c/20240201000000/n1/d/ks/t/snapshots/20240201000000/f.lzo",
        "123",
    )
    .await;
    put(
        &store,
        "c/20240201000000/n2/d/ks/t/snapshots/20240201000000/f.lzo",
        "1234",
    )
    .await;

    let entries = list(&store, "c", false).await.unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["20240301000000", "20240201000000", "20150101000000"]
    );
    assert_eq!(entries[0].kind(), "snapshot + 1 incremental");
    assert_eq!(entries[0].objects, Some(4));
    assert_eq!(entries[0].bytes_stored, Some(400));
    // Format 1 (objects inline): all under its own prefix.
    assert_eq!(entries[0].bytes_added, Some(400));
    assert_eq!(entries[0].bytes_referenced, Some(0));
    assert!(!entries[1].complete);
    assert_eq!(entries[1].objects, Some(2));
    assert_eq!(entries[1].hosts, ["n1", "n2"]);
    assert!(entries[2].complete && entries[2].legacy);
    assert_eq!(entries[2].objects, None);

    let text = table(&entries);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NAME"));
    assert!(
        lines[1].contains("snapshot + 1 incremental")
            && lines[1].contains("yes")
            && lines[1].contains("n1,n2")
    );
    assert!(lines[2].contains("NO"));
    assert!(lines[3].contains('?'));
    assert!(text.contains("20240201000000: incomplete: no manifest.json"));

    let counted = list(&store, "c", true).await.unwrap();
    assert_eq!(counted[2].objects, Some(1));
    assert_eq!(counted[2].bytes_stored, Some(5));
}

#[tokio::test]
async fn shows_each_backups_selection_with_its_exclusions() {
    let store = MemoryStore::default();
    let hosts = vec!["n1".to_string(), "n2".to_string()];
    let mut excluding = Manifest::new(
        "20240303000000",
        "c",
        hosts.clone(),
        Some(vec!["shop".into(), "users".into()]),
        "",
    );
    excluding.exclude_tables = vec!["shop.audit".into(), "log".into()];
    let everything_but = {
        let mut m = Manifest::new("20240302000000", "c", hosts.clone(), None, "");
        m.exclude_tables = vec!["shop.audit".into()];
        m
    };
    let one_table = Manifest::new(
        "20240301000000",
        "c",
        hosts,
        Some(vec!["shop".into()]),
        "orders",
    );
    for m in [&excluding, &everything_but, &one_table] {
        put(&store, &format!("c/{}/manifest.json", m.name), &m.to_json()).await;
    }
    let entries = list(&store, "c", false).await.unwrap();
    assert_eq!(entries[0].exclude_tables, ["shop.audit", "log"]);
    assert!(entries[2].exclude_tables.is_empty());

    assert_eq!(
        table(&entries),
        "\
NAME            TYPE      COMPLETE  HOSTS  KEYSPACES/TABLE                   OBJECTS  STORED  ADDED  REFERENCED
20240303000000  snapshot  yes       n1,n2  shop,users except log,shop.audit  0        0 B     0 B    0 B
20240302000000  snapshot  yes       n1,n2  all except shop.audit             0        0 B     0 B    0 B
20240301000000  snapshot  yes       n1,n2  shop.orders                       0        0 B     0 B    0 B
"
    );

    let json = serde_json::to_value(&entries).unwrap();
    assert_eq!(
        json[0]["exclude_tables"],
        serde_json::json!(["shop.audit", "log"])
    );
    assert_eq!(json[1]["keyspaces"], serde_json::Value::Null);
    assert_eq!(json[1]["exclude_tables"], serde_json::json!(["shop.audit"]));
    assert_eq!(json[2]["table"], "orders");
    assert_eq!(json[2]["exclude_tables"], serde_json::json!([]));
}

/// A format-2 differential snapshot: `list` shows what it added and what it references from the
/// summaries in `manifest.json` alone (no records document is stored here, so none can be read).
#[tokio::test]
async fn shows_bytes_added_and_referenced_from_manifest_json_alone() {
    let store = MemoryStore::default();
    let mut m = Manifest::new(
        "20240302000000",
        "c",
        vec!["n1".into(), "n2".into()],
        None,
        "",
    );
    m.reference = Some("20240301000000".into());
    let t = Utc::now();
    let mut batch = Batch::new(BatchKind::Snapshot, t, t, Batch::new_id(t, 1));
    for (host, added) in [("n1", 1024), ("n2", 0)] {
        batch.records.push(contract::manifest::RecordsSummary {
            host: host.into(),
            objects: 10,
            size: 20 * 1024 * 1024,
            stored: 10 * 1024 * 1024,
            added,
            refers_to: vec!["20240301000000".into()],
            document_size: 300,
        });
    }
    m.batches.push(batch);
    put(&store, "c/20240302000000/manifest.json", &m.to_json()).await;

    let entries = list(&store, "c", false).await.unwrap();
    assert_eq!(entries[0].objects, Some(20));
    assert_eq!(entries[0].bytes_stored, Some(20 * 1024 * 1024));
    assert_eq!(entries[0].bytes_added, Some(1024));
    assert_eq!(entries[0].bytes_referenced, Some(20 * 1024 * 1024 - 1024));
    let text = table(&entries);
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        &header[header.len() - 3..],
        ["STORED", "ADDED", "REFERENCED"]
    );
    let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[row.len() - 6..],
        ["20.00", "MiB", "1.00", "KiB", "20.00", "MiB"],
        "{text}"
    );
    let json = serde_json::to_value(&entries).unwrap();
    assert_eq!(json[0]["bytes_added"], 1024);
    assert_eq!(json[0]["bytes_referenced"], 20 * 1024 * 1024 - 1024);
}

#[tokio::test]
async fn a_purged_prefix_kept_for_references_says_so() {
    let store = MemoryStore::default();
    put(
        &store,
        "p/20240101000000/h1/d/ks/t/snapshots/20240101000000/a.lzo",
        "x",
    )
    .await;
    let marker = PurgedMarker {
        name: "20240101000000".into(),
        purged_at: Utc::now(),
        kept_objects: 1,
        kept_for: vec!["20240102000000".into()],
    };
    let key = layout::purged_marker_key("p", "20240101000000");
    put(&store, &key, &serde_json::to_string(&marker).unwrap()).await;
    let entries = list(&store, "p", false).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert!(!entries[0].complete);
    let problem = entries[0].problem.as_deref().unwrap();
    assert!(
        problem.starts_with("purged ")
            && problem.contains("keeps 1 object(s) that backup(s) 20240102000000 reference"),
        "{problem}"
    );
}
