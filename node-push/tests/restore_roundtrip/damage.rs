//! Damage in the store on SeaweedFS: a flipped byte, a deleted object and an object replaced by valid lzop
//! of other bytes each fail their file by key with nothing left behind, skip the rest of their table, and
//! are found by `verify` at the depth that can see them.

use crate::support::*;
use contract::manifest::ObjectEntry;
use contract::message::RestoreFailure;
use engine::lzop::{EncoderOptions, LzopEncoder};
use engine::restore::{plan_restore, RestoreMode, RestoreOptions};
use engine::store::ObjectStore;
use engine::verify::{verify_objects, ObjectStatus, VerifyConfig, VerifyDepth, VerifyReport};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use testkit::seaweed::SeaweedFs;
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

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
    runtime().block_on(store.delete(&deleted.key)).unwrap();
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
    let etag = runtime()
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
        let (got, error, target) = failed
            .get(&entry.key)
            .unwrap_or_else(|| panic!("{} was not reported failed ({failure:?})", entry.key));
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
        runtime().block_on(verify_objects(
            store.clone(),
            entries.clone(),
            &config,
            |_| {},
        ))
    };
    let statuses = |report: &VerifyReport| -> BTreeMap<String, ObjectStatus> {
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
    assert!(runtime()
        .block_on(verify_objects(store.clone(), clean, &config, |_| {}))
        .is_ok());
}
