//! The node-push binary end to end: Cassandra-like trees of every layout uploaded to a real SeaweedFS and
//! to the local store, every object downloaded and checked with the real `lzop` and byte for byte, the
//! JSON lines parsed strictly, incremental files deleted only after their upload, and a file over 5 GiB
//! streamed with bounded memory.

use contract::layout::{self, DataKind, ParsedKey};
use contract::message::{Message, SkipReason};
use engine::digest::Algorithm;
use engine::lzop::LzopDecoder;
use engine::store::ObjectStore;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use testkit::seaweed::SeaweedFs;
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

#[path = "support/mod.rs"]
mod support;

use support::{args, credentials_line, node_push, NAME};

fn s3_store(weed: &SeaweedFs, bucket: &str) -> std::sync::Arc<dyn ObjectStore> {
    support::s3_store(weed, bucket)
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    support::runtime()
}

/// Download `key`, check it with the real `lzop -t`, decode it and compare with `source`.
fn check_object(store: &dyn ObjectStore, key: &str, source: &Path, scratch: &Path) {
    let body = tokio_runtime()
        .block_on(store.get(key, None))
        .unwrap_or_else(|e| panic!("{key}: {e}"));
    let copy = scratch.join("object.lzo");
    fs_err::write(&copy, &body).unwrap();
    let test = Command::new("lzop")
        .arg("-t")
        .arg(&copy)
        .output()
        .expect("lzop is installed (cargo xtask setup)");
    assert!(
        test.status.success(),
        "lzop -t {key}: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    let mut decoded = Vec::new();
    LzopDecoder::new(&body[..])
        .unwrap()
        .read_to_end(&mut decoded)
        .unwrap();
    assert!(
        decoded == fs_err::read(source).unwrap(),
        "{key} does not decode to {}",
        source.display()
    );
}

#[test]
fn cassandra_trees_of_every_layout_upload_to_seaweedfs_and_come_back_byte_for_byte() {
    let weed = SeaweedFs::start().unwrap();
    weed.create_bucket("backups.with.dots").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Two data dirs: an old 1.2 layout in one, 4.1 with secondary indexes and Cassandra's own snapshot
    // manifest in the other; 2.1 and 3.x tables beside them.
    let d1 = tmp.path().join("data1");
    let d2 = tmp.path().join("data2");
    let snapshot = Placement::Snapshot(NAME.into());
    let mut files = write_tree(&d1, &TreeSpec::new(Layout::V12, snapshot.clone())).unwrap();
    files.extend(
        write_tree(
            &d2,
            &TreeSpec {
                tables: vec!["users".into()],
                ..TreeSpec::new(Layout::V41, snapshot.clone())
            },
        )
        .unwrap(),
    );
    files.extend(
        write_tree(
            &d2,
            &TreeSpec {
                tables: vec!["t21".into()],
                ..TreeSpec::new(Layout::V21, snapshot.clone())
            },
        )
        .unwrap(),
    );
    files.extend(
        write_tree(
            &d2,
            &TreeSpec {
                tables: vec!["t3".into()],
                data_size: 12 << 20,
                ..TreeSpec::new(Layout::V3, snapshot)
            },
        )
        .unwrap(),
    );
    // Live SSTables and other snapshots must not be picked up.
    write_tree(&d1, &TreeSpec::new(Layout::V12, Placement::Live)).unwrap();
    write_tree(
        &d1,
        &TreeSpec::new(Layout::V12, Placement::Snapshot("other".into())),
    )
    .unwrap();

    let dest = format!("s3://backups.with.dots/base/{NAME}/node1");
    let run = node_push(
        &args(&[
            "upload",
            "--data-dir",
            d1.to_str().unwrap(),
            "--data-dir",
            d2.to_str().unwrap(),
            "--snapshot-tag",
            NAME,
            "--dest",
            &dest,
            "--endpoint",
            &weed.endpoint,
            "--region",
            weed.region(),
            "--host-label",
            "node1",
            "--credentials-stdin",
            "--part-size-mib",
            "5",
        ]),
        &[credentials_line(&weed)],
    );
    assert!(run.status.success(), "node-push failed: {}", run.stderr);
    assert!(
        !run.stderr.contains(weed.secret_key()),
        "secret key leaked to stderr"
    );
    let summary = run.summary();
    assert_eq!(summary.files_total, files.len() as u64);
    assert_eq!(summary.files_done, files.len() as u64);
    assert_eq!(summary.files_failed, 0);
    let expected_bytes: u64 = files
        .iter()
        .map(|f| fs_err::metadata(f).unwrap().len())
        .sum();
    assert_eq!(summary.bytes_read, expected_bytes);

    let store = s3_store(&weed, "backups.with.dots");
    let listing = tokio_runtime()
        .block_on(store.list(&layout::backup_prefix("base", NAME), None))
        .unwrap();
    assert_eq!(
        listing.objects.len(),
        files.len(),
        "one object per file, nothing else"
    );
    let done = run.uploaded();
    let scratch = tmp.path().join("scratch");
    fs_err::create_dir_all(&scratch).unwrap();
    for file in &files {
        let key = layout::data_key("base", NAME, "node1", file);
        let entry = &done[&file.display().to_string()];
        assert_eq!(entry.key, key);
        assert_eq!(entry.host, "node1");
        let Some(ParsedKey::Data(parsed)) = layout::parse_key("base", &key) else {
            panic!("{key}")
        };
        assert_eq!(parsed.kind, DataKind::Snapshot { tag: NAME.into() });
        assert_eq!(entry.keyspace, parsed.keyspace);
        let meta = listing
            .objects
            .iter()
            .find(|o| o.key == key)
            .unwrap_or_else(|| panic!("{key} not stored"));
        assert_eq!(meta.size, entry.compressed_size);
        assert_eq!(meta.etag, entry.etag);
        // BLAKE3 of the source bytes, computed here independently of the upload's single pass.
        let blake3 = engine::digest::hash_file(file, Algorithm::Blake3, &mut Vec::new())
            .unwrap()
            .1;
        assert_eq!(entry.blake3, blake3, "{}", file.display());
        assert!(entry.sha256.is_empty(), "new uploads record no SHA-256");
        check_object(store.as_ref(), &key, file, &scratch);
    }
    // The 12 MiB Data.db files went up as multipart uploads (5 MiB parts).
    assert!(
        done.values().any(|e| e.etag.ends_with("-3")),
        "expected 3-part uploads"
    );
}

#[test]
fn incremental_files_go_after_the_run_only_when_every_stream_has_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let files = write_tree(&data, &TreeSpec::new(Layout::V40, Placement::Backups)).unwrap();
    let out = tmp.path().join("store");
    let upload = |dest: &str, keyspaces: &str| {
        let run = node_push(
            &args(&[
                "upload",
                "--data-dir",
                data.to_str().unwrap(),
                "--incremental",
                "--delete-after-upload",
                "--keyspaces",
                keyspaces,
                "--exclude-tables",
                "ks1.events",
                "--dest",
                &format!("file://{}/{dest}", out.display()),
            ]),
            &[],
        );
        assert!(run.status.success(), "{}", run.stderr);
        run
    };
    let selected: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.to_str().unwrap().contains("/ks1/users-"))
        .collect();
    assert!(!selected.is_empty());
    // The first stream is the only one on the node: once its uploads are verified, its links go.
    let first = upload("a/n/h", "ks1");
    assert_eq!(first.summary().files_done, selected.len() as u64);
    assert!(
        first
            .stderr
            .contains(&format!("{} backups/ link(s) deleted", selected.len())),
        "{}",
        first.stderr
    );
    for file in &files {
        assert_eq!(
            file.exists(),
            !selected.contains(&file),
            "{}",
            file.display()
        );
    }
    for file in &selected {
        assert!(out.join(format!("a/n/h{}.lzo", file.display())).is_file());
    }
    // New flushes: links now needed by the first stream and by a second one that registers with them.
    let fresh: Vec<PathBuf> = selected
        .iter()
        .map(|f| {
            let again = f.with_file_name(format!(
                "again-{}",
                f.file_name().unwrap().to_string_lossy()
            ));
            fs_err::write(&again, b"flushed later").unwrap();
            again
        })
        .collect();
    let second = upload("b/n/h", "ks1");
    assert!(
        second.stderr.contains("0 backups/ link(s) deleted"),
        "{}",
        second.stderr
    );
    assert!(
        fresh.iter().all(|f| f.exists()),
        "the first stream has not stored them yet"
    );
    let third = upload("a/n/h", "ks1");
    assert!(
        third
            .stderr
            .contains(&format!("{} backups/ link(s) deleted", fresh.len())),
        "{}",
        third.stderr
    );
    assert!(fresh.iter().all(|f| !f.exists()));
    // Nothing was ever deleted before its object was stored.
    for f in &fresh {
        for dest in ["a/n/h", "b/n/h"] {
            assert!(out.join(format!("{dest}{}.lzo", f.display())).is_file());
        }
    }
}

