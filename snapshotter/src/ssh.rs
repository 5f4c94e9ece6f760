//! SSH through the user's own OpenSSH client, so that `~/.ssh/config`, the agent, ProxyJump, known_hosts
//! and `--ssh-config FILE` all work as they do in a terminal. Host keys are checked (ssh's default);
//! `BatchMode` keeps ssh from ever prompting on the terminal.
//!
//! Each host gets one master connection ([`SshSession::connect`]: `ssh -M -f -N` with a control socket in
//! a private temp directory); every command after that is a cheap multiplexed `ssh -S` session. The master
//! persists two minutes after its last client, so a killed coordinator leaves nothing running for long.
//!
//! `--password` works through `SSH_ASKPASS`: ssh runs this very program, which answers password prompts
//! from a 0600 file (see [`askpass_main`]) and nothing else, so the password never appears in an argv or
//! an environment.

use crate::remote::{CommandOutput, Remote, RemoteCommand, RemoteError, RemoteProcess};
use crate::secret::Secret;
use async_trait::async_trait;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Environment variable naming the 0600 file that [`askpass_main`] reads the password from.
pub const ASKPASS_FILE_ENV: &str = "CASSANDRA_SNAPSHOTTER_ASKPASS_FILE";

/// Environment variables that may hold a secret and that ssh must not inherit.
const SECRET_ENV: [&str; 3] = [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
];

/// How every ssh call of a run is set up: the user's overrides on top of the ssh config.
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    /// `-F FILE`: use this config file instead of `~/.ssh/config`.
    pub config_file: Option<PathBuf>,
    /// `--sshport`, `--sshkey`, `--user`: override what the config says.
    pub port: Option<u16>,
    pub identity: Option<PathBuf>,
    pub user: Option<String>,
    /// Password authentication through askpass.
    pub password: Option<Secret>,
    /// Seconds to wait for a TCP connection.
    pub connect_timeout: u32,
}

/// Shared state of all sessions of one run: the options and the private directory of control sockets
/// (and of the askpass file), removed when the run ends.
#[derive(Debug)]
pub struct SshContext {
    options: SshOptions,
    dir: tempfile::TempDir,
    askpass_file: Option<PathBuf>,
}

impl SshContext {
    pub fn new(options: SshOptions) -> anyhow::Result<Arc<Self>> {
        // Unix socket paths are limited to ~108 bytes: keep the directory short, under /tmp.
        let dir = tempfile::Builder::new()
            .prefix("cs-ssh-")
            .tempdir_in("/tmp")
            .or_else(|_| tempfile::tempdir())?;
        let askpass_file = match &options.password {
            Some(password) => {
                let path = dir.path().join("askpass");
                write_private_file(&path, password.expose().as_bytes())?;
                Some(path)
            }
            None => None,
        };
        Ok(Arc::new(SshContext {
            options,
            dir,
            askpass_file,
        }))
    }

    /// The ssh arguments every call shares, up to (not including) the destination.
    fn base_args(&self, control_path: &Path) -> Vec<OsString> {
        let o = &self.options;
        let mut args: Vec<OsString> = Vec::new();
        if let Some(file) = &o.config_file {
            args.extend(["-F".into(), file.into()]);
        }
        if let Some(port) = o.port {
            args.extend(["-p".into(), port.to_string().into()]);
        }
        if let Some(key) = &o.identity {
            args.extend(["-i".into(), key.into()]);
        }
        if let Some(user) = &o.user {
            args.extend(["-l".into(), user.into()]);
        }
        let batch = if o.password.is_some() { "no" } else { "yes" };
        for option in [
            format!("BatchMode={batch}"),
            format!("ConnectTimeout={}", o.connect_timeout.max(1)),
            "ServerAliveInterval=15".to_string(),
            "ServerAliveCountMax=4".to_string(),
            "NumberOfPasswordPrompts=1".to_string(),
        ] {
            args.extend(["-o".into(), option.into()]);
        }
        let mut control = OsString::from("ControlPath=");
        control.push(control_path);
        args.extend(["-o".into(), control]);
        args
    }

    fn ssh_command(&self) -> Command {
        let mut command = Command::new("ssh");
        // ssh, its ProxyCommand and a `SendEnv AWS_*` in someone's ssh config would carry our environment
        // on: the AWS secrets and our own settings (`--password` among them) stay with us.
        for (name, _) in std::env::vars_os() {
            let name_text = name.to_string_lossy();
            if SECRET_ENV.contains(&name_text.as_ref())
                || name_text.starts_with("CASSANDRA_SNAPSHOTTER_")
            {
                command.env_remove(&name);
            }
        }
        if let Some(file) = &self.askpass_file {
            if let Ok(exe) = std::env::current_exe() {
                command
                    .env("SSH_ASKPASS", exe)
                    .env("SSH_ASKPASS_REQUIRE", "force")
                    .env(ASKPASS_FILE_ENV, file);
            }
        }
        // Own process group: a Ctrl-C on the terminal reaches only us, and we stop the children in order.
        command.kill_on_drop(true).process_group(0);
        command
    }
}

