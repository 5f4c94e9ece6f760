//! End-to-end: differential snapshots on a real 3-node Apache Cassandra 1.2 ring (issue 10).
//!
//! 1. A snapshot, then `--new-snapshot` with nothing changed: zero data bytes uploaded (report and
//!    records say so), and every record of the second backup points at the first one's objects.
//! 2. More writes to one table and a `nodetool compact` of it: the next snapshot uploads exactly the
//!    SSTable files that are new (by name) and references the rest, the other table's files included.
//!    Then a restore of the second backup after a truncate returns every row it held.
//! 3. `purge --remove` of the first backup keeps every object the later ones reference and deletes the rest
//!    of its prefix; the second backup still verifies (deep), restores byte for byte to a local directory
//!    (same files, same bytes as before the purge) and restores every row into the ring.
//!
//! Needs the test stack (`cargo xtask setup`) and the binaries built (`cargo build --workspace`).

#[allow(dead_code)]
mod e2e;

use anyhow::{ensure, Context, Result};
use contract::layout;
use contract::manifest::ObjectEntry;
use e2e::workflows::{check_rows, expected_rows, file_name, rows_script, Ring};
use e2e::STACK_LOCK;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const KS: &str = "diff_ks";
const BASE: &str = "differential";

fn schema() -> String {
    let mut script = format!(
        "create keyspace {KS} with placement_strategy = 'SimpleStrategy' and strategy_options = {{replication_factor:1}};\nuse {KS};\n"
    );
    for table in ["t", "u"] {
        script.push_str(&format!(
            "create column family {table} with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;\n"
        ));
    }
    script
}

fn name_of(report: &serde_json::Value) -> Result<String> {
    Ok(report["backup"]
        .as_str()
        .context("no backup name in the report")?
        .to_string())
}

/// Every record of backup `name`, all hosts.
fn records(ring: &Ring, name: &str) -> Result<Vec<ObjectEntry>> {
    ring.all_entries(BASE, name)
}

/// Data bytes (compressed, as stored) the run uploaded, as its `--json` report says.
fn uploaded_bytes(report: &serde_json::Value) -> Result<u64> {
    report["bytes_uploaded"]
        .as_u64()
        .with_context(|| format!("no bytes_uploaded in the report: {report}"))
}

