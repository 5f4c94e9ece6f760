//! Differential snapshots with the node-push binary against a real SeaweedFS: a snapshot whose files a
//! complete reference backup stores (a format-2 manifest with records documents) uploads nothing and
//! reports every file referenced; a file with one byte flipped (same name, same size) is uploaded, alone.
//! An ignored test measures the CPU the check costs per GiB already stored.

use chrono::Utc;
use contract::layout;
use contract::manifest::{Batch, BatchKind, Manifest, ObjectEntry};
use contract::message::{Message, SkipReason};
use engine::store::{ObjectStore, PutOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use testkit::seaweed::SeaweedFs;
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

#[path = "support/mod.rs"]
mod support;

use support::{args, node_push, node_push_with, runtime, s3_flags, s3_store, Run};

const BUCKET: &str = "differential.test";
const OLD: &str = "20240101000000";

/// Writes `manifest.json` of backup `name` under `base` with one snapshot batch holding `entries` of
/// `host` in a records document: a complete format-2 backup.
fn commit_backup(
    store: &dyn ObjectStore,
    base: &str,
    name: &str,
    host: &str,
    entries: &[ObjectEntry],
) {
    let now = Utc::now();
    let mut manifest = Manifest::new(name, base, vec![host.to_string()], None, "");
    let mut batch = Batch::new(BatchKind::Snapshot, now, now, Batch::new_id(now, 1));
    let summary = runtime()
        .block_on(engine::records::write_document(
            store,
            (base, name, &batch.id),
            host,
            entries,
            &PutOptions::default(),
        ))
        .expect("records document written");
    batch.records.push(summary);
    manifest.batches.push(batch);
    support::put(
        store,
        &layout::manifest_key(base, name),
        manifest.to_json().into_bytes(),
    );
}

/// Snapshot `tag` of two data dirs (1.2 layout in one; 4.1 with secondary indexes and 3.x in the other).
fn snapshot_tree(d1: &Path, d2: &Path, tag: &str, data_size: u64) -> Vec<PathBuf> {
    let placement = Placement::Snapshot(tag.into());
    let mut files = write_tree(
        d1,
        &TreeSpec {
            data_size,
            ..TreeSpec::new(Layout::V12, placement.clone())
        },
    )
    .unwrap();
    for (layout, table) in [(Layout::V41, "users"), (Layout::V3, "t3")] {
        files.extend(
            write_tree(
                d2,
                &TreeSpec {
                    tables: vec![table.into()],
                    data_size,
                    ..TreeSpec::new(layout, placement.clone())
                },
            )
            .unwrap(),
        );
    }
    files
}

/// `nodetool snapshot` of unchanged SSTables: hard links of snapshot `from`'s files under tag `to`.
fn link_snapshot(files: &[PathBuf], from: &str, to: &str) -> Vec<PathBuf> {
    let (from, to) = (format!("/snapshots/{from}/"), format!("/snapshots/{to}/"));
    files
        .iter()
        .map(|file| {
            let linked = PathBuf::from(file.display().to_string().replacen(&from, &to, 1));
            fs_err::create_dir_all(linked.parent().unwrap()).unwrap();
            fs_err::hard_link(file, &linked).unwrap();
            linked
        })
        .collect()
}

fn upload_args(data_dirs: &[&Path], tag: &str, dest: &str, reference: Option<&str>) -> Vec<String> {
    let mut argv = args(&[
        "upload",
        "--snapshot-tag",
        tag,
        "--dest",
        dest,
        "--host-label",
        "node1",
        "--part-size-mib",
        "5",
    ]);
    for dir in data_dirs {
        argv.extend(args(&["--data-dir", dir.to_str().unwrap()]));
    }
    if let Some(key) = reference {
        argv.extend(args(&["--reference-manifest", key]));
    }
    argv
}

/// Referenced entries by source path.
fn referenced(run: &Run) -> BTreeMap<String, ObjectEntry> {
    run.messages
        .iter()
        .filter_map(|m| match m {
            Message::FileSkipped {
                path,
                reason: SkipReason::Referenced { entry },
            } => {
                assert_eq!(path, &entry.source_path);
                Some((path.clone(), entry.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_snapshot_of_stored_files_uploads_nothing_and_a_flipped_byte_uploads_that_file_alone() {
    let weed = SeaweedFs::start().unwrap();
    weed.create_bucket(BUCKET).unwrap();
    let store = s3_store(&weed, BUCKET);
    let mut flags = s3_flags(&weed);
    let creds = [weed.credentials_line()];
    let tmp = tempfile::tempdir().unwrap();
    let (d1, d2) = (tmp.path().join("data1"), tmp.path().join("data2"));
    let dirs = [d1.as_path(), d2.as_path()];
    // 12 MiB Data.db files: multipart objects.
    let old_files = snapshot_tree(&d1, &d2, OLD, 12 << 20);

    // The reference: a complete backup of the first snapshot.
    let mut argv = upload_args(&dirs, OLD, &format!("s3://{BUCKET}/base/{OLD}/node1"), None);
    argv.append(&mut flags.clone());
    let first = node_push(&argv, &creds);
    assert!(first.status.success(), "{}", first.stderr);
    let stored = first.uploaded();
    assert_eq!(stored.len(), old_files.len());
    let entries: Vec<ObjectEntry> = stored.values().cloned().collect();
    commit_backup(store.as_ref(), "base", OLD, "node1", &entries);
    let reference = layout::manifest_key("base", OLD);

    // A new snapshot of the same SSTables: nothing is sent, every file points at the stored object.
    let new = "20240102000000";
    let new_files = link_snapshot(&old_files, OLD, new);
    let mut argv = upload_args(
        &dirs,
        new,
        &format!("s3://{BUCKET}/base/{new}/node1"),
        Some(&reference),
    );
    argv.append(&mut flags);
    let second = node_push(&argv, &creds);
    assert!(second.status.success(), "{}", second.stderr);
    let summary = second.summary();
    assert_eq!(
        (
            summary.bytes_stored,
            summary.files_done,
            summary.files_failed
        ),
        (0, 0, 0)
    );
    let total: u64 = entries.iter().map(|e| e.size).sum();
    assert_eq!(
        (summary.files_referenced, summary.bytes_referenced),
        (new_files.len() as u64, total)
    );
    assert_eq!(
        (summary.files_total, summary.files_skipped),
        (new_files.len() as u64, new_files.len() as u64)
    );
    let found = referenced(&second);
    assert_eq!(found.len(), new_files.len());
    for (old, new) in old_files.iter().zip(&new_files) {
        let was = &stored[&old.display().to_string()];
        let entry = &found[&new.display().to_string()];
        assert_eq!(
            (&entry.key, &entry.etag, &entry.blake3, entry.size),
            (&was.key, &was.etag, &was.blake3, was.size)
        );
        assert_eq!(entry.host, "node1");
        assert!(entry.source_id.is_some());
    }
    let under_new = runtime()
        .block_on(store.list(&format!("base/{new}/"), None))
        .unwrap();
    assert!(under_new.objects.is_empty(), "{:?}", under_new.objects);

    // Same name, same size, one byte flipped (a rebuilt table reusing a generation): uploaded, alone.
    let third = "20240103000000";
    let third_files = link_snapshot(&old_files, OLD, third);
    let victim = third_files
        .iter()
        .find(|f| f.to_string_lossy().contains("users") && f.to_string_lossy().ends_with("Data.db"))
        .unwrap()
        .clone();
    let mut bytes = fs_err::read(&victim).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs_err::remove_file(&victim).unwrap();
    fs_err::write(&victim, &bytes).unwrap();
    let mut argv = upload_args(
        &dirs,
        third,
        &format!("s3://{BUCKET}/base/{third}/node1"),
        Some(&reference),
    );
    argv.extend(s3_flags(&weed));
    let run = node_push(&argv, &creds);
    assert!(run.status.success(), "{}", run.stderr);
    let uploaded = run.uploaded();
    assert_eq!(
        uploaded.keys().collect::<Vec<_>>(),
        [&victim.display().to_string()]
    );
    assert_eq!(referenced(&run).len(), third_files.len() - 1);
    let summary = run.summary();
    assert_eq!(
        (
            summary.files_total,
            summary.files_done,
            summary.files_referenced
        ),
        (third_files.len() as u64, 1, third_files.len() as u64 - 1)
    );
    assert!(uploaded[&victim.display().to_string()]
        .key
        .starts_with(&format!("base/{third}/node1/")));
}

#[test]
fn a_missing_reference_manifest_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d1 = tmp.path().join("data1");
    write_tree(
        &d1,
        &TreeSpec::new(Layout::V40, Placement::Snapshot(OLD.into())),
    )
    .unwrap();
    let store = tmp.path().join("store");
    let missing = "base/20231231000000/manifest.json";
    let run = node_push(
        &upload_args(
            &[&d1],
            OLD,
            &format!("file://{}", store.display()),
            Some(missing),
        ),
        &[],
    );
    assert!(!run.status.success());
    assert!(
        run.stderr.contains(&format!(
            "the reference backup has no manifest at {missing}"
        )),
        "{}",
        run.stderr
    );
    assert!(run.uploaded().is_empty());
}

/// CPU of the differential check per GiB already stored: a >= 1 GiB snapshot stored in a local store
/// and committed, then a new snapshot of the same files checked against it under `/usr/bin/time -v`.
/// `cargo test -p node-push --test differential -- --ignored --nocapture` (with
/// `NODE_PUSH_BIN=target/release/node-push` to measure the release build).
#[test]
#[ignore = "a measurement: writes and uploads 1 GiB"]
fn differential_check_cpu_per_gib() {
    let tmp = tempfile::tempdir().unwrap();
    let (d1, d2) = (tmp.path().join("data1"), tmp.path().join("data2"));
    let dirs = [d1.as_path(), d2.as_path()];
    // 16 SSTables of 72 MiB Data.db (plus smaller components) over three layouts and two data dirs.
    let old_files = snapshot_tree(&d1, &d2, OLD, 72 << 20);
    let gib = old_files
        .iter()
        .map(|f| fs_err::metadata(f).unwrap().len())
        .sum::<u64>() as f64
        / (1u64 << 30) as f64;
    assert!(gib >= 1.0, "{gib} GiB");
    let root = tmp.path().join("store");
    let dest = format!("file://{}", root.display());
    let first = node_push(&upload_args(&dirs, OLD, &dest, None), &[]);
    assert!(first.status.success(), "{}", first.stderr);
    let entries: Vec<ObjectEntry> = first.uploaded().into_values().collect();
    let store = engine::store::local::LocalStore::new(&root).unwrap();
    commit_backup(&store, "base", OLD, "node1", &entries);
    let new = "20240102000000";
    link_snapshot(&old_files, OLD, new);
    let reference = layout::manifest_key("base", OLD);
    let run = node_push_with(
        &args(&["/usr/bin/time", "-v"]),
        &upload_args(&dirs, new, &dest, Some(&reference)),
        &[],
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.summary().bytes_stored, 0);
    let seconds = |label: &str| -> f64 {
        run.stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{label} in {}", run.stderr))
    };
    let cpu = seconds("User time (seconds):") + seconds("System time (seconds):");
    let rss_mib = seconds("Maximum resident set size (kbytes):") / 1024.0;
    testkit::log!(
        "differential check: {:.2} GiB referenced in {cpu:.2} CPU-s = {:.3} CPU-s/GiB, peak RSS {rss_mib:.1} MiB",
        gib,
        cpu / gib,
    );
    assert!(cpu / gib <= 0.5, "{:.3} CPU-s/GiB", cpu / gib);
}
