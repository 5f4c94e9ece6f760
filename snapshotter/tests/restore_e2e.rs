//! End-to-end: `restore`, `verify` and `purge` against a real 3-node Apache Cassandra 1.2 ring reached
//! through real sshd hosts, with backups in a real SeaweedFS S3 gateway.
//!
//! One backup (a snapshot, then an incremental with more rows) is restored four ways: (c) `--until` a time
//! between the two runs gives exactly the snapshot's files (`--mode local`); (a) a truncated table comes
//! back with `--mode refresh`; (b) a node whose data, commitlog and caches are wiped comes back with
//! `--mode in-place` and serves every row again; (d) `verify --deep` passes, then names a damaged object,
//! which also stops its table's refresh without touching the live table; (e) `purge --keep-last 1`
//! keeps the newest complete backup of each selection (the old tool's one-host backup is a selection of
//! its own), removes the older one, an abandoned incomplete one and an open multipart upload.
//!
//! Keyspace ks1 has replication factor 1, so every row lives on exactly one node: reading all rows
//! through a node whose own data was wiped proves its restore.
//!
//! Needs the test stack (`cargo xtask setup`) and both binaries built (`cargo build -p node-push
//! -p cassandra-snapshotter`).

#[allow(dead_code)]
mod e2e;

use anyhow::{ensure, Context, Result};
use bytes::Bytes;
use contract::manifest::ObjectEntry;
use e2e::{ks1_rows as rows, Run, Stack, BASE, BUCKET, KS1_SCHEMA as SCHEMA, STACK_LOCK};
use engine::store::s3::S3Store;
use engine::store::{ObjectStore, PutOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use testkit::cassandra::RING_TOKENS;

/// The keys of `table` that node `node` returns (through Thrift, consistency ONE).
fn row_keys(stack: &Stack, node: usize, table: &str) -> Result<BTreeSet<String>> {
    let out = stack
        .nodes
        .cassandra
        .cli(node, &format!("use ks1;\nlist {table} limit 1000;\n"))?;
    Ok(out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("RowKey: "))
        .map(str::to_string)
        .collect())
}

fn expected(from: usize, to: usize) -> BTreeSet<String> {
    (from..to).map(|i| format!("row{i}")).collect()
}

/// The test's own handles: a private copy of node-push, and an S3 client for damaging an object.
struct Tools {
    node_push: PathBuf,
    _dir: tempfile::TempDir,
    store: S3Store,
    runtime: tokio::runtime::Runtime,
}

impl Tools {
    fn new(stack: &Stack) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let node_push = dir.path().join("node-push");
        fs_err::copy(testkit::workspace_bin("node-push")?, &node_push)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let weed = &stack.weed;
        let store = runtime.block_on(S3Store::connect(weed.s3_config(BUCKET)))?;
        Ok(Tools {
            node_push,
            _dir: dir,
            store,
            runtime,
        })
    }

    /// `restore --keyspace=ks1` with ssh and node-push set up, then `extra`.
    fn restore(&self, stack: &Stack, extra: &[&str]) -> Result<Run> {
        let args = self.restore_args(stack, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stack.coordinator(&args)
    }

    fn restore_args(&self, stack: &Stack, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            "--json".to_string(),
            "restore".into(),
            "--keyspace=ks1".into(),
            format!("--ssh-config={}", stack.nodes.ssh_config_path().display()),
            format!("--node-push-binary={}", self.node_push.display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    /// Flip one byte in the middle of an object, through the S3 API.
    fn damage(&self, key: &str) -> Result<()> {
        let mut bytes = self.runtime.block_on(self.store.get(key, None))?.to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x20;
        self.runtime.block_on(self.store.put_object(
            key,
            Bytes::from(bytes),
            &PutOptions::default(),
        ))?;
        Ok(())
    }

    /// Every key stored under `prefix` but empty folders (SeaweedFS lists those), sorted.
    fn keys_under(&self, prefix: &str) -> Result<BTreeSet<String>> {
        let listing = self.runtime.block_on(self.store.list(prefix, None))?;
        Ok(listing
            .objects
            .into_iter()
            .map(|o| o.key)
            .filter(|k| !k.ends_with('/'))
            .collect())
    }

    fn put(&self, key: &str, body: &'static [u8]) -> Result<()> {
        self.runtime.block_on(self.store.put_object(
            key,
            Bytes::from_static(body),
            &PutOptions::default(),
        ))?;
        Ok(())
    }

    fn put_bytes(&self, key: &str, body: Vec<u8>) -> Result<()> {
        self.runtime.block_on(self.store.put_object(
            key,
            Bytes::from(body),
            &PutOptions::default(),
        ))?;
        Ok(())
    }

    fn start_multipart(&self, key: &str) -> Result<()> {
        self.runtime
            .block_on(self.store.create_multipart(key, &PutOptions::default()))?;
        Ok(())
    }
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs_err::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(dir)?.display().to_string());
            }
        }
    }
    Ok(found)
}

