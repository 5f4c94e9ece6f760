//! Running `node-push restore --request-stdin` on a node, through one [`session`](crate::stages::session):
//! the request line (every file and its target) and the credentials line go in on its stdin (stdin then
//! stays open: closing it cancels the run, and node-push removes its `.part` files), its JSON lines come
//! back as one result per file.

use crate::nodetool::Privilege;
use crate::output::{human_bytes, Output};
use crate::remote::Remote;
use crate::ssh::explain_ssh_failure;
use crate::stages::session;
use anyhow::Result;
use contract::message::{Message, NodeInput, RestoreFailure, RestoreSummary};
use contract::request::{Request, RestoreFilesRequest};
use std::path::PathBuf;

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

/// Run node-push at `path` on `remote` with `request` and the credentials `input`, and collect its
/// messages.
pub async fn run(
    remote: &dyn Remote,
    privilege: Privilege,
    path: &str,
    request: RestoreFilesRequest,
    input: &NodeInput,
    output: &Output,
) -> Result<AgentRun> {
    let host = remote.host().to_string();
    let request = Request::Restore(Box::new(request));
    let command = session::command(privilege, path, &request);
    // The SSH connection is node-push's stdin: its end stops the restore, and fresh keys come that way.
    let mut result = AgentRun::default();
    let end = session::run(remote, &command, request, input, output, |message| {
        handle(&host, message, &mut result, output)
    })
    .await?;
    end.record(
        &mut result.fatal,
        &mut result.stderr_tail,
        &mut result.exit_code,
    );
    Ok(result)
}

/// Apply one message; true when it is the last one.
fn handle(host: &str, message: Message, result: &mut AgentRun, output: &Output) -> bool {
    match message {
        Message::RestoreFileProgress { .. } => {}
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
