//! What every node-push command does around its real work: read the coordinator's JSON lines from stdin
//! (the request line, then credentials) and open the store. The stdin watch, which stops the run when a
//! dropped SSH connection ends stdin, is [`crate::watch`].
//!
//! Stdin is watched only when the session asks for it (`watch_stdin`): a standalone run (cron hands
//! its jobs a pipe already at end of file; systemd, `nohup` and CI runners give `/dev/null` or nothing)
//! must never take the end of its stdin for a dropped coordinator. While watched, every further line is a
//! [`NodeInput`] with fresh credentials (temporary ones expire during long runs); the store swaps them in
//! for its next requests.
//!
//! Credentials only ever arrive here, on stdin or from the standard AWS sources; errors never echo a line
//! read from stdin, since it may hold the secret key.

use anyhow::{bail, Context as _};
use contract::message::NodeInput;
use contract::request::{Request, RequestError, RequestLine, Session};
use engine::store::local::LocalStore;
use engine::store::s3::{CredentialSource, S3Config, S3Store};
use engine::store::{Destination, ObjectStore};
use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

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

/// `--request-stdin`: reads the [`RequestLine`] from stdin, strictly, and checks that it asks for
/// `command`. The error never echoes the line.
pub fn read_request(command: &'static str) -> anyhow::Result<(Session, Request)> {
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the request line from stdin")?;
    if read == 0 {
        bail!("stdin ended before the request line");
    }
    let parsed = RequestLine::parse(line.trim())?;
    if parsed.request.command() != command {
        return Err(RequestError::WrongCommand {
            command,
            got: parsed.request.command(),
        }
        .into());
    }
    Ok((parsed.session, parsed.request))
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
