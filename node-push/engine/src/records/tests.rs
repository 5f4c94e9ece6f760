use super::*;
use crate::store::local::LocalStore;
use contract::manifest::BatchKind;

fn entry(key: &str, size: u64) -> ObjectEntry {
    ObjectEntry {
        key: key.into(),
        host: "h1".into(),
        source_path: "/d/ks/t/snapshots/n/f".into(),
        keyspace: "ks".into(),
        table: "t".into(),
        size,
        compressed_size: size / 2,
        sha256: String::new(),
        blake3: "11".repeat(32),
        etag: "e".into(),
        variant: 0,
        source_id: None,
    }
}

#[tokio::test]
async fn documents_round_trip_through_a_store_and_summarise_references() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let name = "20240102000000";
    let t = Utc::now();
    let mut manifest = Manifest::new(name, "b", vec!["h1".into()], None, "");
    let id = Batch::new_id(t, 1);
    let entries = vec![
        entry("b/20240102000000/h1/d/ks/t/snapshots/n/a.lzo", 100),
        entry("b/20240101000000/h1/d/ks/t/snapshots/m/b.lzo", 40),
    ];
    let summary = write_document(
        &store,
        ("b", name, &id),
        "h1",
        &entries,
        &PutOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.objects, summary.size, summary.stored, summary.added),
        (2, 140, 70, 50)
    );
    assert_eq!(summary.refers_to, ["20240101000000"]);
    let mut batch = Batch::new(BatchKind::Snapshot, t, t, id.clone());
    batch.records.push(summary);
    manifest.batches.push(batch);

    assert_eq!(
        host_entries(&store, &manifest, "h1", None).await.unwrap(),
        entries
    );
    assert!(host_entries(&store, &manifest, "h2", None)
        .await
        .unwrap()
        .is_empty());
    // The stored document is an lzop file of JSON lines.
    let key = layout::records_key("b", name, &id, "h1");
    let stored = store.get(&key, None).await.unwrap();
    let mut text = String::new();
    LzopDecoder::new(&stored[..])
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text.lines().count(), 3);

    // A document under the wrong key, or gone, is refused by name.
    store.delete(&key).await.unwrap();
    let error = host_entries(&store, &manifest, "h1", None)
        .await
        .unwrap_err();
    assert!(matches!(error, RecordsIoError::Missing { .. }), "{error}");
    let other = records::encode(name, &id, "h2", entries.iter());
    store
        .put_object(
            &key,
            Bytes::from(compress(&key, &other).unwrap()),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    let error = host_entries(&store, &manifest, "h1", None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("host h2"), "{error}");
}

#[tokio::test]
async fn format_1_manifests_are_read_inline() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let t = Utc::now();
    let mut manifest = Manifest::new(
        "20240102000000",
        "b",
        vec!["h1".into(), "h2".into()],
        None,
        "",
    );
    manifest.format_version = 1;
    let mut batch = Batch::new(BatchKind::Snapshot, t, t, String::new());
    let mut other = entry("b/20240102000000/h2/x.lzo", 8);
    other.host = "h2".into();
    batch.objects = vec![entry("b/20240102000000/h1/x.lzo", 10), other.clone()];
    manifest.batches.push(batch);
    assert_eq!(
        host_entries(&store, &manifest, "h2", None).await.unwrap(),
        [other]
    );
}