/// Where `--mode local` puts an entry: `<ks>/<table>/<host>_<file>`.
fn local_path(entry: &ObjectEntry) -> String {
    let file = entry.source_path.rsplit('/').next().unwrap();
    format!("ks1/{}/{}_{file}", entry.table, entry.host)
}

fn empty_dir(dir: &Path) -> Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            fs_err::remove_dir_all(&path)?;
        } else {
            fs_err::remove_file(&path)?;
        }
    }
    Ok(())
}

fn timed<T>(what: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = Instant::now();
    let result = work();
    testkit::log!("=== {what}: {:.1} s", start.elapsed().as_secs_f64());
    result
}

#[test]
fn restore_refresh_in_place_until_verify_and_purge() -> Result<()> {
    let _turn = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut stack = timed("stack start", || Stack::start(3, None))?;
    let tools = Tools::new(&stack)?;
    stack.cli(&format!(
        "{SCHEMA}{}{}",
        rows("users", 0, 60),
        rows("events", 0, 30)
    ))?;
    stack.flush_all("ks1")?;

    // A snapshot backup, then more rows and an incremental into it.
    let first = timed("snapshot backup", || stack.backup(&["--keyspaces=ks1"]))?;
    ensure!(first.success(), "first backup failed: {}", first.stderr);
    let name = first.json()?["backup"].as_str().unwrap().to_string();
    let between = chrono::Utc::now();
    // Backup names have a resolution of one second: the incremental must be named after `between`.
    testkit::wait::until(
        "the clock passes the second after the first backup",
        Duration::from_secs(3),
        || chrono::Utc::now().timestamp() > between.timestamp(),
    )?;
    stack.cli(&rows("users", 60, 120))?;
    stack.flush_all("ks1")?;
    let second = timed("incremental backup", || stack.backup(&["--keyspaces=ks1"]))?;
    ensure!(second.success(), "incremental failed: {}", second.stderr);
    assert_eq!(second.json()?["kind"], "incremental");
    let manifest = stack.manifest(&name)?;
    assert_eq!(manifest.batches.len(), 2);
    assert!(
        manifest.batches[0].completed_at <= between && between < manifest.batches[1].completed_at
    );
    let snapshot = stack.batch(&manifest, 0)?;
    let hosts_with_data: BTreeSet<&str> = snapshot.iter().map(|o| o.host.as_str()).collect();
    assert_eq!(hosts_with_data.len(), 3, "every node owns some rows");

    until_restores_exactly_the_snapshot(&stack, &tools, &manifest, &between)?;
    host_map_stages_one_nodes_data_on_another(&stack, &tools, &manifest)?;
    interrupted_stage_leaves_no_partial_file(&stack, &tools)?;
    an_old_tool_backup_restores_and_verifies(&stack, &tools)?;
    refresh_brings_back_a_truncated_table(&stack, &tools)?;
    sstableloader_streams_a_truncated_table(&stack, &tools)?;
    in_place_rebuilds_a_wiped_node(&mut stack, &tools)?;
    verify_finds_a_damaged_object(&stack, &tools, &name)?;
    purge_keeps_the_newest(&stack, &tools, &name)?;
    Ok(())
}

