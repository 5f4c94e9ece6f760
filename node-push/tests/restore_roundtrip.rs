//! Restore and verify end to end: trees uploaded with the node-push binary to a real SeaweedFS (and to the
//! local store) come back byte for byte through `node-push restore` (plan on stdin, plan file, and by hand
//! from the manifest with `--until`); damaged, replaced and missing objects fail by key without leaving a
//! file or a `.part` behind, and `verify` finds each damage at the depth that can see it; a full disk is
//! named; a backup the old tool wrote (real `lzop` output, both key forms, format-0 manifest) restores in
//! its flat layout; a 256 MiB file restores with bounded memory.

#[path = "restore_roundtrip/support.rs"]
mod support;

use chrono::Utc;
use node_push::layout;
use node_push::lzop::{EncoderOptions, LzopEncoder};
use node_push::manifest::{BatchKind, ObjectEntry};
use node_push::message::{RestoreFailure, RestoreFile, RestoreRequest};
use node_push::restore::{objects_from_listing, plan_restore, RestoreMode, RestoreOptions};
use node_push::store::local::LocalStore;
use node_push::store::ObjectStore;
use node_push::verify::{verify_objects, ObjectStatus, VerifyConfig, VerifyDepth};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use support::*;
use testkit::seaweed::SeaweedFs;
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

const NAME: &str = "20240101000000";

fn request_line(files: Vec<RestoreFile>) -> String {
    serde_json::to_string(&RestoreRequest { files }).unwrap()
}

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
    let plan = plan_restore(manifest.objects(), &options).unwrap();
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

/// Uploads a tree of four one-SSTable tables `ks.a` .. `ks.d` (no index) to SeaweedFS; returns the store,
/// the entries sorted so that each table's Data.db comes first, and the source files.
fn four_tables(
    weed: &SeaweedFs,
    tmp: &Path,
) -> (Arc<dyn ObjectStore>, Vec<ObjectEntry>, Vec<PathBuf>) {
    weed.create_bucket("damage").unwrap();
    let data = tmp.join("data");
    let spec = TreeSpec {
        keyspaces: vec!["ks".into()],
        tables: vec!["a".into(), "b".into(), "c".into(), "d".into()],
        sstables_per_table: 1,
        data_size: 512 * 1024,
        with_index: false,
        ..TreeSpec::new(Layout::V40, Placement::Snapshot(NAME.into()))
    };
    let files = write_tree(&data, &spec).unwrap();
    let dest = format!("s3://damage/base/{NAME}/n1");
    let mut entries = upload(
        &[&data],
        &["--snapshot-tag", NAME],
        &dest,
        "n1",
        &s3_flags(weed),
        &[credentials_line(weed)],
    );
    entries.sort_by_key(|e| {
        (
            e.table.clone(),
            !e.key.ends_with("-Data.db.lzo"),
            e.key.clone(),
        )
    });
    (s3_store(weed, "damage"), entries, files)
}

fn data_entry<'a>(entries: &'a [ObjectEntry], table: &str) -> &'a ObjectEntry {
    entries
        .iter()
        .find(|e| e.table == table && e.key.ends_with("-Data.db.lzo"))
        .unwrap()
}

