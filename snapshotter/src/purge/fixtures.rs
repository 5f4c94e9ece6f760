//! Test fixtures shared by purge's and verify's unit tests: format-2 backups (records documents per host,
//! a small `manifest.json`) in an in-memory store.

use bytes::Bytes;
use contract::layout;
use contract::manifest::{Batch, BatchKind, Manifest, ObjectEntry};
use engine::records::write_document;
use engine::store::{ObjectStore, PutOptions};

/// A data object's record: `key` on `host`, one stored byte, the in-memory store's ETag.
pub fn record(host: &str, key: &str) -> ObjectEntry {
    ObjectEntry {
        key: key.to_string(),
        host: host.to_string(),
        source_path: format!("/d/ks/t/snapshots/s/{}", key.rsplit('/').next().unwrap()),
        keyspace: "ks".into(),
        table: "t".into(),
        size: 1,
        compressed_size: 1,
        sha256: String::new(),
        blake3: "00".repeat(32),
        etag: "etag".into(),
        variant: 0,
        source_id: None,
    }
}

/// The key of `file` of `host` under backup `name` (base path `b`).
pub fn own_key(name: &str, host: &str, file: &str) -> String {
    format!("b/{name}/{host}/d/ks/t/snapshots/{name}/{file}.lzo")
}

pub async fn put(store: &dyn ObjectStore, key: &str, body: &'static [u8]) {
    store
        .put_object(key, Bytes::from_static(body), &PutOptions::default())
        .await
        .unwrap();
}

/// A complete format-2 backup `name` under base path `b` with one snapshot batch: per host, the records
/// given (objects under its own prefix are stored; others are references), `reference` as its manifest
/// names it. Returns the manifest it wrote.
pub async fn format2_backup(
    store: &dyn ObjectStore,
    name: &str,
    reference: Option<&str>,
    hosts: &[(&str, Vec<ObjectEntry>)],
) -> Manifest {
    let own = layout::backup_prefix("b", name);
    let names: Vec<String> = hosts.iter().map(|(h, _)| h.to_string()).collect();
    let mut manifest = Manifest::new(name, "b", names, None, "");
    manifest.reference = reference.map(str::to_string);
    let t = name.parse::<layout::BackupName>().unwrap().time();
    let id = Batch::new_id(t, 1);
    let mut batch = Batch::new(BatchKind::Snapshot, t, t, id.clone());
    for (host, entries) in hosts {
        for entry in entries.iter().filter(|e| e.key.starts_with(&own)) {
            put(store, &entry.key, b"x").await;
        }
        let summary = write_document(
            store,
            ("b", name, &id),
            host,
            entries,
            &PutOptions::default(),
        )
        .await
        .unwrap();
        batch.records.push(summary);
    }
    manifest.batches.push(batch);
    put(store, &layout::ring_key("b", name), b"ring").await;
    write_manifest(store, &manifest).await;
    manifest
}

pub async fn write_manifest(store: &dyn ObjectStore, manifest: &Manifest) {
    store
        .put_object(
            &layout::manifest_key("b", &manifest.name),
            Bytes::from(manifest.to_json()),
            &PutOptions::default(),
        )
        .await
        .unwrap();
}

/// Backup names of [`differential`].
pub const OLD: &str = "20240101000000";
pub const NEW: &str = "20240102000000";

/// OLD holds a, b of h1 and c of h2; NEW stores d of h1 and references OLD's a (h1) and c (h2).
pub async fn differential(store: &dyn ObjectStore) -> Manifest {
    let (a, b, c) = (
        own_key(OLD, "h1", "a"),
        own_key(OLD, "h1", "b"),
        own_key(OLD, "h2", "c"),
    );
    format2_backup(
        store,
        OLD,
        None,
        &[
            ("h1", vec![record("h1", &a), record("h1", &b)]),
            ("h2", vec![record("h2", &c)]),
        ],
    )
    .await;
    let d = own_key(NEW, "h1", "d");
    format2_backup(
        store,
        NEW,
        Some(OLD),
        &[
            ("h1", vec![record("h1", &a), record("h1", &d)]),
            ("h2", vec![record("h2", &c)]),
        ],
    )
    .await
}
