//! The result of a backup run, per host: rendered as a table for people or serialised with `--json`.

use crate::output::table::{Column, Table};
use crate::output::{human_bytes, Stage};
use serde::Serialize;
use std::fmt::Write as _;

/// One host's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostReport {
    pub host: String,
    pub ok: bool,
    /// The stage that failed, when one did.
    pub failed_stage: Option<Stage>,
    pub error: Option<String>,
    /// Files uploaded in this run.
    pub files_uploaded: u64,
    /// Files found already stored (same size and ETag) and not sent again.
    pub files_already_stored: u64,
    /// Incremental files whose SSTable the backup already held byte for byte: not sent, not listed again.
    pub files_in_backup: u64,
    /// `backups/` links deleted after the manifest was written, because every backup stream on the node
    /// that covers them has them.
    pub files_deleted: u64,
    pub bytes_read: u64,
    pub bytes_stored: u64,
    /// Source bytes of the files found already stored by an earlier run of this backup: not sent again.
    pub bytes_not_resent: u64,
    /// Differential snapshot: files whose exact bytes the reference backup stores, listed with its
    /// objects and not sent; and their source bytes.
    pub files_referenced: u64,
    pub bytes_referenced: u64,
    pub elapsed_ms: u64,
    /// Whether `nodetool clearsnapshot` succeeded (absent when no snapshot was taken).
    pub snapshot_cleared: Option<bool>,
}

impl HostReport {
    pub fn new(host: &str) -> Self {
        HostReport {
            host: host.to_string(),
            ok: true,
            ..Self::default()
        }
    }

    pub fn fail(&mut self, stage: Stage, error: String) {
        if self.ok {
            self.ok = false;
            self.failed_stage = Some(stage);
            self.error = Some(error);
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackupReport {
    pub backup: String,
    /// `snapshot` or `incremental`.
    pub kind: &'static str,
    pub bucket: String,
    pub base_path: String,
    /// True when the manifest was written and verified.
    pub complete: bool,
    pub manifest_key: Option<String>,
    pub hosts: Vec<HostReport>,
    /// Failures that belong to no single host (store, ring, manifest, interruption).
    pub errors: Vec<String>,
    pub interrupted: bool,
    /// A differential snapshot's reference backup; `None` for a full snapshot or an incremental.
    pub reference: Option<String>,
    /// Data bytes (compressed, as stored) this run uploaded, over every host.
    pub bytes_uploaded: u64,
    /// Files referenced from [`BackupReport::reference`] instead of uploaded, and their source bytes.
    pub files_referenced: u64,
    pub bytes_referenced: u64,
}

impl BackupReport {
    /// The run-wide totals, from the hosts' reports.
    pub fn with_totals(mut self) -> Self {
        self.bytes_uploaded = self.hosts.iter().map(|h| h.bytes_stored).sum();
        self.files_referenced = self.hosts.iter().map(|h| h.files_referenced).sum();
        self.bytes_referenced = self.hosts.iter().map(|h| h.bytes_referenced).sum();
        self
    }

    /// One line on the data moved: what was uploaded, and what was referenced from which backup.
    pub fn data_line(&self) -> String {
        let mut line = match self.bytes_uploaded {
            0 => "0 data bytes uploaded".to_string(),
            n => format!("{n} data bytes uploaded ({})", human_bytes(n)),
        };
        if let Some(reference) = &self.reference {
            let _ = write!(
                line,
                "; {} file(s) ({}) referenced from backup {reference}",
                self.files_referenced,
                human_bytes(self.bytes_referenced)
            );
        }
        line
    }

    pub fn failed(&self) -> bool {
        self.interrupted || !self.errors.is_empty() || self.hosts.iter().any(|h| !h.ok)
    }

    /// Every failure, one line each, host first.
    pub fn failure_lines(&self) -> Vec<String> {
        self.hosts
            .iter()
            .filter_map(|h| h.error.clone())
            .chain(self.errors.iter().cloned())
            .collect()
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let state = if self.complete {
            "complete"
        } else {
            "NOT complete (no manifest)"
        };
        let _ = writeln!(out, "backup {} ({}): {state}", self.backup, self.kind);
        let mut table = Table::new(vec![
            Column::left("HOST"),
            Column::left("STATUS").min_width(6),
            Column::right("FILES").min_width(8),
            Column::right("SKIPPED").min_width(8),
            Column::right("REFERENCED").min_width(10),
            Column::right("READ").min_width(10),
            Column::right("STORED").min_width(10),
            Column::left("ERROR"),
        ]);
        for h in &self.hosts {
            table.row([
                h.host.clone(),
                if h.ok { "ok" } else { "FAILED" }.to_string(),
                h.files_uploaded.to_string(),
                (h.files_already_stored + h.files_in_backup).to_string(),
                h.files_referenced.to_string(),
                human_bytes(h.bytes_read),
                human_bytes(h.bytes_stored),
                h.error.clone().unwrap_or_default(),
            ]);
        }
        out.push_str(&table.render());
        let _ = writeln!(out, "{}", self.data_line());
        for error in &self.errors {
            let _ = writeln!(out, "error: {error}");
        }
        out
    }
}
