//! One node-push session, the way every command runs node-push on a node (upload, restore, stream):
//! `[sudo -n --] PATH <command> --request-stdin`, then on its stdin the request line
//! ([`contract::request::RequestLine`]) and, when the session says so, the credentials line (never argv or
//! the remote environment), then fresh keys as they are renewed. Its stdout comes back as [`Message`]
//! lines, each handed to the caller after the hello's protocol is checked; its stderr is kept (the last
//! lines) for error messages and shown with `--verbose`.

use crate::nodetool::Privilege;
use crate::output::Output;
use crate::remote::{Remote, RemoteCommand, RemoteProcess};
use crate::shell;
use anyhow::Result;
use contract::message::{Message, NodeInput, PROTOCOL_VERSION};
use contract::request::{Request, RequestLine, Session};
use std::collections::VecDeque;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// How many of node-push's last stderr lines are kept for the error message.
const STDERR_TAIL: usize = 20;

/// `[sudo -n --] PATH <command> --request-stdin`, every word quoted.
pub fn command(privilege: Privilege, path: &str, request: &Request) -> RemoteCommand {
    RemoteCommand::new(shell::join(privilege.prefix().iter().copied().chain([
        path,
        request.command(),
        "--request-stdin",
    ])))
}

/// What node-push's stdin gets first: the request line, then the credentials line when `input` is given.
pub fn stdin_lines(session: Session, request: Request, input: Option<&NodeInput>) -> String {
    let session = Session {
        credentials_stdin: input.is_some(),
        ..session
    };
    let mut lines = RequestLine::new(session, request).to_line();
    lines.push('\n');
    if let Some(input) = input {
        lines.push_str(&serde_json::to_string(input).expect("serialisable"));
        lines.push('\n');
    }
    lines
}

/// How a session ended, besides what its messages said.
#[derive(Debug, Default)]
pub struct SessionEnd {
    /// node-push's exit code; `None` after a signal.
    pub exit_code: Option<i32>,
    pub stderr_tail: Vec<String>,
    /// A line node-push should never print (bad JSON of our protocol), or a hello of another protocol.
    pub broken: Option<String>,
}

impl SessionEnd {
    /// Records how the session ended in a run's result: a broken protocol becomes its fatal error
    /// unless a message already gave one.
    pub fn record(
        self,
        fatal: &mut Option<String>,
        stderr_tail: &mut Vec<String>,
        exit_code: &mut Option<i32>,
    ) {
        if let Some(broken) = self.broken {
            fatal.get_or_insert(broken);
        }
        *stderr_tail = self.stderr_tail;
        *exit_code = self.exit_code;
    }
}

/// Runs one session on `remote`: `command`, with the request line and the credentials line written first
/// and the stdin then kept open for fresh keys until `on_message` says the run's last message came (it
/// returns true), or node-push ends; node-push stops when that stdin closes (the SSH connection is its
/// stdin). Messages other than a matching hello go to `on_message`.
pub async fn run(
    remote: &dyn Remote,
    command: &RemoteCommand,
    request: Request,
    input: &NodeInput,
    output: &Output,
    mut on_message: impl FnMut(Message) -> bool,
) -> Result<SessionEnd> {
    let watched = Session {
        credentials_stdin: true,
        watch_stdin: true,
    };
    let stdin = stdin_lines(watched, request, Some(input));
    let host = remote.host().to_string();
    output.verbose(format!("{host}: $ {}", command.shown()));
    let RemoteProcess {
        stdin: mut pipe,
        stdout,
        stderr,
        exit,
    } = remote.spawn(command).await?;
    if let Some(pipe) = pipe.as_mut() {
        // A node-push that died at once shows up below through its exit and stderr.
        let _ = pipe.write_all(stdin.as_bytes()).await;
        let _ = pipe.flush().await;
    }
    let pipe = tokio::sync::Mutex::new(pipe);
    let mut broken = None;
    let stdout_done = async {
        let mut lines = stdout.lines();
        while let Ok(Some(text)) = lines.next_line().await {
            let last = match Message::parse_line(&text) {
                Ok(Some(Message::Hello {
                    protocol,
                    tool_version,
                    ..
                })) if protocol != PROTOCOL_VERSION => {
                    broken = Some(format!(
                        "node-push {tool_version} speaks protocol {protocol}, expected \
                         {PROTOCOL_VERSION}: coordinator and node-push differ"
                    ));
                    true
                }
                Ok(Some(Message::Hello { .. })) => false,
                Ok(Some(message)) => on_message(message),
                Ok(None) => {
                    output.verbose(format!("{host}: {text}"));
                    false
                }
                Err(error) => {
                    broken = Some(error.to_string());
                    break;
                }
            };
            if last {
                // node-push is done: closing its stdin lets it exit.
                *pipe.lock().await = None;
            }
        }
        drop(pipe.lock().await.take());
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
        never = forward_fresh_keys(&pipe, input) => match never {},
    };
    Ok(SessionEnd {
        exit_code: exit.await.ok().flatten(),
        stderr_tail: tail.into_iter().collect(),
        broken,
    })
}

/// Sends each set of renewed keys (see `settings::credentials`) to node-push as one more stdin line, as
/// long as its stdin is open. Only when the node got keys from us at the start.
pub async fn forward_fresh_keys<W: tokio::io::AsyncWrite + Unpin>(
    stdin: &tokio::sync::Mutex<Option<W>>,
    input: &NodeInput,
) -> std::convert::Infallible {
    let mut keys = engine::store::s3::subscribe_keys();
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
