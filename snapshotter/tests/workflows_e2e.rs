//! End-to-end: the operator workflows of issue 9 on a real 3-node Apache Cassandra 1.2 ring, each ending
//! with a restore whose rows must equal exactly what was written.
//!
//! 1. A scoped ad-hoc backup between a full backup and its next incremental (under another base path, and
//!    under the same one) takes nothing away from the full backup.
//! 2. A table rebuilt empty on one node numbers its SSTables from 1 again: no committed object is
//!    overwritten, `verify` passes, and restores (latest and `--until`) give every row.
//! 3. Secondary-index SSTables are uploaded once, by the snapshot backup or by an incremental, not both.
//! 4. After a restore (`refresh`), the restored SSTables Cassandra hard-links into `backups/` are not
//!    sent again by the next incremental.
//! 5. An incremental whose manifest write fails leaves every `backups/` file on the nodes; the next one
//!    commits them.
//!
//! The ring takes most of a minute to start, so the five workflows share one: each has its own keyspace
//! (replication factor 1, so a lost file on any node shows as missing rows) and its own `--s3-base-path`,
//! and a failed workflow does not stop the others; the test fails naming every workflow that failed.
//! `WORKFLOWS_ONLY=scoped,index` runs only the workflows whose names contain one of the words.
//!
//! Needs the test stack (`cargo xtask setup`) and the binaries built (`cargo build --workspace`).

#[allow(dead_code)]
mod e2e;

use anyhow::{ensure, Context, Result};
use contract::manifest::Manifest;
use e2e::workflows::{
    check_rows, check_stored, expected_rows, file_name, row_keys_in, rows_script, Ring,
};
use e2e::STACK_LOCK;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::time::Instant;
use testkit::fault_proxy::{Fault, Operation, Rule};

/// A keyspace with replication factor 1 and the UTF8 tables `tables`.
fn schema(keyspace: &str, tables: &[&str]) -> String {
    let mut script = format!(
        "create keyspace {keyspace} with placement_strategy = 'SimpleStrategy' and strategy_options = {{replication_factor:1}};\nuse {keyspace};\n"
    );
    for table in tables {
        script.push_str(&format!(
            "create column family {table} with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;\n"
        ));
    }
    script
}

type Workflow = fn(&mut Ring) -> Result<()>;

#[test]
fn issue9_workflows_restore_every_row() -> Result<()> {
    let _turn = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let mut ring = Ring::start()?;
    testkit::log!("=== ring start: {:.1} s", started.elapsed().as_secs_f64());
    let workflows: [(&str, Workflow); 6] = [
        ("scoped backup under another base path", scoped_other_base),
        ("scoped backup under the same base path", scoped_same_base),
        ("index files uploaded once", index_files_uploaded_once),
        ("restored SSTables not re-sent", restore_then_incremental),
        (
            "manifest write failure keeps backups/",
            manifest_write_failure,
        ),
        ("table rebuilt empty on one node", rebuilt_table),
    ];
    let only: Vec<String> = std::env::var("WORKFLOWS_ONLY")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let mut failed = Vec::new();
    for (name, workflow) in workflows {
        if !only.is_empty() && !only.iter().any(|word| name.contains(word.as_str())) {
            continue;
        }
        let start = Instant::now();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| workflow(&mut ring)));
        let seconds = start.elapsed().as_secs_f64();
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(format!("{error:#}")),
            Err(panic) => Some(panic_text(&panic)),
        };
        match error {
            None => testkit::log!("=== {name}: ok ({seconds:.1} s)"),
            Some(error) => {
                testkit::log!("=== {name}: FAILED ({seconds:.1} s): {error}");
                failed.push(format!("{name}: {error}"));
            }
        }
    }
    testkit::log!("=== all: {:.1} s", started.elapsed().as_secs_f64());
    ensure!(
        failed.is_empty(),
        "failed workflows:\n{}",
        failed.join("\n")
    );
    Ok(())
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".to_string())
}

