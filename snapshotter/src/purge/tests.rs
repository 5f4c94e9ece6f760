//! Purge against an in-memory store that records every delete, and the local store for multipart uploads.

use super::*;
use crate::memstore::MemoryStore;
use crate::settings::{OutputMode, Verbosity};
use async_trait::async_trait;
use bytes::Bytes;
use contract::manifest::{Batch, BatchKind, Manifest, ObjectEntry};
use engine::store::local::LocalStore;
use engine::store::{
    CompletedPart, Listing, ObjectMeta, PendingUpload, PutOptions, StoreError, StoreResult,
};
use std::sync::Mutex;

/// A [`MemoryStore`] that logs deletes, and refuses to delete keys containing `fail_on`.
#[derive(Debug, Default)]
struct Recording {
    inner: MemoryStore,
    deleted: Mutex<Vec<String>>,
    fail_on: Option<String>,
}

#[async_trait]
impl ObjectStore for Recording {
    fn describe(&self) -> String {
        "recording://".into()
    }
    async fn put_object(&self, key: &str, body: Bytes, opts: &PutOptions) -> StoreResult<String> {
        self.inner.put_object(key, body, opts).await
    }
    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> StoreResult<String> {
        self.inner.create_multipart(key, opts).await
    }
    async fn upload_part(
        &self,
        key: &str,
        id: &str,
        n: u32,
        body: Bytes,
        md5: [u8; 16],
    ) -> StoreResult<String> {
        self.inner.upload_part(key, id, n, body, md5).await
    }
    async fn complete_multipart(
        &self,
        key: &str,
        id: &str,
        parts: &[CompletedPart],
    ) -> StoreResult<String> {
        self.inner.complete_multipart(key, id, parts).await
    }
    async fn abort_multipart(&self, key: &str, id: &str) -> StoreResult<()> {
        self.inner.abort_multipart(key, id).await
    }
    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        self.inner.head(key).await
    }
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Bytes> {
        self.inner.get(key, range).await
    }
    async fn list(&self, prefix: &str, delimiter: Option<&str>) -> StoreResult<Listing> {
        self.inner.list(prefix, delimiter).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        if self.fail_on.as_deref().is_some_and(|f| key.contains(f)) {
            return Err(StoreError::Permanent {
                op: "delete",
                key: key.into(),
                message: "AccessDenied".into(),
            });
        }
        self.deleted.lock().unwrap().push(key.to_string());
        self.inner.delete(key).await
    }
    async fn list_multipart_uploads(&self, prefix: &str) -> StoreResult<Vec<PendingUpload>> {
        self.inner.list_multipart_uploads(prefix).await
    }
}

fn output() -> Output {
    Output::new(OutputMode::Plain, Verbosity::Quiet)
}

async fn put(store: &dyn ObjectStore, key: &str) {
    store
        .put_object(key, Bytes::from_static(b"x"), &PutOptions::default())
        .await
        .unwrap();
}

/// A data object entry for `key`.
fn entry(key: &str) -> ObjectEntry {
    ObjectEntry {
        key: key.to_string(),
        host: "h1".into(),
        source_path: "/d/ks/t/f".into(),
        keyspace: "ks".into(),
        table: "t".into(),
        size: 1,
        compressed_size: 1,
        sha256: "0".repeat(64),
        blake3: String::new(),
        etag: "e".into(),
        variant: 0,
        source_id: None,
    }
}

async fn write_manifest(store: &dyn ObjectStore, manifest: &Manifest) {
    store
        .put_object(
            &layout::manifest_key("b", &manifest.name),
            Bytes::from(manifest.to_json()),
            &PutOptions::default(),
        )
        .await
        .unwrap();
}

/// A complete backup `name` of `keyspaces` and `table` on h1: two data objects (listed by its manifest)
/// and a ring.
async fn backup_of(
    store: &dyn ObjectStore,
    name: &str,
    keyspaces: Option<&[&str]>,
    table: &str,
) -> Manifest {
    let mut objects = Vec::new();
    for file in ["ks-t-ia-1-Data.db", "ks-t-ia-1-Index.db"] {
        let key = format!("b/{name}/h1/d/ks/t/snapshots/{name}/{file}.lzo");
        put(store, &key).await;
        objects.push(entry(&key));
    }
    put(store, &format!("b/{name}/ring")).await;
    let keyspaces = keyspaces.map(|k| k.iter().map(|s| s.to_string()).collect());
    let mut m = Manifest::new(name, "b", vec!["h1".into()], keyspaces, table);
    m.format_version = 1; // objects inline
    let t = name.parse::<layout::BackupName>().unwrap().time();
    m.batches.push(Batch {
        kind: BatchKind::Snapshot,
        started_at: t,
        completed_at: t,
        objects,
        id: String::new(),
        records: Vec::new(),
    });
    write_manifest(store, &m).await;
    m
}

/// A complete backup `name` of everything on h1.
async fn complete_backup(store: &dyn ObjectStore, name: &str) {
    backup_of(store, name, None, "").await;
}

