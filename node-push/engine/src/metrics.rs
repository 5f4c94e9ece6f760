//! Prometheus metrics in node_exporter's textfile format, for alerts such as "no successful backup in
//! 26 hours": `time() - <prefix>_last_success_timestamp_seconds > 26 * 3600`.
//!
//! Both binaries write one file per job (`node-push upload --metrics-file`, `cassandra-snapshotter backup
//! --metrics-file`) into node_exporter's `--collector.textfile.directory`. The file is written to a temp
//! file in the same directory and renamed over the old one, so the collector never reads half a file. A
//! failed run keeps the last success time it finds in the previous file (0 when there never was one).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Labels of one sample, in order.
pub type Labels = Vec<(&'static str, String)>;

/// One metric family: `# HELP`, `# TYPE gauge` and its samples.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: String,
    pub help: &'static str,
    pub samples: Vec<(Labels, f64)>,
}

impl Family {
    pub fn new(name: String, help: &'static str) -> Self {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    pub fn sample(mut self, labels: Labels, value: f64) -> Self {
        self.samples.push((labels, value));
        self
    }
}

/// A label value escaped as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn label_text(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// The families as text.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for family in families.iter().filter(|f| !f.samples.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} gauge", family.name);
        for (labels, value) in &family.samples {
            let _ = writeln!(out, "{}{} {value}", family.name, label_text(labels));
        }
    }
    out
}

/// The value of `name{labels}` in the file at `path`, if the file and the sample are there.
pub fn previous_value(path: &Path, name: &str, labels: &Labels) -> Option<f64> {
    let text = fs_err::read_to_string(path).ok()?;
    let wanted = format!("{name}{} ", label_text(labels));
    text.lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .and_then(|value| value.trim().parse().ok())
}

/// Writes `text` to `path` through a temp file in the same directory, then renames it into place.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} is not a file name", path.display())))?;
    let temp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut file = fs_err::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        // node_exporter runs as another user: the file must be readable by it.
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(&temp, std::fs::Permissions::from_mode(0o644))?;
        fs_err::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs_err::remove_file(&temp);
    }
    written
}

/// What one run did, as the families every writer shares. `prefix` is `node_push_upload` or
/// `cassandra_snapshotter_backup`; `run_labels` identify the job (its selection).
#[derive(Debug, Clone)]
pub struct RunMetrics {
    pub prefix: &'static str,
    pub run_labels: Labels,
    pub success: bool,
    pub finished_unix: f64,
    pub duration_seconds: f64,
    /// Per host: labels (host first, then the run labels) and its totals.
    pub hosts: Vec<(Labels, HostTotals)>,
}

/// One host's totals.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostTotals {
    pub success: bool,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    pub bytes_skipped: u64,
    pub files_uploaded: u64,
    pub files_skipped: u64,
    pub files_failed: u64,
}

impl RunMetrics {
    /// The families, with the last success time carried over from `previous` when this run failed.
    pub fn families(&self, previous: Option<&Path>) -> Vec<Family> {
        let p = self.prefix;
        let name = |suffix: &str| format!("{p}_{suffix}");
        let last_success_name = name("last_success_timestamp_seconds");
        let last_success = if self.success {
            self.finished_unix
        } else {
            previous
                .and_then(|path| previous_value(path, &last_success_name, &self.run_labels))
                .unwrap_or(0.0)
        };
        let run = |family: Family, value: f64| family.sample(self.run_labels.clone(), value);
        let mut families = vec![
            run(
                Family::new(
                    last_success_name,
                    "Unix time the last successful run ended (0: none yet).",
                ),
                last_success,
            ),
            run(
                Family::new(
                    name("last_run_timestamp_seconds"),
                    "Unix time the last run ended.",
                ),
                self.finished_unix,
            ),
            run(
                Family::new(
                    name("last_run_success"),
                    "1 if the last run succeeded, else 0.",
                ),
                f64::from(u8::from(self.success)),
            ),
            run(
                Family::new(
                    name("last_run_duration_seconds"),
                    "How long the last run took.",
                ),
                self.duration_seconds,
            ),
        ];
        type Pick = fn(&HostTotals) -> f64;
        let per_host: [(&str, &'static str, Pick); 7] = [
            (
                "last_run_host_success",
                "1 if the host's part of the last run succeeded, else 0.",
                |t| f64::from(u8::from(t.success)),
            ),
            (
                "last_run_read_bytes",
                "Source bytes read and uploaded by the last run.",
                |t| t.bytes_read as f64,
            ),
            (
                "last_run_stored_bytes",
                "Compressed bytes stored by the last run.",
                |t| t.bytes_stored as f64,
            ),
            (
                "last_run_skipped_bytes",
                "Source bytes found already stored and not sent again.",
                |t| t.bytes_skipped as f64,
            ),
            (
                "last_run_files_uploaded",
                "Files uploaded by the last run.",
                |t| t.files_uploaded as f64,
            ),
            (
                "last_run_files_skipped",
                "Files skipped by the last run (already stored, or vanished).",
                |t| t.files_skipped as f64,
            ),
            (
                "last_run_files_failed",
                "Files that failed in the last run.",
                |t| t.files_failed as f64,
            ),
        ];
        for (suffix, help, pick) in per_host {
            let mut family = Family::new(name(suffix), help);
            for (labels, totals) in &self.hosts {
                family = family.sample(labels.clone(), pick(totals));
            }
            families.push(family);
        }
        families
    }

    /// Renders and writes the file at `path` (reading its previous content first).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = render(&self.families(Some(path)));
        write_atomically(path, &text)
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(success: bool, at: f64) -> RunMetrics {
        RunMetrics {
            prefix: "node_push_upload",
            run_labels: vec![("selection", "ks1 \"q\"".into())],
            success,
            finished_unix: at,
            duration_seconds: 1.5,
            hosts: vec![(
                vec![("host", "node1".into()), ("selection", "ks1 \"q\"".into())],
                HostTotals {
                    success,
                    bytes_read: 10,
                    ..HostTotals::default()
                },
            )],
        }
    }

    #[test]
    fn a_failed_run_keeps_the_last_success_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.prom");
        run(false, 100.0).write(&path).unwrap();
        let name = "node_push_upload_last_success_timestamp_seconds";
        let labels = vec![("selection", "ks1 \"q\"".to_string())];
        assert_eq!(previous_value(&path, name, &labels), Some(0.0));
        run(true, 200.0).write(&path).unwrap();
        run(false, 300.0).write(&path).unwrap();
        assert_eq!(previous_value(&path, name, &labels), Some(200.0));
        let text = fs_err::read_to_string(&path).unwrap();
        assert!(
            text.contains("# TYPE node_push_upload_last_run_success gauge"),
            "{text}"
        );
        assert!(
            text.contains("node_push_upload_last_run_success{selection=\"ks1 \\\"q\\\"\"} 0"),
            "{text}"
        );
        // Nothing but the file itself is left in the directory.
        assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 1);
    }
}
