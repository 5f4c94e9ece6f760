//! [`LocalStore`] shows the same behaviour as the S3 store (the shared scenarios in `common`), plus what
//! is particular to a directory: keys that would escape the root, atomic writes, the hidden staging dirs.

mod common;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use engine::store::local::{LocalStore, ETAG_DIR, MULTIPART_DIR};
use engine::store::{CompletedPart, ObjectStore, PutOptions, StoreError};

use common::*;

fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("backups")).unwrap();
    (dir, store)
}

/// Every file below `dir`, relative to it, sorted.
fn files_below(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn objects_ranges_and_missing_objects() {
    let (_dir, store) = store();
    exercise_objects(&store, "basic").await;
    assert_eq!(
        store.describe(),
        format!("file://{}", store.root().display())
    );
}

#[tokio::test]
async fn put_options_are_accepted() {
    let (_dir, store) = store();
    exercise_put_options(&store, "opts", KmsSupport::Available).await;
}

#[tokio::test]
async fn listing_with_and_without_delimiter() {
    let (_dir, store) = store();
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    exercise_listing(store, "list", 1234).await;
}

#[tokio::test]
async fn multipart_follows_s3_rules() {
    let (_dir, store) = store();
    exercise_multipart(&store, "mp").await;
    exercise_abort_and_pending(&store, "pending").await;
    exercise_bad_completion(&store, "badcomplete").await;
}

#[tokio::test]
async fn a_part_whose_content_md5_does_not_match_is_rejected() {
    let (_dir, store) = store();
    let refused = exercise_bad_part_md5(&store, "md5").await;
    assert!(matches!(refused, StoreError::Integrity { .. }), "{refused}");
}

#[tokio::test]
async fn small_non_final_parts_are_refused_as_on_s3() {
    let (_dir, store) = store();
    exercise_small_parts(&store, "small").await;
}

#[tokio::test]
async fn keys_cannot_escape_the_root_or_touch_the_staging_area() {
    let (dir, store) = store();
    for key in [
        "../escape",
        "a/../../escape",
        "/etc/passwd",
        "a//b",
        MULTIPART_DIR,
        &format!("{ETAG_DIR}/x"),
        "",
    ] {
        let put = store
            .put_object(key, Bytes::from_static(b"x"), &PutOptions::default())
            .await;
        assert!(
            matches!(put, Err(StoreError::Permanent { .. })),
            "{key:?}: {put:?}"
        );
        let head = store.head(key).await;
        assert!(
            matches!(head, Err(StoreError::Permanent { .. })),
            "{key:?}: {head:?}"
        );
        let create = store.create_multipart(key, &PutOptions::default()).await;
        assert!(create.is_err(), "{key:?}");
    }
    assert!(!dir.path().join("escape").exists());
    // Upload ids are ours alone: one that walks out of the staging dir names no upload.
    let part = Bytes::from_static(b"x");
    let stray = store
        .upload_part("k", "../../escape", 1, part.clone(), md5(&part))
        .await;
    assert!(
        matches!(stray, Err(StoreError::NotFound { .. })),
        "{stray:?}"
    );
    store
        .abort_multipart("k", "../../../")
        .await
        .expect("unknown upload ids abort quietly");
}

#[tokio::test]
async fn writes_leave_no_temp_files_and_staging_is_hidden() {
    let (_dir, store) = store();
    let root = store.root().to_path_buf();
    store
        .put_object("a/b.lzo", pattern(1000, 1), &PutOptions::default())
        .await
        .unwrap();
    let id = store
        .create_multipart("c/d.lzo", &PutOptions::default())
        .await
        .unwrap();
    let part = pattern(2000, 2);
    let etag = store
        .upload_part("c/d.lzo", &id, 1, part.clone(), md5(&part))
        .await
        .unwrap();
    assert!(
        root.join(MULTIPART_DIR)
            .join(&id)
            .join("part-00001")
            .is_file(),
        "parts are staged by upload id"
    );
    assert!(store.head("c/d.lzo").await.unwrap().is_none());
    assert_eq!(
        store.list("", None).await.unwrap().objects.len(),
        1,
        "staged parts are not listed"
    );
    let staging = store
        .list(&format!("{MULTIPART_DIR}/"), None)
        .await
        .unwrap();
    assert!(staging.objects.is_empty(), "{staging:?}");

    store
        .complete_multipart(
            "c/d.lzo",
            &id,
            &[CompletedPart {
                part_number: 1,
                etag,
            }],
        )
        .await
        .unwrap();
    let visible: Vec<String> = files_below(&root)
        .into_iter()
        .filter(|f| !f.starts_with('.'))
        .collect();
    assert_eq!(visible, ["a/b.lzo", "c/d.lzo"]);
    assert!(
        files_below(&root.join(MULTIPART_DIR)).is_empty(),
        "no temp files or parts left behind"
    );
    assert_eq!(fs_err::read(root.join("c/d.lzo")).unwrap(), part);

    // Deleting the last key below a directory removes the empty directory too.
    store.delete("a/b.lzo").await.unwrap();
    assert!(!root.join("a").exists());
}

#[tokio::test]
async fn files_placed_by_hand_are_objects_with_an_md5_etag() {
    let (_dir, store) = store();
    let path = store.root().join("copied/by/hand.db");
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, b"restored from elsewhere").unwrap();
    let meta = store.head("copied/by/hand.db").await.unwrap().unwrap();
    assert_eq!(meta.etag, hex::encode(md5(b"restored from elsewhere")));
    let listed = store.list("copied/", None).await.unwrap();
    assert_eq!(listed.objects[0].etag, meta.etag);
}

#[tokio::test]
async fn an_object_cannot_be_a_directory_of_other_objects() {
    let (_dir, store) = store();
    store
        .put_object("a/b", Bytes::from_static(b"file"), &PutOptions::default())
        .await
        .unwrap();
    let below = store
        .put_object("a/b/c", Bytes::from_static(b"x"), &PutOptions::default())
        .await;
    assert!(
        below.is_err(),
        "a filesystem cannot hold both a/b and a/b/c"
    );
    assert_eq!(store.head("a/b/c").await.unwrap(), None);
    assert_eq!(
        store.get("a/b", None).await.unwrap(),
        Bytes::from_static(b"file")
    );
}

#[test]
fn a_root_that_is_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    fs_err::write(&file, b"").unwrap();
    assert!(LocalStore::new(&file).is_err());
}
