//! What the stages need from a host: run a command, or start one and talk to it. [`Remote`] is that
//! interface; [`crate::ssh::SshSession`] implements it with the user's OpenSSH, and the stage tests use a
//! scripted fake.
//!
//! A [`RemoteCommand`] carries the shell text that is run and a separate text that is shown in logs and
//! errors, so that values such as `--nodetool-args` (JMX passwords) run but are never shown.

use async_trait::async_trait;
use std::future::Future;
use std::pin::Pin;
use tokio::io::{AsyncBufRead, AsyncWrite};

/// A shell command for a node's login shell, with the text logs may show.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    script: String,
    shown: String,
}

impl RemoteCommand {
    /// A command whose text may be shown as it is.
    pub fn new(script: impl Into<String>) -> Self {
        let script = script.into();
        RemoteCommand {
            shown: script.clone(),
            script,
        }
    }

    /// A command that holds something sensitive: logs show `shown` instead.
    pub fn redacted(script: impl Into<String>, shown: impl Into<String>) -> Self {
        RemoteCommand {
            script: script.into(),
            shown: shown.into(),
        }
    }

    pub fn script(&self) -> &str {
        &self.script
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }
}

impl std::fmt::Debug for RemoteCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteCommand({:?})", self.shown)
    }
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// The remote exit code; `None` when it was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last non-empty stderr line (or stdout's, when stderr is empty): the usual one-line reason.
    pub fn reason(&self) -> String {
        let last = |text: &str| {
            text.lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        };
        last(&self.stderr)
            .or_else(|| last(&self.stdout))
            .unwrap_or_else(|| match self.code {
                Some(code) => format!("exit code {code}"),
                None => "killed by a signal".to_string(),
            })
    }
}

/// Why a command could not be run at all (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The host cannot be reached or refused us; nothing else will work on it.
    #[error("{host}: {message}")]
    Connection { host: String, message: String },
    /// The local ssh program could not be started.
    #[error("{host}: cannot run ssh: {source}")]
    Spawn {
        host: String,
        source: std::io::Error,
    },
    /// The command did not finish in time.
    #[error("{host}: `{command}` did not finish within {seconds} s")]
    Timeout {
        host: String,
        command: String,
        seconds: u64,
    },
}

/// The exit of a started command.
pub type ExitFuture = Pin<Box<dyn Future<Output = std::io::Result<Option<i32>>> + Send>>;

/// A started remote command with its pipes. Dropping it kills the local end (and so closes the remote
/// command's stdin).
pub struct RemoteProcess {
    pub stdin: Option<Box<dyn AsyncWrite + Unpin + Send>>,
    pub stdout: Box<dyn AsyncBufRead + Unpin + Send>,
    pub stderr: Box<dyn AsyncBufRead + Unpin + Send>,
    pub exit: ExitFuture,
}

/// One host, as the stages use it.
#[async_trait]
pub trait Remote: Send + Sync {
    /// The host as given to `--hosts`.
    fn host(&self) -> &str;

    /// Run `command` to its end, feeding it `stdin` (then closing it).
    async fn run(
        &self,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
    ) -> Result<CommandOutput, RemoteError>;

    /// Start `command` and hand back its pipes.
    async fn spawn(&self, command: &RemoteCommand) -> Result<RemoteProcess, RemoteError>;
}

/// Opens the connection to each host of a run, and closes them all at the end.
#[async_trait]
pub trait Connector: Send + Sync {
    async fn connect(&self, host: &str) -> Result<std::sync::Arc<dyn Remote>, RemoteError>;
    async fn close_all(&self);
}
