//! The stack of the end-to-end tests: SeaweedFS with one bucket, a Cassandra ring whose nodes are ssh
//! hosts, an S3 client to look at what the coordinator stored, and a runner for the coordinator itself.

pub mod workflows;

use anyhow::{bail, Context, Result};
use contract::layout;
use contract::manifest::{Manifest, ObjectEntry};
use engine::store::s3::S3Store;
use engine::store::ObjectStore;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use testkit::fixture::{NodeFixture, NodeFixtureOptions};
use testkit::seaweed::SeaweedFs;
use testkit::sshd::LoginUser;

/// The rings of these tests all bind 127.0.0.2-4: one at a time.
pub static STACK_LOCK: Mutex<()> = Mutex::new(());

/// A bucket name with dots, as many real ones have.
pub const BUCKET: &str = "e2e.backups";
pub const BASE: &str = "e2e";

#[allow(unused_imports)] // each test binary uses a different subset
pub use testkit::run::Run;

/// Keyspace ks1 with the tables `users` and `events`, as a Thrift CLI script.
pub const KS1_SCHEMA: &str = "\
create keyspace ks1 with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:1};
use ks1;
create column family users with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
create column family events with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
";

/// A Thrift CLI script setting `row<i>` of `ks1.<table>` for `i` in `from..to`.
pub fn ks1_rows(table: &str, from: usize, to: usize) -> String {
    let mut script = String::from("use ks1;\n");
    for i in from..to {
        script.push_str(&format!(
            "set {table}['row{i}']['value'] = 'value {i} of {table}';\n"
        ));
    }
    script
}

/// The records of `manifest`'s backup, whatever its format, host by host in its `--hosts` order: those
/// of batch `batch` only, or of every batch (`None`). The one way these tests read what a backup lists.
pub fn records_of(
    runtime: &tokio::runtime::Runtime,
    store: &dyn ObjectStore,
    manifest: &Manifest,
    batch: Option<usize>,
) -> Result<Vec<ObjectEntry>> {
    let batches: Vec<&contract::manifest::Batch> = match batch {
        None => manifest.batches.iter().collect(),
        Some(index) => vec![manifest.batches.get(index).with_context(|| {
            format!(
                "{} has {} batches, not {}",
                manifest.name,
                manifest.batches.len(),
                index + 1
            )
        })?],
    };
    let mut entries = Vec::new();
    for batch in batches {
        for host in &manifest.hosts {
            runtime.block_on(engine::records::for_each_in_batch(
                store,
                manifest,
                batch,
                host,
                |e| entries.push(e),
            ))?;
        }
    }
    Ok(entries)
}

pub struct Stack {
    // Field order is drop order: the nodes stop before the store they wrote to.
    pub nodes: NodeFixture,
    pub weed: SeaweedFs,
    store: S3Store,
    runtime: tokio::runtime::Runtime,
    /// A private copy of node-push: a concurrent `cargo build` relinking the workspace's copy cannot
    /// pull it away mid-test.
    node_push: PathBuf,
    _bin_dir: tempfile::TempDir,
}

impl Stack {
    pub fn start(nodes: usize, sudo_user: Option<&str>) -> Result<Self> {
        let weed = SeaweedFs::start()?;
        weed.create_bucket(BUCKET)?;
        let mut options = NodeFixtureOptions::new(nodes);
        if let Some(user) = sudo_user {
            options.login = LoginUser::SudoUser(user.to_string());
        }
        let nodes = NodeFixture::start_with(options)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let store = runtime.block_on(S3Store::connect(weed.s3_config(BUCKET)))?;
        let bin_dir = tempfile::tempdir()?;
        let node_push = bin_dir.path().join("node-push");
        fs_err::copy(testkit::workspace_bin("node-push")?, &node_push)?;
        Ok(Stack {
            nodes,
            weed,
            store,
            runtime,
            node_push,
            _bin_dir: bin_dir,
        })
    }

    pub fn hosts(&self) -> Vec<String> {
        self.nodes.aliases()
    }

    /// A Thrift CLI script on node 1.
    pub fn cli(&self, script: &str) -> Result<()> {
        self.nodes.cassandra.cli(0, script).map(drop)
    }

    /// `nodetool flush KS` on every node, waiting for the backups/ links.
    pub fn flush_all(&self, keyspace: &str) -> Result<()> {
        for node in 0..self.nodes.cassandra.len() {
            self.nodes.cassandra.flush(node, keyspace)?;
        }
        Ok(())
    }

    /// The coordinator with the store's flags (global flags first, as the old tool wants them) and `args`.
    pub fn coordinator(&self, args: &[&str]) -> Result<Run> {
        let output = Command::new(env!("CARGO_BIN_EXE_cassandra-snapshotter"))
            .args(["--s3-bucket-name", BUCKET, "--s3-base-path", BASE])
            .args([
                "--s3-endpoint",
                &self.weed.endpoint,
                "--s3-bucket-region",
                self.weed.region(),
            ])
            .args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .envs(self.weed.aws_env())
            .stdin(Stdio::null())
            .output()
            .context("cannot run cassandra-snapshotter")?;
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        testkit::log!(
            "--- cassandra-snapshotter {}\n{}",
            args.join(" "),
            run.stderr
        );
        Ok(run)
    }

