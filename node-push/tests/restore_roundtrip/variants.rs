//! One backup holding the same SSTable name three times: `snapshots/<tag>/na-1-big-*` (content A),
//! `backups/na-1-big-*` (A again: the same SSTable's hard links) and `backups/na-1-big-*~1` (content B: the
//! table was rebuilt and numbered its SSTables from 1 again), plus `backups/na-2-big-*` (C). Every
//! restore path brings back A, B and C exactly once each, byte for byte, each SSTable whole under a
//! generation of its own.

use crate::support::*;
use chrono::Utc;
use contract::layout;
use contract::manifest::{BatchKind, ObjectEntry};
use engine::restore::{plan_restore, RestoreMode, RestoreOptions};
use engine::store::local::LocalStore;
use engine::store::{ObjectStore, PutOptions};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use testkit::tree::{random_fill, text_fill};

const TABLE: &str = "t-0123456789abcdef0123456789abcdef";
const COMPONENTS: [&str; 4] = ["Data.db", "Index.db", "Statistics.db", "TOC.txt"];

/// Writes SSTable `descriptor` into `dir` with bytes from `seed`; returns its Data.db's SHA-256.
fn write_sstable(dir: &Path, descriptor: &str, seed: u64) -> String {
    fs_err::create_dir_all(dir).unwrap();
    let mut state = seed;
    let mut data_sha = String::new();
    for component in COMPONENTS {
        let mut bytes = vec![
            0u8;
            if component == "Data.db" {
                200_000
            } else {
                3_000
            }
        ];
        match component {
            "Data.db" => random_fill(&mut bytes, &mut state),
            "TOC.txt" => bytes = COMPONENTS.join("\n").into_bytes(),
            _ => text_fill(&mut bytes, &mut state),
        }
        if component == "Data.db" {
            data_sha = hex::encode(Sha256::digest(&bytes));
        }
        fs_err::write(dir.join(format!("{descriptor}-{component}")), bytes).unwrap();
    }
    data_sha
}

fn sha_of(path: &Path) -> String {
    hex::encode(Sha256::digest(fs_err::read(path).unwrap()))
}

/// Data.db SHA-256 -> how many restored files below `dir` have it; and every restored file's count.
fn restored_data(dir: &Path) -> (BTreeMap<String, usize>, usize) {
    let files = files_below(dir);
    let mut data = BTreeMap::new();
    for file in &files {
        if file.to_string_lossy().ends_with("Data.db") {
            *data.entry(sha_of(file)).or_insert(0) += 1;
        }
    }
    (data, files.len())
}

/// Uploads what `data` holds (`source`: the snapshot or the incrementals) with node-push into a scratch
/// local store, then stores each object in `store` under its key in backup `NAME` of host `node1` (as
/// variant `n` of it when `n > 0`); returns the entries.
fn upload_into(
    store: &dyn ObjectStore,
    scratch: &Path,
    data: &Path,
    source: &[&str],
    n: u32,
) -> Vec<ObjectEntry> {
    let dest = format!("file://{}", scratch.display());
    let entries = upload(&[data], source, &dest, "node1", &[], &[]);
    entries
        .into_iter()
        .map(|mut entry| {
            let body = fs_err::read(scratch.join(&entry.key)).unwrap();
            let own = layout::data_key("base", NAME, "node1", Path::new(&entry.source_path));
            entry.key = layout::variant_key(&own, n);
            entry.variant = n;
            entry.etag = runtime()
                .block_on(store.put_object(&entry.key, body.into(), &PutOptions::default()))
                .unwrap();
            entry
        })
        .collect()
}

