//! Helpers of the workflow tests (issue 9): one real ring shared by several operator workflows, each in its
//! own keyspace and under its own `--s3-base-path`, with every coordinator run going through a fault proxy
//! in front of SeaweedFS. The proxy logs every request, so a test can prove that no request wrote to a
//! committed object, and inject a fault on the manifest write.
#![allow(dead_code)] // the other e2e binaries compile this module too

use super::{Run, Stack, BUCKET};
use anyhow::{bail, ensure, Context, Result};
use contract::layout;
use contract::manifest::{Manifest, ObjectEntry};
use engine::store::s3::S3Store;
use engine::store::{ObjectMeta, ObjectStore};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::fault_proxy::{Exchange, FaultProxy};
use testkit::run::finish;

/// No coordinator run of these tests takes nearly this long; one that does is killed and fails.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// The shared ring, a proxy in front of its store, and a direct S3 view of what was stored.
pub struct Ring {
    pub stack: Stack,
    pub proxy: FaultProxy,
    store: S3Store,
    runtime: tokio::runtime::Runtime,
    node_push: PathBuf,
    _bin_dir: tempfile::TempDir,
}

impl Ring {
    pub fn start() -> Result<Ring> {
        let stack = Stack::start(3, None)?;
        let proxy = FaultProxy::start(&stack.weed.endpoint)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let weed = &stack.weed;
        let store = runtime.block_on(S3Store::connect(weed.s3_config(BUCKET)))?;
        let bin_dir = tempfile::tempdir()?;
        let node_push = bin_dir.path().join("node-push");
        fs_err::copy(testkit::workspace_bin("node-push")?, &node_push)?;
        Ok(Ring {
            stack,
            proxy,
            store,
            runtime,
            node_push,
            _bin_dir: bin_dir,
        })
    }

    pub fn hosts(&self) -> Vec<String> {
        self.stack.hosts()
    }

    /// Where node-push is installed on the nodes: private to this test, so no other run's copy is used.
    fn remote_node_push(&self) -> PathBuf {
        self._bin_dir.path().join("remote").join("node-push")
    }

