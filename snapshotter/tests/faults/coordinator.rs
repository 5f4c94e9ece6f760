//! The coordinator's side of the fault tests: a Cassandra 1.2 ring whose nodes are ssh hosts, SeaweedFS
//! (reached directly or through a fault proxy), runs of `cassandra-snapshotter` bounded in time, and a
//! watcher that samples every process's arguments for a secret while a run goes on.

use super::{BinaryCopy, DirectStore};
use anyhow::Result;
use contract::layout;
use contract::manifest::Manifest;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::fixture::NodeFixture;
use testkit::seaweed::SeaweedFs;

/// The rings of these tests bind 127.0.0.2-4 and need a core each while they start: one at a time.
pub static RING_LOCK: Mutex<()> = Mutex::new(());

pub const BUCKET: &str = "fault.tests";
pub const BASE: &str = "cluster";
/// No coordinator run of these tests takes nearly this long; one that does is killed and fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

#[allow(unused_imports)] // each test binary uses a different subset
pub use testkit::run::{finish, Run};

/// Where the coordinator stores: `--s3-endpoint`, `--s3-bucket-name`, `--s3-bucket-region`.
#[derive(Debug, Clone)]
pub struct StoreFlags {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
}

/// A ring of `nodes` Cassandra nodes that are ssh hosts, and a SeaweedFS with one bucket.
pub struct Cluster {
    // Field order is drop order: the nodes stop before the store they wrote to.
    pub nodes: NodeFixture,
    pub weed: SeaweedFs,
    pub direct: DirectStore,
    node_push: BinaryCopy,
    /// Where node-push is installed on the nodes: private to this test, so that the node-push
    /// processes found on this machine are ours (the nodes are local processes).
    remote_dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start(nodes: usize) -> Result<Cluster> {
        let weed = SeaweedFs::start()?;
        weed.create_bucket(BUCKET)?;
        let direct = DirectStore::connect(&weed, BUCKET)?;
        let nodes = NodeFixture::start(nodes)?;
        Ok(Cluster {
            nodes,
            weed,
            direct,
            node_push: BinaryCopy::of("node-push")?,
            remote_dir: tempfile::Builder::new().prefix("faults-np-").tempdir()?,
        })
    }

    pub fn hosts(&self) -> Vec<String> {
        self.nodes.aliases()
    }

    /// Where node-push runs from on every node.
    pub fn remote_node_push(&self) -> PathBuf {
        self.remote_dir.path().join("node-push")
    }

    /// A Thrift CLI script on node 1.
    pub fn cli(&self, script: &str) -> Result<()> {
        self.nodes.cassandra.cli(0, script).map(drop)
    }

    /// `nodetool flush KS` on every node (waiting for the backups/ links).
    pub fn flush_all(&self, keyspace: &str) -> Result<()> {
        for node in 0..self.nodes.cassandra.len() {
            self.nodes.cassandra.flush(node, keyspace)?;
        }
        Ok(())
    }

    /// `--json backup --hosts ... --ssh-config ... --node-push-binary ... --node-push-path ...` and `extra`.
    pub fn backup_args(&self, extra: &[&str]) -> Vec<String> {
        self.backup_args_with_config(&self.nodes.ssh_config_path(), extra)
    }

