//! Files that change under node-push while it uploads, against a real SeaweedFS:
//! - `backups/` files deleted after the walk (an operator's cleanup, a compaction of the live directory
//!   racing a run) are reported as vanished, the run goes on and exits 0;
//! - a file that grows while it is read is read again, and what is stored is the file as it ended up;
//! - a file that keeps changing fails by name after a few tries, and leaves no object behind.
//!
//! The first drives the real binary; the other two drive the pipeline in-process, with a store wrapper
//! that writes to the source file at the moment of the upload (so the timing is exact, not a race).

mod faults;

use anyhow::{ensure, Result};
use async_trait::async_trait;
use bytes::Bytes;
use contract::message::Message;
use engine::store::{
    CompletedPart, Listing, ObjectMeta, ObjectStore, PendingUpload, PutOptions, StoreResult,
};
use faults::{BinaryCopy, DirectStore, NodePushRun};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::seaweed::SeaweedFs;
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

const BUCKET: &str = "changing";

#[test]
fn backups_files_deleted_after_the_walk_are_reported_vanished_and_the_run_succeeds() -> Result<()> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let direct = DirectStore::connect(&weed, BUCKET)?;
    let node_push = BinaryCopy::of("node-push")?;
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let files = write_tree(
        &data,
        &TreeSpec {
            keyspaces: vec!["ks1".into(), "ks2".into()],
            tables: vec!["events".into(), "users".into()],
            data_size: 16 * 1024,
            with_index: false,
            ..TreeSpec::new(Layout::V40, Placement::Backups)
        },
    )?;
    // One table's backups/ goes away once node-push has planned its run: the walk saw them, the
    // uploads will not find them.
    let doomed: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.to_string_lossy().contains("/ks2/users-"))
        .cloned()
        .collect();
    ensure!(!doomed.is_empty());
    let args: Vec<String> = [
        "upload",
        "--data-dir",
        &data.display().to_string(),
        "--incremental",
        "--delete-after-upload",
        "--dest",
        &format!("s3://{BUCKET}/base/20240101000000/node1"),
        "--endpoint",
        &weed.endpoint,
        "--credentials-stdin",
        "--concurrency",
        "1",
        "--rate-limit",
        "64",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let mut run = NodePushRun::start(&node_push.path, &args, &weed.credentials_line(), &[])?;
    run.wait_for(Duration::from_secs(60), |m| {
        matches!(m, Message::Plan { .. })
    })?;
    for file in &doomed {
        // Some may already be uploaded (and deleted by node-push itself): that is fine.
        let _ = fs_err::remove_file(file);
    }
    let outcome = run.finish(Duration::from_secs(240))?;
    testkit::log!("{}", outcome.stderr);
    assert_eq!(outcome.code, Some(0), "vanished files are not failures");
    let vanished: BTreeSet<String> = outcome.vanished().into_iter().collect();
    let uploaded = outcome.uploaded();
    ensure!(
        !vanished.is_empty(),
        "nothing vanished: the deletion came too late"
    );
    for file in &doomed {
        let name = faults::file_name(&file.display().to_string());
        assert!(
            vanished.contains(&name) || uploaded.contains_key(&name),
            "{name}: neither uploaded nor reported vanished"
        );
    }
    let summary = outcome.summary();
    assert_eq!(summary.files_failed, 0);
    assert_eq!(summary.files_skipped, vanished.len() as u64);
    assert_eq!(
        summary.files_done as usize + vanished.len(),
        files.len(),
        "every other file went up"
    );
    let stored = direct.objects("base/")?;
    for entry in uploaded.values() {
        assert_eq!(stored[&entry.key].size, entry.compressed_size);
    }
    Ok(())
}

/// A store that, on the first `writes` uploads (PUT or multipart start) of a key containing `key_part`,
/// first appends to `source`, as a process still writing it would.
#[derive(Debug)]
struct WritesWhileUploading {
    inner: Arc<dyn ObjectStore>,
    key_part: String,
    source: PathBuf,
    writes_left: Mutex<usize>,
    /// Upload starts seen for that key.
    attempts: Mutex<usize>,
}

impl WritesWhileUploading {
    fn touch(&self, key: &str) {
        if !key.contains(&self.key_part) {
            return;
        }
        *self.attempts.lock().unwrap() += 1;
        let mut left = self.writes_left.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            let mut file = fs_err::OpenOptions::new()
                .append(true)
                .open(&self.source)
                .unwrap();
            file.write_all(&[b'+'; 4096]).unwrap();
        }
    }
}

#[async_trait]
impl ObjectStore for WritesWhileUploading {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn put_object(&self, key: &str, body: Bytes, opts: &PutOptions) -> StoreResult<String> {
        self.touch(key);
        self.inner.put_object(key, body, opts).await
    }
    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> StoreResult<String> {
        self.touch(key);
        self.inner.create_multipart(key, opts).await
    }
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        md5: [u8; 16],
    ) -> StoreResult<String> {
        self.inner
            .upload_part(key, upload_id, part_number, body, md5)
            .await
    }
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> StoreResult<String> {
        self.inner.complete_multipart(key, upload_id, parts).await
    }
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> StoreResult<()> {
        self.inner.abort_multipart(key, upload_id).await
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
        self.inner.delete(key).await
    }
    async fn list_multipart_uploads(&self, prefix: &str) -> StoreResult<Vec<PendingUpload>> {
        self.inner.list_multipart_uploads(prefix).await
    }
}

