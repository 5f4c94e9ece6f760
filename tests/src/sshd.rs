//! Simulated hosts: one real OpenSSH `sshd` per host, each on its own loopback address.
//!
//! Host `i` listens on `127.0.0.N:<free port>` with a generated ed25519 host key and accepts only the
//! generated client key. Every session gets `PATH=<node dir>/bin:...` and `CASSANDRA_CONF=<node dir>/conf`,
//! so each "host" sees its own `nodetool` and `cassandra.yaml` under the names a real node has. The client
//! side is an ssh config file ([`SshCluster::ssh_config_path`]) with one `Host` block per host (matching
//! both the alias `nodeN` and the IP), which the coordinator gets through `--ssh-config FILE`.
//!
//! A host can require sudo ([`HostSpec::with_sudo_user`]): the login user is then an unprivileged account
//! with passwordless sudo, as on many production machines.

mod config;
mod users;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::ports::free_port;
use crate::process::{wait_until_ready, ServerCommand, ServerProcess, DEFAULT_STOP_GRACE};

/// How long one sshd may take to start listening.
const SSHD_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How many fresh ports to try when another process takes the one we picked.
const PORT_ATTEMPTS: usize = 5;

/// Who logs in on a simulated host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginUser {
    Root,
    /// An unprivileged account (created if missing) with passwordless `sudo`.
    SudoUser(String),
}

impl LoginUser {
    pub fn name(&self) -> &str {
        match self {
            LoginUser::Root => "root",
            LoginUser::SudoUser(name) => name,
        }
    }
}

/// What a simulated host looks like: its ssh alias, its loopback address, and the directory holding its
/// `bin/` (first on PATH) and `conf/` (CASSANDRA_CONF).
#[derive(Debug, Clone)]
pub struct HostSpec {
    pub alias: String,
    pub ip: Ipv4Addr,
    pub node_dir: PathBuf,
    pub login: LoginUser,
}

impl HostSpec {
    /// A host that root logs in to.
    pub fn new(alias: impl Into<String>, ip: Ipv4Addr, node_dir: impl Into<PathBuf>) -> Self {
        Self {
            alias: alias.into(),
            ip,
            node_dir: node_dir.into(),
            login: LoginUser::Root,
        }
    }

    /// Host number `n` (1-based) of the usual layout: alias `node<n>` on `127.0.0.<n+1>`.
    pub fn numbered(n: u8, node_dir: impl Into<PathBuf>) -> Self {
        Self::new(
            format!("node{n}"),
            Ipv4Addr::new(127, 0, 0, n + 1),
            node_dir,
        )
    }

    /// The same host, but logged in to as `user`, who needs sudo to touch root-owned files.
    pub fn with_sudo_user(mut self, user: impl Into<String>) -> Self {
        self.login = LoginUser::SudoUser(user.into());
        self
    }
}

/// One running simulated host.
#[derive(Debug)]
pub struct SshHost {
    spec: HostSpec,
    port: u16,
    dir: PathBuf,
    sshd: Option<ServerProcess>,
}

impl SshHost {
    pub fn alias(&self) -> &str {
        &self.spec.alias
    }

    pub fn ip(&self) -> Ipv4Addr {
        self.spec.ip
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn login(&self) -> &LoginUser {
        &self.spec.login
    }

    pub fn node_dir(&self) -> &Path {
        &self.spec.node_dir
    }

    /// First on the PATH of every session on this host.
    pub fn bin_dir(&self) -> PathBuf {
        self.spec.node_dir.join("bin")
    }

    /// `CASSANDRA_CONF` of every session on this host.
    pub fn conf_dir(&self) -> PathBuf {
        self.spec.node_dir.join("conf")
    }

    /// This host's sshd log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("sshd.log")
    }

    pub fn is_running(&self) -> bool {
        self.sshd.as_ref().is_some_and(ServerProcess::is_running)
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("sshd_config")
    }
}

/// A set of simulated hosts sharing one client key, known_hosts file and ssh config file.
#[derive(Debug)]
pub struct SshCluster {
    dir: PathBuf,
    // Field order is drop order: the sshds stop before their temp dir is removed.
    hosts: Vec<SshHost>,
    /// Keeps the temp dir alive when [`SshCluster::start`] made it.
    _owned_dir: Option<tempfile::TempDir>,
}

