//! Running node-push on a node: credentials go in as one JSON line on its stdin (never argv or the remote
//! environment), its stdout comes back as [`Message`] lines that drive the progress display and yield
//! the manifest entries, and its stderr is kept for error messages (and shown with `--verbose`).

use crate::nodetool::Privilege;
use crate::output::Output;
use crate::remote::{Remote, RemoteCommand, RemoteProcess};
use crate::shell;
use crate::ssh::explain_ssh_failure;
use anyhow::Result;
use node_push::cli::UploadArgs;
use node_push::manifest::ObjectEntry;
use node_push::message::{Message, NodeInput, SkipReason, Summary, PROTOCOL_VERSION};
use std::collections::VecDeque;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// How many of node-push's last stderr lines are kept for the error message.
const STDERR_TAIL: usize = 20;
/// How many failed files of a host are shown as errors while the upload runs (the rest with --verbose);
/// the host's failure line at the end gives the count.
const FAILURES_SHOWN: usize = 5;

/// The node-push command line: `[sudo -n --] PATH upload ARGS...`, every word quoted.
pub fn node_push_command(privilege: Privilege, path: &str, args: &UploadArgs) -> RemoteCommand {
    // The SSH connection is node-push's stdin: its end stops the upload, and fresh keys come that way.
    let argv = UploadArgs {
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

/// What node-push on one host did.
#[derive(Debug, Default)]
pub struct HostUpload {
    /// Verified objects: uploaded now, or found already stored with the same size and ETag.
    pub entries: Vec<ObjectEntry>,
    pub summary: Option<Summary>,
    /// `path: error` of each file that failed after its retries.
    pub failed_files: Vec<String>,
    /// Files uploaded by this run, and files found already stored.
    pub uploaded: u64,
    pub already_stored: u64,
    /// Source identities of `backups/` files whose SSTable the backup already holds: not sent, not
    /// listed again, but committed with the batch so that their links can go.
    pub in_backup: Vec<String>,
    /// Files that were gone by the time node-push read them.
    pub vanished: Vec<String>,
    pub fatal: Option<String>,
    pub exit_code: Option<i32>,
    pub stderr_tail: Vec<String>,
}

impl HostUpload {
    /// `None` when every file is accounted for; else why not, in one line.
    pub fn failure(&self, host: &str) -> Option<String> {
        if let Some(fatal) = &self.fatal {
            return Some(format!("{host}: node-push: {fatal}"));
        }
        if !self.failed_files.is_empty() {
            return Some(format!(
                "{host}: {} file(s) failed to upload, first: {}",
                self.failed_files.len(),
                self.failed_files[0]
            ));
        }
        let stderr = self.stderr_tail.join("\n");
        // 255 is ssh's own exit code (node-push never uses it): the connection went, whatever the
        // remote side managed to say; a dropped master connection says nothing at all.
        if self.exit_code == Some(255) && self.summary.is_none() {
            let why = if stderr.is_empty() {
                "ssh ended without a message".to_string()
            } else {
                explain_ssh_failure(&stderr)
            };
            return Some(format!(
                "{host}: connection lost during the upload ({why}); node-push there stops and \
                 aborts its uploads when it notices"
            ));
        }
        let last_stderr = || {
            self.stderr_tail
                .last()
                .cloned()
                .unwrap_or_else(|| "no message".into())
        };
        if self.exit_code != Some(0) {
            let code = self
                .exit_code
                .map_or("a signal".to_string(), |c| format!("exit code {c}"));
            return Some(format!(
                "{host}: node-push ended with {code}: {}",
                last_stderr()
            ));
        }
        if self.summary.is_none() {
            return Some(format!(
                "{host}: node-push ended without a summary: {}",
                last_stderr()
            ));
        }
        None
    }
}

/// Run node-push on `remote` with `args`, feeding it `input` on stdin.
pub async fn run(
    remote: &dyn Remote,
    command: &RemoteCommand,
    input: &NodeInput,
    output: &Output,
) -> Result<HostUpload> {
    let host = remote.host().to_string();
    output.verbose(format!("{host}: $ {}", command.shown()));
    let RemoteProcess {
        mut stdin,
        stdout,
        stderr,
        exit,
    } = remote.spawn(command).await?;
    let mut line = serde_json::to_string(input).expect("serialisable");
    line.push('\n');
    if let Some(pipe) = stdin.as_mut() {
        // A node-push that died at once shows up below through its exit and stderr.
        let _ = pipe.write_all(line.as_bytes()).await;
        let _ = pipe.flush().await;
    }
    drop(line);
    let stdin = tokio::sync::Mutex::new(stdin);

    let mut result = HostUpload::default();
    let stdout_done = async {
        let mut lines = stdout.lines();
        while let Ok(Some(text)) = lines.next_line().await {
            match Message::parse_line(&text) {
                Ok(Some(message)) => {
                    let last = handle(&host, message, &mut result, output);
                    if last {
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
            output.verbose(format!("{host}: node-push: {text}"));
            if tail.len() == STDERR_TAIL {
                tail.pop_front();
            }
            tail.push_back(text);
        }
        tail
    };
    let ((), tail) = tokio::select! {
        done = async { tokio::join!(stdout_done, stderr_done) } => done,
        never = forward_fresh_keys(&stdin, input) => match never {},
    };
    result.stderr_tail = tail.into_iter().collect();
    result.exit_code = exit.await.ok().flatten();
    output.upload_finished(&host);
    Ok(result)
}

/// Apply one message; true when it is the last one of the run.
/// Sends each set of renewed keys (see `settings::credentials`) to node-push as one more stdin line, as
/// long as its stdin is open. Only when the node got keys from us at the start.
pub async fn forward_fresh_keys<W: tokio::io::AsyncWrite + Unpin>(
    stdin: &tokio::sync::Mutex<Option<W>>,
    input: &NodeInput,
) -> std::convert::Infallible {
    let mut keys = node_push::store::s3::subscribe_keys();
    keys.mark_unchanged();
    while input.aws_access_key_id.is_some() && keys.changed().await.is_ok() {
        let Some(fresh) = keys.borrow_and_update().clone() else {
            continue;
        };
        let mut line = serde_json::to_string(&fresh.node_input()).expect("serialisable");
        line.push('\n');
        let mut pipe = stdin.lock().await;
        let Some(pipe) = pipe.as_mut() else { break };
        let _ = pipe.write_all(line.as_bytes()).await;
        let _ = pipe.flush().await;
    }
    std::future::pending().await
}

fn handle(host: &str, message: Message, result: &mut HostUpload, output: &Output) -> bool {
    match message {
        Message::Hello {
            protocol,
            tool_version,
            ..
        } => {
            if protocol != PROTOCOL_VERSION {
                result.fatal = Some(format!(
                    "node-push {tool_version} speaks protocol {protocol}, expected {PROTOCOL_VERSION}"
                ));
                return true;
            }
        }
        Message::Plan { files, bytes } => output.upload_plan(host, files, bytes),
        Message::FileStarted { path, .. } => output.verbose(format!("{host}: uploading {path}")),
        Message::FileProgress {
            path, bytes_read, ..
        } => output.file_progress(host, &path, bytes_read),
        Message::FileDone { entry } => {
            output.file_finished(host, &entry.source_path, entry.size);
            result.uploaded += 1;
            result.entries.push(entry);
        }
        Message::FileSkipped {
            path,
            reason: SkipReason::AlreadyStored { entry },
        } => {
            output.file_finished(host, &path, entry.size);
            result.already_stored += 1;
            result.entries.push(entry);
        }
        Message::FileSkipped {
            path,
            reason: SkipReason::Vanished,
        } => {
            output.info(format!("{host}: {path} vanished before it was read"));
            output.file_finished(host, &path, 0);
            result.vanished.push(path);
        }
        Message::FileFailed { path, error, .. } => {
            // The first few are shown as they happen; a dead store would otherwise print every file.
            if result.failed_files.len() < FAILURES_SHOWN {
                output.error(format!("{host}: {path}: {error}"));
            } else {
                output.verbose(format!("{host}: {path}: {error}"));
            }
            result.failed_files.push(format!("{path}: {error}"));
        }
        Message::InBackup {
            path, source_id, ..
        } => {
            output.verbose(format!(
                "{host}: {path} is already in the backup, not sent again"
            ));
            result.in_backup.push(source_id);
        }
        Message::Summary(summary) => {
            result.summary = Some(summary);
            return true;
        }
        Message::Fatal { error } => {
            result.fatal = Some(error);
            return true;
        }
        // Messages of other node-push commands (restore) do not belong in an upload; shown, not fatal.
        other => output.verbose(format!("{host}: unexpected message: {}", other.to_line())),
    }
    false
}

#[cfg(test)]
mod tests;