#[test]
fn a_duplicate_and_a_variant_of_one_name_restore_once_each_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let table = data.join("ks").join(TABLE);
    let (snap_dir, backups) = (table.join("snapshots").join(NAME), table.join("backups"));
    let a = write_sstable(&snap_dir, "na-1-big", 1);
    write_sstable(&backups, "na-1-big", 1);
    let c = write_sstable(&backups, "na-2-big", 3);
    let root = tmp.path().join("store");
    let store = LocalStore::new(root.clone()).unwrap();
    let scratch = |name: &str| tmp.path().join(name);
    let snap = upload_into(&store, &scratch("s1"), &data, &["--snapshot-tag", NAME], 0);
    let first = upload_into(&store, &scratch("s2"), &data, &["--incremental"], 0);
    assert_eq!((snap.len(), first.len()), (4, 8));

    // The table rebuilt: a new na-1 (content B) whose own keys are taken; stored as variant 1.
    for component in COMPONENTS {
        let _ = fs_err::remove_file(backups.join(format!("na-2-big-{component}")));
    }
    let b = write_sstable(&backups, "na-1-big", 2);
    let second = upload_into(&store, &scratch("s3"), &data, &["--incremental"], 1);
    assert_eq!(second.len(), 4);
    assert!(second[0].key.contains("~1.lzo"), "{}", second[0].key);
    assert_ne!((&a, &a), (&b, &c));

    let snapshot_done = Utc::now() - chrono::Duration::seconds(300);
    let first_done = Utc::now() - chrono::Duration::seconds(200);
    let manifest = manifest(
        NAME,
        "base",
        &["node1"],
        vec![
            (BatchKind::Snapshot, snapshot_done, snap),
            (BatchKind::Incremental, first_done, first),
            (BatchKind::Incremental, Utc::now(), second),
        ],
    );
    put(
        &store,
        &layout::manifest_key("base", NAME),
        manifest.to_json().into_bytes(),
    );
    let from = format!("file://{}", root.display());
    let once_each = BTreeMap::from([(a.clone(), 1), (b.clone(), 1), (c.clone(), 1)]);

    // The coordinator's way: planned here, staged by node-push with Cassandra's names.
    let staging = tmp.path().join("staging");
    let options = RestoreOptions::new(RestoreMode::Stage {
        staging_root: staging.clone(),
    });
    let plan = plan_restore(manifest.inline_objects(), &options).unwrap();
    assert_eq!((plan.duplicates, plan.renumbered), (1, 1));
    let run = node_push(
        &args(&["restore", "--from", &from, "--plan-stdin"]),
        &[request_line(plan.request_for("node1").files)],
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(restored_data(&staging), (once_each.clone(), 12));
    let staged = staging.join("ks").join(TABLE);
    for (descriptor, source) in [
        ("na-1-big", &snap_dir),
        ("na-2-big", &staged),
        ("na-3-big", &backups),
    ] {
        for component in COMPONENTS {
            let restored = staged.join(format!("{descriptor}-{component}"));
            if descriptor == "na-2-big" {
                assert!(restored.is_file(), "{}", restored.display());
                continue;
            }
            assert_same_bytes(&restored, &source.join(format!("na-1-big-{component}")));
        }
    }
    assert_eq!(sha_of(&staged.join("na-2-big-Data.db")), c);
    assert_no_part_files(&staging);

    // By hand, the old tool's flat layout: `<ks>/<table dir>/<host>_<file>`.
    let flat = tmp.path().join("flat");
    let run = node_push(
        &args(&[
            "restore",
            "--from",
            &from,
            "--base-path",
            "base",
            "--backup",
            "LATEST",
            "--restore-dir",
            flat.to_str().unwrap(),
        ]),
        &[],
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(restored_data(&flat), (once_each, 12));
    assert!(flat
        .join("ks")
        .join(TABLE)
        .join("node1_na-3-big-TOC.txt")
        .is_file());

    // --until before the rebuilt table's incremental: A and C, A once.
    let until = tmp.path().join("until");
    let mut argv = args(&[
        "restore",
        "--from",
        &from,
        "--base-path",
        "base",
        "--backup",
        NAME,
        "--staging-dir",
        until.to_str().unwrap(),
        "--until",
    ]);
    argv.push(first_done.to_rfc3339());
    let run = node_push(&argv, &[]);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(restored_data(&until), (BTreeMap::from([(a, 1), (c, 1)]), 8));
    let _: PathBuf = until;
}
