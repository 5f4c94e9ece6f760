//! A snapshot and an incremental uploaded to SeaweedFS restore byte for byte: the coordinator's way (plan
//! on stdin after the credentials) and by hand on a node (`--backup LATEST --until`).

use crate::support::*;
use chrono::Utc;
use contract::layout;
use contract::manifest::BatchKind;
use engine::restore::{plan_restore, RestoreMode, RestoreOptions};
use std::path::PathBuf;
use testkit::seaweed::SeaweedFs;
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

#[test]
fn a_backup_on_seaweedfs_restores_byte_for_byte_from_a_plan_and_by_hand() {
    let weed = SeaweedFs::start().unwrap();
    weed.create_bucket("restore.test").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (d1, d2) = (tmp.path().join("data1"), tmp.path().join("data2"));
    let snapshot = Placement::Snapshot(NAME.into());
    let mut snap_files = write_tree(&d1, &TreeSpec::new(Layout::V12, snapshot.clone())).unwrap();
    // 12 MiB Data.db files: multipart objects, restored through many 1 MiB ranged GETs.
    snap_files.extend(
        write_tree(
            &d2,
            &TreeSpec {
                keyspaces: vec!["ks2".into()],
                tables: vec!["big".into()],
                data_size: 12 << 20,
                ..TreeSpec::new(Layout::V41, snapshot)
            },
        )
        .unwrap(),
    );
    let later_files = write_tree(
        &d1,
        &TreeSpec {
            keyspaces: vec!["ks1".into()],
            tables: vec!["audit".into()],
            seed: 9,
            ..TreeSpec::new(Layout::V12, Placement::Backups)
        },
    )
    .unwrap();
    let (s3, creds) = (s3_flags(&weed), credentials_line(&weed));
    let dest = format!("s3://restore.test/base/{NAME}/node1");
    let snap = upload(
        &[&d1, &d2],
        &["--snapshot-tag", NAME],
        &dest,
        "node1",
        &s3,
        std::slice::from_ref(&creds),
    );
    let later = upload(
        &[&d1],
        &["--incremental"],
        &dest,
        "node1",
        &s3,
        std::slice::from_ref(&creds),
    );
    assert_eq!(
        (snap.len(), later.len()),
        (snap_files.len(), later_files.len())
    );
    assert!(
        snap.iter().any(|e| e.etag.ends_with("-3")),
        "multipart objects"
    );
    let snapshot_done = Utc::now() - chrono::Duration::seconds(120);
    let manifest = manifest(
        NAME,
        "base",
        &["node1"],
        vec![
            (BatchKind::Snapshot, snapshot_done, snap),
            (BatchKind::Incremental, Utc::now(), later),
        ],
    );
    let store = s3_store(&weed, "restore.test");
    put(
        store.as_ref(),
        &layout::manifest_key("base", NAME),
        manifest.to_json().into_bytes(),
    );

    // As the coordinator does it: plan on the laptop, request on stdin after the credentials.
    let staging = tmp.path().join("staging");
    let options = RestoreOptions::new(RestoreMode::Stage {
        staging_root: staging.clone(),
    });
    let plan = plan_restore(manifest.inline_objects(), &options).unwrap();
    assert_eq!(
        plan.target_hosts().into_iter().collect::<Vec<_>>(),
        ["node1"]
    );
    let mut argv = args(&["restore", "--from", "s3://restore.test", "--plan-stdin"]);
    argv.extend(s3.iter().cloned());
    argv.extend(args(&["--chunk-size-mib", "1", "--concurrency", "3"]));
    let run = node_push(
        &argv,
        &[creds.clone(), request_line(plan.request_for("node1").files)],
    );
    assert!(run.status.success(), "restore failed: {}", run.stderr);
    assert!(!run.stderr.contains(weed.secret_key()), "secret key leaked");
    let all: Vec<&PathBuf> = snap_files.iter().chain(&later_files).collect();
    let summary = run.restore_summary();
    assert_eq!(
        (summary.files_done, summary.files_failed),
        (all.len() as u64, 0)
    );
    let source_bytes: u64 = all.iter().map(|f| fs_err::metadata(f).unwrap().len()).sum();
    assert_eq!(summary.bytes_written, source_bytes);
    assert_eq!(run.restored().len(), all.len());
    for source in &all {
        assert_same_bytes(&staging.join(staged_relative(source)), source);
    }
    assert_eq!(
        files_below(&staging).len(),
        all.len(),
        "nothing else written"
    );
    assert!(
        staging.join("ks1/users/.users_idx").is_dir(),
        "index files keep their .<index> directory"
    );

    // By hand on the node: LATEST, one keyspace, the snapshot only (--until before the incremental).
    let by_hand = tmp.path().join("by-hand");
    let mut argv = args(&[
        "restore",
        "--from",
        "s3://restore.test/base",
        "--backup",
        "LATEST",
        "--keyspace",
        "ks1",
        "--host-label",
        "node1",
        "--staging-dir",
        by_hand.to_str().unwrap(),
        "--until",
    ]);
    argv.push(snapshot_done.to_rfc3339());
    argv.extend(s3.iter().cloned());
    let run = node_push(&argv, &[creds]);
    assert!(
        run.status.success(),
        "restore by hand failed: {}",
        run.stderr
    );
    let wanted: Vec<&PathBuf> = snap_files
        .iter()
        .filter(|f| f.starts_with(d1.join("ks1")))
        .collect();
    assert!(!wanted.is_empty());
    for source in &wanted {
        assert_same_bytes(&by_hand.join(staged_relative(source)), source);
    }
    assert_eq!(
        files_below(&by_hand).len(),
        wanted.len(),
        "no ks2, no incrementals"
    );
}