fn options(retention: Option<Retention>, named: &[&str], dry_run: bool) -> PurgeOptions {
    PurgeOptions {
        policy: Policy {
            retention,
            named: named.iter().map(|s| s.to_string()).collect(),
            abandoned_after: chrono::Duration::days(1),
        },
        dry_run,
        put: PutOptions::default(),
    }
}

fn keep_last(n: usize, dry_run: bool) -> PurgeOptions {
    options(Some(Retention::KeepLast(n)), &[], dry_run)
}

async fn keys(store: &dyn ObjectStore) -> Vec<String> {
    store
        .list("b/", None)
        .await
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.key)
        .collect()
}

#[tokio::test]
async fn removes_old_backups_manifest_first_and_keeps_the_newest() {
    let store = Recording::default();
    complete_backup(&store, "20240101000000").await;
    complete_backup(&store, "20240102000000").await;
    complete_backup(&store, "20240103000000").await;
    // An abandoned incomplete backup (no manifest) and a recent one that may still be running.
    put(
        &store,
        "b/20200101000000/h1/d/ks/t/backups/ks-t-ia-9-Data.db.lzo",
    )
    .await;
    let running = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    put(&store, &format!("b/{running}/h1/d/ks/t/backups/x.lzo")).await;

    let before = keys(&store).await;
    let dry = purge(&store, "b", &keep_last(1, true), &output())
        .await
        .unwrap();
    assert_eq!(keys(&store).await, before, "a dry run removes nothing");
    let planned: Vec<&str> = dry
        .plan
        .backups
        .iter()
        .filter(|d| d.delete)
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(
        planned,
        ["20240102000000", "20240101000000", "20200101000000"]
    );
    assert!(dry.table().contains("would remove"));

    let done = purge(&store, "b", &keep_last(1, false), &output())
        .await
        .unwrap();
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    let left = keys(&store).await;
    assert!(
        left.iter()
            .all(|k| k.starts_with("b/20240103000000/") || k.starts_with(&format!("b/{running}/"))),
        "{left:?}"
    );
    assert!(left.contains(&"b/20240103000000/manifest.json".to_string()));
    // For each removed backup its manifest went before any other of its objects.
    let deleted = store.deleted.lock().unwrap().clone();
    for name in ["20240101000000", "20240102000000"] {
        let mine: Vec<&String> = deleted.iter().filter(|k| k.contains(name)).collect();
        assert_eq!(mine[0], &format!("b/{name}/manifest.json"), "{mine:?}");
        let marker = format!("b/{name}/purged.json");
        let last_object = mine.iter().rposition(|k| !k.ends_with('/')).unwrap();
        assert_eq!(mine[last_object], &marker, "{mine:?}");
        let objects = mine.iter().filter(|k| !k.ends_with('/')).count();
        assert_eq!(
            objects, 6,
            "manifest, its staging key, ring, two data objects, the purge marker last: {mine:?}"
        );
        // Then the (empty) folders, deepest first, for stores that keep them.
        let folders: Vec<&str> = mine
            .iter()
            .filter(|k| k.ends_with('/'))
            .map(|k| k.as_str())
            .collect();
        assert_eq!(folders[0], format!("b/{name}/h1/d/ks/t/snapshots/{name}/"));
        assert_eq!(*folders.last().unwrap(), format!("b/{name}/"));
    }
}

#[tokio::test]
async fn a_failed_delete_is_reported_and_the_backup_no_longer_looks_complete() {
    let store = Recording {
        fail_on: Some("Index.db".into()),
        ..Recording::default()
    };
    complete_backup(&store, "20240101000000").await;
    complete_backup(&store, "20240102000000").await;
    let done = purge(&store, "b", &keep_last(1, false), &output())
        .await
        .unwrap();
    assert_eq!(done.errors.len(), 1);
    assert!(
        done.errors[0].contains("20240101000000"),
        "{}",
        done.errors[0]
    );
    assert!(done.errors[0].contains("Index.db"), "{}", done.errors[0]);
    let listed = crate::list::list(&store, "b", false).await.unwrap();
    let old = listed.iter().find(|e| e.name == "20240101000000").unwrap();
    assert!(
        !old.complete,
        "half-removed backups are listed as incomplete"
    );
}

#[tokio::test]
async fn aborts_abandoned_multipart_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let id = store
        .create_multipart("b/20240101000000/h1/d/ks/t/x.lzo", &PutOptions::default())
        .await
        .unwrap();
    let recent = purge(&store, "b", &keep_last(1, false), &output())
        .await
        .unwrap();
    assert_eq!(
        recent.uploads_aborted, 0,
        "a fresh upload may belong to a running backup"
    );
    assert_eq!(store.list_multipart_uploads("b/").await.unwrap().len(), 1);
    let mut options = keep_last(1, false);
    options.policy.abandoned_after = chrono::Duration::zero();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let done = purge(&store, "b", &options, &output()).await.unwrap();
    assert_eq!(done.uploads_aborted, 1, "{}", done.table());
    assert!(store.list_multipart_uploads("b/").await.unwrap().is_empty());
    assert!(done.plan.abort_uploads[0].upload_id == id);
}

mod scopes;

mod references;
