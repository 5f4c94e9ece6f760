//! Server child processes that cannot outlive the test process that started them.
//!
//! Every server (sshd, a Cassandra JVM) runs under a tiny `sh` supervisor:
//! `SERVER & pid=$!; read _lifeline; kill $pid; wait`. The supervisor's stdin is a pipe whose only writer is
//! the test process, so when the test process exits for any reason (panic, SIGKILL, a CI timeout) the pipe
//! closes, `read` returns and the server is killed. [`ServerProcess::stop`] and `Drop` close the same pipe,
//! so there is one shutdown path for the normal and the abnormal case.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The supervisor script. `$1` is the log file, the rest is the server's argv. It prints the server's pid on
/// its stdout (read once by [`ServerProcess::spawn`]), then detaches stdout so a closed reader cannot
/// SIGPIPE it, and waits for its stdin to close.
const SUPERVISOR: &str = r#"log=$1; shift
"$@" </dev/null >>"$log" 2>&1 &
pid=$!
echo "$pid"
exec >/dev/null
read _lifeline
kill "$pid" 2>/dev/null
wait "$pid"
"#;

/// How long a graceful stop may take before the server is killed with SIGKILL.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(20);

/// What to start: a program, its arguments and environment, and the file its output is appended to.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    log_path: PathBuf,
}

impl ServerCommand {
    /// `name` appears in error messages ("sshd node3", "cassandra node1").
    pub fn new(
        name: impl Into<String>,
        program: impl Into<PathBuf>,
        log_path: impl Into<PathBuf>,
    ) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            log_path: log_path.into(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Starts the server under its supervisor. Returns once the server process exists; readiness (a port
    /// that answers, a log line) is the caller's business.
    pub fn spawn(self) -> Result<ServerProcess> {
        let log = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("testkit-supervisor")
            .arg(&self.log_path)
            .arg(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log.into_parts().0))
            .spawn()
            .with_context(|| format!("cannot start the supervisor shell for {}", self.name))?;
        let lifeline = shell.stdin.take();
        let stdout = shell.stdout.take().expect("stdout was piped");
        let mut pid_line = String::new();
        BufReader::new(stdout)
            .read_line(&mut pid_line)
            .with_context(|| format!("cannot read the pid of {}", self.name))?;
        let Ok(server_pid) = pid_line.trim().parse::<u32>() else {
            let _ = shell.kill();
            let _ = shell.wait();
            bail!(
                "{}: the supervisor printed no pid (got {pid_line:?}); see {}",
                self.name,
                self.log_path.display()
            );
        };
        Ok(ServerProcess {
            name: self.name,
            shell,
            lifeline,
            server_pid,
            log_path: self.log_path,
        })
    }
}

/// A running server; stopped (SIGTERM, then SIGKILL after a grace period) on [`stop`](Self::stop) or drop.
#[derive(Debug)]
pub struct ServerProcess {
    name: String,
    shell: Child,
    /// The write end of the supervisor's stdin. Closing it stops the server.
    lifeline: Option<ChildStdin>,
    server_pid: u32,
    log_path: PathBuf,
}

impl ServerProcess {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.server_pid
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Whether the server process is still alive. The supervisor only reaps it after its lifeline closes,
    /// so a server that died on its own shows up as a zombie until then.
    pub fn is_running(&self) -> bool {
        if self.lifeline.is_none() {
            return false;
        }
        match fs_err::read_to_string(format!("/proc/{}/stat", self.server_pid)) {
            // The state letter follows the parenthesised command name, which may itself contain spaces.
            Ok(stat) => stat
                .rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    /// The last `lines` lines of the server's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// Asks the server to stop (SIGTERM through the supervisor) without waiting.
    pub fn begin_stop(&mut self) {
        self.lifeline = None;
    }

    /// Sends SIGKILL to the server right away: a crash, for fault-injection tests.
    pub fn kill_abruptly(&mut self) {
        if self.is_running() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(self.server_pid.to_string())
                .status();
        }
        self.lifeline = None;
    }

    /// Stops the server and waits until it is gone: SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        self.begin_stop();
        self.wait_stopped(Instant::now() + grace);
    }

    /// Waits for a stop begun with [`begin_stop`](Self::begin_stop), escalating to SIGKILL at `deadline`.
    pub fn wait_stopped(&mut self, deadline: Instant) {
        self.lifeline = None;
        loop {
            match self.shell.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => break,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        // The server ignored SIGTERM for too long. It is not reaped yet (the supervisor is still waiting for
        // it), so its pid cannot have been reused.
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(self.server_pid.to_string())
            .status();
        let _ = self.shell.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop(DEFAULT_STOP_GRACE);
    }
}

/// The last `lines` lines of a log file (empty if it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs_err::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls `ready` every `interval` until it returns `Ok(true)`, the server dies, or `timeout` passes.
/// The error names the server and quotes the end of its log.
pub fn wait_until_ready(
    server: &ServerProcess,
    timeout: Duration,
    interval: Duration,
    mut ready: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match ready() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(err) => last_error = Some(err),
        }
        if !server.is_running() {
            bail!(
                "{} exited during start-up; last lines of {}:\n{}",
                server.name(),
                server.log_path().display(),
                server.log_tail(30)
            );
        }
        if Instant::now() >= deadline {
            let reason = last_error
                .map(|err| format!(" (last check: {err:#})"))
                .unwrap_or_default();
            bail!(
                "{} not ready after {:?}{reason}; last lines of {}:\n{}",
                server.name(),
                timeout,
                server.log_path().display(),
                server.log_tail(30)
            );
        }
        std::thread::sleep(interval);
    }
}
