//! One run of a program under test (the coordinator, node-push) to its end: exit code, stdout and stderr,
//! bounded in time. Both the end-to-end and the fault tests run the coordinator this way.

use std::io::Read;
use std::process::Child;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// How a run ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout parsed as JSON (`--json`); the error shows both streams.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.stdout).with_context(|| {
            format!(
                "stdout is not JSON: {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    /// The name of the backup the run reported (`--json`).
    pub fn backup_name(&self) -> Result<String> {
        Ok(self.json()?["backup"]
            .as_str()
            .context("no backup name in the report")?
            .to_string())
    }

    /// stdout and stderr together, to search for things that must never be shown.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Waits for `child` to end, reading its piped stdout and stderr (a stream not piped reads as empty);
/// kills it and fails after `limit`.
pub fn finish(mut child: Child, limit: Duration) -> Result<Run> {
    let pipes: [Option<Box<dyn Read + Send>>; 2] = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    let readers: Vec<_> = pipes
        .into_iter()
        .map(|pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_string(&mut text);
                }
                text
            })
        })
        .collect();
    let mut status = None;
    let ended = crate::wait::poll(limit, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    let Some(status) = status.filter(|_| ended) else {
        let _ = child.kill();
        let _ = child.wait();
        bail!("the program did not finish within {limit:?}");
    };
    let mut texts = readers.into_iter().map(|r| r.join().unwrap_or_default());
    Ok(Run {
        code: status.code(),
        stdout: texts.next().unwrap_or_default(),
        stderr: texts.next().unwrap_or_default(),
    })
}
