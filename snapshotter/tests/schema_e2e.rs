//! End-to-end: disaster recovery into an empty cluster with one command, on the real 3-node Cassandra 1.2
//! ring. Rows are written, `backup --backup-schema` stores the schema the way 1.2 offers it (cassandra-cli
//! `show schema`, `schema_ks1.cli`), the whole ring is stopped, its data, commit logs and caches wiped,
//! and it is started empty; `restore --schema --mode refresh` creates keyspace and tables and brings back
//! every row (compared as exact sets of key and value). A second `restore --schema` is refused, naming
//! the tables that exist.
//!
//! Keyspace ks1 has replication factor 1 on three nodes: each node holds a third of the rows, so the
//! restore must put each host's SSTables back onto the node that owns its tokens; the ring restarts with
//! the same tokens, and the coordinator says so.
//!
//! Run with `flock /tmp/ring.lock cargo test -p cassandra-snapshotter --test schema_e2e` after
//! `cargo build --workspace`.

#[allow(dead_code)]
mod e2e;

use anyhow::{ensure, Context, Result};
use contract::layout;
use e2e::{Stack, BASE, BUCKET, STACK_LOCK};
use engine::store::s3::S3Store;
use engine::store::ObjectStore;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

const SCHEMA: &str = "\
create keyspace ks1 with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:1};
use ks1;
create column family users with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type and comment = 'people; one per row';
create column family events with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
";

const USERS: usize = 150;
const EVENTS: usize = 90;

fn rows(table: &str, count: usize) -> String {
    let mut script = String::from("use ks1;\n");
    for i in 0..count {
        script.push_str(&format!(
            "set {table}['row{i}']['value'] = 'value {i} of {table}';\n"
        ));
    }
    script
}

fn expected(table: &str, count: usize) -> BTreeSet<(String, String)> {
    (0..count)
        .map(|i| (format!("row{i}"), format!("value {i} of {table}")))
        .collect()
}

/// Every (row key, value) of `table`, read through node `node` (Thrift, consistency ONE).
fn stored_rows(stack: &Stack, node: usize, table: &str) -> Result<BTreeSet<(String, String)>> {
    let out = stack
        .nodes
        .cassandra
        .cli(node, &format!("use ks1;\nlist {table} limit 10000;\n"))?;
    let mut found = BTreeSet::new();
    let mut key = None;
    for line in out.lines().map(str::trim) {
        if let Some(k) = line.strip_prefix("RowKey: ") {
            key = Some(k.to_string());
        } else if let Some(rest) = line.strip_prefix("=> (column=value, value=") {
            let value = rest.split(", timestamp=").next().unwrap_or(rest);
            let key = key.clone().context("a column before any RowKey")?;
            found.insert((key, value.to_string()));
        }
    }
    Ok(found)
}

/// An object's text, read through the S3 API.
fn read_object(stack: &Stack, key: &str) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let weed = &stack.weed;
    let store = runtime.block_on(S3Store::connect(weed.s3_config(BUCKET)))?;
    let bytes = runtime.block_on(store.get(key, None))?;
    Ok(String::from_utf8(bytes.to_vec())?)
}

fn timed<T>(what: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = Instant::now();
    let result = work();
    testkit::log!("=== {what}: {:.1} s", start.elapsed().as_secs_f64());
    result
}

fn empty_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    fs_err::create_dir_all(dir)?;
    Ok(())
}

#[test]
fn disaster_recovery_into_an_empty_ring_with_one_command() -> Result<()> {
    let _turn = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut stack = timed("stack start", || Stack::start(3, None))?;
    let bin = tempfile::tempdir()?;
    let node_push = bin.path().join("node-push");
    fs_err::copy(testkit::workspace_bin("node-push")?, &node_push)?;
    stack.cli(&format!(
        "{SCHEMA}{}{}",
        rows("users", USERS),
        rows("events", EVENTS)
    ))?;

    let run = timed("backup --backup-schema", || {
        stack.backup(&["--keyspaces=ks1", "--backup-schema", "--new-snapshot"])
    })?;
    ensure!(run.success(), "backup failed: {}", run.stderr);
    let name = run.json()?["backup"]
        .as_str()
        .context("the backup's name")?
        .to_string();
    // 1.2 gives its schema through cassandra-cli: stored as schema_ks1.cli, statements only.
    let cli_key = layout::cli_schema_key(BASE, &name, Some("ks1"));
    let schema = read_object(&stack, &cli_key)?;
    testkit::log!("--- {cli_key}\n{schema}");
    assert!(schema.starts_with("create keyspace ks1"), "{schema}");
    assert!(schema.contains("create column family users"), "{schema}");
    assert!(schema.contains("create column family events"), "{schema}");
    assert!(schema.trim_end().ends_with(';'), "{schema}");
    assert!(!schema.contains("Connected to"), "{schema}");
    assert!(!stack.exists(&layout::schema_key(BASE, &name, Some("ks1")))?);

    // The disaster: every node stopped, data, commit logs and caches gone, the ring started empty.
    for node in 0..3 {
        stack.nodes.cassandra.stop_node(node);
    }
    for node in 0..3 {
        let node = stack.nodes.cassandra.node(node);
        for dir in [
            node.data_dir(),
            node.commitlog_dir(),
            node.saved_caches_dir(),
        ] {
            empty_dir(&dir)?;
        }
    }
    timed("empty ring start", || {
        for node in 0..3 {
            stack.nodes.cassandra.start_node(node)?;
        }
        Ok(())
    })?;
    let gone = stack.nodes.cassandra.cli(0, "use ks1;\n");
    assert!(gone.is_err(), "ks1 survived the wipe: {gone:?}");

    let restore = |extra: &[&str]| {
        let mut args = vec![
            "restore".to_string(),
            "--keyspace=ks1".to_string(),
            "--schema".to_string(),
            format!("--ssh-config={}", stack.nodes.ssh_config_path().display()),
            format!("--node-push-binary={}", node_push.display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stack.coordinator(&args)
    };
    let run = timed("restore --schema --mode refresh", || {
        restore(&["--mode=refresh"])
    })?;
    ensure!(run.success(), "restore --schema failed: {}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "cassandra-cli from {}",
            layout::cli_schema_key(BASE, &name, Some("ks1"))
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "placement: replication factor 1 below 3 nodes: the ring has the backup's tokens (old tokens kept)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("schema: keyspace ks1 and table(s) events, users created on node1"),
        "{}",
        run.stderr
    );
    for node in 0..3 {
        assert_eq!(
            stored_rows(&stack, node, "users")?,
            expected("users", USERS),
            "users through node{}",
            node + 1
        );
        assert_eq!(
            stored_rows(&stack, node, "events")?,
            expected("events", EVENTS),
            "events through node{}",
            node + 1
        );
    }
    let comment = stack.nodes.cassandra.cli(0, "describe ks1;\n")?;
    assert!(comment.contains("people; one per row"), "{comment}");

    // Again: the tables exist now, nothing is altered, one line names them.
    let again = restore(&["--mode=refresh"])?;
    assert_eq!(again.code, Some(1), "{}", again.stderr);
    let error: Vec<&str> = again
        .stderr
        .lines()
        .filter(|l| l.contains("already has table"))
        .collect();
    assert_eq!(error.len(), 1, "{}", again.stderr);
    assert!(
        error[0].contains("node1: keyspace ks1 already has table events, users"),
        "{}",
        error[0]
    );
    assert_eq!(stored_rows(&stack, 0, "users")?, expected("users", USERS));
    Ok(())
}