    /// [`backup_args`](Self::backup_args) with another ssh config file.
    pub fn backup_args_with_config(&self, ssh_config: &Path, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            "--json".to_string(),
            "backup".to_string(),
            format!("--hosts={}", self.hosts().join(",")),
            format!("--ssh-config={}", ssh_config.display()),
            format!("--node-push-binary={}", self.node_push.path.display()),
            format!("--node-push-path={}", self.remote_node_push().display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    /// The store flags for the test bucket at `endpoint` (SeaweedFS itself, or a proxy in front of it).
    pub fn store_flags(&self, endpoint: &str) -> StoreFlags {
        StoreFlags {
            endpoint: endpoint.to_string(),
            bucket: BUCKET.to_string(),
            region: self.weed.region().to_string(),
        }
    }

    /// The coordinator talking to the store at `endpoint`, with the store's flags and credentials (in the
    /// environment) and `args`.
    pub fn command(&self, endpoint: &str, args: &[String]) -> Command {
        self.command_with(&self.store_flags(endpoint), args)
    }

    /// [`command`](Self::command) with other store flags.
    pub fn command_with(&self, store: &StoreFlags, args: &[String]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cassandra-snapshotter"));
        command
            .args(["--s3-bucket-name", &store.bucket, "--s3-base-path", BASE])
            .args(["--s3-endpoint", &store.endpoint])
            .args(["--s3-bucket-region", &store.region])
            .args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("XDG_CONFIG_HOME", self.remote_dir.path())
            .envs(self.weed.aws_env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Run the coordinator to its end (killed after [`RUN_LIMIT`]).
    pub fn run(&self, endpoint: &str, args: &[String]) -> Result<Run> {
        let child = self.command(endpoint, args).spawn()?;
        let run = finish(child, RUN_LIMIT)?;
        testkit::log!(
            "--- cassandra-snapshotter {} (exit {:?})\n{}",
            args.join(" "),
            run.code,
            run.stderr
        );
        Ok(run)
    }

    /// `backup` with the store reached at `endpoint`.
    pub fn backup(&self, endpoint: &str, extra: &[&str]) -> Result<Run> {
        self.run(endpoint, &self.backup_args(extra))
    }

    pub fn manifest(&self, name: &str) -> Result<Option<Manifest>> {
        let key = layout::manifest_key(BASE, name);
        if !self.direct.objects(&key)?.contains_key(&key) {
            return Ok(None);
        }
        Ok(Some(Manifest::from_json(&key, &self.direct.get(&key)?)?))
    }

    /// Backup names under the base path, sorted.
    pub fn backup_names(&self) -> Result<Vec<String>> {
        let prefix = layout::base_prefix(BASE);
        let mut names: Vec<String> = self
            .direct
            .objects(&prefix)?
            .keys()
            .filter_map(|k| {
                k.strip_prefix(&prefix)?
                    .split('/')
                    .next()
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Data objects stored under backup `name`.
    pub fn data_objects(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .direct
            .objects(&layout::backup_prefix(BASE, name))?
            .into_keys()
            .filter(|k| k.ends_with(".lzo"))
            .collect())
    }

    /// Every `snapshots/<tag>` dir of `keyspace` on `node`.
    pub fn snapshot_dirs(&self, node: usize, keyspace: &str) -> Result<Vec<PathBuf>> {
        let mut found = Vec::new();
        let dir = self.nodes.cassandra.data_dir(node).join(keyspace);
        for table in fs_err::read_dir(&dir)? {
            let snapshots = table?.path().join("snapshots");
            if snapshots.is_dir() {
                for entry in fs_err::read_dir(&snapshots)? {
                    found.push(entry?.path());
                }
            }
        }
        Ok(found)
    }

    /// Process ids of the node-push runs of this test (on any node: they are all local processes).
    pub fn node_push_processes(&self) -> Vec<u32> {
        let ours = self.remote_node_push().display().to_string();
        processes()
            .into_iter()
            .filter(|(_, args)| args.starts_with(&ours))
            .map(|(pid, _)| pid)
            .collect()
    }

    /// The `node-push upload` processes of this test: its uploads, not the `stream` registration the
    /// coordinator runs before the snapshot, nor an install's `hello`.
    pub fn node_push_uploads(&self) -> Vec<u32> {
        let ours = self.remote_node_push().display().to_string();
        processes()
            .into_iter()
            .filter(|(_, args)| {
                args.strip_prefix(&ours)
                    .is_some_and(|rest| rest.split_whitespace().any(|word| word == "upload"))
            })
            .map(|(pid, _)| pid)
            .collect()
    }

    /// Waits until no node-push of this test runs (at most `limit`); whether none is left.
    pub fn wait_node_push_gone(&self, limit: Duration) -> bool {
        wait_until(limit, || self.node_push_processes().is_empty())
    }
}

/// Waits until a condition holds, for at most a limit: testkit's one poll.
#[allow(unused_imports)] // not every test binary waits
pub use testkit::wait::poll as wait_until;

/// Every process of this machine: (pid, arguments joined by spaces), as `ps -eo pid,args` shows them.
pub fn processes() -> Vec<(u32, String)> {
    let Ok(entries) = fs_err::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args = raw
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            Some((pid, args))
        })
        .collect()
}

/// Samples every process's arguments (`ps -eo args`), and the environment of every node-push and ssh
/// process, every few milliseconds while a run goes on, looking for a secret.
pub struct SecretWatch {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<WatchReport>,
}

/// What a [`SecretWatch`] saw.
#[derive(Debug, Default)]
pub struct WatchReport {
    /// `ps` samples taken.
    pub samples: usize,
    /// Process lines (or `environ of <pid>`) that held the secret.
    pub leaks: Vec<String>,
    /// Distinct node-push command lines seen, to show the watch saw the runs it was meant to see.
    pub node_push_lines: Vec<String>,
}

impl SecretWatch {
    /// Watches for any of `secrets`.
    pub fn start(secrets: &[&str]) -> SecretWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let holds_secret = move |text: &str| secrets.iter().any(|s| text.contains(s.as_str()));
        let handle = std::thread::spawn(move || {
            let mut report = WatchReport::default();
            while !flag.load(Ordering::SeqCst) {
                report.samples += 1;
                // The process list as `ps` prints it: the same view a user on the machine has.
                if let Ok(out) = Command::new("ps").args(["-eo", "args"]).output() {
                    for line in String::from_utf8_lossy(&out.stdout).lines() {
                        if holds_secret(line) {
                            report.leaks.push(line.to_string());
                        }
                        if line.contains("node-push") && line.contains(" upload ") {
                            let line = line.to_string();
                            if !report.node_push_lines.contains(&line) {
                                report.node_push_lines.push(line);
                            }
                        }
                    }
                }
                for (pid, args) in processes() {
                    // The coordinator holds the secret in its environment because the user put it there;
                    // what it starts (ssh) and what runs on the nodes (node-push, its shell) must not.
                    let program = args.split(' ').next().unwrap_or("");
                    let program = program.rsplit('/').next().unwrap_or(program);
                    let started_by_us = program == "ssh"
                        || program.starts_with("node-push")
                        || (args.starts_with("bash -c ") && args.contains("node-push"));
                    if !started_by_us {
                        continue;
                    }
                    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                    if holds_secret(&String::from_utf8_lossy(&environ)) {
                        report.leaks.push(format!("environ of {pid}: {args}"));
                    }
                }
                // The sampling interval of the watch, not a wait.
                std::thread::sleep(Duration::from_millis(20));
            }
            report
        });
        SecretWatch { stop, handle }
    }

    pub fn stop(self) -> WatchReport {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap_or_default()
    }
}

/// Files below `dir` whose bytes contain `secret`.
pub fn files_containing(dir: &Path, secret: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(kind) if kind.is_file() => {
                    let small = entry
                        .metadata()
                        .map(|m| m.len() < 64 << 20)
                        .unwrap_or(false);
                    if small {
                        let bytes = std::fs::read(&path).unwrap_or_default();
                        if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                            found.push(path);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// The parent of process `pid`, from `/proc/<pid>/stat`.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The arguments of process `pid`, joined by spaces (empty once it is gone).
pub fn args_of(pid: u32) -> String {
    processes()
        .into_iter()
        .find(|(p, _)| *p == pid)
        .map(|(_, args)| args)
        .unwrap_or_default()
}

/// Sends SIGKILL to `pid`, a process this test started (directly, or through the programs it ran).
pub fn kill_process(pid: u32) -> Result<()> {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -KILL {pid} failed");
    Ok(())
}
