//! What a restore did, per target (a node, or this machine) and per table: a table for people, JSON with
//! `--json`, and the failure lines for stderr.

use crate::output::human_bytes;
use serde::Serialize;
use std::fmt::Write as _;

/// How far one table got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableState {
    /// Verified files are in the staging (or restore) directory.
    Staged,
    /// Moved into the live table directory (Cassandra stopped: loaded at its next start).
    Moved,
    /// Moved into the live table directory and `nodetool refresh` loaded them (Cassandra before 4.0).
    Refreshed,
    /// `nodetool import` loaded them from the verified staging directory (Cassandra 4.0 and later).
    Imported,
    /// Streamed by sstableloader.
    Loaded,
    /// Not restored where Cassandra would load it; `error` says why.
    Failed,
}

/// One table on one target.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub keyspace: String,
    pub table: String,
    pub source_hosts: Vec<String>,
    pub state: TableState,
    /// SSTables staged, or moved/loaded where Cassandra reads them.
    pub sstables: usize,
    /// Their files (components); files that are not SSTable components are not counted.
    pub files: usize,
    /// Restored files Cassandra does not load (a snapshot's `manifest.json`, `schema.cql`): left in
    /// staging and removed with it.
    #[serde(skip_serializing_if = "is_zero")]
    pub left_out: usize,
    /// Secondary indexes whose SSTables were not restored: Cassandra builds them from the loaded data.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indexes_rebuilt: Vec<String>,
    /// Where its verified files are (staging, or the local restore directory).
    pub staged_in: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_dir: Option<String>,
    /// SSTables given a new generation because the live one was taken.
    pub renumbered: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// An in-place target's tokens, from the backup's ring.
#[derive(Debug, Clone, Serialize)]
pub struct TokenReport {
    pub source_host: String,
    pub address: Option<String>,
    pub tokens: Vec<String>,
}

/// One target: a node (`stage`, `refresh`, `in-place`) or `local`.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub target: String,
    pub ok: bool,
    pub files_restored: u64,
    pub files_failed: u64,
    pub bytes_written: u64,
    pub tables: Vec<TableReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<TokenReport>,
    /// Failures that stopped the whole target (connection, preflight, Cassandra state).
    pub errors: Vec<String>,
}

impl TargetReport {
    pub fn new(target: &str) -> Self {
        TargetReport {
            target: target.to_string(),
            ok: true,
            files_restored: 0,
            files_failed: 0,
            bytes_written: 0,
            tables: Vec::new(),
            tokens: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub fn fail(&mut self, error: String) {
        self.ok = false;
        self.errors.push(error);
    }

    /// Recompute `ok` from the tables and errors.
    pub fn settle(&mut self) {
        self.ok =
            self.errors.is_empty() && self.tables.iter().all(|t| t.state != TableState::Failed);
    }
}

/// A whole restore.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub backup: String,
    pub mode: crate::cli::ModeArg,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub keyspace: String,
    pub targets: Vec<TargetReport>,
    pub interrupted: bool,
}

impl RestoreReport {
    pub fn failed(&self) -> bool {
        self.interrupted || self.targets.iter().any(|t| !t.ok)
    }

    /// Every failure, one line each.
    pub fn failure_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for target in &self.targets {
            lines.extend(target.errors.iter().cloned());
            for table in target
                .tables
                .iter()
                .filter(|t| t.state == TableState::Failed)
            {
                lines.push(format!(
                    "{}: {}.{} not restored: {}",
                    target.target,
                    table.keyspace,
                    table.table,
                    table.error.as_deref().unwrap_or("failed")
                ));
            }
        }
        if self.interrupted {
            lines.push("interrupted before the restore was complete".to_string());
        }
        lines
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "restore of backup {} ({}), keyspace {}{}",
            self.backup,
            super::settings::mode_name(self.mode),
            self.keyspace,
            self.until
                .map(|t| format!(", up to {t}"))
                .unwrap_or_default()
        );
        for target in &self.targets {
            let _ = writeln!(
                out,
                "{}: {} — {} files, {} written{}",
                target.target,
                if target.ok { "ok" } else { "FAILED" },
                target.files_restored,
                human_bytes(target.bytes_written),
                if target.files_failed > 0 {
                    format!(", {} failed", target.files_failed)
                } else {
                    String::new()
                }
            );
            for table in &target.tables {
                let place = match table.state {
                    TableState::Moved | TableState::Refreshed | TableState::Imported => {
                        table.live_dir.clone().unwrap_or_default()
                    }
                    _ => table.staged_in.join(", "),
                };
                let _ = writeln!(
                    out,
                    "  {}.{} from {}: {:?} ({} SSTable{}, {} files{}) {}",
                    table.keyspace,
                    table.table,
                    table.source_hosts.join(","),
                    table.state,
                    table.sstables,
                    if table.sstables == 1 { "" } else { "s" },
                    table.files,
                    if table.renumbered > 0 {
                        format!(", {} renumbered", table.renumbered)
                    } else {
                        String::new()
                    },
                    table.error.as_deref().unwrap_or(&place)
                );
                if !table.indexes_rebuilt.is_empty() {
                    let _ = writeln!(
                        out,
                        "    index {}: its SSTables were not restored; Cassandra builds it from the loaded data",
                        table.indexes_rebuilt.join(", ")
                    );
                }
            }
            for token in &target.tokens {
                let _ = writeln!(
                    out,
                    "  {} ({}) initial_token: {}",
                    token.source_host,
                    token.address.as_deref().unwrap_or("address unknown"),
                    token.tokens.join(",")
                );
            }
            for error in &target.errors {
                let _ = writeln!(out, "  error: {error}");
            }
        }
        out
    }
}
