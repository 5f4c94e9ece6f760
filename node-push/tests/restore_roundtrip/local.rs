//! The local store and the node's own disk: bit rot that keeps the ETag, a full disk, a cancelled run, and
//! a 256 MiB file restored with bounded memory.

use crate::support::*;
use contract::manifest::ObjectEntry;
use contract::message::{Message, RestoreFailure, RestoreFile};
use engine::digest::Algorithm;
use engine::store::local::LocalStore;
use engine::store::ObjectStore;
use engine::verify::{verify_objects, ObjectStatus, VerifyConfig, VerifyDepth};
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

/// Uploads a one-table tree to a local store; returns the store root, its entries and the source files.
fn local_upload(tmp: &Path, data_size: u64) -> (PathBuf, Vec<ObjectEntry>, Vec<PathBuf>) {
    let data = tmp.join("data");
    let spec = TreeSpec {
        keyspaces: vec!["ks".into()],
        tables: vec!["t".into()],
        sstables_per_table: 1,
        data_size,
        with_index: false,
        ..TreeSpec::new(Layout::V12, Placement::Backups)
    };
    let files = write_tree(&data, &spec).unwrap();
    let root = tmp.join("store");
    let entries = upload(
        &[&data],
        &["--incremental"],
        &format!("file://{}", root.display()),
        "h",
        &[],
        &[],
    );
    (root, entries, files)
}

fn staged_request(entries: &[ObjectEntry], staging: &Path) -> Vec<RestoreFile> {
    entries
        .iter()
        .map(|entry| RestoreFile {
            entry: entry.clone(),
            target: staging.join(staged_relative(Path::new(&entry.source_path))),
        })
        .collect()
}

#[test]
fn a_flip_that_keeps_the_etag_is_only_seen_by_a_deep_verify_and_fails_the_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, entries, _) = local_upload(tmp.path(), 300 * 1024);
    let victim = entries
        .iter()
        .find(|e| e.key.ends_with("-Index.db.lzo"))
        .unwrap();
    // The local store keeps the ETag recorded at upload: flipping the file's byte keeps it, as bit rot would.
    let path = root.join(&victim.key);
    let mut bytes = fs_err::read(&path).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x10;
    fs_err::write(&path, bytes).unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(&root).unwrap());
    let status = |depth| {
        let report = runtime().block_on(verify_objects(
            store.clone(),
            entries.clone(),
            &VerifyConfig::new(depth),
            |_| {},
        ));
        report.hosts["h"]
            .iter()
            .find(|r| r.entry.key == victim.key)
            .unwrap()
            .status
            .clone()
    };
    assert_eq!(status(VerifyDepth::Shallow), ObjectStatus::Ok);
    assert!(matches!(
        status(VerifyDepth::Deep),
        ObjectStatus::Corrupt { .. }
    ));

    let staging = tmp.path().join("staging");
    let plan_file = tmp.path().join("plan.json");
    fs_err::write(&plan_file, request_line(staged_request(&entries, &staging))).unwrap();
    let run = node_push(
        &args(&[
            "restore",
            "--from",
            &format!("file://{}", root.display()),
            "--plan",
            plan_file.to_str().unwrap(),
            "--keep-going",
        ]),
        &[],
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let failed = run.failed();
    assert_eq!(failed.keys().collect::<Vec<_>>(), [&victim.key]);
    assert_eq!(failed[&victim.key].0, RestoreFailure::Corrupt);
    assert!(!failed[&victim.key].2.exists());
    assert_eq!(files_below(&staging).len(), entries.len() - 1);
    assert_no_part_files(&staging);
}