impl SshCluster {
    /// Starts one sshd per host, with keys and configs in a new temp dir.
    pub fn start(hosts: &[HostSpec]) -> Result<Self> {
        let owned = tempfile::Builder::new().prefix("testkit-ssh-").tempdir()?;
        let dir = owned.path().to_path_buf();
        let mut cluster = Self::start_in(&dir, hosts)?;
        cluster._owned_dir = Some(owned);
        Ok(cluster)
    }

    /// Starts one sshd per host, with keys and configs under `dir` (created if missing).
    pub fn start_in(dir: &Path, hosts: &[HostSpec]) -> Result<Self> {
        let sshd = sshd_binary()?;
        fs_err::create_dir_all(dir)?;
        // A non-root login user reads authorized_keys with its own rights, so the dir must be traversable.
        users::make_world_readable(dir)?;
        fs_err::create_dir_all("/run/sshd").context("sshd needs /run/sshd (are we root?)")?;
        for login in hosts.iter().map(|host| &host.login) {
            if let LoginUser::SudoUser(name) = login {
                users::ensure_sudo_user(name)?;
            }
        }
        let client_key = dir.join("client_ed25519");
        generate_key(&client_key, "testkit-client")?;
        fs_err::copy(
            client_key.with_extension("pub"),
            dir.join("authorized_keys"),
        )?;
        users::make_world_readable(&dir.join("authorized_keys"))?;

        let mut cluster = Self {
            _owned_dir: None,
            dir: dir.to_path_buf(),
            hosts: Vec::new(),
        };
        for spec in hosts {
            let host_dir = dir.join(format!("host-{}", spec.alias));
            fs_err::create_dir_all(&host_dir)?;
            generate_key(&host_dir.join("ssh_host_ed25519_key"), &spec.alias)?;
            cluster.hosts.push(SshHost {
                spec: spec.clone(),
                port: 0,
                dir: host_dir,
                sshd: None,
            });
        }
        // Spawn every sshd first and wait for them afterwards: 20 hosts start in about the time of one.
        let mut pending: Vec<usize> = (0..cluster.hosts.len()).collect();
        for _attempt in 0..PORT_ATTEMPTS {
            for &index in &pending {
                cluster.spawn_sshd(&sshd, index, PortChoice::Fresh)?;
            }
            let mut port_taken = Vec::new();
            for &index in &pending {
                match cluster.wait_listening(index) {
                    Ok(()) => {}
                    Err(_) if lost_port_race(&cluster.hosts[index]) => port_taken.push(index),
                    Err(err) => return Err(err),
                }
            }
            pending = port_taken;
            if pending.is_empty() {
                cluster.write_client_files()?;
                return Ok(cluster);
            }
        }
        bail!("sshd could not bind a free port after {PORT_ATTEMPTS} tries on hosts {pending:?}")
    }

