//! `backup --metrics-file PATH`: the run's outcome in Prometheus's node_exporter textfile format, per
//! selection and per host (see `engine::metrics` for the format, the atomic write and how a failed
//! run keeps the last success time).

use crate::cli::BackupArgs;
use crate::report::BackupReport;
use engine::metrics::{now_unix, HostTotals, Labels, RunMetrics};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What the metrics of one `backup` run are labelled with, taken from its arguments at the start.
#[derive(Debug)]
pub struct BackupMetrics {
    path: PathBuf,
    run_labels: Labels,
    started: Instant,
    written: AtomicBool,
}

/// `ks1,ks2 table users without ks1.audit`, or `all keyspaces`.
fn selection(args: &BackupArgs) -> String {
    let mut text = if args.keyspaces.is_empty() {
        "all keyspaces".to_string()
    } else {
        args.keyspaces.join(",")
    };
    if let Some(table) = &args.table {
        text.push_str(&format!(" table {table}"));
    }
    if !args.exclude_tables.is_empty() {
        text.push_str(&format!(" without {}", args.exclude_tables.join(",")));
    }
    text
}

/// The count in the upload stage's "N file(s) failed to upload" (other failures name no files).
fn failed_files(error: Option<&str>) -> u64 {
    error
        .and_then(|e| e.split_once(" file(s) failed"))
        .and_then(|(head, _)| head.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

impl BackupMetrics {
    /// `None` without `--metrics-file`.
    pub fn of(args: &BackupArgs, bucket: &str, base_path: &str) -> Option<Self> {
        let path = args.metrics_file.clone()?;
        Some(BackupMetrics {
            path,
            run_labels: vec![
                ("selection", selection(args)),
                (
                    "dest",
                    format!("s3://{bucket}/{}", base_path.trim_matches('/')),
                ),
            ],
            started: Instant::now(),
            written: AtomicBool::new(false),
        })
    }

    fn write(&self, success: bool, hosts: Vec<(Labels, HostTotals)>) -> anyhow::Result<()> {
        if self.written.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let run = RunMetrics {
            prefix: "cassandra_snapshotter_backup",
            run_labels: self.run_labels.clone(),
            success,
            finished_unix: now_unix(),
            duration_seconds: self.started.elapsed().as_secs_f64(),
            hosts,
        };
        run.write(&self.path).map_err(|e| {
            anyhow::anyhow!("cannot write the metrics file {}: {e}", self.path.display())
        })
    }

    /// After a run that got to its report.
    pub fn write_report(&self, report: &BackupReport) -> anyhow::Result<()> {
        let hosts = report
            .hosts
            .iter()
            .map(|h| {
                let mut labels: Labels = vec![("host", h.host.clone())];
                labels.extend(self.run_labels.iter().cloned());
                let totals = HostTotals {
                    success: h.ok,
                    bytes_read: h.bytes_read,
                    bytes_stored: h.bytes_stored,
                    bytes_skipped: h.bytes_not_resent,
                    files_uploaded: h.files_uploaded,
                    files_skipped: h.files_already_stored,
                    files_failed: failed_files(h.error.as_deref()),
                };
                (labels, totals)
            })
            .collect();
        self.write(!report.failed() && report.complete, hosts)
    }

    /// After a run that stopped before it had a report (bad settings, the store unreachable).
    pub fn write_failure(&self) -> anyhow::Result<()> {
        self.write(false, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cli::{Cli, Command};
    use crate::report::HostReport;
    use clap::Parser;

    fn report(ok: bool) -> BackupReport {
        let mut node1 = HostReport::new("node1");
        node1.bytes_read = 1000;
        node1.files_uploaded = 3;
        let mut node2 = HostReport::new("node2");
        if !ok {
            node2.fail(
                crate::output::Stage::Upload,
                "node2: 2 file(s) failed to upload, first: x".into(),
            );
        }
        BackupReport {
            backup: "20240101000000".into(),
            kind: "snapshot",
            bucket: "b".into(),
            base_path: "p".into(),
            complete: ok,
            manifest_key: None,
            hosts: vec![node1, node2],
            errors: Vec::new(),
            interrupted: false,
            ..BackupReport::default()
        }
    }

    fn value(text: &str, line_start: &str) -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
    }

    /// Real promtool (Debian's prometheus package) accepts the file; a failed run keeps the last
    /// success time and reports the failed host and its failed files.
    #[test]
    fn promtool_accepts_the_file_and_a_failed_run_keeps_the_last_success() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.prom");
        let cli = Cli::parse_from([
            "cassandra-snapshotter",
            "backup",
            "--hosts=node1,node2",
            "--keyspaces=ks1",
            "--metrics-file",
            path.to_str().unwrap(),
        ]);
        let Command::Backup(args) = &cli.command else {
            panic!("parsed as another command")
        };
        let check = |path: &std::path::Path| {
            let out = std::process::Command::new("promtool")
                .args(["check", "metrics"])
                .stdin(fs_err::File::open(path).unwrap().into_parts().0)
                .output()
                .expect("promtool runs (cargo xtask setup installs Debian's prometheus)");
            assert!(
                out.status.success(),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ok = BackupMetrics::of(args, "b", "p").unwrap();
        ok.write_report(&report(true)).unwrap();
        check(&path);
        let text = fs_err::read_to_string(&path).unwrap();
        let success = "cassandra_snapshotter_backup_last_success_timestamp_seconds{selection=\"ks1\",dest=\"s3://b/p\"}";
        let first = value(&text, success);
        assert!(first > 1.7e9, "{text}");
        assert!(text.contains("cassandra_snapshotter_backup_last_run_read_bytes{host=\"node1\",selection=\"ks1\",dest=\"s3://b/p\"} 1000"), "{text}");

        std::thread::sleep(std::time::Duration::from_millis(20));
        let failed = BackupMetrics::of(args, "b", "p").unwrap();
        failed.write_report(&report(false)).unwrap();
        check(&path);
        let text = fs_err::read_to_string(&path).unwrap();
        assert_eq!(value(&text, success), first, "{text}");
        assert_eq!(
            value(&text, "cassandra_snapshotter_backup_last_run_success{"),
            0.0
        );
        assert_eq!(
            value(
                &text,
                "cassandra_snapshotter_backup_last_run_host_success{host=\"node2\""
            ),
            0.0
        );
        assert_eq!(
            value(
                &text,
                "cassandra_snapshotter_backup_last_run_files_failed{host=\"node2\""
            ),
            2.0
        );

        // A run that stopped before its report (e.g. the bucket was missing) keeps it too.
        BackupMetrics::of(args, "b", "p")
            .unwrap()
            .write_failure()
            .unwrap();
        check(&path);
        let text = fs_err::read_to_string(&path).unwrap();
        assert_eq!(value(&text, success), first, "{text}");
    }

    #[test]
    fn failed_files_come_from_the_upload_stage_line() {
        assert_eq!(
            failed_files(Some("node1: 3 file(s) failed to upload, first: x")),
            3
        );
        assert_eq!(failed_files(Some("node1: connection lost")), 0);
        assert_eq!(failed_files(None), 0);
    }
}
