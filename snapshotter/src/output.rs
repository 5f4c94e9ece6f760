//! Everything the user sees while a command runs, in one place, so that one writer owns each stream.
//!
//! [`Output`] writes human log lines to stderr (through indicatif when bars are drawn, so lines and bars
//! do not garble each other) and results to stdout: a table for people, or one JSON document with `--json`.
//! On a terminal each host gets a bar (bytes, files, rate, ETA) while node-push uploads.
//!
//! Nothing else in the coordinator prints (clippy's `disallowed-macros` bans `println!` and friends
//! elsewhere): where no [`Output`] exists yet or any more (a bad command line, the last error of `main`, a
//! background task, ssh's askpass answer, generated completions) the free functions below write.

mod progress;
pub mod table;

pub use progress::{human_bytes, HostProgress};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

/// How results and progress are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Progress bars and tables on a terminal.
    Terminal,
    /// Plain log lines on stderr (a pipe, a log file, cron).
    Plain,
    /// A JSON document on stdout; log lines on stderr.
    Json,
}

/// How chatty the log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// A named step of a backup, reported as it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Preflight,
    Install,
    Snapshot,
    Flush,
    Upload,
    Ring,
    Schema,
    Manifest,
    ClearSnapshot,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Preflight => "preflight",
            Stage::Install => "install node-push",
            Stage::Snapshot => "snapshot",
            Stage::Flush => "flush",
            Stage::Upload => "upload",
            Stage::Ring => "ring",
            Stage::Schema => "schema",
            Stage::Manifest => "manifest",
            Stage::ClearSnapshot => "clear snapshot",
        }
    }
}

/// The user-facing side of a run.
pub struct Output {
    mode: OutputMode,
    verbosity: Verbosity,
    bars: Option<MultiProgress>,
    hosts: Mutex<HashMap<String, (ProgressBar, HostProgress)>>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output").field("mode", &self.mode).finish()
    }
}

impl Output {
    pub fn new(mode: OutputMode, verbosity: Verbosity) -> Self {
        let bars = (mode == OutputMode::Terminal && verbosity != Verbosity::Quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Output {
            mode,
            verbosity,
            bars,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// A progress line (hidden with `--quiet`).
    pub fn info(&self, message: impl AsRef<str>) {
        if self.verbosity != Verbosity::Quiet {
            self.line(message.as_ref());
        }
    }

    /// A line shown only with `--verbose`.
    pub fn verbose(&self, message: impl AsRef<str>) {
        if self.verbosity == Verbosity::Verbose {
            self.line(message.as_ref());
        }
    }

    /// A warning: shown even with `--quiet`.
    pub fn warn(&self, message: impl AsRef<str>) {
        self.line(&format!("warning: {}", message.as_ref()));
    }

    /// An error of one host or step: always shown.
    pub fn error(&self, message: impl AsRef<str>) {
        self.line(&format!("error: {}", message.as_ref()));
    }

    pub fn stage(&self, stage: Stage, detail: impl AsRef<str>) {
        let detail = detail.as_ref();
        if detail.is_empty() {
            self.info(format!("== {}", stage.label()));
        } else {
            self.info(format!("== {}: {detail}", stage.label()));
        }
    }

    /// node-push on `host` announced what it will upload.
    pub fn upload_plan(&self, host: &str, files: u64, bytes: u64) {
        self.info(format!(
            "{host}: uploading {files} files, {}",
            progress::human_bytes(bytes)
        ));
        let mut hosts = self.hosts.lock().expect("not poisoned");
        let bar = match &self.bars {
            Some(bars) => {
                let bar = bars.add(ProgressBar::new(bytes));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>15} [{bar:30}] {bytes}/{total_bytes} {msg} {binary_bytes_per_sec} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(host.to_string());
                bar
            }
            None => ProgressBar::hidden(),
        };
        let progress = HostProgress::new(files, bytes);
        bar.set_message(progress.files_text());
        hosts.insert(host.to_string(), (bar, progress));
    }

    /// Bytes of one file read so far.
    pub fn file_progress(&self, host: &str, path: &str, bytes_read: u64) {
        self.update(host, |p| p.file_progress(path, bytes_read));
    }

    /// A file finished (uploaded, or skipped as already stored).
    pub fn file_finished(&self, host: &str, path: &str, size: u64) {
        self.update(host, |p| p.file_finished(path, size));
    }

    fn update(&self, host: &str, change: impl FnOnce(&mut HostProgress)) {
        let mut hosts = self.hosts.lock().expect("not poisoned");
        if let Some((bar, progress)) = hosts.get_mut(host) {
            change(progress);
            bar.set_position(progress.bytes_done());
            bar.set_message(progress.files_text());
        }
    }

    /// node-push on `host` ended; its bar stays, frozen.
    pub fn upload_finished(&self, host: &str) {
        let hosts = self.hosts.lock().expect("not poisoned");
        if let Some((bar, _)) = hosts.get(host) {
            bar.abandon();
        }
    }

    /// Print the final result: `json` with `--json`, else `table` (both on stdout).
    pub fn result(&self, table: &str, json: &serde_json::Value) {
        if let Some(bars) = &self.bars {
            let _ = bars.clear();
        }
        let mut stdout = std::io::stdout().lock();
        let _ = match self.mode {
            OutputMode::Json => writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(json).expect("serialisable")
            ),
            _ => write!(stdout, "{table}"),
        };
        let _ = stdout.flush();
    }

    /// The closing summary of a failed command, on stderr after its result: `heading`, then each line
    /// indented. Left out with `--json`, whose document says the same.
    pub fn failure(&self, heading: &str, lines: &[String]) {
        if self.mode == OutputMode::Json {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{heading}");
        for line in lines {
            let _ = writeln!(stderr, "  {line}");
        }
    }
}

/// One line on stderr, for when there is no [`Output`]: before the settings are known, after the run,
/// in a background task. A closed stderr is not an error worth dying for.
pub fn stderr_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `error: {message}` on stderr (see [`stderr_line`]).
pub fn error_line(message: &str) {
    stderr_line(&format!("error: {message}"));
}

/// `text` and a newline on stdout, as a helper process's answer (ssh's askpass).
pub fn stdout_line(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()
}

/// Generated text (completions, a man page) on stdout; a reader that stops early (`| head`) is not an
/// error.
pub fn stdout_text(text: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
