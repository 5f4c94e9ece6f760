//! `node-push upload --metrics-file`: the labels of a job, taken from its arguments, and its metrics.

use engine::metrics::{now_unix, HostTotals, Labels, RunMetrics};

/// `node-push upload --metrics-file`: the job's labels, taken from its arguments before the run.
#[derive(Debug, Clone)]
pub struct UploadJob {
    host: String,
    selection: String,
    dest: String,
}

impl UploadJob {
    pub fn of(args: &contract::request::UploadRequest) -> Self {
        let host = args.host_label.clone().unwrap_or_else(|| {
            fs_err::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "unknown".into())
        });
        let selection = match &args.dir {
            Some(dir) => format!("dir {}", dir.display()),
            None => {
                // Not the snapshot tag: it changes every run, and the last success is kept per label set.
                let source = if args.incremental {
                    "incremental"
                } else {
                    "snapshot"
                };
                let keyspaces = if args.keyspaces.is_empty() {
                    "all keyspaces".to_string()
                } else {
                    args.keyspaces.join(",")
                };
                match &args.table {
                    Some(table) => format!("{source} {keyspaces} table {table}"),
                    None => format!("{source} {keyspaces}"),
                }
            }
        };
        UploadJob {
            host,
            selection,
            dest: args.store.url.clone(),
        }
    }

    /// The metrics of a run that ended with `summary` (`None`: it could not start) after `elapsed`.
    pub fn metrics(
        &self,
        summary: Option<&contract::message::Summary>,
        success: bool,
        elapsed: std::time::Duration,
    ) -> RunMetrics {
        let run_labels: Labels = vec![
            ("selection", self.selection.clone()),
            ("dest", self.dest.clone()),
        ];
        let mut host_labels: Labels = vec![("host", self.host.clone())];
        host_labels.extend(run_labels.iter().cloned());
        let s = summary.cloned().unwrap_or_default();
        RunMetrics {
            prefix: "node_push_upload",
            run_labels,
            success,
            finished_unix: now_unix(),
            duration_seconds: elapsed.as_secs_f64(),
            hosts: vec![(
                host_labels,
                HostTotals {
                    success,
                    bytes_read: s.bytes_read,
                    bytes_stored: s.bytes_stored,
                    bytes_skipped: s.bytes_not_resent,
                    files_uploaded: s.files_done,
                    files_skipped: s.files_skipped,
                    files_failed: s.files_failed,
                },
            )],
        }
    }
}