/// `bytes` hash to the digest `entry` records (BLAKE3, or SHA-256 in entries of earlier versions).
fn assert_recorded_digest(entry: &ObjectEntry, bytes: &[u8]) {
    let (algorithm, recorded) =
        engine::digest::Algorithm::of_entry(entry).expect("the entry records a digest");
    let mut hasher = engine::digest::Hasher::new(algorithm);
    hasher.update(bytes);
    assert!(
        engine::digest::same_hex(&hasher.finalize_hex(), recorded),
        "{}: not the {} the entry records",
        entry.key,
        algorithm.name()
    );
}

/// (c) `--until` between the two runs: exactly the snapshot's files, byte for byte.
fn until_restores_exactly_the_snapshot(
    stack: &Stack,
    tools: &Tools,
    manifest: &contract::manifest::Manifest,
    between: &chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let run = timed("restore --mode local --until", || {
        tools.restore(
            stack,
            &[
                "--mode=local",
                &format!("--restore-dir={}", dir.path().display()),
                &format!("--until={}", between.to_rfc3339()),
            ],
        )
    })?;
    ensure!(run.success(), "local restore failed: {}", run.stderr);
    let snapshot = stack.batch(manifest, 0)?;
    let wanted: BTreeSet<String> = snapshot.iter().map(local_path).collect();
    assert_eq!(files_under(dir.path())?, wanted);
    for entry in &snapshot {
        let bytes = fs_err::read(dir.path().join(local_path(entry)))?;
        assert_recorded_digest(entry, &bytes);
    }
    // Without --until the incremental's files come too.
    let all = tempfile::tempdir()?;
    let run = tools.restore(
        stack,
        &[
            "--local",
            &format!("--restore-dir={}", all.path().display()),
        ],
    )?;
    ensure!(run.success(), "{}", run.stderr);
    let incremental: BTreeSet<String> = stack.batch(manifest, 1)?.iter().map(local_path).collect();
    assert!(!incremental.is_empty());
    assert_eq!(files_under(all.path())?, &wanted | &incremental);
    Ok(())
}

