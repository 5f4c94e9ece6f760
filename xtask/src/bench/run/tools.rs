//! Finding the programs the benchmark compares, and reading node-push's summary line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::bench::measure::GNU_TIME;
use crate::cmd;

/// The programs under test and the reference tools.
#[derive(Debug, Clone)]
pub struct Tools {
    pub node_push: PathBuf,
    pub rclone: PathBuf,
    pub aws: PathBuf,
    pub lzop: PathBuf,
}

impl Tools {
    /// Finds every tool, or fails naming the first missing one and how to get it. `node_push` overrides
    /// the release build's binary.
    pub fn find(node_push: Option<&Path>) -> Result<Tools> {
        if !Path::new(GNU_TIME).is_file() {
            bail!("{GNU_TIME} is missing: install GNU time (apt-get install time)");
        }
        for (program, package) in [("timeout", "coreutils"), ("xargs", "findutils")] {
            if which(program).is_none() {
                bail!("{program} is not on PATH: install {package}");
            }
        }
        let node_push = match node_push {
            Some(path) if path.is_file() => path.to_path_buf(),
            Some(path) => bail!("--node-push {}: no such file", path.display()),
            None => target_dir().join("release").join("node-push"),
        };
        if !node_push.is_file() {
            bail!(
                "{} is missing: `cargo build --release -p node-push` did not produce it",
                node_push.display()
            );
        }
        let aws_in_stack = cmd::stack_dir().join("venv/bin/aws");
        let aws = if aws_in_stack.is_file() {
            aws_in_stack
        } else {
            which("aws").context("the AWS CLI is missing: run `cargo xtask setup`")?
        };
        Ok(Tools {
            node_push,
            rclone: which("rclone").context("rclone is missing: apt-get install rclone")?,
            aws,
            lzop: which("lzop").context("lzop is missing: apt-get install lzop")?,
        })
    }
}

pub use crate::cmd::target_dir;

fn which(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A JSON string literal (the credentials line is built without a JSON library: xtask stays small).
pub fn json_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if u32::from(c) < 0x20 => quoted.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The counts of node-push's last `summary` line that the benchmark checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushSummary {
    pub files_done: u64,
    pub files_failed: u64,
    pub bytes_stored: u64,
}

impl PushSummary {
    /// Reads the summary line from node-push's stdout (JSON lines) in `path`.
    pub fn read(path: &Path) -> Result<PushSummary> {
        let line = last_line_of_type(path, "summary")?;
        Ok(PushSummary {
            files_done: number_field(&line, "files_done")?,
            files_failed: number_field(&line, "files_failed")?,
            bytes_stored: number_field(&line, "bytes_stored")?,
        })
    }

    /// Fails unless all `expected_files` were uploaded.
    pub fn check_complete(&self, expected_files: usize) -> Result<()> {
        if self.files_failed > 0 || self.files_done != expected_files as u64 {
            bail!(
                "node-push uploaded {} of {expected_files} files ({} failed)",
                self.files_done,
                self.files_failed
            );
        }
        Ok(())
    }
}

/// The counts of `node-push restore`'s last `restore_summary` line that the benchmark checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreSummary {
    pub files_done: u64,
    pub files_failed: u64,
    pub bytes_written: u64,
    pub bytes_downloaded: u64,
}

impl RestoreSummary {
    /// Reads the restore summary line from node-push's stdout (JSON lines) in `path`.
    pub fn read(path: &Path) -> Result<RestoreSummary> {
        let line = last_line_of_type(path, "restore_summary")?;
        Ok(RestoreSummary {
            files_done: number_field(&line, "files_done")?,
            files_failed: number_field(&line, "files_failed")?,
            bytes_written: number_field(&line, "bytes_written")?,
            bytes_downloaded: number_field(&line, "bytes_downloaded")?,
        })
    }

    /// Fails unless all `expected_files` were restored, `expected_bytes` in all.
    pub fn check_complete(&self, expected_files: usize, expected_bytes: u64) -> Result<()> {
        if self.files_failed > 0
            || self.files_done != expected_files as u64
            || self.bytes_written != expected_bytes
        {
            bail!(
                "node-push restored {} of {expected_files} files ({} failed), {} of {expected_bytes} bytes",
                self.files_done,
                self.files_failed,
                self.bytes_written
            );
        }
        Ok(())
    }
}

/// The last line of node-push's stdout in `path` whose message type is `kind`.
fn last_line_of_type(path: &Path, kind: &str) -> Result<String> {
    let tag = format!(r#""type":"{kind}""#);
    fs_err::read_to_string(path)?
        .lines()
        .rev()
        .find(|line| line.contains(&tag))
        .map(str::to_string)
        .with_context(|| format!("node-push printed no {kind} line; see {}", path.display()))
}

/// The unsigned integer after `"field":` in a flat JSON object.
fn number_field(line: &str, field: &str) -> Result<u64> {
    let key = format!("\"{field}\":");
    let start = line
        .find(&key)
        .with_context(|| format!("no {field} in node-push's summary {line}"))?
        + key.len();
    let digits: String = line[start..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .with_context(|| format!("{field} is not a number in node-push's summary {line}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_and_quotes_json() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-tools-{}", std::process::id()));
        fs_err::create_dir_all(&dir).unwrap();
        let stdout = dir.join("np.stdout");
        fs_err::write(
            &stdout,
            "{\"type\":\"hello\",\"protocol\":1}\n\
             {\"type\":\"summary\",\"files_total\":3,\"files_done\":3,\"files_skipped\":0,\
             \"files_failed\":0,\"bytes_read\":10,\"bytes_stored\":7,\"bytes_not_resent\":0,\"elapsed_ms\":5}\n",
        )
        .unwrap();
        let summary = PushSummary::read(&stdout).unwrap();
        assert_eq!(
            summary,
            PushSummary {
                files_done: 3,
                files_failed: 0,
                bytes_stored: 7
            }
        );
        summary.check_complete(3).unwrap();
        assert!(summary.check_complete(4).is_err());
        assert!(RestoreSummary::read(&stdout).is_err());
        fs_err::write(
            &stdout,
            "{\"type\":\"restore_summary\",\"files_total\":2,\"files_done\":2,\"files_failed\":0,\
             \"bytes_written\":10,\"bytes_downloaded\":7,\"failed_tables\":[],\"elapsed_ms\":5}\n",
        )
        .unwrap();
        let restored = RestoreSummary::read(&stdout).unwrap();
        assert_eq!((restored.bytes_written, restored.bytes_downloaded), (10, 7));
        restored.check_complete(2, 10).unwrap();
        assert!(restored.check_complete(2, 11).is_err());
        assert!(PushSummary::read(&stdout).is_err());
        fs_err::remove_dir_all(&dir).unwrap();
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }
}