#[test]
fn damaged_replaced_and_missing_objects_fail_by_key_and_verify_finds_them() {
    let weed = SeaweedFs::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (store, mut entries, files) = four_tables(&weed, tmp.path());
    // a: one byte flipped in the middle of the stored object (its ETag changes with the rewrite).
    let flipped = data_entry(&entries, "a").clone();
    let mut body = get(store.as_ref(), &flipped.key);
    let flip_at = body.len() / 2;
    body[flip_at] ^= 0x01;
    put(store.as_ref(), &flipped.key, body);
    // b: gone.
    let deleted = data_entry(&entries, "b").clone();
    support::runtime()
        .block_on(store.delete(&deleted.key))
        .unwrap();
    // c: replaced by a valid lzop file of other bytes, and the entry's size and ETag updated to match it,
    // so that only the SHA-256 of the decoded bytes can tell.
    let replaced_index = entries
        .iter()
        .position(|e| e == data_entry(&entries, "c"))
        .unwrap();
    let replaced = &mut entries[replaced_index];
    let mut other = fs_err::read(&replaced.source_path).unwrap();
    other[1000] ^= 0x80;
    let mut encoded = Vec::new();
    LzopEncoder::new(&other[..], EncoderOptions::default(), None)
        .read_to_end(&mut encoded)
        .unwrap();
    replaced.compressed_size = encoded.len() as u64;
    let etag = support::runtime()
        .block_on(store.put_object(&replaced.key, encoded.into(), &Default::default()))
        .unwrap();
    replaced.etag = etag;
    let replaced = replaced.clone();

    let staging = tmp.path().join("staging");
    let plan = plan_restore(
        &entries,
        &RestoreOptions::new(RestoreMode::Stage {
            staging_root: staging.clone(),
        }),
    )
    .unwrap();
    let restore = |extra: &[&str]| {
        let mut argv = args(&[
            "restore",
            "--from",
            "s3://damage",
            "--plan-stdin",
            "--concurrency",
            "1",
        ]);
        argv.extend(s3_flags(&weed));
        argv.extend(args(extra));
        node_push(
            &argv,
            &[
                credentials_line(&weed),
                request_line(plan.request_for("n1").files),
            ],
        )
    };
    let run = restore(&[]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let failed = run.failed();
    for (entry, failure) in [
        (&flipped, RestoreFailure::Corrupt),
        (&deleted, RestoreFailure::Missing),
        (&replaced, RestoreFailure::Sha256Mismatch),
    ] {
        let (got, error, target) = &failed[&entry.key];
        assert_eq!(*got, failure, "{error}");
        assert!(
            error.contains(&entry.key),
            "the error names the key: {error}"
        );
        assert!(
            run.stderr.contains(&entry.key),
            "stderr names the key: {}",
            run.stderr
        );
        assert!(!target.exists(), "{} exists", target.display());
    }
    assert!(
        failed[&flipped.key].1.contains("checksum"),
        "{}",
        failed[&flipped.key].1
    );
    // The rest of a failed table is not downloaded; table d restores whole.
    let summary = run.restore_summary();
    assert_eq!(summary.failed_tables, ["ks.a", "ks.b", "ks.c"]);
    let damaged = [&flipped.key, &deleted.key, &replaced.key];
    for entry in entries
        .iter()
        .filter(|e| e.table != "d" && !damaged.contains(&&e.key))
    {
        assert_eq!(
            failed[&entry.key].0,
            RestoreFailure::TableFailed,
            "{}",
            entry.key
        );
        assert!(
            failed[&entry.key].1.contains(&entry.key),
            "{}",
            failed[&entry.key].1
        );
    }
    let restored_d: Vec<PathBuf> = files_below(&staging);
    assert_eq!(
        restored_d.len(),
        entries.iter().filter(|e| e.table == "d").count()
    );
    for source in files
        .iter()
        .filter(|f| f.to_str().unwrap().contains("/ks/d-"))
    {
        assert_same_bytes(&staging.join(staged_relative(source)), source);
    }
    assert_no_part_files(&staging);

    // --keep-going: everything but the three damaged files.
    let run = restore(&["--keep-going"]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(run.failed().len(), 3, "{:?}", run.failed());
    assert_eq!(files_below(&staging).len(), entries.len() - 3);
    assert_no_part_files(&staging);

    // verify: shallow sees the rewrite (ETag) and the deletion; deep also sees what the bytes are.
    let verify = |depth| {
        let config = VerifyConfig::new(depth);
        support::runtime().block_on(verify_objects(
            store.clone(),
            entries.clone(),
            &config,
            |_| {},
        ))
    };
    let statuses = |report: &node_push::verify::VerifyReport| -> BTreeMap<String, ObjectStatus> {
        report.hosts["n1"]
            .iter()
            .map(|r| (r.entry.key.clone(), r.status.clone()))
            .collect()
    };
    let shallow = verify(VerifyDepth::Shallow);
    let found = statuses(&shallow);
    assert!(
        matches!(found[&flipped.key], ObjectStatus::EtagMismatch { .. }),
        "{:?}",
        found[&flipped.key]
    );
    assert_eq!(found[&deleted.key], ObjectStatus::Missing);
    assert_eq!(
        found[&replaced.key],
        ObjectStatus::Ok,
        "size and ETag match: only a deep check can tell"
    );
    assert_eq!(shallow.failures().count(), 2);
    assert_eq!(shallow.per_host(), [("n1", entries.len() - 2, 2)]);
    let deep = verify(VerifyDepth::Deep);
    let found = statuses(&deep);
    match &found[&flipped.key] {
        ObjectStatus::Corrupt { offset, message } => {
            assert!(
                *offset <= flip_at as u64,
                "damage at {flip_at} reported at {offset}: {message}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(found[&deleted.key], ObjectStatus::Missing);
    assert!(
        matches!(found[&replaced.key], ObjectStatus::ShaMismatch { .. }),
        "{:?}",
        found[&replaced.key]
    );
    assert_eq!(deep.failures().count(), 3);
    assert!(!deep.is_ok());
    let clean: Vec<ObjectEntry> = entries.iter().filter(|e| e.table == "d").cloned().collect();
    let config = VerifyConfig::new(VerifyDepth::Deep);
    assert!(support::runtime()
        .block_on(verify_objects(store.clone(), clean, &config, |_| {}))
        .is_ok());
}

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
        let report = support::runtime().block_on(verify_objects(
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

/// `lzop -c file`, as the old tool uploaded every file.
fn real_lzop(file: &Path) -> Vec<u8> {
    let out = std::process::Command::new("lzop")
        .arg("-c")
        .arg(file)
        .output()
        .expect("lzop is installed (cargo xtask setup)");
    assert!(out.status.success(), "lzop -c {}", file.display());
    out.stdout
}

#[test]
fn a_backup_the_old_tool_wrote_restores_in_its_flat_layout() {
    let weed = SeaweedFs::start().unwrap();
    weed.create_bucket("legacy").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = Placement::Snapshot(NAME.into());
    let spec = |seed, placement| TreeSpec {
        keyspaces: vec!["ks".into()],
        seed,
        ..TreeSpec::new(Layout::V12, placement)
    };
    // h1 from releases up to 1.0.1 (`h1//var/...`), h2 from later ones, an incremental table on h1.
    let h1_dir = tmp.path().join("h1/var/lib/cassandra/data");
    let h2_dir = tmp.path().join("h2/var/lib/cassandra/data");
    let mut h1_files = write_tree(&h1_dir, &spec(1, snapshot.clone())).unwrap();
    h1_files.extend(
        write_tree(
            &h1_dir,
            &TreeSpec {
                tables: vec!["audit".into()],
                ..spec(3, Placement::Backups)
            },
        )
        .unwrap(),
    );
    let h2_files = write_tree(&h2_dir, &spec(2, snapshot)).unwrap();
    let store = s3_store(&weed, "legacy");
    for (host, files) in [("h1", &h1_files), ("h2", &h2_files)] {
        for file in files.iter() {
            let key = match host {
                "h1" => format!("old/{NAME}/{host}/{}.lzo", file.display()),
                _ => format!("old/{NAME}/{host}{}.lzo", file.display()),
            };
            put(store.as_ref(), &key, real_lzop(file));
        }
    }
    let manifest = format!(
        r#"{{"name": "{NAME}", "base_path": "old", "hosts": ["h1", "h2"], "keyspaces": ["ks"], "table": ""}}"#
    );
    put(
        store.as_ref(),
        &layout::manifest_key("old", NAME),
        manifest.into_bytes(),
    );
    put(
        store.as_ref(),
        &layout::ring_key("old", NAME),
        b"Address  Rack  Status\n".to_vec(),
    );

    let restore_dir = tmp.path().join("restore_cassandra");
    let mut argv = args(&[
        "restore",
        "--from",
        "s3://legacy/old",
        "--backup",
        "LATEST",
        "--keyspace",
        "ks",
        "--restore-dir",
        restore_dir.to_str().unwrap(),
        "--chunk-size-mib",
        "1",
    ]);
    argv.extend(s3_flags(&weed));
    let run = node_push(&argv, &[credentials_line(&weed)]);
    assert!(run.status.success(), "{}", run.stderr);
    let flat = |host: &str, source: &Path| {
        let relative = staged_relative(source);
        let name = format!("{host}_{}", relative.file_name().unwrap().to_str().unwrap());
        restore_dir.join(relative.with_file_name(name))
    };
    for (host, files) in [("h1", &h1_files), ("h2", &h2_files)] {
        for source in files.iter() {
            assert_same_bytes(&flat(host, source), source);
        }
    }
    assert_eq!(
        files_below(&restore_dir).len(),
        h1_files.len() + h2_files.len()
    );
    assert!(
        files_below(&restore_dir)
            .iter()
            .any(|p| p.to_str().unwrap().contains("/ks/users/.users_idx/h2_")),
        "index files keep their directory in the flat layout"
    );

    // Verify works on a listing too: no SHA-256 recorded, but every lzop checksum is checked.
    let listing = support::runtime()
        .block_on(store.list(&layout::backup_prefix("old", NAME), None))
        .unwrap();
    let objects = objects_from_listing("old", NAME, &listing.objects);
    assert_eq!(objects.len(), h1_files.len() + h2_files.len());
    let victim = objects
        .iter()
        .find(|o| o.host == "h2" && o.key.ends_with("-Index.db.lzo"))
        .unwrap()
        .clone();
    let deep = VerifyConfig::new(VerifyDepth::Deep);
    let report = support::runtime().block_on(verify_objects(
        store.clone(),
        objects.clone(),
        &deep,
        |_| {},
    ));
    assert!(
        report.is_ok(),
        "{:?}",
        report.failures().collect::<Vec<_>>()
    );
    let mut body = get(store.as_ref(), &victim.key);
    let at = body.len() - 50;
    body[at] ^= 0x04;
    let mut damaged = objects.clone();
    // A copy of the listing entry with the new ETag: as if bit rot kept it, so only the lzop checks can tell.
    let etag = support::runtime()
        .block_on(store.put_object(&victim.key, body.into(), &Default::default()))
        .unwrap();
    damaged
        .iter_mut()
        .filter(|o| o.key == victim.key)
        .for_each(|o| o.etag = etag.clone());
    let report = support::runtime().block_on(verify_objects(store.clone(), damaged, &deep, |_| {}));
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].entry.key, victim.key);
    assert!(
        matches!(failures[0].status, ObjectStatus::Corrupt { .. }),
        "{}",
        failures[0]
    );

    // On the node, by hand: h1's own files in Cassandra's names (the double-slash keys).
    let staging = tmp.path().join("staging");
    let mut argv = args(&[
        "restore",
        "--from",
        "s3://legacy/old",
        "--backup",
        NAME,
        "--host-label",
        "h1",
        "--table",
        "users",
        "--staging-dir",
        staging.to_str().unwrap(),
    ]);
    argv.extend(s3_flags(&weed));
    let run = node_push(&argv, &[credentials_line(&weed)]);
    assert!(run.status.success(), "{}", run.stderr);
    let users: Vec<&PathBuf> = h1_files
        .iter()
        .filter(|f| f.to_str().unwrap().contains("/ks/users/"))
        .collect();
    for source in &users {
        assert_same_bytes(&staging.join(staged_relative(source)), source);
    }
    assert_eq!(files_below(&staging).len(), users.len());
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
    assert_eq!(sha256_of(&target), entry.sha256);
    assert_eq!(sha256_of(&target), sha256_of(&source));
    // Three 8 MiB chunks in flight plus the decoder's block and the runtime: far below the file's size.
    assert!(
        run.peak_rss_kib > 0 && run.peak_rss_kib < 80 * 1024,
        "peak RSS {} KiB",
        run.peak_rss_kib
    );
    assert!(
        run.messages
            .iter()
            .any(|m| matches!(m, node_push::message::Message::RestoreFileProgress { .. })),
        "progress is reported while a large file restores"
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
    let started = std::time::Instant::now();
    let run = node_push_full(
        &[],
        &args(&[
            "restore",
            "--from",
            &format!("file://{}", root.display()),
            "--plan-stdin",
            "--rate-limit",
            "1024",
            "--chunk-size-mib",
            "1",
        ]),
        &[request],
        Some(std::time::Duration::from_secs(2)),
    );
    assert_eq!(run.status.code(), Some(3), "{}", run.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "stopped promptly"
    );
    let (failure, error, target) = &run.failed()[&data.key];
    assert_eq!(*failure, RestoreFailure::Cancelled, "{error}");
    assert!(!target.exists());
    assert_no_part_files(&staging);
}