#[test]
fn a_failed_store_fails_each_file_by_name_and_deletes_nothing() {
    let weed = SeaweedFs::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let files = write_tree(
        &data,
        &TreeSpec {
            keyspaces: vec!["ks".into()],
            tables: vec!["t".into()],
            sstables_per_table: 1,
            ..TreeSpec::new(Layout::V12, Placement::Backups)
        },
    )
    .unwrap();
    // The bucket does not exist: nothing can be stored.
    let run = node_push(
        &args(&[
            "upload",
            "--data-dir",
            data.to_str().unwrap(),
            "--incremental",
            "--delete-after-upload",
            "--dest",
            "s3://no-such-bucket/base",
            "--endpoint",
            &weed.endpoint,
            "--credentials-stdin",
        ]),
        &[credentials_line(&weed)],
    );
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("no-such-bucket"),
        "the error names the bucket: {}",
        run.stderr
    );
    assert!(!run.stderr.contains(weed.secret_key()));
    for file in &files {
        assert!(
            file.exists(),
            "{} was deleted although its upload failed",
            file.display()
        );
    }
    assert!(!run
        .messages
        .iter()
        .any(|m| matches!(m, Message::FileDone { .. })));
}

#[test]
fn vanished_files_are_skipped_not_fatal() {
    // A file that is gone by the time it is read (compaction) is reported as skipped.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("a"), b"alpha").unwrap();
    let store = tmp.path().join("store");
    let ctx_items = node_push::agent::plan(&contract::request::UploadRequest {
        dir: Some(dir.clone()),
        ..contract::request::UploadRequest::new(contract::request::StoreRequest::new(format!(
            "file://{}",
            store.display()
        )))
    })
    .unwrap();
    let mut items = ctx_items;
    items.push(engine::upload::UploadItem {
        path: dir.join("gone"),
        key: "gone.lzo".into(),
        size: 10,
        keyspace: String::new(),
        table: String::new(),
        variant: 0,
    });
    let reporter = engine::upload::Reporter::collector();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let summary = runtime.block_on(async {
        let local = engine::store::local::LocalStore::new(&store).unwrap();
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        let ctx = engine::upload::Context::new(
            std::sync::Arc::new(local),
            engine::upload::PipelineConfig::default(),
            std::sync::Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .unwrap(),
            ),
            engine::ratelimit::RateLimiter::new(0),
            reporter.clone(),
            cancel,
        );
        engine::upload::Pipeline::new(ctx).run(items).await
    });
    assert_eq!(
        (
            summary.files_done,
            summary.files_skipped,
            summary.files_failed
        ),
        (1, 1, 0)
    );
    assert!(reporter
        .collected()
        .iter()
        .any(|m| matches!(m, Message::FileSkipped { path, reason: SkipReason::Vanished } if path.ends_with("/gone"))));
}

