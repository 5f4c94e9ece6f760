//! Running one tool under `/usr/bin/time` and reading back what the kernel accounted for it.
//!
//! GNU time waits for its child with `wait4`, so the user and system CPU seconds and the peak resident set it
//! reports are the kernel's own rusage numbers for the tool and every process it waited for, not samples
//! that could miss the last burst before exit. Between time and the tool sits coreutils `timeout`, so that
//! a hung tool cannot stall the benchmark; its own few hundred KiB of RSS never exceed the tool's.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// GNU time's program; Debian's package `time` (bash's `time` keyword cannot report RSS).
pub const GNU_TIME: &str = "/usr/bin/time";
/// Elapsed seconds, user CPU seconds, system CPU seconds, maximum RSS in KiB.
const TIME_FORMAT: &str = "%e %U %S %M";
/// Exit status of `timeout` when it had to stop the tool.
const TIMED_OUT: i32 = 124;

/// What the kernel accounted for one run of a tool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    pub wall_secs: f64,
    pub user_secs: f64,
    pub system_secs: f64,
    pub max_rss_kib: u64,
}

impl Measurement {
    /// User plus system CPU seconds.
    pub fn cpu_secs(&self) -> f64 {
        self.user_secs + self.system_secs
    }

    pub fn max_rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }

    /// Reads GNU time's `-o` file. A tool that failed makes time write "Command exited with non-zero
    /// status N" first, so the numbers are taken from the last line.
    pub fn parse(time_output: &str) -> Result<Measurement> {
        let line = time_output
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .with_context(|| format!("GNU time wrote nothing usable: {time_output:?}"))?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [wall, user, system, rss] = fields[..] else {
            bail!("expected `{TIME_FORMAT}` from GNU time, got {line:?}");
        };
        let seconds = |text: &str| -> Result<f64> {
            text.parse()
                .with_context(|| format!("not a number of seconds in GNU time's {line:?}"))
        };
        Ok(Measurement {
            wall_secs: seconds(wall)?,
            user_secs: seconds(user)?,
            system_secs: seconds(system)?,
            max_rss_kib: rss
                .parse()
                .with_context(|| format!("not a KiB count in GNU time's {line:?}"))?,
        })
    }
}

/// One tool invocation to measure.
#[derive(Debug, Clone)]
pub struct TimedRun {
    /// Names the run in messages and in the names of its log files.
    label: String,
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    removed_envs: Vec<OsString>,
    current_dir: Option<PathBuf>,
    /// Written to the tool's stdin, which then stays open until the tool exits (node-push stops when its
    /// stdin closes).
    stdin_line: Option<String>,
    timeout: Duration,
}