#[test]
fn differential_snapshots_upload_only_new_bytes_and_survive_purge() -> Result<()> {
    let _turn = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let ring = Ring::start()?;
    let keyspaces = format!("--keyspaces={KS}");
    ring.cli(&schema())?;
    for table in ["t", "u"] {
        ring.no_compactions(KS, table)?;
        ring.cli(&rows_script(KS, table, 0, 60))?;
    }
    ring.flush(KS)?;

    // 1. Snapshot, then a snapshot of the same files.
    let first = name_of(&ring.backup_ok(BASE, &[&keyspaces, "--new-snapshot"])?)?;
    let second_report = ring.backup_ok(BASE, &[&keyspaces, "--new-snapshot"])?;
    let second = name_of(&second_report)?;
    ensure!(first != second, "two backups named {first}");
    ensure!(
        uploaded_bytes(&second_report)? == 0,
        "a snapshot of unchanged files uploaded data: {second_report}"
    );
    let first_records = records(&ring, &first)?;
    let second_records = records(&ring, &second)?;
    ensure!(!first_records.is_empty(), "the first backup holds nothing");
    let first_prefix = layout::backup_prefix(BASE, &first);
    let by_file = |entries: &[ObjectEntry]| -> BTreeMap<(String, String), String> {
        entries
            .iter()
            .map(|e| {
                let key = (e.host.clone(), file_name(&e.source_path).to_string());
                (key, e.key.clone())
            })
            .collect()
    };
    let first_keys = by_file(&first_records);
    ensure!(
        by_file(&second_records) == first_keys,
        "the second backup does not reference exactly the first one's objects"
    );
    ensure!(
        second_records
            .iter()
            .all(|e| e.key.starts_with(&first_prefix)),
        "a record of the unchanged snapshot does not point into {first_prefix}"
    );
    ensure!(
        ring.data_objects(BASE, &second)?.is_empty(),
        "the unchanged snapshot stored data objects of its own"
    );
    let listing = ring.coordinator(BASE, &["--json".into(), "list".into()])?;
    ensure!(listing.success(), "list failed: {}", listing.stderr);

    // 2. New rows in t, a major compaction of t: only new SSTable files are uploaded.
    ring.cli(&rows_script(KS, "t", 60, 120))?;
    ring.flush(KS)?;
    for node in 0..ring.hosts().len() {
        ring.stack
            .nodes
            .cassandra
            .nodetool(node, &["compact", KS, "t"])?;
    }
    let third_report = ring.backup_ok(BASE, &[&keyspaces, "--new-snapshot"])?;
    let third = name_of(&third_report)?;
    let third_records = records(&ring, &third)?;
    let known: BTreeSet<(String, String)> = first_keys.keys().cloned().collect();
    let third_prefix = layout::backup_prefix(BASE, &third);
    let mut uploaded = 0u64;
    for entry in &third_records {
        let file = (
            entry.host.clone(),
            file_name(&entry.source_path).to_string(),
        );
        let own = entry.key.starts_with(&third_prefix);
        if known.contains(&file) {
            ensure!(
                !own,
                "{} was stored before, yet uploaded again",
                entry.source_path
            );
        } else {
            ensure!(
                own,
                "{} is new, yet not uploaded: {}",
                entry.source_path,
                entry.key
            );
            uploaded += entry.compressed_size;
        }
    }
    ensure!(
        uploaded > 0,
        "the compaction produced no new SSTable: the test proves nothing"
    );
    ensure!(
        third_records
            .iter()
            .any(|e| e.table == "u" && !e.key.starts_with(&third_prefix)),
        "the unchanged table u was not referenced"
    );
    ensure!(
        uploaded_bytes(&third_report)? == uploaded,
        "the report's uploaded bytes differ from the new files' {uploaded}: {third_report}"
    );

    // The second backup, restored after a truncate, returns every row it held.
    let all_rows = expected_rows(0, 60);
    for table in ["t", "u"] {
        let live = ring.row_keys(KS, table)?;
        ring.truncate(KS, table, &live)?;
    }
    ring.restore_ok(
        BASE,
        KS,
        &["--mode=refresh", &format!("--snapshot-name={second}")],
    )?;
    for table in ["t", "u"] {
        ring.check_table(&format!("{KS}.{table} from {second}"), KS, table, &all_rows)?;
    }

    // 3. Purge the first backup; the second keeps every object it references.
    let local_before = tempfile::tempdir()?;
    restore_local(&ring, &second, local_before.path())?;
    let referenced: BTreeSet<String> = second_records
        .iter()
        .chain(&third_records)
        .map(|e| e.key.clone())
        .collect();
    let purge = ring.coordinator(
        BASE,
        &["--json".into(), "purge".into(), format!("--remove={first}")],
    )?;
    ensure!(
        purge.success(),
        "purge failed: {}{}",
        purge.stdout,
        purge.stderr
    );
    let left = ring.objects(&first_prefix)?;
    for key in &referenced {
        if key.starts_with(&first_prefix) {
            ensure!(
                left.contains_key(key),
                "purge deleted {key}, which a remaining backup references"
            );
        }
    }
    let unreferenced: Vec<&String> = left
        .keys()
        .filter(|k| {
            layout::parse_key(BASE, k).is_some_and(|p| matches!(p, layout::ParsedKey::Data(_)))
        })
        .filter(|k| !referenced.contains(*k))
        .collect();
    ensure!(
        unreferenced.is_empty(),
        "purge kept unreferenced objects: {unreferenced:?}"
    );
    ensure!(
        !ring
            .objects(&layout::manifest_key(BASE, &first))?
            .contains_key(&layout::manifest_key(BASE, &first)),
        "the purged backup still has a manifest"
    );
    let verify = ring.verify(BASE, &second, true)?;
    ensure!(
        verify.success(),
        "deep verify of {second} after the purge failed: {}{}",
        verify.stdout,
        verify.stderr
    );
    let local_after = tempfile::tempdir()?;
    restore_local(&ring, &second, local_after.path())?;
    let (before, after) = (tree(local_before.path())?, tree(local_after.path())?);
    ensure!(!before.is_empty(), "the local restore wrote nothing");
    ensure!(
        before == after,
        "the local restore of {second} differs after the purge"
    );
    for table in ["t", "u"] {
        let live = ring.row_keys(KS, table)?;
        ring.truncate(KS, table, &live)?;
    }
    ring.restore_ok(
        BASE,
        KS,
        &["--mode=refresh", &format!("--snapshot-name={second}")],
    )?;
    for table in ["t", "u"] {
        let got = ring.row_keys(KS, table)?;
        check_rows(
            &format!("{KS}.{table} from {second} after the purge"),
            &got,
            &all_rows,
        )?;
    }
    Ok(())
}

fn restore_local(ring: &Ring, name: &str, dir: &Path) -> Result<()> {
    let dir_flag = format!("--restore-dir={}", dir.display());
    ring.restore_ok(
        BASE,
        KS,
        &["--local", &format!("--snapshot-name={name}"), &dir_flag],
    )?;
    Ok(())
}

/// Relative path → bytes of every file under `dir`.
fn tree(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs_err::read_dir(&next)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir)?.display().to_string();
                files.insert(relative, fs_err::read(&path)?);
            }
        }
    }
    Ok(files)
}