#[test]
fn a_full_disk_fails_the_file_naming_the_path_and_leaves_no_part_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, entries, _) = local_upload(tmp.path(), 4 << 20);
    let staging = tmp.path().join("staging");
    fs_err::create_dir_all(&staging).unwrap();
    let plan_file = tmp.path().join("plan.json");
    fs_err::write(&plan_file, request_line(staged_request(&entries, &staging))).unwrap();
    // A 1 MiB tmpfs on the staging dir, in a private mount namespace (user namespace: no root needed).
    // After node-push exits, the script lists any `.part` left on it before the mount disappears.
    let script = r#"mount -t tmpfs -o size=1m none "$0" || exit 97; "$@"; rc=$?; find "$0" -name '*.part' | sed 's/^/LEFTOVER /' >&2; exit $rc"#;
    let prefix = args(&[
        "unshare",
        "-r",
        "-m",
        "sh",
        "-c",
        script,
        staging.to_str().unwrap(),
    ]);
    let run = node_push_with(
        &prefix,
        &args(&[
            "restore",
            "--from",
            &format!("file://{}", root.display()),
            "--plan",
            plan_file.to_str().unwrap(),
            "--keep-going",
            "--concurrency",
            "1",
        ]),
        &[],
    );
    assert_ne!(
        run.status.code(),
        Some(97),
        "cannot mount a tmpfs in a user namespace: {}",
        run.stderr
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let data = entries
        .iter()
        .find(|e| e.key.ends_with("-Data.db.lzo"))
        .unwrap();
    let (failure, error, target) = &run.failed()[&data.key];
    assert_eq!(*failure, RestoreFailure::DiskFull, "{error}");
    assert!(
        error.contains(target.to_str().unwrap()) && error.contains("disk full"),
        "{error}"
    );
    assert!(!run.stderr.contains("LEFTOVER"), "{}", run.stderr);
    assert!(run.restore_summary().files_done > 0, "the small files fit");
}

fn sha256_of(path: &Path) -> String {
    let mut file = fs_err::File::open(path).unwrap();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex::encode(hasher.finalize())
}

#[test]
fn a_256_mib_file_restores_with_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let source_dir = tmp.path().join("src");
    let source = source_dir.join("big.bin");
    testkit::tree::write_generated(&source, 256 << 20, 5, testkit::tree::random_fill).unwrap();
    let root = tmp.path().join("store");
    let dest = format!("file://{}", root.display());
    let run = node_push(
        &args(&[
            "upload",
            "--dir",
            source_dir.to_str().unwrap(),
            "--dest",
            &dest,
        ]),
        &[],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let entry = run.uploaded().into_values().next().unwrap();
    let target = tmp.path().join("out/big.bin");
    let plan_file = tmp.path().join("plan.json");
    fs_err::write(
        &plan_file,
        request_line(vec![RestoreFile {
            entry: entry.clone(),
            target: target.clone(),
        }]),
    )
    .unwrap();
    let run = node_push(
        &args(&[
            "restore",
            "--from",
            &dest,
            "--plan",
            plan_file.to_str().unwrap(),
        ]),
        &[],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let blake3 = engine::digest::hash_file(&target, Algorithm::Blake3, &mut Vec::new())
        .unwrap()
        .1;
    assert_eq!(blake3, entry.blake3);
    assert_eq!(sha256_of(&target), sha256_of(&source));
    // Three 8 MiB chunks in flight plus the decoder's block and the runtime: far below the file's size.
    assert!(
        run.peak_rss_kib > 0 && run.peak_rss_kib < 80 * 1024,
        "peak RSS {} KiB",
        run.peak_rss_kib
    );
}

#[test]
fn closing_stdin_cancels_the_restore_and_leaves_no_part_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, entries, _) = local_upload(tmp.path(), 16 << 20);
    let staging = tmp.path().join("staging");
    let data = entries
        .iter()
        .find(|e| e.key.ends_with("-Data.db.lzo"))
        .unwrap();
    let request = request_line(staged_request(std::slice::from_ref(data), &staging));
    // 1 MiB/s for 16 MiB: still running when the coordinator goes away after two seconds.
    let started = Instant::now();
    let run = node_push_full(
        &[],
        &args(&[
            "restore",
            "--from",
            &format!("file://{}", root.display()),
            "--plan-stdin",
            "--watch-stdin",
            "--rate-limit",
            "1024",
            "--chunk-size-mib",
            "1",
        ]),
        &[request],
        Some(Duration::from_secs(2)),
    );
    assert_eq!(run.status.code(), Some(3), "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped promptly"
    );
    let (failure, error, target) = &run.failed()[&data.key];
    assert_eq!(*failure, RestoreFailure::Cancelled, "{error}");
    assert!(
        run.messages
            .iter()
            .any(|m| matches!(m, Message::RestoreFileProgress { key, .. } if *key == data.key)),
        "progress is reported while a slow file restores"
    );
    assert!(!target.exists());
    assert_no_part_files(&staging);
}