    /// The ssh client config for `ssh -F` / the coordinator's `--ssh-config`.
    pub fn ssh_config_path(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    pub fn known_hosts_path(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// The private key every host accepts.
    pub fn client_key_path(&self) -> PathBuf {
        self.dir.join("client_ed25519")
    }

    /// Host `i` (0-based; alias `node<i+1>` in the usual layout).
    pub fn host(&self, i: usize) -> &SshHost {
        &self.hosts[i]
    }

    pub fn hosts(&self) -> &[SshHost] {
        &self.hosts
    }

    /// A `ssh -F <config> <alias>` command for host `i`, to which the caller adds the remote command.
    pub fn ssh_command(&self, i: usize) -> Command {
        let mut command = Command::new("ssh");
        command
            .arg("-F")
            .arg(self.ssh_config_path())
            .arg(self.hosts[i].alias())
            .arg("--");
        command
    }

    /// Runs `remote_command` on host `i` through real ssh (stdin empty) and returns its output, whatever
    /// its exit status.
    pub fn run(&self, i: usize, remote_command: &str) -> Result<Output> {
        let host = self.hosts[i].alias();
        self.ssh_command(i)
            .arg(remote_command)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run ssh to {host}"))
    }

    /// Like [`run`](Self::run), but fails unless the command exits 0, and returns its stdout.
    pub fn run_ok(&self, i: usize, remote_command: &str) -> Result<String> {
        let output = self.run(i, remote_command)?;
        if !output.status.success() {
            bail!(
                "`{remote_command}` on {} failed ({}): {}",
                self.hosts[i].alias(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Stops host `i`'s sshd: new connections are refused, as when a host is down.
    pub fn stop_host(&mut self, i: usize) {
        if let Some(mut sshd) = self.hosts[i].sshd.take() {
            sshd.stop(DEFAULT_STOP_GRACE);
        }
    }

    /// Starts host `i`'s sshd again on the same address, port and host key.
    pub fn start_host(&mut self, i: usize) -> Result<()> {
        if self.hosts[i].is_running() {
            return Ok(());
        }
        self.spawn_sshd(&sshd_binary()?, i, PortChoice::Same)?;
        self.wait_listening(i)
    }

    fn spawn_sshd(&mut self, sshd: &Path, index: usize, port_choice: PortChoice) -> Result<()> {
        let host = &mut self.hosts[index];
        if let Some(mut old) = host.sshd.take() {
            old.stop(DEFAULT_STOP_GRACE);
        }
        if port_choice == PortChoice::Fresh {
            host.port = free_port(host.spec.ip)?;
        }
        let host_key = host.dir.join("ssh_host_ed25519_key");
        let pid_file = host.dir.join("sshd.pid");
        let authorized_keys = self.dir.join("authorized_keys");
        let settings = config::ServerSettings {
            ip: host.spec.ip,
            port: host.port,
            host_key: &host_key,
            pid_file: &pid_file,
            authorized_keys: &authorized_keys,
            login_user: host.spec.login.name(),
            bin_dir: &host.bin_dir(),
            conf_dir: &host.conf_dir(),
        };
        fs_err::write(host.config_path(), config::sshd_config(&settings))?;
        // Truncate the log so readiness checks see only this start's lines.
        fs_err::write(host.log_path(), "")?;
        let process =
            ServerCommand::new(format!("sshd {}", host.spec.alias), sshd, host.log_path())
                .args(["-D", "-e", "-f"])
                .arg(host.config_path())
                .spawn()?;
        host.sshd = Some(process);
        Ok(())
    }

    fn wait_listening(&self, index: usize) -> Result<()> {
        let host = &self.hosts[index];
        let Some(sshd) = host.sshd.as_ref() else {
            bail!("sshd {} was not started", host.alias());
        };
        let expected = format!("Server listening on {} port {}", host.ip(), host.port);
        wait_until_ready(sshd, SSHD_START_TIMEOUT, Duration::from_millis(20), || {
            Ok(fs_err::read_to_string(host.log_path())?.contains(&expected))
        })
    }

    fn write_client_files(&self) -> Result<()> {
        let mut known_hosts = String::new();
        for host in &self.hosts {
            let public_key = fs_err::read_to_string(host.dir.join("ssh_host_ed25519_key.pub"))?;
            known_hosts.push_str(&config::known_hosts_line(host.ip(), host.port, &public_key));
        }
        fs_err::write(self.known_hosts_path(), known_hosts)?;
        let entries: Vec<config::ClientHostEntry<'_>> = self
            .hosts
            .iter()
            .map(|host| config::ClientHostEntry {
                alias: host.alias(),
                ip: host.ip(),
                port: host.port,
                user: host.login().name(),
            })
            .collect();
        let text =
            config::client_config(&entries, &self.client_key_path(), &self.known_hosts_path());
        fs_err::write(self.ssh_config_path(), text)?;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortChoice {
    Fresh,
    Same,
}

/// Whether host's sshd died because another process bound its port first.
fn lost_port_race(host: &SshHost) -> bool {
    let log = fs_err::read_to_string(host.log_path()).unwrap_or_default();
    !host.is_running() && log.contains("Address already in use")
}

/// Lets every user read and traverse `path` (mode 0755 for a dir, 0644 for a file), as a sudo-required
/// host's login user must reach its node's bin/ and conf/.
pub fn make_traversable(path: &Path) -> Result<()> {
    users::make_world_readable(path)
}

fn sshd_binary() -> Result<PathBuf> {
    // sshd refuses to run from a relative path (it re-executes itself for every connection).
    let path = PathBuf::from("/usr/sbin/sshd");
    if !path.is_file() {
        bail!(
            "{} is missing: run `cargo xtask setup` (installs openssh-server)",
            path.display()
        );
    }
    Ok(path)
}

/// Generates an ed25519 key pair at `path` and `path.pub`, without a passphrase.
fn generate_key(path: &Path, comment: &str) -> Result<()> {
    // ssh-keygen would ask before overwriting a key left by an earlier start in the same dir.
    for stale in [path.to_path_buf(), path.with_extension("pub")] {
        if stale.exists() {
            fs_err::remove_file(stale)?;
        }
    }
    let output = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .context("cannot run ssh-keygen: run `cargo xtask setup` (installs openssh-client)")?;
    if !output.status.success() {
        bail!(
            "ssh-keygen for {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