impl TimedRun {
    pub fn new(label: &str, program: impl Into<PathBuf>, timeout: Duration) -> Self {
        TimedRun {
            label: label.to_string(),
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            removed_envs: Vec::new(),
            current_dir: None,
            stdin_line: None,
            timeout,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.removed_envs.push(key.as_ref().to_os_string());
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    pub fn stdin_line(mut self, line: String) -> Self {
        self.stdin_line = Some(line);
        self
    }

    /// Runs the tool to its end with stdout and stderr in `<log_dir>/<label>.stdout|stderr`, and returns
    /// the measurement. Fails, naming the tool and quoting the end of its stderr, unless it exits 0.
    pub fn run(&self, log_dir: &Path) -> Result<Measurement> {
        let time_file = log_path(log_dir, &self.label, "time");
        let stdout_file = log_path(log_dir, &self.label, "stdout");
        let stderr_file = log_path(log_dir, &self.label, "stderr");
        let mut command = Command::new(GNU_TIME);
        command
            .arg("-o")
            .arg(&time_file)
            .arg("-f")
            .arg(TIME_FORMAT)
            .arg("timeout")
            .arg("--kill-after=10")
            .arg(format!("{}", self.timeout.as_secs()))
            .arg(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(key, value)| (key, value)))
            .stdout(fs_err::File::create(&stdout_file)?.into_parts().0)
            .stderr(fs_err::File::create(&stderr_file)?.into_parts().0)
            .stdin(match self.stdin_line {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            });
        for key in &self.removed_envs {
            command.env_remove(key);
        }
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        println!("bench: {} ...", self.label);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {GNU_TIME} for {}", self.label))?;
        // Held until the tool has exited: closing it early would stop node-push.
        let mut stdin = child.stdin.take();
        if let (Some(pipe), Some(line)) = (stdin.as_mut(), &self.stdin_line) {
            writeln!(pipe, "{line}")
                .with_context(|| format!("cannot write {}'s stdin line", self.label))?;
        }
        let status = child.wait()?;
        drop(stdin);
        if status.code() == Some(TIMED_OUT) {
            bail!(
                "{} did not finish within {} s; see {}",
                self.label,
                self.timeout.as_secs(),
                stderr_file.display()
            );
        }
        if !status.success() {
            bail!(
                "{} failed ({status}): {}",
                self.label,
                last_lines(&stderr_file, 5)
            );
        }
        Measurement::parse(&fs_err::read_to_string(&time_file)?)
    }
}

/// Where [`TimedRun::run`] puts the stdout of the run labelled `label`.
pub fn stdout_path(log_dir: &Path, label: &str) -> PathBuf {
    log_path(log_dir, label, "stdout")
}

fn log_path(log_dir: &Path, label: &str, extension: &str) -> PathBuf {
    let file_stem = label.replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    log_dir.join(format!("{file_stem}.{extension}"))
}

/// The last `count` non-empty lines of a log file, joined, for an error message.
fn last_lines(path: &Path, count: usize) -> String {
    let text = fs_err::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(count)..].join(" | ");
    format!("{tail} (log: {})", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gnu_time_output_also_after_a_failure_line() {
        let measured = Measurement::parse("12.34 5.60 1.25 45678\n").unwrap();
        assert_eq!(measured.wall_secs, 12.34);
        assert!((measured.cpu_secs() - 6.85).abs() < 1e-9);
        assert_eq!(measured.max_rss_kib, 45678);
        let failed =
            Measurement::parse("Command exited with non-zero status 3\n0.01 0.00 0.00 2048\n")
                .unwrap();
        assert_eq!(failed.max_rss_mib(), 2.0);
        assert!(Measurement::parse("").is_err());
        assert!(Measurement::parse("1.0 2.0 3.0\n").is_err());
    }

    #[test]
    fn measures_a_real_process_and_names_a_failing_one() {
        if !Path::new(GNU_TIME).is_file() {
            eprintln!("skipped: {GNU_TIME} is not installed (apt-get install time)");
            return;
        }
        let logs = std::env::temp_dir().join(format!("xtask-bench-measure-{}", std::process::id()));
        fs_err::create_dir_all(&logs).unwrap();
        let busy = TimedRun::new("busy sh", "sh", Duration::from_secs(60))
            .arg("-c")
            .arg("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; read line; echo \"$line\"")
            .stdin_line("hello".into());
        let measured = busy.run(&logs).unwrap();
        assert!(measured.cpu_secs() > 0.0, "{measured:?}");
        assert!(measured.max_rss_kib > 0, "{measured:?}");
        assert_eq!(
            fs_err::read_to_string(stdout_path(&logs, "busy sh")).unwrap(),
            "hello\n"
        );
        let failing = TimedRun::new("failing sh", "sh", Duration::from_secs(60))
            .arg("-c")
            .arg("echo broken-on-purpose >&2; exit 3");
        let error = failing.run(&logs).unwrap_err().to_string();
        assert!(
            error.contains("failing sh") && error.contains("broken-on-purpose"),
            "{error}"
        );
        fs_err::remove_dir_all(&logs).unwrap();
    }
}
