//! Running `node-push upload` on a node, through one [`session`](super::session): the
//! [`UploadRequest`] and the credentials go in on its stdin (never argv or the remote environment), its
//! [`Message`] lines drive the progress display and yield the manifest entries, and its stderr is kept
//! for error messages (and shown with `--verbose`).

use super::session;
use crate::nodetool::Privilege;
use crate::output::Output;
use crate::remote::{Remote, RemoteCommand};
use crate::ssh::explain_ssh_failure;
use anyhow::Result;
use contract::exit::ExitStatus;
use contract::manifest::ObjectEntry;
use contract::message::{Message, NodeInput, SkipReason, Summary};
use contract::request::{Request, UploadRequest};
/// How many failed files of a host are shown as errors while the upload runs (the rest with --verbose);
/// the host's failure line at the end gives the count.
const FAILURES_SHOWN: usize = 5;

/// How node-push is run on a node for an upload: its command line and its request.
#[derive(Debug, Clone)]
pub struct NodePushCall {
    pub command: RemoteCommand,
    pub request: Request,
}

/// `[sudo -n --] PATH upload --request-stdin`, and the request to send.
pub fn node_push_command(
    privilege: Privilege,
    path: &str,
    request: &UploadRequest,
) -> NodePushCall {
    let request = Request::Upload(Box::new(request.clone()));
    NodePushCall {
        command: session::command(privilege, path, &request),
        request,
    }
}

/// What node-push on one host did.
#[derive(Debug, Default)]
pub struct HostUpload {
    /// Verified objects: uploaded now, found already stored with the same size and ETag, or referenced
    /// in the reference backup.
    pub entries: Vec<ObjectEntry>,
    pub summary: Option<Summary>,
    /// `path: error` of each file that failed after its retries.
    pub failed_files: Vec<String>,
    /// Files uploaded by this run, and files found already stored.
    pub uploaded: u64,
    pub already_stored: u64,
    /// Differential snapshot: files whose exact bytes the reference backup stores (listed with its
    /// object's key, not sent), and their source bytes.
    pub referenced: u64,
    pub bytes_referenced: u64,
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
        if self.exit_code.and_then(ExitStatus::from_code) != Some(ExitStatus::Success) {
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

/// Run node-push on `remote` as `call` says, with the credentials `input`.
pub async fn run(
    remote: &dyn Remote,
    call: &NodePushCall,
    input: &NodeInput,
    output: &Output,
) -> Result<HostUpload> {
    let host = remote.host().to_string();
    let mut result = HostUpload::default();
    let end = session::run(
        remote,
        &call.command,
        call.request.clone(),
        input,
        output,
        |message| handle(&host, message, &mut result, output),
    )
    .await?;
    end.record(
        &mut result.fatal,
        &mut result.stderr_tail,
        &mut result.exit_code,
    );
    output.upload_finished(&host);
    Ok(result)
}

/// Apply one message; true when it is the last one of the run.
fn handle(host: &str, message: Message, result: &mut HostUpload, output: &Output) -> bool {
    match message {
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
            reason: SkipReason::Referenced { entry },
        } => {
            output.file_finished(host, &path, entry.size);
            result.referenced += 1;
            result.bytes_referenced += entry.size;
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