/// Uploads every file of `dir` to `prefix` in-process, through a store that appends to `changing` on its
/// first `writes` uploads; returns the messages and the number of upload starts of that file.
fn upload_while_writing(
    weed: &SeaweedFs,
    dir: &Path,
    prefix: &str,
    changing: &str,
    writes: usize,
) -> Result<(Vec<Message>, usize)> {
    use engine::ratelimit::RateLimiter;
    use engine::store::s3::S3Store;
    use engine::upload::{compression_pool, Context, Pipeline, PipelineConfig, Reporter};
    let items = node_push::agent::plan(&contract::request::UploadRequest {
        dir: Some(dir.to_path_buf()),
        ..contract::request::UploadRequest::new(contract::request::StoreRequest::new(format!(
            "s3://{BUCKET}/{prefix}"
        )))
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let reporter = Reporter::collector();
    let store = runtime.block_on(S3Store::connect(weed.s3_config(BUCKET)))?;
    let store = Arc::new(WritesWhileUploading {
        inner: Arc::new(store),
        key_part: changing.to_string(),
        source: dir.join(changing),
        writes_left: Mutex::new(writes),
        attempts: Mutex::new(0),
    });
    let (_keep_open, cancel) = tokio::sync::watch::channel(false);
    let ctx = Context::new(
        store.clone(),
        PipelineConfig {
            part_size: 5 << 20,
            ..PipelineConfig::default()
        },
        compression_pool(1)?,
        RateLimiter::unlimited(),
        reporter.clone(),
        cancel,
    );
    runtime.block_on(Pipeline::new(ctx).run(items));
    let attempts = *store.attempts.lock().unwrap();
    Ok((reporter.collected(), attempts))
}

#[test]
fn a_file_that_grows_while_read_is_read_again_and_stored_as_it_ended() -> Result<()> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let direct = DirectStore::connect(&weed, BUCKET)?;
    let tmp = tempfile::tempdir()?;
    faults::write_random(&tmp.path().join("steady-Data.db"), 50_000, 1)?;
    faults::write_random(&tmp.path().join("growing-Data.db"), 80_000, 2)?;
    // A multipart-sized one grows too: its upload is aborted and started again.
    faults::write_random(&tmp.path().join("growing-big-Data.db"), 7 << 20, 3)?;
    for (file, prefix) in [
        ("growing-Data.db", "grow"),
        ("growing-big-Data.db", "growbig"),
    ] {
        let (messages, attempts) = upload_while_writing(&weed, tmp.path(), prefix, file, 1)?;
        assert_eq!(attempts, 2, "{file}: read once more after it changed");
        let done: Vec<_> = messages
            .iter()
            .filter_map(|m| match m {
                Message::FileDone { entry } => Some(entry.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(done.len(), 3, "{messages:?}");
        for entry in &done {
            let source = fs_err::read(&entry.source_path)?;
            direct.check_restores_to(entry, &source)?;
        }
        let grown = done.iter().find(|e| e.source_path.ends_with(file)).unwrap();
        assert_eq!(
            grown.size,
            fs_err::metadata(tmp.path().join(file))?.len(),
            "stored as it ended"
        );
        assert_eq!(direct.open_uploads(&format!("{prefix}/"))?, 0);
    }
    Ok(())
}

#[test]
fn a_file_that_keeps_changing_fails_by_name_and_leaves_no_object() -> Result<()> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let direct = DirectStore::connect(&weed, BUCKET)?;
    let tmp = tempfile::tempdir()?;
    faults::write_random(&tmp.path().join("steady-Data.db"), 50_000, 1)?;
    faults::write_random(&tmp.path().join("busy-Data.db"), 60_000, 2)?;
    let (messages, attempts) = upload_while_writing(&weed, tmp.path(), "busy", "busy-Data.db", 99)?;
    assert_eq!(attempts, 3, "tried three times");
    let failed: Vec<_> = messages
        .iter()
        .filter_map(|m| match m {
            Message::FileFailed {
                path,
                error,
                retryable,
                ..
            } => Some((path.clone(), error.clone(), *retryable)),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{messages:?}");
    let (path, error, retryable) = &failed[0];
    assert!(path.ends_with("busy-Data.db"));
    assert!(
        error.contains("busy-Data.db") && error.contains("changed size while it was read"),
        "{error}"
    );
    assert!(retryable, "a later run may find it settled");
    let stored = direct.objects("busy/")?;
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        ["busy/steady-Data.db.lzo"],
        "no object for the file that never settled"
    );
    Ok(())
}