/// One host's connection.
#[derive(Debug)]
pub struct SshSession {
    host: String,
    context: Arc<SshContext>,
    control_path: PathBuf,
}

impl SshSession {
    /// Open the master connection to `host`; the error names the host and says what went wrong
    /// (unreachable, host key, authentication) in ssh's words.
    pub async fn connect(host: &str, context: Arc<SshContext>) -> Result<Self, RemoteError> {
        let safe_name: String = host
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let unique = fastrand_suffix();
        let control_path = context.dir.path().join(format!("{safe_name}-{unique}"));
        let log_path = context.dir.path().join(format!("{safe_name}-{unique}.log"));
        let session = SshSession {
            host: host.to_string(),
            context,
            control_path,
        };
        let log = std::fs::File::create(&log_path).map_err(|source| RemoteError::Spawn {
            host: host.to_string(),
            source,
        })?;
        let mut command = session.context.ssh_command();
        command
            .args(session.context.base_args(&session.control_path))
            .args([
                "-o",
                "ControlMaster=yes",
                "-o",
                "ControlPersist=120",
                "-f",
                "-N",
                "--",
                host,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // A file, not a pipe: the backgrounded master keeps its stderr open for its whole life.
            .stderr(Stdio::from(log));
        let limit = Duration::from_secs(u64::from(session.context.options.connect_timeout) + 60);
        let status = tokio::time::timeout(limit, command.status())
            .await
            .map_err(|_| RemoteError::Timeout {
                host: host.to_string(),
                command: "ssh (connect)".to_string(),
                seconds: limit.as_secs(),
            })?
            .map_err(|source| RemoteError::Spawn {
                host: host.to_string(),
                source,
            })?;
        if !status.success() {
            let log = fs_err::read_to_string(&log_path).unwrap_or_default();
            return Err(RemoteError::Connection {
                host: host.to_string(),
                message: explain_ssh_failure(&log),
            });
        }
        Ok(session)
    }

    fn command_for(&self, script: &str) -> Command {
        let mut command = self.context.ssh_command();
        command
            .args(self.context.base_args(&self.control_path))
            .args(["-o", "ControlMaster=no", "--", &self.host, script]);
        command
    }

    /// Close the master connection.
    pub async fn close(&self) {
        let mut command = self.context.ssh_command();
        command
            .args(self.context.base_args(&self.control_path))
            .args(["-O", "exit", "--", &self.host])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = tokio::time::timeout(Duration::from_secs(10), command.status()).await;
    }

    /// An ssh exit code of 255 is ssh's own failure, not the command's.
    fn connection_error(&self, output: &CommandOutput) -> Option<RemoteError> {
        (output.code == Some(255) && looks_like_ssh_error(&output.stderr)).then(|| {
            RemoteError::Connection {
                host: self.host.clone(),
                message: explain_ssh_failure(&output.stderr),
            }
        })
    }
}

#[async_trait]
impl Remote for SshSession {
    fn host(&self) -> &str {
        &self.host
    }

    async fn run(
        &self,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
    ) -> Result<CommandOutput, RemoteError> {
        let mut process = self.command_for(command.script());
        process
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawn_error = |source| RemoteError::Spawn {
            host: self.host.clone(),
            source,
        };
        let mut child = process.spawn().map_err(spawn_error)?;
        // Written from the caller's bytes while the output is read, not from a copy: the install stage
        // sends node-push (megabytes) to every host of the pool at once.
        let pipe = child.stdin.take();
        let writer = async move {
            if let (Some(bytes), Some(mut pipe)) = (stdin, pipe) {
                // A command that exits without reading its stdin is not an error here.
                let _ = pipe.write_all(bytes).await;
                let _ = pipe.shutdown().await;
            }
        };
        let (output, ()) = tokio::join!(child.wait_with_output(), writer);
        let output = output.map_err(spawn_error)?;
        let output = CommandOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        match self.connection_error(&output) {
            Some(error) => Err(error),
            None => Ok(output),
        }
    }

    async fn spawn(&self, command: &RemoteCommand) -> Result<RemoteProcess, RemoteError> {
        let mut process = self.command_for(command.script());
        process
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = process.spawn().map_err(|source| RemoteError::Spawn {
            host: self.host.clone(),
            source,
        })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        Ok(RemoteProcess {
            stdin: Some(Box::new(stdin)),
            stdout: Box::new(BufReader::new(stdout)),
            stderr: Box::new(BufReader::new(stderr)),
            exit: Box::pin(async move { child.wait().await.map(|status| status.code()) }),
        })
    }
}

/// Connects hosts with [`SshSession`] and remembers them, to close their masters at the end.
#[derive(Debug)]
pub struct SshConnector {
    context: Arc<SshContext>,
    sessions: std::sync::Mutex<Vec<Arc<SshSession>>>,
}

impl SshConnector {
    pub fn new(context: Arc<SshContext>) -> Self {
        SshConnector {
            context,
            sessions: std::sync::Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl crate::remote::Connector for SshConnector {
    async fn connect(&self, host: &str) -> Result<Arc<dyn Remote>, RemoteError> {
        let session = Arc::new(SshSession::connect(host, self.context.clone()).await?);
        self.sessions
            .lock()
            .expect("not poisoned")
            .push(session.clone());
        Ok(session)
    }

    async fn close_all(&self) {
        let sessions = std::mem::take(&mut *self.sessions.lock().expect("not poisoned"));
        for session in sessions {
            session.close().await;
        }
    }
}

/// ssh's own error lines (as opposed to a remote command's stderr that happens to exit 255).
fn looks_like_ssh_error(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        line.starts_with("ssh:")
            || line.contains("Connection closed by")
            || line.contains("Connection reset by")
            || line.contains("Host key verification failed")
            || line.contains("Permission denied (")
            || line.contains("Broken pipe")
            || line.contains("Timeout, server")
    })
}

/// ssh's last words, with a hint for the common cases.
pub fn explain_ssh_failure(stderr: &str) -> String {
    let last = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .unwrap_or("ssh failed without a message")
        .to_string();
    let hint = if stderr.contains("Host key verification failed")
        || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    {
        " (the host key is unknown or changed: check it and add it to known_hosts, e.g. with `ssh-keyscan`)"
    } else if stderr.contains("Permission denied") {
        " (authentication failed: check --user, --sshkey, the agent or the ssh config)"
    } else if stderr.contains("Could not resolve hostname") {
        " (unknown host name)"
    } else if stderr.contains("Connection refused") || stderr.contains("timed out") {
        " (is the host up and sshd listening? check --sshport)"
    } else {
        ""
    };
    let last = last.strip_prefix("ssh: ").unwrap_or(&last);
    format!("ssh: {last}{hint}")
}

fn fastrand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Create `path` readable only by us and write `contents` into it.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::io::Write;
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)
}

/// Entry point when ssh runs this program as `SSH_ASKPASS`: print the password for a password prompt,
/// refuse anything else (a host-key question must never be answered with the password).
pub fn askpass_main(file: &Path) -> i32 {
    let prompt = std::env::args().nth(1).unwrap_or_default().to_lowercase();
    if !(prompt.contains("password") || prompt.contains("passphrase")) {
        return 1;
    }
    match fs_err::read_to_string(file) {
        Ok(password) => match crate::output::stdout_line(&password) {
            Ok(()) => 0,
            Err(_) => 1,
        },
        Err(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_args_apply_overrides_and_never_disable_host_keys() {
        let context = SshContext::new(SshOptions {
            config_file: Some("/tmp/cfg".into()),
            port: Some(2222),
            identity: Some("/k".into()),
            user: Some("cassandra".into()),
            password: None,
            connect_timeout: 10,
        })
        .unwrap();
        let args: Vec<String> = context
            .base_args(Path::new("/tmp/ctl"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let line = args.join(" ");
        assert!(
            line.starts_with("-F /tmp/cfg -p 2222 -i /k -l cassandra"),
            "{line}"
        );
        assert!(line.contains("BatchMode=yes"));
        assert!(line.contains("ControlPath=/tmp/ctl"));
        assert!(!line.contains("StrictHostKeyChecking"));
    }

    #[test]
    fn password_goes_to_a_private_file_not_the_arguments() {
        use std::os::unix::fs::PermissionsExt;
        let context = SshContext::new(SshOptions {
            password: Some(Secret::new("ssh-pass-123")),
            ..SshOptions::default()
        })
        .unwrap();
        let file = context.askpass_file.clone().unwrap();
        let mode = fs_err::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let args = format!("{:?}", context.base_args(Path::new("/c")));
        assert!(!args.contains("ssh-pass-123"));
        assert!(args.contains("BatchMode=no"));
    }

    #[test]
    fn explains_common_failures() {
        let refused = "ssh: connect to host 127.0.0.9 port 22: Connection refused\n";
        assert!(explain_ssh_failure(refused).contains("Connection refused"));
        assert!(explain_ssh_failure(refused).contains("sshd listening"));
        assert!(explain_ssh_failure(refused).starts_with("ssh: connect to host"));
        let key = "Host key verification failed.\n";
        assert!(explain_ssh_failure(key).contains("known_hosts"));
        assert!(looks_like_ssh_error(key));
        assert!(!looks_like_ssh_error("nodetool: error\n"));
    }
}
