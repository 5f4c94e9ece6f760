//! A scripted [`Remote`] for stage tests: answers commands by the first rule whose pattern the command
//! contains, and records every command (with its stdin) it was given.

use crate::remote::{CommandOutput, Remote, RemoteCommand, RemoteError, RemoteProcess};
use async_trait::async_trait;
use std::sync::Mutex;

/// One canned answer.
#[derive(Debug, Clone)]
pub struct Rule {
    pub contains: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Used once, then forgotten (for a command whose answer changes, like a hash before and after a copy).
    pub once: bool,
}

/// A fake host.
#[derive(Debug, Default)]
pub struct FakeRemote {
    pub host: String,
    pub rules: Mutex<Vec<Rule>>,
    /// (script, stdin) of every command run or spawned, in order.
    pub log: Mutex<Vec<(String, Vec<u8>)>>,
    /// When set, every command fails to connect with this message.
    pub unreachable: Option<String>,
    /// Everything written to the stdin of spawned commands, one entry per command once it closed.
    pub stdin_received: std::sync::Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FakeRemote {
    pub fn new(host: &str) -> Self {
        FakeRemote {
            host: host.to_string(),
            ..Self::default()
        }
    }

    /// Answer commands containing `contains` with `stdout` and exit code `code`.
    pub fn on(self, contains: &str, code: i32, stdout: &str) -> Self {
        self.on_err(contains, code, stdout, "")
    }

    pub fn on_err(self, contains: &str, code: i32, stdout: &str, stderr: &str) -> Self {
        self.rules.lock().unwrap().push(Rule {
            contains: contains.to_string(),
            code,
            stdout: stdout.to_string(),
            stderr: stderr.to_string(),
            once: false,
        });
        self
    }

    /// Like [`FakeRemote::on`], for the first matching command only.
    pub fn once(self, contains: &str, code: i32, stdout: &str) -> Self {
        self.rules.lock().unwrap().push(Rule {
            contains: contains.to_string(),
            code,
            stdout: stdout.to_string(),
            stderr: String::new(),
            once: true,
        });
        self
    }

    pub fn scripts(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(s, _)| s.clone())
            .collect()
    }

    fn answer(&self, script: &str) -> CommandOutput {
        let mut rules = self.rules.lock().unwrap();
        let found = rules.iter().position(|r| script.contains(&r.contains));
        let rule = found.map(|i| {
            if rules[i].once {
                rules.remove(i)
            } else {
                rules[i].clone()
            }
        });
        match rule {
            Some(rule) => CommandOutput {
                code: Some(rule.code),
                stdout: rule.stdout.clone(),
                stderr: rule.stderr.clone(),
            },
            None => CommandOutput {
                code: Some(127),
                stdout: String::new(),
                stderr: format!("fake: no rule for {script}"),
            },
        }
    }
}

#[async_trait]
impl Remote for FakeRemote {
    fn host(&self) -> &str {
        &self.host
    }

    async fn run(
        &self,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
    ) -> Result<CommandOutput, RemoteError> {
        self.log.lock().unwrap().push((
            command.script().to_string(),
            stdin.map(<[u8]>::to_vec).unwrap_or_default(),
        ));
        if let Some(message) = &self.unreachable {
            return Err(RemoteError::Connection {
                host: self.host.clone(),
                message: message.clone(),
            });
        }
        Ok(self.answer(command.script()))
    }

    async fn spawn(&self, command: &RemoteCommand) -> Result<RemoteProcess, RemoteError> {
        self.log
            .lock()
            .unwrap()
            .push((command.script().to_string(), Vec::new()));
        let output = self.answer(command.script());
        let (stdin_writer, mut stdin_reader) = tokio::io::duplex(1 << 16);
        let received = self.stdin_received.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut bytes = Vec::new();
            let _ = stdin_reader.read_to_end(&mut bytes).await;
            received.lock().unwrap().push(bytes);
        });
        let code = output.code;
        Ok(RemoteProcess {
            stdin: Some(Box::new(stdin_writer)),
            stdout: Box::new(std::io::Cursor::new(output.stdout.into_bytes())),
            stderr: Box::new(std::io::Cursor::new(output.stderr.into_bytes())),
            exit: Box::pin(async move { Ok(code) }),
        })
    }
}
