//! End-to-end (issue 9, finding 4): `purge --keep-last` is per selection, on a real 3-node Apache
//! Cassandra 1.2 ring reached through real sshd hosts, with backups in a real SeaweedFS S3 gateway.
//!
//! A full backup of keyspace ks1, then two ad-hoc `--table users` backups: `purge --keep-last 1` removes
//! only the older ad-hoc one, keeps the full backup (the only one of its selection) and says so per
//! selection in `--dry-run`; then both tables are truncated and the full backup is restored with `--mode
//! refresh`: exactly the rows written before it come back.
//!
//! Keyspace ks1 has replication factor 1, so every row lives on exactly one node and reading all rows
//! through node 1 proves every node's restore. Needs the test stack (`cargo xtask setup`) and both binaries
//! built (`cargo build --workspace`). Run with `flock /tmp/ring.lock` when other agents share the machine.

#[allow(dead_code)]
mod e2e;

use anyhow::{ensure, Result};
use contract::layout;
use e2e::{ks1_rows as rows, Run, Stack, BASE, KS1_SCHEMA as SCHEMA, STACK_LOCK};
use std::collections::BTreeSet;
use std::path::Path;

fn expected(from: usize, to: usize) -> BTreeSet<String> {
    (from..to).map(|i| format!("row{i}")).collect()
}

/// The keys of `table` that node 1 returns (through Thrift, consistency ONE).
fn row_keys(stack: &Stack, table: &str) -> Result<BTreeSet<String>> {
    let out = stack
        .nodes
        .cassandra
        .cli(0, &format!("use ks1;\nlist {table} limit 1000;\n"))?;
    Ok(out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("RowKey: "))
        .map(str::to_string)
        .collect())
}

/// A snapshot backup with `extra` flags; its name.
fn snapshot_backup(stack: &Stack, extra: &[&str]) -> Result<String> {
    let run = stack.backup(extra)?;
    ensure!(run.success(), "backup {extra:?} failed: {}", run.stderr);
    let report = run.json()?;
    ensure!(report["kind"] == "snapshot", "{report}");
    Ok(report["backup"].as_str().unwrap().to_string())
}

/// `restore --keyspace=ks1 --mode=refresh --snapshot-name=NAME` on every node.
fn refresh(stack: &Stack, node_push: &Path, name: &str) -> Result<Run> {
    stack.coordinator(&[
        "--json",
        "restore",
        "--keyspace=ks1",
        "--mode=refresh",
        &format!("--snapshot-name={name}"),
        &format!("--ssh-config={}", stack.nodes.ssh_config_path().display()),
        &format!("--node-push-binary={}", node_push.display()),
    ])
}

#[test]
fn purge_keeps_the_full_backup_beside_table_backups_and_it_restores() -> Result<()> {
    let _turn = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let stack = Stack::start(3, None)?;
    let bin = tempfile::tempdir()?;
    let node_push = bin.path().join("node-push");
    fs_err::copy(testkit::workspace_bin("node-push")?, &node_push)?;
    stack.cli(&format!(
        "{SCHEMA}{}{}",
        rows("users", 0, 60),
        rows("events", 0, 30)
    ))?;
    stack.flush_all("ks1")?;

    let full = snapshot_backup(&stack, &["--keyspaces=ks1"])?;
    // Rows the full backup does not hold, then two ad-hoc backups of one table.
    stack.cli(&rows("users", 60, 80))?;
    stack.flush_all("ks1")?;
    let table_only = ["--keyspaces=ks1", "--table=users", "--new-snapshot"];
    let older_table = snapshot_backup(&stack, &table_only)?;
    let newer_table = snapshot_backup(&stack, &table_only)?;

    let mut hosts = stack.hosts();
    hosts.sort();
    let hosts = hosts.join(",");
    let dry = stack.coordinator(&["purge", "--keep-last=1", "--dry-run"])?;
    ensure!(dry.success(), "{}", dry.stderr);
    let plan = format!(
        "\
selection hosts {hosts}; keyspaces ks1; table users:
  {newer_table}  complete    keep  (the newest complete backup of its selection)
  {older_table}  complete    would remove  (beyond the last 1 of its selection)
selection hosts {hosts}; keyspaces ks1; all tables:
  {full}  complete    keep  (the newest complete backup of its selection)
"
    );
    // The newer table backup is a differential snapshot of the older one's unchanged files: those stay.
    let (table, sweep) = dry.stdout.split_at(plan.len().min(dry.stdout.len()));
    assert_eq!(table, plan);
    let kept = format!("kept (referenced by {newer_table})");
    assert!(
        sweep.starts_with(&format!("would remove {older_table}: ")) && sweep.contains(&kept),
        "{sweep}"
    );

    let purge = stack.coordinator(&["--json", "purge", "--keep-last=1"])?;
    ensure!(purge.success(), "{}{}", purge.stdout, purge.stderr);
    let removed = purge.json()?["removed"].clone();
    assert_eq!(removed.as_array().unwrap().len(), 1, "{removed}");
    assert_eq!(removed[0]["name"], older_table.as_str());
    assert_eq!(removed[0]["error"], serde_json::Value::Null);
    assert!(
        !stack.exists(&layout::manifest_key(BASE, &older_table))?,
        "the older table backup still has a manifest"
    );
    let listed = stack.coordinator(&["--json", "list"])?;
    let entries = listed.json()?;
    let entries = entries.as_array().unwrap();
    let lines: Vec<(&str, bool)> = entries
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["complete"] == true))
        .collect();
    assert_eq!(
        lines,
        [
            (newer_table.as_str(), true),
            (older_table.as_str(), false),
            (full.as_str(), true)
        ],
        "the older table backup is gone (its prefix keeps what the newer one references), the full one stays"
    );
    let problem = entries[1]["problem"].as_str().unwrap_or_default();
    assert!(problem.starts_with("purged "), "{problem}");
    assert_eq!(entries[2]["table"], "");

    stack.cli("use ks1;\ntruncate users;\ntruncate events;\n")?;
    assert!(row_keys(&stack, "users")?.is_empty(), "truncated");
    let restore = refresh(&stack, &node_push, &full)?;
    ensure!(restore.success(), "refresh failed: {}", restore.stderr);
    assert_eq!(row_keys(&stack, "users")?, expected(0, 60));
    assert_eq!(row_keys(&stack, "events")?, expected(0, 30));
    Ok(())
}