    /// The coordinator with the store reached through the proxy, under base path `base`, then `args`.
    pub fn coordinator(&self, base: &str, args: &[String]) -> Result<Run> {
        let weed = &self.stack.weed;
        let child = Command::new(env!("CARGO_BIN_EXE_cassandra-snapshotter"))
            .args(["--s3-bucket-name", BUCKET, "--s3-base-path", base])
            .args(["--s3-endpoint", &self.proxy.endpoint])
            .args(["--s3-bucket-region", weed.region()])
            .args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .envs(weed.aws_env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run cassandra-snapshotter")?;
        let started = Instant::now();
        let run = finish(child, RUN_LIMIT)?;
        testkit::log!(
            "--- cassandra-snapshotter --s3-base-path {base} {} (exit {:?}, {:.1} s)\n{}",
            args.join(" "),
            run.code,
            started.elapsed().as_secs_f64(),
            run.stderr
        );
        Ok(run)
    }

    /// `--json backup` of every host under `base`, then `extra`.
    pub fn backup(&self, base: &str, extra: &[&str]) -> Result<Run> {
        let mut args = vec![
            "--json".to_string(),
            "backup".to_string(),
            format!("--hosts={}", self.hosts().join(",")),
            format!(
                "--ssh-config={}",
                self.stack.nodes.ssh_config_path().display()
            ),
            format!("--node-push-binary={}", self.node_push.display()),
            format!("--node-push-path={}", self.remote_node_push().display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        self.coordinator(base, &args)
    }

    /// A backup that must succeed: its report.
    pub fn backup_ok(&self, base: &str, extra: &[&str]) -> Result<serde_json::Value> {
        let run = self.backup(base, extra)?;
        ensure!(
            run.success(),
            "backup {extra:?} under {base} failed: {}",
            run.stderr
        );
        let report = run.json()?;
        ensure!(report["complete"] == true, "incomplete: {report}");
        Ok(report)
    }

    /// `--json restore --keyspace KS` under `base`, then `extra`; it must succeed.
    pub fn restore_ok(&self, base: &str, keyspace: &str, extra: &[&str]) -> Result<Run> {
        let mut args = vec![
            "--json".to_string(),
            "restore".to_string(),
            format!("--keyspace={keyspace}"),
            format!(
                "--ssh-config={}",
                self.stack.nodes.ssh_config_path().display()
            ),
            format!("--node-push-binary={}", self.node_push.display()),
            format!("--node-push-path={}", self.remote_node_push().display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let run = self.coordinator(base, &args)?;
        ensure!(
            run.success(),
            "restore {extra:?} of {keyspace} under {base} failed: {}{}",
            run.stdout,
            run.stderr
        );
        Ok(run)
    }

    /// `verify --snapshot-name NAME` (with `--deep` when asked) under `base`.
    pub fn verify(&self, base: &str, name: &str, deep: bool) -> Result<Run> {
        let mut args = vec![
            "--json".to_string(),
            "verify".to_string(),
            format!("--snapshot-name={name}"),
        ];
        if deep {
            args.push("--deep".to_string());
        }
        self.coordinator(base, &args)
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        Ok(self.runtime.block_on(self.store.get(key, None))?.to_vec())
    }

    pub fn manifest(&self, base: &str, name: &str) -> Result<Manifest> {
        let key = layout::manifest_key(base, name);
        Ok(Manifest::from_json(&key, &self.get(&key)?)?)
    }

    /// Every record of backup `name` of `base`, all hosts and batches.
    pub fn all_entries(&self, base: &str, name: &str) -> Result<Vec<ObjectEntry>> {
        self.entries(&self.manifest(base, name)?)
    }

    /// Every record of `manifest`'s backup.
    pub fn entries(&self, manifest: &Manifest) -> Result<Vec<ObjectEntry>> {
        super::records_of(&self.runtime, &self.store, manifest, None)
    }

    /// The records of `manifest`'s batch `batch`.
    pub fn batch(&self, manifest: &Manifest, batch: usize) -> Result<Vec<ObjectEntry>> {
        super::records_of(&self.runtime, &self.store, manifest, Some(batch))
    }

    /// Every object stored under `prefix`, by key (read directly, not through the proxy).
    pub fn objects(&self, prefix: &str) -> Result<BTreeMap<String, ObjectMeta>> {
        let listing = self.runtime.block_on(self.store.list(prefix, None))?;
        Ok(listing
            .objects
            .into_iter()
            .map(|o| (o.key.clone(), o))
            .collect())
    }

    /// The data objects (`.lzo`, not records documents) stored under backup `name` of `base`.
    pub fn data_objects(&self, base: &str, name: &str) -> Result<BTreeMap<String, ObjectMeta>> {
        let mut objects = self.objects(&layout::backup_prefix(base, name))?;
        objects.retain(|key, _| key.ends_with(".lzo") && !layout::is_records_key(base, name, key));
        Ok(objects)
    }

    /// Requests the proxy saw since the last [`FaultProxy::clear_requests`].
    pub fn requests(&self) -> Vec<Exchange> {
        self.proxy.requests()
    }

    /// A Thrift CLI script on node 1; its output.
    pub fn cli(&self, script: &str) -> Result<String> {
        let started = Instant::now();
        let out = self.stack.nodes.cassandra.cli(0, script);
        let first = script.lines().nth(1).unwrap_or_default();
        testkit::log!(
            "--- cassandra-cli ({first} ...): {:.1} s",
            started.elapsed().as_secs_f64()
        );
        out
    }

    /// `nodetool flush KS` on every node at once, waiting for the backups/ links.
    pub fn flush(&self, keyspace: &str) -> Result<()> {
        let started = Instant::now();
        let cassandra = &self.stack.nodes.cassandra;
        std::thread::scope(|scope| {
            let flushes: Vec<_> = (0..cassandra.len())
                .map(|node| scope.spawn(move || cassandra.flush(node, keyspace)))
                .collect();
            flushes
                .into_iter()
                .try_for_each(|f| f.join().map_err(|_| anyhow::anyhow!("flush panicked"))?)
        })?;
        testkit::log!(
            "--- flush {keyspace}: {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Stops minor compactions of `keyspace.table` on every running node: a compaction's output is never
    /// linked into `backups/`, and the flushes of these tests wait for the links of every new file.
    pub fn no_compactions(&self, keyspace: &str, table: &str) -> Result<()> {
        let cassandra = &self.stack.nodes.cassandra;
        for node in 0..cassandra.len() {
            if cassandra.node(node).is_running() {
                cassandra.nodetool(node, &["setcompactionthreshold", keyspace, table, "0", "0"])?;
            }
        }
        Ok(())
    }

    /// The rows of `keyspace.table` must be exactly `want`; otherwise the error names the missing and
    /// unexpected rows, where the first missing one lives and the SSTables of that node's table dir.
    pub fn check_table(
        &self,
        what: &str,
        keyspace: &str,
        table: &str,
        want: &BTreeSet<String>,
    ) -> Result<()> {
        let got = self.row_keys(keyspace, table)?;
        let Err(error) = check_rows(what, &got, want) else {
            return Ok(());
        };
        let Some(first) = want.difference(&got).next() else {
            return Err(error);
        };
        let cassandra = &self.stack.nodes.cassandra;
        let owner = cassandra
            .nodetool(0, &["getendpoints", keyspace, table, first])
            .unwrap_or_default();
        let owner = owner.trim();
        let node = (0..cassandra.len()).find(|&n| cassandra.ip(n).to_string() == owner);
        let files = match node {
            Some(n) => files_in(&self.table_dir(n, keyspace, table))?
                .into_iter()
                .collect::<Vec<_>>()
                .join(" "),
            None => String::new(),
        };
        Err(error.context(format!(
            "{first} lives on {owner} (node index {node:?}), whose {keyspace}/{table} holds: {files}"
        )))
    }

    /// Checks that `keyspace.table` holds exactly `live` (what was written: the restore that follows is
    /// compared with it), truncates it and checks that it is empty: one CLI run.
    pub fn truncate(&self, keyspace: &str, table: &str, live: &BTreeSet<String>) -> Result<()> {
        let list = format!("list {table} limit 100000;\n");
        let out = self.cli(&format!("use {keyspace};\n{list}truncate {table};\n{list}"))?;
        let (before, after) = out
            .split_once(" Returned.")
            .with_context(|| format!("no row count in the CLI's answer: {out}"))?;
        check_rows(
            &format!("{keyspace}.{table} before the truncate"),
            &row_keys_in(before),
            live,
        )?;
        let left = row_keys_in(after);
        ensure!(
            left.is_empty(),
            "{keyspace}.{table} still has {} rows after truncate",
            left.len()
        );
        Ok(())
    }

    /// Truncates `keyspace.table`, whatever it holds, and checks that it is empty afterwards.
    pub fn truncate_any(&self, keyspace: &str, table: &str) -> Result<()> {
        let out = self.cli(&format!(
            "use {keyspace};\ntruncate {table};\nlist {table} limit 100000;\n"
        ))?;
        let left = row_keys_in(&out);
        ensure!(
            left.is_empty(),
            "{keyspace}.{table} still has {} rows after truncate",
            left.len()
        );
        Ok(())
    }

    /// The row keys of `table` the ring returns through node 1 (Thrift, consistency ONE).
    pub fn row_keys(&self, keyspace: &str, table: &str) -> Result<BTreeSet<String>> {
        let out = self.cli(&format!("use {keyspace};\nlist {table} limit 100000;\n"))?;
        Ok(row_keys_in(&out))
    }

    /// The directory of `keyspace.table` on node `node` (Cassandra 1.2: `<data>/<ks>/<table>`).
    pub fn table_dir(&self, node: usize, keyspace: &str, table: &str) -> PathBuf {
        self.stack
            .nodes
            .cassandra
            .data_dir(node)
            .join(keyspace)
            .join(table)
    }

    /// Names of the files in `backups/` of `keyspace.table` on `node`.
    pub fn backups_files(
        &self,
        node: usize,
        keyspace: &str,
        table: &str,
    ) -> Result<BTreeSet<String>> {
        files_in(&self.table_dir(node, keyspace, table).join("backups"))
    }
}

/// The row keys a CLI `list` or `get ... where` printed.
pub fn row_keys_in(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("RowKey: "))
        .map(str::to_string)
        .collect()
}

/// Names of the plain files directly in `dir` (none when it does not exist).
pub fn files_in(dir: &Path) -> Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            found.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(found)
}

/// A CLI script writing rows `from..to` of `keyspace.table` (`row<i>`, one column `value`).
pub fn rows_script(keyspace: &str, table: &str, from: usize, to: usize) -> String {
    let mut script = format!("use {keyspace};\n");
    for i in from..to {
        script.push_str(&format!(
            "set {table}['row{i}']['value'] = 'value {i} of {table}, with some text to make it longer';\n"
        ));
    }
    script
}

/// `row<from>` .. `row<to - 1>`.
pub fn expected_rows(from: usize, to: usize) -> BTreeSet<String> {
    (from..to).map(|i| format!("row{i}")).collect()
}

/// Asserts two row sets are equal, naming what is missing and what is extra.
pub fn check_rows(what: &str, got: &BTreeSet<String>, want: &BTreeSet<String>) -> Result<()> {
    if got == want {
        return Ok(());
    }
    let missing: Vec<&String> = want.difference(got).collect();
    let extra: Vec<&String> = got.difference(want).collect();
    bail!(
        "{what}: {} rows instead of {}; missing {}: {missing:?}; unexpected {}: {extra:?}",
        got.len(),
        want.len(),
        missing.len(),
        extra.len()
    )
}

/// The file name of an entry's source path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Every manifest entry's object is stored with the size and ETag the entry says (under this backup, or
/// under the backup a differential snapshot references), and no two entries share a key.
pub fn check_stored(ring: &Ring, base: &str, manifest: &Manifest) -> Result<()> {
    let stored = ring.objects(&layout::base_prefix(base))?;
    let entries = ring.entries(manifest)?;
    let mut keys = BTreeSet::new();
    for entry in &entries {
        ensure!(
            keys.insert(entry.key.as_str()),
            "{}: two manifest entries share the key {}",
            manifest.name,
            entry.key
        );
        let meta = stored
            .get(&entry.key)
            .with_context(|| format!("{} is in the manifest but not stored", entry.key))?;
        ensure!(
            (meta.size, meta.etag.as_str()) == (entry.compressed_size, entry.etag.as_str()),
            "{}: stored size {} ETag {}, the manifest says {} {}",
            entry.key,
            meta.size,
            meta.etag,
            entry.compressed_size,
            entry.etag
        );
    }
    Ok(())
}