#[test]
fn a_file_over_5_gib_streams_to_the_local_store_with_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    fs_err::create_dir_all(&dir).unwrap();
    let big = dir.join("nb-1-big-Data.db");
    // Sparse, with an incompressible 1 MiB stretch every 256 MiB: fast to write, exercises raw and
    // compressed blocks and offsets past 4 GiB.
    let size: u64 = 5 * 1024 * 1024 * 1024 + 12345;
    {
        let file = fs_err::File::create(&big).unwrap();
        file.set_len(size).unwrap();
        let mut file = file.into_parts().0;
        let mut state = 7u64;
        let mut chunk = vec![0u8; 1 << 20];
        let mut offset = 0;
        while offset + chunk.len() as u64 <= size {
            testkit::tree::random_fill(&mut chunk, &mut state);
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset)).unwrap();
            file.write_all(&chunk).unwrap();
            offset += 256 << 20;
        }
    }
    let out = tmp.path().join("store");
    let run = node_push(
        &args(&[
            "upload",
            "--dir",
            dir.to_str().unwrap(),
            "--dest",
            &format!("file://{}", out.display()),
        ]),
        &[],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let entry = run.uploaded().into_values().next().unwrap();
    assert_eq!(entry.size, size);
    let stored = out.join("nb-1-big-Data.db.lzo");
    // The real lzop checks every block and reproduces the exact bytes.
    let check = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "lzop -dc '{}' | cmp - '{}'",
            stored.display(),
            big.display()
        ))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "lzop -dc | cmp: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    testkit::log!(
        "peak RSS of node-push for a {size} byte file: {} KiB",
        run.peak_rss_kib
    );
    assert!(
        run.peak_rss_kib > 0 && run.peak_rss_kib < 96 * 1024,
        "peak RSS {} KiB",
        run.peak_rss_kib
    );
}