/// Creates `keyspace` with `tables` (see [`schema`]) and stops their minor compactions.
fn create(ring: &Ring, keyspace: &str, tables: &[&str]) -> Result<()> {
    ring.cli(&schema(keyspace, tables))?;
    for table in tables {
        ring.no_compactions(keyspace, table)?;
    }
    Ok(())
}

fn name_of(report: &serde_json::Value) -> Result<String> {
    Ok(report["backup"]
        .as_str()
        .context("no backup name in the report")?
        .to_string())
}

/// File names of `manifest`'s entries for `host` and `table` in batch `index`.
fn batch_files(
    ring: &Ring,
    manifest: &Manifest,
    index: usize,
    host: &str,
    table: &str,
) -> Result<BTreeSet<String>> {
    Ok(ring
        .batch(manifest, index)?
        .iter()
        .filter(|o| o.host == host && o.table == table)
        .map(|o| file_name(&o.source_path).to_string())
        .collect())
}

// ---------------------------------------------------------------------------------------------------------
// 1. Scoped backup between full and incremental.

fn scoped_other_base(ring: &mut Ring) -> Result<()> {
    scoped_between_full_and_incremental(ring, "wf_scoped_other", "wf-full", "wf-adhoc")
}

fn scoped_same_base(ring: &mut Ring) -> Result<()> {
    scoped_between_full_and_incremental(ring, "wf_scoped_same", "wf-shared", "wf-shared")
}