/// `--host-map node1=node2 --mode stage`: node1's files, verified, in node2's staging area with
/// Cassandra's names; nothing in node2's live tables changes.
fn host_map_stages_one_nodes_data_on_another(
    stack: &Stack,
    tools: &Tools,
    manifest: &contract::manifest::Manifest,
) -> Result<()> {
    let live = stack.nodes.cassandra.data_dir(1).join("ks1/users");
    let before = files_under(&live)?;
    let run = tools.restore(
        stack,
        &[
            "--mode=stage",
            "--hosts=node1",
            "--host-map=node1=node2",
            "--table=users",
        ],
    )?;
    ensure!(run.success(), "stage failed: {}", run.stderr);
    let report = run.json()?;
    assert_eq!(report["targets"].as_array().unwrap().len(), 1);
    assert_eq!(report["targets"][0]["target"], "node2");
    let staging = stack.nodes.cassandra.data_dir(1).join(format!(
        ".restore-staging/{}/node1/ks1/users",
        manifest.name
    ));
    let node1_users: Vec<ObjectEntry> = stack
        .entries(manifest)?
        .into_iter()
        .filter(|o| o.host == "node1" && o.table == "users")
        .collect();
    let names: BTreeSet<String> = node1_users
        .iter()
        .map(|o| o.source_path.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(files_under(&staging)?, names);
    for entry in node1_users {
        let file = staging.join(entry.source_path.rsplit('/').next().unwrap());
        assert_recorded_digest(&entry, &fs_err::read(&file)?);
    }
    assert_eq!(files_under(&live)?, before);
    fs_err::remove_dir_all(stack.nodes.cassandra.data_dir(1).join(".restore-staging"))?;
    Ok(())
}

/// Ctrl-C during a (rate-limited) staging run: exit 130, node-push stops on every node and removes its
/// unfinished `.part` files.
fn interrupted_stage_leaves_no_partial_file(stack: &Stack, tools: &Tools) -> Result<()> {
    use std::io::BufRead;
    let args = tools.restore_args(stack, &["--mode=stage", "--rate-limit=1"]);
    let mut child = stack.spawn_coordinator(&args)?;
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut seen = String::new();
    let mut restoring = 0;
    for line in lines.by_ref() {
        let line = line?;
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(": restoring ") {
            restoring += 1;
            if restoring == 3 {
                break;
            }
        }
    }
    ensure!(restoring == 3, "the restore never started: {seen}");
    let parts = |node: usize| -> Result<Vec<String>> {
        let staging = stack
            .nodes
            .cassandra
            .data_dir(node)
            .join(".restore-staging");
        Ok(if staging.exists() {
            files_under(&staging)?
                .into_iter()
                .filter(|f| f.ends_with(".part"))
                .collect()
        } else {
            Vec::new()
        })
    };
    let in_flight = || -> Result<usize> { (0..3).map(|n| parts(n).map(|p| p.len())).sum() };
    // Interrupt while files are being written: wait until a `.part` file is there.
    testkit::wait::until(
        "a restored file is being written (.part in .restore-staging)",
        Duration::from_secs(30),
        || in_flight().is_ok_and(|n| n > 0),
    )?;
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    ensure!(status.success());
    let rest: Vec<String> = lines.collect::<Result<_, _>>()?;
    let code = child.wait()?.code();
    testkit::log!("--- interrupted restore\n{seen}{}", rest.join("\n"));
    assert_eq!(code, Some(130));
    testkit::wait::until(
        "node-push ends after the interrupted restore",
        Duration::from_secs(30),
        || matches!(node_push_restoring(), Ok(false)),
    )?;
    for node in 0..3 {
        assert_eq!(parts(node)?, Vec::<String>::new(), "node {node}");
        let staging = stack
            .nodes
            .cassandra
            .data_dir(node)
            .join(".restore-staging");
        if staging.exists() {
            fs_err::remove_dir_all(staging)?;
        }
    }
    Ok(())
}

/// Whether any `node-push restore` runs on this machine (all simulated hosts are local).
fn node_push_restoring() -> Result<bool> {
    let out = std::process::Command::new("pgrep")
        .args(["-f", "node-push-[0-9a-f]+ restore"])
        .output()?;
    Ok(out.status.success())
}

/// The name of the backup [`an_old_tool_backup_restores_and_verifies`] writes the old tool's way.
const LEGACY: &str = "20190101000000";

/// A backup as the old Python tool wrote it (`lzop` objects under `<host>//<path>` keys, the five-field
/// manifest): restored with `--local` byte for byte, and `verify --deep` checks its lzop checksums.
fn an_old_tool_backup_restores_and_verifies(stack: &Stack, tools: &Tools) -> Result<()> {
    let data = stack.nodes.cassandra.data_dir(0);
    let live = data.join("ks1/users");
    let mut originals = Vec::new();
    for entry in fs_err::read_dir(&live)? {
        let path = entry?.path();
        if !path.is_file() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let out = std::process::Command::new("lzop")
            .arg("-c")
            .arg(&path)
            .output()?;
        ensure!(out.status.success(), "lzop {}", path.display());
        let key = format!(
            "{BASE}/{LEGACY}/node1/{}/ks1/users/snapshots/{LEGACY}/{name}.lzo",
            data.display()
        );
        tools.put_bytes(&key, out.stdout)?;
        originals.push((name, fs_err::read(&path)?));
    }
    ensure!(!originals.is_empty(), "node1 has users SSTables");
    let manifest = format!(
        r#"{{"name": "{LEGACY}", "base_path": "{BASE}", "hosts": ["node1"], "keyspaces": ["ks1"], "table": ""}}"#
    );
    tools.put_bytes(
        &format!("{BASE}/{LEGACY}/manifest.json"),
        manifest.into_bytes(),
    )?;

    let dir = tempfile::tempdir()?;
    let run = tools.restore(
        stack,
        &[
            &format!("--snapshot-name={LEGACY}"),
            "--local",
            &format!("--restore-dir={}", dir.path().display()),
        ],
    )?;
    ensure!(run.success(), "old-tool restore failed: {}", run.stderr);
    for (name, bytes) in &originals {
        let restored = fs_err::read(dir.path().join(format!("ks1/users/node1_{name}")))?;
        assert!(restored == *bytes, "{name} differs");
    }
    assert_eq!(files_under(dir.path())?.len(), originals.len());
    let verify = stack.coordinator(&[
        "--json",
        "verify",
        "--deep",
        &format!("--snapshot-name={LEGACY}"),
    ])?;
    ensure!(verify.success(), "{}{}", verify.stdout, verify.stderr);
    let report = verify.json()?;
    assert_eq!(report["legacy"], true);
    assert_eq!(report["hosts"][0]["ok"], originals.len());
    Ok(())
}

/// (a) A truncated table comes back with `--mode refresh`.
fn refresh_brings_back_a_truncated_table(stack: &Stack, tools: &Tools) -> Result<()> {
    assert_eq!(row_keys(stack, 0, "users")?, expected(0, 120));
    stack.cli("use ks1;\ntruncate users;\n")?;
    assert!(row_keys(stack, 0, "users")?.is_empty(), "truncated");
    let run = timed("restore --mode refresh", || {
        tools.restore(stack, &["--mode=refresh", "--table=users"])
    })?;
    ensure!(run.success(), "refresh failed: {}", run.stderr);
    let report = run.json()?;
    for target in report["targets"].as_array().unwrap() {
        assert_eq!(target["tables"][0]["state"], "refreshed", "{target}");
        assert_eq!(target["tables"][0]["table"], "users");
    }
    assert_eq!(report["targets"].as_array().unwrap().len(), 3);
    assert_eq!(row_keys(stack, 0, "users")?, expected(0, 120));
    let one = stack
        .nodes
        .cassandra
        .cli(1, "use ks1;\nget users['row77'];\n")?;
    assert!(one.contains("value=value 77 of users"), "{one}");
    for node in 0..3 {
        let staging = stack
            .nodes
            .cassandra
            .data_dir(node)
            .join(".restore-staging");
        assert!(!staging.exists(), "staging cleaned on node {node}");
    }
    Ok(())
}

/// Java 17 needs these for Cassandra 1.2's NIO and snappy code.
const JAVA17_OPENINGS: &str = "--add-opens java.base/java.lang=ALL-UNNAMED \
--add-exports java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED \
--add-exports java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED \
--add-opens java.base/java.util.concurrent=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED";

/// An `sstableloader` for this ring, as a real install's wrapper around BulkLoader, made from node1's
/// `cassandra-cli` wrapper: same JVM and jar, the ring's Thrift and storage ports.
fn sstableloader_wrapper(stack: &Stack, dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let cassandra = &stack.nodes.cassandra;
    let cli = fs_err::read_to_string(cassandra.bin_dir(0).join("cassandra-cli"))?;
    let ports = cassandra.ports();
    let target = format!(
        "org.apache.cassandra.cli.CliMain -h {} -p {}",
        cassandra.ip(0),
        ports.rpc
    );
    ensure!(
        cli.contains(&target),
        "unexpected cassandra-cli wrapper: {cli}"
    );
    let loader = cli
        .replace(
            &target,
            &format!("org.apache.cassandra.tools.BulkLoader -p {}", ports.rpc),
        )
        .replace(
            " -cp ",
            &format!(
                " {JAVA17_OPENINGS} -Dcassandra.storage_port={} -cp ",
                ports.storage
            ),
        );
    let path = dir.join("sstableloader");
    fs_err::write(&path, loader)?;
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// The old tool's `--target-hosts`: download, then stream each table with the real sstableloader.
fn sstableloader_streams_a_truncated_table(stack: &Stack, tools: &Tools) -> Result<()> {
    assert_eq!(row_keys(stack, 0, "events")?, expected(0, 30));
    stack.cli("use ks1;\ntruncate events;\n")?;
    assert!(row_keys(stack, 0, "events")?.is_empty(), "truncated");
    let bin = tempfile::tempdir()?;
    sstableloader_wrapper(stack, bin.path())?;
    let dir = tempfile::tempdir()?;
    let run = timed("restore --target-hosts (sstableloader)", || {
        tools.restore(
            stack,
            &[
                "--table=events",
                "--target-hosts=127.0.0.2",
                &format!("--cassandra-bin-dir={}", bin.path().display()),
                &format!("--restore-dir={}", dir.path().display()),
            ],
        )
    })?;
    ensure!(
        run.success(),
        "sstableloader restore failed: {}{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(run.json()?["targets"][0]["tables"][0]["state"], "loaded");
    assert_eq!(row_keys(stack, 0, "events")?, expected(0, 30));

    // A loader that cannot reach its target fails the table and the run.
    let nowhere = tools.restore(
        stack,
        &[
            "--table=events",
            "--target-hosts=127.0.0.9",
            &format!("--cassandra-bin-dir={}", bin.path().display()),
            &format!("--restore-dir={}", dir.path().display()),
        ],
    )?;
    assert_eq!(nowhere.code, Some(1), "{}", nowhere.stderr);
    let table = &nowhere.json()?["targets"][0]["tables"][0];
    assert_eq!(table["state"], "failed");
    assert!(
        table["error"]
            .as_str()
            .unwrap()
            .contains("sstableloader for"),
        "{table}"
    );
    Ok(())
}

/// (b) A node that lost its data, commitlog and caches comes back with `--mode in-place`.
fn in_place_rebuilds_a_wiped_node(stack: &mut Stack, tools: &Tools) -> Result<()> {
    // Refused while Cassandra runs: nodetool answers; and with a nodetool that cannot answer, the
    // process that holds the node's files is found.
    let running = tools.restore(stack, &["--mode=in-place", "--hosts=node3"])?;
    assert_eq!(running.code, Some(1), "{}", running.stderr);
    assert!(
        running.stderr.contains("node3: Cassandra is running"),
        "{}",
        running.stderr
    );
    let hidden = tools.restore(
        stack,
        &[
            "--mode=in-place",
            "--hosts=node3",
            "--nodetool-path=/bin/false",
        ],
    )?;
    assert_eq!(hidden.code, Some(1), "{}", hidden.stderr);
    assert!(
        hidden.stderr.contains("node3: Cassandra (process")
            && hidden.stderr.contains("is still running"),
        "{}",
        hidden.stderr
    );

    stack.nodes.cassandra.stop_node(2);
    let node = stack.nodes.cassandra.node(2);
    for dir in [
        node.data_dir(),
        node.commitlog_dir(),
        node.saved_caches_dir(),
    ] {
        empty_dir(&dir)?;
    }
    let run = timed("restore --mode in-place", || {
        tools.restore(stack, &["--mode=in-place", "--hosts=node3"])
    })?;
    ensure!(run.success(), "in-place failed: {}", run.stderr);
    let report = run.json()?;
    let target = &report["targets"][0];
    assert_eq!(target["target"], "node3");
    let states: BTreeSet<&str> = target["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, BTreeSet::from(["moved"]), "{target}");
    assert_eq!(target["tokens"][0]["address"], "127.0.0.4");
    assert_eq!(target["tokens"][0]["tokens"][0], RING_TOKENS[2]);
    assert!(run
        .stderr
        .contains(&format!("initial_token: {}", RING_TOKENS[2])));
    assert!(stack.nodes.cassandra.data_dir(2).join("ks1/users").is_dir());

    timed("node3 start", || stack.nodes.cassandra.start_node(2))?;
    // The schema reaches the wiped node by gossip; then every row is served through it.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let users = row_keys(stack, 2, "users");
        let events = row_keys(stack, 2, "events");
        let last = match (users, events) {
            (Ok(u), Ok(e)) if u == expected(0, 120) && e == expected(0, 30) => break,
            (u, e) => format!(
                "users: {:?}, events: {:?}",
                u.map(|s| s.len()),
                e.map(|s| s.len())
            ),
        };
        ensure!(
            Instant::now() < deadline,
            "node3 does not serve every row: {last}"
        );
        // A poll, every 3 s: each check is two Thrift queries to the ring.
        std::thread::sleep(Duration::from_secs(3));
    }
    Ok(())
}

/// (d) `verify --deep` passes; a damaged object is named, fails verify, and stops its table's refresh.
fn verify_finds_a_damaged_object(stack: &Stack, tools: &Tools, name: &str) -> Result<()> {
    let deep = timed("verify --deep", || {
        stack.coordinator(&[
            "--json",
            "verify",
            "--deep",
            &format!("--snapshot-name={name}"),
        ])
    })?;
    ensure!(
        deep.success(),
        "verify --deep failed: {}{}",
        deep.stdout,
        deep.stderr
    );
    let report = deep.json()?;
    assert_eq!(report["ok"], true);
    assert_eq!(report["hosts"].as_array().unwrap().len(), 3);

    let manifest = stack.manifest(name)?;
    let victim = stack
        .entries(&manifest)?
        .into_iter()
        .find(|o| o.host == "node1" && o.table == "events" && o.source_path.ends_with("-Data.db"))
        .context("node1 has an events data file")?;
    tools.damage(&victim.key)?;
    let bad = stack.coordinator(&["--json", "verify", "--deep"])?;
    assert_eq!(bad.code, Some(1), "{}", bad.stderr);
    let report = bad.json()?;
    assert_eq!(report["ok"], false);
    assert_eq!(report["bad"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["bad"][0]["key"], victim.key.as_str());
    assert!(bad.stderr.contains(&victim.key), "{}", bad.stderr);
    let shallow = stack.coordinator(&["verify"])?;
    assert_eq!(shallow.code, Some(1), "the ETag changed too");
    assert!(shallow.stdout.contains(&victim.key), "{}", shallow.stdout);

    // Refreshing that table stops with the key named, and the live table is untouched.
    let live = stack.nodes.cassandra.data_dir(0).join("ks1/events");
    let before = files_under(&live)?;
    let run = tools.restore(
        stack,
        &["--mode=refresh", "--hosts=node1", "--table=events"],
    )?;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains(&victim.key), "{}", run.stderr);
    assert_eq!(files_under(&live)?, before);
    let staging = stack.nodes.cassandra.data_dir(0).join(".restore-staging");
    let staged = if staging.exists() {
        files_under(&staging)?
    } else {
        BTreeSet::new()
    };
    assert!(
        staged.iter().all(|f| !f.ends_with(".part")
            && !f.ends_with(victim.source_path.rsplit('/').next().unwrap())),
        "{staged:?}"
    );
    Ok(())
}

/// (e) `purge --keep-last 1` leaves the newest complete backup of each selection: the newest of the
/// whole ring's and [`LEGACY`] (node1 only); the objects of the old backup the newest (a differential
/// snapshot) references stay, and the newest still verifies.
fn purge_keeps_the_newest(stack: &Stack, tools: &Tools, old: &str) -> Result<()> {
    let newer = stack.backup(&["--keyspaces=ks1", "--new-snapshot"])?;
    ensure!(newer.success(), "{}", newer.stderr);
    let newest = newer.json()?["backup"].as_str().unwrap().to_string();
    let abandoned = "20200101000000";
    tools.put(
        &format!("{BASE}/{abandoned}/node1/var/lib/cassandra/data/ks1/users/backups/ks1-users-ia-9-Data.db.lzo"),
        b"leftover of a killed run",
    )?;
    tools.start_multipart(&format!(
        "{BASE}/{abandoned}/node1/var/lib/x/ks1/users/backups/big.lzo"
    ))?;
    let before = stack.backup_names()?;
    assert_eq!(
        before,
        [
            LEGACY.to_string(),
            abandoned.to_string(),
            old.to_string(),
            newest.clone()
        ]
    );

    let dry = stack.coordinator(&["purge", "--keep-last=1", "--dry-run"])?;
    ensure!(dry.success(), "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains(&format!("{old}  complete    would remove")),
        "{}",
        dry.stdout
    );
    assert_eq!(stack.backup_names()?, before, "a dry run removes nothing");
    assert_eq!(stack.open_multipart_uploads()?, 1);

    // The behaviour under test: the open upload must be older than `--abandoned-after=1s`.
    std::thread::sleep(Duration::from_secs(2));
    let purge = timed("purge", || {
        stack.coordinator(&["--json", "purge", "--keep-last=1", "--abandoned-after=1s"])
    })?;
    ensure!(
        purge.success(),
        "purge failed: {}{}",
        purge.stdout,
        purge.stderr
    );
    assert_eq!(purge.json()?["uploads_aborted"], 1);
    assert_eq!(stack.open_multipart_uploads()?, 0);
    // The newest is a differential snapshot: what it references under the old backup's prefix stays
    // there, beside purge's marker, and nothing else of it.
    let old_prefix = contract::layout::backup_prefix(BASE, old);
    let referenced: BTreeSet<String> = stack
        .entries(&stack.manifest(&newest)?)?
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.starts_with(&old_prefix))
        .collect();
    testkit::log!(
        "{newest} references {} object(s) of {old}: purge keeps them",
        referenced.len()
    );
    if referenced.is_empty() {
        assert_eq!(stack.backup_names()?, [LEGACY.to_string(), newest.clone()]);
    } else {
        let marker = contract::layout::purged_marker_key(BASE, old);
        let mut left = tools.keys_under(&old_prefix)?;
        assert!(left.remove(&marker), "{marker} is written: {left:?}");
        assert_eq!(left, referenced);
        let removed = purge.json()?["removed"].clone();
        let old_removed = removed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == old)
            .cloned()
            .context("old was removed")?;
        assert_eq!(
            old_removed["shared_kept"],
            referenced.len(),
            "{old_removed}"
        );
        assert_eq!(old_removed["kept_for"][0], newest.as_str(), "{old_removed}");
    }
    let verify = stack.coordinator(&["--json", "verify", &format!("--snapshot-name={newest}")])?;
    ensure!(verify.success(), "{}{}", verify.stdout, verify.stderr);
    let listed = stack.coordinator(&["list", "--json"])?;
    let entries = listed.json()?;
    let complete: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["complete"] == true)
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(complete, [newest.as_str(), LEGACY]);
    Ok(())
}

