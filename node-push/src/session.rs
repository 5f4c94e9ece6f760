//! What every node-push command does around its real work: read the coordinator's JSON lines from stdin
//! (credentials first), watch stdin so that a dropped SSH connection stops the run, and open the store.
//!
//! Stdin is watched only when the coordinator asks for it (`--watch-stdin`): a standalone run (cron hands
//! its jobs a pipe already at end of file; systemd, `nohup` and CI runners give `/dev/null` or nothing)
//! must never take the end of its stdin for a dropped coordinator. While watched, every further line is a
//! [`NodeInput`] with fresh credentials (temporary ones expire during long runs); the store swaps them in
//! for its next requests.
//!
//! Credentials only ever arrive here, on stdin or from the standard AWS sources; errors never echo a line
//! read from stdin, since it may hold the secret key.

use crate::message::NodeInput;
use crate::store::local::LocalStore;
use crate::store::s3::{publish_keys, CredentialSource, Keys, S3Config, S3Store};
use crate::store::{Destination, ObjectStore};
use anyhow::{bail, Context as _};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Where a command's store is and how to reach it.
#[derive(Debug, Clone, Copy)]
pub struct StoreAccess<'a> {
    pub dest: &'a Destination,
    pub endpoint: Option<&'a str>,
    pub region: &'a str,
    pub profile: Option<&'a str>,
}

/// Open the store: the credentials from `input` when it has them, else the profile, else the default chain
/// (environment, `~/.aws/credentials`, instance role).
pub async fn open_store(
    access: StoreAccess<'_>,
    input: &NodeInput,
) -> anyhow::Result<Arc<dyn ObjectStore>> {
    match access.dest {
        Destination::Local { root } => Ok(Arc::new(LocalStore::new(root.clone())?)),
        Destination::S3 { bucket, .. } => {
            let credentials = match (&input.aws_access_key_id, &input.aws_secret_access_key) {
                (Some(access_key), Some(secret_key)) => CredentialSource::Explicit {
                    access_key: access_key.clone(),
                    secret_key: secret_key.clone(),
                    session_token: input.aws_session_token.clone(),
                },
                _ => match access.profile {
                    Some(profile) => CredentialSource::Profile(Some(profile.to_string())),
                    None => CredentialSource::DefaultChain,
                },
            };
            let config = S3Config {
                bucket: bucket.clone(),
                region: access.region.to_string(),
                endpoint: access.endpoint.map(str::to_string),
                credentials,
                timeout: Duration::from_secs(120),
            };
            Ok(Arc::new(S3Store::connect(config).await?))
        }
    }
}

/// Sets `cancel` when stdin reaches end of file: the coordinator is gone and nobody would see the result.
/// Lines before that are fresh credentials from the coordinator, handed to the store.
/// `what` names the run in the log line ("upload", "restore").
pub fn watch_stdin(cancel: watch::Sender<bool>, what: &'static str) {
    std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut line = String::new();
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read_line(&mut line), Ok(n) if n > 0) {
                take_credentials_line(&line);
                line.clear();
            }
            let _ = cancel.send(true);
            // stderr usually went with the connection: eprintln! would panic here, before the run stops.
            let _ = writeln!(
                std::io::stderr(),
                "node-push: stdin closed, stopping the {what}"
            );
        })
        .expect("can start a thread");
}

/// A credentials line sent during the run: its keys replace the current ones for the next requests.
/// Blank lines are ignored; a bad line is named by its position only (it may hold a secret).
pub fn take_credentials_line(line: &str) {
    if line.trim().is_empty() {
        return;
    }
    match serde_json::from_str::<NodeInput>(line.trim()) {
        Ok(NodeInput {
            aws_access_key_id: Some(access_key),
            aws_secret_access_key: Some(secret_key),
            aws_session_token,
            ..
        }) if !access_key.is_empty() && !secret_key.is_empty() => publish_keys(Keys {
            access_key,
            secret_key,
            session_token: aws_session_token,
            expires: None,
        }),
        Ok(_) => {}
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "node-push: ignored a credentials line on stdin ({})",
                category(&e)
            );
        }
    }
}

/// Reads one line of JSON; the error never echoes the line (it may hold the secret key).
pub fn read_json_line<T: serde::de::DeserializeOwned>(
    stdin: &mut impl BufRead,
    what: &str,
) -> anyhow::Result<T> {
    let mut line = String::new();
    let read = stdin
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} line from stdin"))?;
    if read == 0 {
        bail!("stdin ended before the {what} line");
    }
    serde_json::from_str(line.trim()).map_err(|e| {
        anyhow::anyhow!(
            "the {what} line on stdin is not valid (line {}, column {}: {})",
            e.line(),
            e.column(),
            category(&e)
        )
    })
}

/// serde_json's error category without its message, which may quote the input.
fn category(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of the wrong shape",
        serde_json::error::Category::Eof => "incomplete JSON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_errors_never_echo_the_line() {
        let mut input = &b"{\"aws_secret_access_key\": \"hunter2\" oops}\n"[..];
        let err = read_json_line::<NodeInput>(&mut input, "credentials")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("credentials"), "{err}");
        let mut empty = &b""[..];
        assert!(read_json_line::<NodeInput>(&mut empty, "credentials").is_err());
        let mut good = &b"{\"aws_access_key_id\":\"a\",\"aws_secret_access_key\":\"b\"}\n"[..];
        let input: NodeInput = read_json_line(&mut good, "credentials").unwrap();
        assert_eq!(input.aws_access_key_id.as_deref(), Some("a"));
    }
}
