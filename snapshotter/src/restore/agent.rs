//! Running `node-push restore --plan-stdin` on a node: the credentials line and the request line go in on
//! its stdin (stdin then stays open: closing it cancels the run, and node-push removes its `.part` files),
//! its JSON lines come back as one result per file.

use crate::nodetool::Privilege;
use crate::output::{human_bytes, Output};
use crate::remote::{Remote, RemoteCommand, RemoteProcess};
use crate::shell;
use crate::ssh::explain_ssh_failure;
use anyhow::Result;
use node_push::cli::RestoreArgs as NodePushRestoreArgs;
use node_push::message::{
    Message, NodeInput, RestoreFailure, RestoreRequest, RestoreSummary, PROTOCOL_VERSION,
};
use std::collections::VecDeque;
use std::path::PathBuf;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const STDERR_TAIL: usize = 20;

/// `[sudo -n --] PATH restore ARGS...`, every word quoted.
pub fn command(privilege: Privilege, path: &str, args: &NodePushRestoreArgs) -> RemoteCommand {
    // The SSH connection is node-push's stdin: its end stops the restore, and fresh keys come that way.
    let argv = NodePushRestoreArgs {
        watch_stdin: true,
        ..args.clone()
    }
    .to_argv();
    RemoteCommand::new(shell::join(
        privilege
            .prefix()
            .iter()
            .copied()
            .chain([path])
            .chain(argv.iter().map(String::as_str)),
    ))
}

/// One file node-push could not restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedFile {
    pub key: String,
    pub target: PathBuf,
    pub failure: RestoreFailure,
    pub error: String,
}

/// What node-push on one node did.
#[derive(Debug, Default)]
pub struct AgentRun {
    /// Targets written and verified.
    pub done: Vec<PathBuf>,
    pub failed: Vec<FailedFile>,
    pub summary: Option<RestoreSummary>,
    pub fatal: Option<String>,
    pub exit_code: Option<i32>,
    pub stderr_tail: Vec<String>,
}

impl AgentRun {
    /// Why the run as a whole cannot be trusted (beyond failed files), in one line; `None` when it ran to
    /// its end.
    pub fn broken(&self, host: &str) -> Option<String> {
        if let Some(fatal) = &self.fatal {
            return Some(format!("{host}: node-push restore: {fatal}"));
        }
        let last = || {
            self.stderr_tail
                .last()
                .cloned()
                .unwrap_or_else(|| "no message".into())
        };
        if self.exit_code == Some(255) && !self.stderr_tail.is_empty() {
            return Some(format!(
                "{host}: connection lost during the restore: {}",
                explain_ssh_failure(&self.stderr_tail.join("\n"))
            ));
        }
        if self.summary.is_none() {
            return Some(format!(
                "{host}: node-push restore ended without a summary: {}",
                last()
            ));
        }
        None
    }
}

/// Start node-push with `command`, send `input` and `request`, and collect its messages.
pub async fn run(
    remote: &dyn Remote,
    command: &RemoteCommand,
    input: &NodeInput,
    request: &RestoreRequest,
    output: &Output,
) -> Result<AgentRun> {
    let host = remote.host().to_string();
    output.verbose(format!("{host}: $ {}", command.shown()));
    let RemoteProcess {
        mut stdin,
        stdout,
        stderr,
        exit,
    } = remote.spawn(command).await?;
    let mut lines = serde_json::to_string(input).expect("serialisable");
    lines.push('\n');
    lines.push_str(&serde_json::to_string(request).expect("serialisable"));
    lines.push('\n');
    if let Some(pipe) = stdin.as_mut() {
        // A node-push that died at once shows up below through its exit and stderr.
        let _ = pipe.write_all(lines.as_bytes()).await;
        let _ = pipe.flush().await;
    }
    drop(lines);
    let stdin = tokio::sync::Mutex::new(stdin);

    let mut result = AgentRun::default();
    let stdout_done = async {
        let mut lines = stdout.lines();
        while let Ok(Some(text)) = lines.next_line().await {
            match Message::parse_line(&text) {
                Ok(Some(message)) => {
                    if handle(&host, message, &mut result, output) {
                        // node-push is done: closing its stdin lets it exit.
                        *stdin.lock().await = None;
                    }
                }
                Ok(None) => output.verbose(format!("{host}: {text}")),
                Err(error) => {
                    result.fatal = Some(error.to_string());
                    break;
                }
            }
        }
        drop(stdin.lock().await.take());
    };
    let stderr_done = async {
        let mut tail = VecDeque::new();
        let mut lines = stderr.lines();
        while let Ok(Some(text)) = lines.next_line().await {
            // node-push names itself at the start of its lines already.
            let said = text.strip_prefix("node-push: ").unwrap_or(&text);
            output.verbose(format!("{host}: node-push: {said}"));
            if tail.len() == STDERR_TAIL {
                tail.pop_front();
            }
            tail.push_back(text);
        }
        tail
    };
    let ((), tail) = tokio::select! {
        done = async { tokio::join!(stdout_done, stderr_done) } => done,
        never = crate::stages::upload::forward_fresh_keys(&stdin, input) => match never {},
    };
    result.stderr_tail = tail.into_iter().collect();
    result.exit_code = exit.await.ok().flatten();
    Ok(result)
}

/// Apply one message; true when it is the last one.
fn handle(host: &str, message: Message, result: &mut AgentRun, output: &Output) -> bool {
    match message {
        Message::Hello {
            protocol,
            tool_version,
            ..
        } if protocol != PROTOCOL_VERSION => {
            result.fatal = Some(format!(
                "node-push {tool_version} speaks protocol {protocol}, expected {PROTOCOL_VERSION}"
            ));
            return true;
        }
        Message::Hello { .. } | Message::RestoreFileProgress { .. } => {}
        Message::Plan { files, bytes } => output.info(format!(
            "{host}: restoring {files} files, {}",
            human_bytes(bytes)
        )),
        Message::RestoreFileDone { target, size, .. } => {
            output.verbose(format!(
                "{host}: restored {} ({})",
                target.display(),
                human_bytes(size)
            ));
            result.done.push(target);
        }
        Message::RestoreFileFailed {
            key,
            target,
            failure,
            error,
            ..
        } => {
            if failure != RestoreFailure::TableFailed {
                output.error(format!("{host}: {error}"));
            }
            result.failed.push(FailedFile {
                key,
                target,
                failure,
                error,
            });
        }
        Message::RestoreSummary(summary) => {
            result.summary = Some(summary);
            return true;
        }
        Message::Fatal { error } => {
            result.fatal = Some(error);
            return true;
        }
        other => output.verbose(format!("{host}: unexpected message: {}", other.to_line())),
    }
    false
}