/// Full backup B of `ks` (tables a, b) under `base`; more rows; `--table a --new-snapshot` under
/// `adhoc_base`; more rows; an incremental into B; both tables truncated and B restored: every row.
fn scoped_between_full_and_incremental(
    ring: &mut Ring,
    ks: &str,
    base: &str,
    adhoc_base: &str,
) -> Result<()> {
    let keyspaces = format!("--keyspaces={ks}");
    create(ring, ks, &["a", "b"])?;
    ring.cli(&format!(
        "{}{}",
        rows_script(ks, "a", 0, 50),
        rows_script(ks, "b", 0, 50)
    ))?;
    ring.flush(ks)?;
    let full = ring.backup_ok(base, &[&keyspaces])?;
    ensure!(full["kind"] == "snapshot", "{full}");
    let name = name_of(&full)?;

    ring.cli(&format!(
        "{}{}",
        rows_script(ks, "a", 50, 100),
        rows_script(ks, "b", 50, 100)
    ))?;
    ring.flush(ks)?;
    // The files of table a flushed since B: B's next incremental must hold them.
    let pending: Vec<BTreeSet<String>> = (0..3)
        .map(|n| ring.backups_files(n, ks, "a"))
        .collect::<Result<_>>()?;
    ensure!(
        pending.iter().any(|files| !files.is_empty()),
        "the flush left nothing in {ks}/a/backups/"
    );
    let scoped = ring.backup_ok(adhoc_base, &[&keyspaces, "--table=a", "--new-snapshot"])?;
    ensure!(scoped["kind"] == "snapshot", "{scoped}");
    ensure!(
        adhoc_base != base || name_of(&scoped)? != name,
        "the scoped backup reused B's name"
    );

    ring.cli(&format!(
        "{}{}",
        rows_script(ks, "a", 100, 150),
        rows_script(ks, "b", 100, 150)
    ))?;
    ring.flush(ks)?;
    let incremental = ring.backup_ok(base, &[&keyspaces])?;
    ensure!(
        incremental["kind"] == "incremental" && incremental["backup"] == name.as_str(),
        "the plain backup is not an incremental into {name}: {incremental}"
    );
    let manifest = ring.manifest(base, &name)?;
    check_stored(ring, base, &manifest)?;
    // Checked after the restore, so that a failure says both which files and which rows are missing.
    let mut lost = Vec::new();
    for (n, host) in ring.hosts().iter().enumerate() {
        let sent = batch_files(ring, &manifest, 1, host, "a")?;
        let missing: Vec<&String> = pending[n].difference(&sent).collect();
        if !missing.is_empty() {
            lost.push(format!("{host}: {missing:?}"));
        }
    }

    ring.truncate(ks, "a", &expected_rows(0, 150))?;
    ring.truncate(ks, "b", &expected_rows(0, 150))?;
    ring.restore_ok(
        base,
        ks,
        &["--mode=refresh", &format!("--snapshot-name={name}")],
    )?;
    let rows_a = ring.check_table(
        &format!("{ks}.a restored from {name}"),
        ks,
        "a",
        &expected_rows(0, 150),
    );
    let rows_b = ring.check_table(
        &format!("{ks}.b restored from {name}"),
        ks,
        "b",
        &expected_rows(0, 150),
    );
    let problems: Vec<String> = [rows_a.err(), rows_b.err()]
        .into_iter()
        .flatten()
        .map(|e| format!("{e:#}"))
        .chain((!lost.is_empty()).then(|| {
            format!(
                "{ks}/a files flushed before the scoped backup, not in {name}'s incremental: {}",
                lost.join("; ")
            )
        }))
        .collect();
    ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// 3. Secondary-index files.

/// A table with a KEYS index on `city`: the index's SSTables sit next to the table's (Cassandra 1.2:
/// `<ks>-people.people_city_idx-ic-N-*`) in the table dir, its snapshots and its `backups/`.
fn index_files_uploaded_once(ring: &mut Ring) -> Result<()> {
    let ks = "wf_index";
    let base = "wf-index";
    let keyspaces = format!("--keyspaces={ks}");
    let people = |from: usize, to: usize| {
        let mut script = format!("use {ks};\n");
        for i in from..to {
            script.push_str(&format!(
                "set people['row{i}']['city'] = 'city{}';\nset people['row{i}']['value'] = 'value {i}';\n",
                i % 7
            ));
        }
        script
    };
    ring.cli(&format!(
        "create keyspace {ks} with placement_strategy = 'SimpleStrategy' and strategy_options = {{replication_factor:1}};\n\
         use {ks};\n\
         create column family people with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type \
         and column_metadata = [{{column_name: city, validation_class: UTF8Type, index_type: KEYS}}];\n{}",
        people(0, 60)
    ))?;
    ring.no_compactions(ks, "people")?;
    ring.flush(ks)?;
    ring.proxy.clear_requests();
    let full = ring.backup_ok(base, &[&keyspaces])?;
    let name = name_of(&full)?;
    ring.cli(&people(60, 90))?;
    ring.flush(ks)?;
    let incremental = ring.backup_ok(base, &[&keyspaces])?;
    ensure!(incremental["backup"] == name.as_str(), "{incremental}");
    let manifest = ring.manifest(base, &name)?;
    check_stored(ring, base, &manifest)?;

    let entries = ring.entries(&manifest)?;
    let is_index = |path: &str| file_name(path).contains("_idx") || path.contains("/.");
    ensure!(
        entries.iter().any(|o| is_index(&o.source_path)),
        "no index SSTable in {name}: the test proves nothing"
    );
    // One object per SSTable file: the same bytes of the same file (by name, index dir included, without
    // its snapshots/<tag>/ or backups/ place) stored twice is an upload too many.
    let mut copies: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for entry in &entries {
        let place = entry
            .source_path
            .split("/snapshots/")
            .next()
            .unwrap_or(&entry.source_path)
            .split("/backups/")
            .next()
            .unwrap_or(&entry.source_path);
        let inner = entry
            .source_path
            .rsplit_once("/backups/")
            .map(|(_, rest)| rest.to_string())
            .or_else(|| {
                entry
                    .source_path
                    .rsplit_once("/snapshots/")
                    .and_then(|(_, rest)| rest.split_once('/').map(|(_, f)| f.to_string()))
            })
            .unwrap_or_else(|| file_name(&entry.source_path).to_string());
        copies
            .entry((
                entry.host.clone(),
                format!("{place}/{inner}"),
                entry
                    .digest()
                    .map(|d| d.hex().to_string())
                    .unwrap_or_default(),
            ))
            .or_default()
            .push(entry.key.clone());
    }
    let twice: Vec<_> = copies.iter().filter(|(_, keys)| keys.len() > 1).collect();
    ensure!(twice.is_empty(), "stored more than once: {twice:#?}");
    // And no key was written twice, nor an object stored that the manifest does not list.
    let mut writes: BTreeMap<String, usize> = BTreeMap::new();
    for request in ring.requests() {
        if matches!(
            request.operation,
            Operation::PutObject | Operation::CompleteMultipart
        ) && request.key.ends_with(".lzo")
        {
            *writes.entry(request.key).or_default() += 1;
        }
    }
    let rewritten: Vec<_> = writes.iter().filter(|(_, n)| **n > 1).collect();
    ensure!(
        rewritten.is_empty(),
        "keys written more than once: {rewritten:?}"
    );
    let entries = ring.entries(&manifest)?;
    let listed: BTreeSet<&str> = entries.iter().map(|o| o.key.as_str()).collect();
    let strays: Vec<String> = ring
        .data_objects(base, &name)?
        .into_keys()
        .filter(|k| !listed.contains(k.as_str()))
        .collect();
    ensure!(strays.is_empty(), "stored but in no manifest: {strays:?}");

    ring.truncate(ks, "people", &expected_rows(0, 90))?;
    ring.restore_ok(
        base,
        ks,
        &["--mode=refresh", &format!("--snapshot-name={name}")],
    )?;
    ring.check_table(
        "wf_index.people restored",
        ks,
        "people",
        &expected_rows(0, 90),
    )?;
    let by_index = ring.cli(&format!("use {ks};\nget people where city = 'city3';\n"))?;
    let found = row_keys_in(&by_index);
    let want: BTreeSet<String> = (0..90)
        .filter(|i| i % 7 == 3)
        .map(|i| format!("row{i}"))
        .collect();
    check_rows(
        "rows found through the city index after the restore",
        &found,
        &want,
    )
}

// ---------------------------------------------------------------------------------------------------------
// 4. Restore, then incremental.

fn restore_then_incremental(ring: &mut Ring) -> Result<()> {
    let ks = "wf_restored";
    let base = "wf-restored";
    let keyspaces = format!("--keyspaces={ks}");
    create(ring, ks, &["t"])?;
    ring.cli(&rows_script(ks, "t", 0, 50))?;
    ring.flush(ks)?;
    let name = name_of(&ring.backup_ok(base, &[&keyspaces])?)?;
    ring.cli(&rows_script(ks, "t", 50, 80))?;
    ring.flush(ks)?;
    ring.backup_ok(base, &[&keyspaces])?;

    ring.truncate(ks, "t", &expected_rows(0, 80))?;
    ring.restore_ok(base, ks, &["--mode=refresh"])?;
    ring.check_table("wf_restored.t restored", ks, "t", &expected_rows(0, 80))?;
    // Cassandra hard-linked what it loaded into backups/.
    let restored: Vec<BTreeSet<String>> = (0..3)
        .map(|n| ring.backups_files(n, ks, "t"))
        .collect::<Result<_>>()?;
    ensure!(
        restored.iter().any(|files| !files.is_empty()),
        "no restored SSTable in backups/ after the refresh: the test proves nothing"
    );

    ring.cli(&rows_script(ks, "t", 80, 110))?;
    ring.flush(ks)?;
    let fresh: Vec<BTreeSet<String>> = (0..3)
        .map(|n| Ok(&ring.backups_files(n, ks, "t")? - &restored[n]))
        .collect::<Result<_>>()?;
    ring.proxy.clear_requests();
    let report = ring.backup_ok(base, &[&keyspaces])?;
    ensure!(
        report["kind"] == "incremental" && report["backup"] == name.as_str(),
        "{report}"
    );
    let manifest = ring.manifest(base, &name)?;
    check_stored(ring, base, &manifest)?;
    let hosts = report["hosts"].as_array().context("hosts")?;
    for (n, host) in ring.hosts().iter().enumerate() {
        let sent = batch_files(ring, &manifest, 2, host, "t")?;
        let resent: Vec<&String> = sent.intersection(&restored[n]).collect();
        ensure!(
            resent.is_empty(),
            "{host}: restored SSTables sent again: {resent:?}"
        );
        ensure!(
            sent == fresh[n],
            "{host}: the incremental sent {sent:?}, the new flush wrote {:?}",
            fresh[n]
        );
        let line = hosts
            .iter()
            .find(|h| h["host"] == host.as_str())
            .with_context(|| format!("{host} not in the report"))?;
        ensure!(
            line["files_uploaded"] == fresh[n].len(),
            "{host}: files_uploaded should be {}: {line}",
            fresh[n].len()
        );
        // Reported as already in the backup: every counter of files found already there.
        let already: u64 = line
            .as_object()
            .context("host report")?
            .iter()
            .filter(|(k, _)| {
                k.starts_with("files_") && (k.contains("already") || k.contains("in_backup"))
            })
            .filter_map(|(_, v)| v.as_u64())
            .sum();
        ensure!(
            already >= restored[n].len() as u64,
            "{host}: {} restored files in backups/, reported already there: {already}: {line}",
            restored[n].len()
        );
    }
    let written: Vec<String> = ring
        .requests()
        .into_iter()
        .filter(|r| r.operation.writes_data())
        .filter(|r| {
            ring.hosts().iter().enumerate().any(|(n, host)| {
                r.key.starts_with(&format!("{base}/{name}/{host}/"))
                    && restored[n].contains(file_name(&r.key).trim_end_matches(".lzo"))
            })
        })
        .map(|r| r.key)
        .collect();
    ensure!(
        written.is_empty(),
        "restored files uploaded again: {written:?}"
    );

    ring.truncate(ks, "t", &expected_rows(0, 110))?;
    ring.restore_ok(base, ks, &["--mode=refresh"])?;
    ring.check_table(
        "wf_restored.t restored after the incremental",
        ks,
        "t",
        &expected_rows(0, 110),
    )
}

// ---------------------------------------------------------------------------------------------------------
// 5. Manifest write failure after the upload.

fn manifest_write_failure(ring: &mut Ring) -> Result<()> {
    let ks = "wf_manifest";
    let base = "wf-manifest";
    let keyspaces = format!("--keyspaces={ks}");
    create(ring, ks, &["t"])?;
    ring.cli(&rows_script(ks, "t", 0, 40))?;
    ring.flush(ks)?;
    let name = name_of(&ring.backup_ok(base, &[&keyspaces])?)?;
    ring.cli(&rows_script(ks, "t", 40, 80))?;
    ring.flush(ks)?;
    let pending: Vec<BTreeSet<String>> = (0..3)
        .map(|n| ring.backups_files(n, ks, "t"))
        .collect::<Result<_>>()?;
    ensure!(
        pending.iter().any(|files| !files.is_empty()),
        "the flush left nothing in backups/"
    );

    let rule = ring.proxy.add(
        Rule::new(Fault::INTERNAL_ERROR)
            .on(Operation::PutObject)
            .key_containing(&format!("{base}/{name}/manifest.json"))
            .always(),
    );
    let failed = ring.backup(base, &[&keyspaces])?;
    ring.proxy.clear_rules();
    ensure!(
        !failed.success(),
        "the incremental whose manifest write failed exited 0: {}",
        failed.stderr
    );
    ensure!(
        ring.proxy.applied(rule) > 0,
        "the manifest write was never tried"
    );
    ensure!(
        ring.manifest(base, &name)?.batches.len() == 1,
        "a batch was committed although every manifest write failed"
    );
    for (n, host) in ring.hosts().iter().enumerate() {
        let left = ring.backups_files(n, ks, "t")?;
        let deleted: Vec<&String> = pending[n].difference(&left).collect();
        ensure!(
            deleted.is_empty(),
            "{host}: backups/ files deleted although no committed batch lists them: {deleted:?}"
        );
    }

    let next = ring.backup_ok(base, &[&keyspaces])?;
    ensure!(
        next["kind"] == "incremental" && next["backup"] == name.as_str(),
        "{next}"
    );
    let manifest = ring.manifest(base, &name)?;
    check_stored(ring, base, &manifest)?;
    ensure!(
        manifest.batches.len() == 2,
        "{} batches",
        manifest.batches.len()
    );
    for (n, host) in ring.hosts().iter().enumerate() {
        let committed = batch_files(ring, &manifest, 1, host, "t")?;
        let missing: Vec<&String> = pending[n].difference(&committed).collect();
        ensure!(
            missing.is_empty(),
            "{host}: backups/ files not in the committed batch: {missing:?}"
        );
        let left = ring.backups_files(n, ks, "t")?;
        let kept: Vec<&String> = left.intersection(&committed).collect();
        ensure!(
            kept.is_empty(),
            "{host}: committed files still in backups/ after the commit: {kept:?}"
        );
    }

    ring.truncate(ks, "t", &expected_rows(0, 80))?;
    ring.restore_ok(base, ks, &["--mode=refresh"])?;
    ring.check_table("wf_manifest.t restored", ks, "t", &expected_rows(0, 80))
}

// ---------------------------------------------------------------------------------------------------------
// 2. A table rebuilt empty on one node.

/// The node whose table is rebuilt: node2.
const REBUILT: usize = 1;

fn rebuilt_table(ring: &mut Ring) -> Result<()> {
    let ks = "wf_rebuilt";
    let base = "wf-rebuilt";
    let keyspaces = format!("--keyspaces={ks}");
    create(ring, ks, &["t"])?;
    ring.cli(&rows_script(ks, "t", 0, 40))?;
    ring.flush(ks)?;
    let name = name_of(&ring.backup_ok(base, &[&keyspaces])?)?;
    for (from, to) in [(40, 70), (70, 100)] {
        ring.cli(&rows_script(ks, "t", from, to))?;
        ring.flush(ks)?;
    }
    ring.backup_ok(base, &[&keyspaces])?;
    let before = ring.manifest(base, &name)?;
    check_stored(ring, base, &before)?;
    let committed: BTreeMap<String, (u64, String)> = ring
        .entries(&before)?
        .into_iter()
        .map(|o| (o.key.clone(), (o.compressed_size, o.etag.clone())))
        .collect();
    let host = ring.hosts()[REBUILT].clone();
    let old_names = batch_files(ring, &before, 1, &host, "t")?;

    // Stop node2, wipe its table dir (SSTables, backups/, snapshots/), start it again.
    ring.stack.nodes.cassandra.stop_node(REBUILT);
    let dir = ring.table_dir(REBUILT, ks, "t");
    for entry in fs_err::read_dir(&dir)? {
        let path = entry?.path();
        if path.is_dir() {
            fs_err::remove_dir_all(&path)?;
        } else {
            fs_err::remove_file(&path)?;
        }
    }
    ring.stack.nodes.cassandra.start_node(REBUILT)?;
    ring.no_compactions(ks, "t")?;
    ring.proxy.clear_requests();

    for (from, to) in [(100, 130), (130, 160)] {
        ring.cli(&rows_script(ks, "t", from, to))?;
        ring.flush(ks)?;
    }
    let reused: Vec<String> = ring
        .backups_files(REBUILT, ks, "t")?
        .intersection(&old_names)
        .cloned()
        .collect();
    ensure!(
        !reused.is_empty(),
        "{host}: no new SSTable reuses a committed name ({old_names:?}): the test proves nothing"
    );
    testkit::log!("{host}: rebuilt table reuses committed names {reused:?}");
    ring.backup_ok(base, &[&keyspaces])?;
    ring.cli(&rows_script(ks, "t", 160, 190))?;
    ring.flush(ks)?;
    ring.backup_ok(base, &[&keyspaces])?;

    let manifest = ring.manifest(base, &name)?;
    ensure!(
        manifest.batches.len() == 4,
        "{} batches",
        manifest.batches.len()
    );
    check_stored(ring, base, &manifest)?;
    // The rebuilt table's files whose names were taken went to variant keys, recorded in the manifest.
    let batch = ring.batch(&manifest, 2)?;
    let renamed: Vec<_> = batch
        .iter()
        .filter(|o| o.host == host && reused.iter().any(|r| r == file_name(&o.source_path)))
        .collect();
    ensure!(
        renamed.len() == reused.len() && renamed.iter().all(|o| o.variant > 0),
        "{host}: the files reusing committed names are not all stored as variants: {:?}",
        renamed
            .iter()
            .map(|o| (o.key.as_str(), o.variant))
            .collect::<Vec<_>>()
    );
    let stored = ring.data_objects(base, &name)?;
    for (key, (size, etag)) in &committed {
        let now = stored
            .get(key)
            .with_context(|| format!("committed object {key} is gone"))?;
        ensure!(
            (now.size, &now.etag) == (*size, etag),
            "committed object {key} was overwritten: size {size} ETag {etag} -> {} {}",
            now.size,
            now.etag
        );
    }
    let writes: Vec<String> = ring
        .requests()
        .into_iter()
        .filter(|r| {
            (r.operation.writes_data() || r.operation == Operation::DeleteObject)
                && committed.contains_key(&r.key)
        })
        .map(|r| format!("{:?} {}", r.operation, r.key))
        .collect();
    ensure!(
        writes.is_empty(),
        "requests that wrote committed objects: {writes:?}"
    );

    for deep in [false, true] {
        let verify = ring.verify(base, &name, deep)?;
        ensure!(
            verify.success(),
            "verify (deep: {deep}) failed: {}{}",
            verify.stdout,
            verify.stderr
        );
    }

    // Restores: --until the end of batch 1 (before the rebuild), --until the end of batch 2 (the first
    // after it), then the latest. Before the first, the table holds at least what was written since the
    // rebuild (node2's older rows are gone, unless its commit log brought them back).
    let live = ring.row_keys(ks, "t")?;
    let absent: Vec<String> = expected_rows(100, 190).difference(&live).cloned().collect();
    ensure!(
        absent.is_empty(),
        "rows written after the rebuild are not live: {absent:?}"
    );
    ring.truncate_any(ks, "t")?;
    let mut previous = None;
    for (batch_index, rows) in [(1, 100), (2, 160)] {
        if let Some(live) = &previous {
            ring.truncate(ks, "t", live)?;
        }
        let until = manifest.batches[batch_index].completed_at.to_rfc3339();
        ring.restore_ok(base, ks, &["--mode=refresh", &format!("--until={until}")])?;
        ring.check_table(
            &format!("wf_rebuilt.t restored --until the end of batch {batch_index}"),
            ks,
            "t",
            &expected_rows(0, rows),
        )?;
        previous = Some(expected_rows(0, rows));
    }
    ring.truncate(ks, "t", &expected_rows(0, 160))?;
    ring.restore_ok(base, ks, &["--mode=refresh"])?;
    ring.check_table(
        "wf_rebuilt.t restored (latest)",
        ks,
        "t",
        &expected_rows(0, 190),
    )
}
