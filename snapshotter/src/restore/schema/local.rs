//! Commands on this machine as a [`Remote`]: `restore --schema --mode sstableloader` runs the schema
//! client here, next to sstableloader, against the first `--target-hosts` node.

use crate::remote::{CommandOutput, Remote, RemoteCommand, RemoteError, RemoteProcess};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// `sh -c` here, named after the node it talks to.
pub struct LocalShell {
    host: String,
}

impl LocalShell {
    pub fn new(host: &str) -> Self {
        LocalShell {
            host: host.to_string(),
        }
    }
}

#[async_trait]
impl Remote for LocalShell {
    fn host(&self) -> &str {
        &self.host
    }

    async fn run(
        &self,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
    ) -> Result<CommandOutput, RemoteError> {
        let spawn_error = |source| RemoteError::Spawn {
            host: self.host.clone(),
            source,
        };
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command.script())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        if let Some(mut pipe) = child.stdin.take() {
            // A client that exits early closes its stdin; its exit code tells what happened.
            let _ = pipe.write_all(stdin.unwrap_or_default()).await;
        }
        let out = child.wait_with_output().await.map_err(spawn_error)?;
        Ok(CommandOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    async fn spawn(&self, _command: &RemoteCommand) -> Result<RemoteProcess, RemoteError> {
        Err(RemoteError::Spawn {
            host: self.host.clone(),
            source: std::io::Error::other("not used for the schema client"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_here_with_stdin_and_reports_the_exit_code() {
        let shell = LocalShell::new("10.0.0.9");
        let ok = shell
            .run(
                &RemoteCommand::new("tr a-z A-Z"),
                Some(b"create keyspace ks;"),
            )
            .await
            .unwrap();
        assert_eq!(
            (ok.code, ok.stdout.as_str()),
            (Some(0), "CREATE KEYSPACE KS;")
        );
        let failed = shell
            .run(&RemoteCommand::new("echo no such table >&2; exit 3"), None)
            .await
            .unwrap();
        assert_eq!(failed.code, Some(3));
        assert_eq!(failed.reason(), "no such table");
        assert_eq!(shell.host(), "10.0.0.9");
    }
}