/// A node whose data only root may read: restore needs `--use-sudo` (and says so), and with it a
/// truncated table comes back through `--mode refresh`.
#[test]
fn refresh_on_a_node_that_needs_sudo() -> Result<()> {
    let _turn = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let stack = Stack::start(1, Some("cs-e2e-sudo"))?;
    let tools = Tools::new(&stack)?;
    stack.cli(&format!("{SCHEMA}{}", rows("users", 0, 25)))?;
    stack.flush_all("ks1")?;
    let backup = stack.backup(&["--keyspaces=ks1", "--use-sudo"])?;
    ensure!(backup.success(), "{}", backup.stderr);
    stack.cli("use ks1;\ntruncate users;\n")?;
    assert!(row_keys(&stack, 0, "users")?.is_empty());

    let without = tools.restore(&stack, &["--mode=refresh", "--table=users"])?;
    assert_eq!(without.code, Some(1), "{}", without.stderr);
    assert!(
        without.stderr.contains("node1: data directory") && without.stderr.contains("--use-sudo"),
        "{}",
        without.stderr
    );
    let with = tools.restore(&stack, &["--mode=refresh", "--table=users", "--use-sudo"])?;
    ensure!(with.success(), "{}", with.stderr);
    assert_eq!(row_keys(&stack, 0, "users")?, expected(0, 25));
    Ok(())
}