    /// The coordinator as a child process (stderr piped), for tests that interrupt it.
    pub fn spawn_coordinator(&self, args: &[String]) -> Result<std::process::Child> {
        Command::new(env!("CARGO_BIN_EXE_cassandra-snapshotter"))
            .args(["--s3-bucket-name", BUCKET, "--s3-base-path", BASE])
            .args([
                "--s3-endpoint",
                &self.weed.endpoint,
                "--s3-bucket-region",
                self.weed.region(),
            ])
            .args(args)
            .env_remove("AWS_PROFILE")
            .envs(self.weed.aws_env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run cassandra-snapshotter")
    }

    /// The arguments of a backup of all hosts, then `extra`.
    pub fn backup_args(&self, extra: &[&str]) -> Result<Vec<String>> {
        let node_push = &self.node_push;
        let mut args = vec![
            "--json".to_string(),
            "backup".to_string(),
            format!("--hosts={}", self.hosts().join(",")),
            format!("--ssh-config={}", self.nodes.ssh_config_path().display()),
            format!("--node-push-binary={}", node_push.display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        Ok(args)
    }

    /// Multipart uploads left open under the base path.
    pub fn open_multipart_uploads(&self) -> Result<usize> {
        let prefix = layout::base_prefix(BASE);
        Ok(self
            .runtime
            .block_on(self.store.list_multipart_uploads(&prefix))?
            .len())
    }

    /// `--json backup --hosts node1,... --ssh-config ... EXTRA`.
    pub fn backup(&self, extra: &[&str]) -> Result<Run> {
        let args = self.backup_args(extra)?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.coordinator(&args)
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        Ok(self.runtime.block_on(self.store.get(key, None))?.to_vec())
    }

    pub fn manifest(&self, name: &str) -> Result<Manifest> {
        let key = layout::manifest_key(BASE, name);
        Ok(Manifest::from_json(&key, &self.get(&key)?)?)
    }

    /// Every record of `manifest`'s backup (see [`records_of`]).
    pub fn entries(&self, manifest: &Manifest) -> Result<Vec<ObjectEntry>> {
        records_of(&self.runtime, &self.store, manifest, None)
    }

    /// The records of `manifest`'s batch `batch`.
    pub fn batch(&self, manifest: &Manifest, batch: usize) -> Result<Vec<ObjectEntry>> {
        records_of(&self.runtime, &self.store, manifest, Some(batch))
    }

    pub fn ring(&self, name: &str) -> Result<String> {
        Ok(String::from_utf8(self.get(&layout::ring_key(BASE, name))?)?)
    }

    pub fn object_size(&self, key: &str) -> Result<Option<u64>> {
        Ok(self
            .runtime
            .block_on(self.store.head(key))?
            .map(|meta| meta.size))
    }

    pub fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.object_size(key)?.is_some())
    }

    /// Backup names under the base path, sorted.
    pub fn backup_names(&self) -> Result<Vec<String>> {
        let prefix = layout::base_prefix(BASE);
        let listing = self.runtime.block_on(self.store.list(&prefix, Some("/")))?;
        let mut names: Vec<String> = listing
            .common_prefixes
            .iter()
            .map(|p| {
                p.trim_start_matches(&prefix)
                    .trim_end_matches('/')
                    .to_string()
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// Download `entry`'s object, decompress it with the real `lzop`, and compare with the manifest.
    pub fn check_lzop_restores(&self, entry: &ObjectEntry) -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("object.lzo");
        fs_err::write(&file, self.get(&entry.key)?)?;
        let out = Command::new("lzop").arg("-dc").arg(&file).output()?;
        if !out.status.success() {
            bail!(
                "lzop -dc {}: {}",
                entry.key,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(out.stdout.len() as u64, entry.size, "{}", entry.key);
        let (algorithm, recorded) =
            engine::digest::Algorithm::of_entry(entry).context("the entry records no digest")?;
        let mut hasher = engine::digest::Hasher::new(algorithm);
        hasher.update(&out.stdout);
        assert!(
            engine::digest::same_hex(&hasher.finalize_hex(), recorded),
            "{}: not the {} the entry records",
            entry.key,
            algorithm.name()
        );
        Ok(())
    }

    fn table_dirs(&self, node: usize, keyspace: &str) -> Result<Vec<PathBuf>> {
        let dir = self.nodes.cassandra.data_dir(node).join(keyspace);
        let mut dirs = Vec::new();
        for entry in fs_err::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            }
        }
        Ok(dirs)
    }

    /// Every `snapshots/<tag>` dir of `keyspace` on `node`.
    pub fn snapshot_dirs(&self, node: usize, keyspace: &str) -> Result<Vec<PathBuf>> {
        let mut found = Vec::new();
        for table in self.table_dirs(node, keyspace)? {
            let snapshots = table.join("snapshots");
            if snapshots.is_dir() {
                for entry in fs_err::read_dir(&snapshots)? {
                    found.push(entry?.path());
                }
            }
        }
        Ok(found)
    }

    /// Names of the files in the `backups/` dirs of `keyspace` on `node`.
    pub fn backups_files(&self, node: usize, keyspace: &str) -> Result<BTreeSet<String>> {
        let mut found = BTreeSet::new();
        for table in self.table_dirs(node, keyspace)? {
            let backups = table.join("backups");
            if backups.is_dir() {
                for entry in fs_err::read_dir(&backups)? {
                    let entry = entry?;
                    if entry.file_type()?.is_file() {
                        found.insert(entry.file_name().to_string_lossy().into_owned());
                    }
                }
            }
        }
        Ok(found)
    }
}
