//! The operations of a sequence, and how a seed picks them.

use std::fmt;

use super::rng::Rng;
use super::Selection;

/// Where restored files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreMode {
    /// `--local --restore-dir DIR`, read back here.
    Local,
    /// `--mode refresh`: into the live tables of the backup's hosts, then `nodetool refresh`.
    Refresh,
}

/// One step of a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Write {
        host: String,
        keyspace: String,
        table: String,
        rows: usize,
    },
    Flush {
        host: String,
        keyspace: Option<String>,
    },
    Compact {
        host: String,
        keyspace: String,
        table: String,
    },
    Truncate {
        keyspace: String,
        table: String,
    },
    /// The table dir wiped on one node (node replaced).
    Rebuild {
        host: String,
        keyspace: String,
        table: String,
    },
    Restart {
        host: String,
    },
    /// `backup` of a selection; `new_snapshot` adds `--new-snapshot`.
    Backup {
        base: String,
        selection: Selection,
        new_snapshot: bool,
    },
    Purge {
        base: String,
        keep_last: usize,
    },
    /// Restore backup number `backup` (index into the model's backups, in creation order) of `keyspace`.
    Restore {
        backup: usize,
        keyspace: String,
        mode: RestoreMode,
        /// `--until` the end of this run of the backup (0 = its snapshot), when it has had that many.
        until: Option<usize>,
    },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Write {
                host,
                keyspace,
                table,
                rows,
            } => write!(f, "write {rows} rows to {keyspace}.{table} on {host}"),
            Op::Flush { host, keyspace } => write!(
                f,
                "nodetool flush {} on {host}",
                keyspace.as_deref().unwrap_or("")
            ),
            Op::Compact {
                host,
                keyspace,
                table,
            } => write!(f, "nodetool compact {keyspace} {table} on {host}"),
            Op::Truncate { keyspace, table } => write!(f, "TRUNCATE {keyspace}.{table}"),
            Op::Rebuild {
                host,
                keyspace,
                table,
            } => write!(f, "rebuild {keyspace}.{table} on {host} (table dir wiped)"),
            Op::Restart { host } => write!(f, "restart {host}"),
            Op::Backup {
                base,
                selection,
                new_snapshot,
            } => write!(
                f,
                "--s3-base-path={base} backup {}{}",
                selection.args().join(" "),
                if *new_snapshot { " --new-snapshot" } else { "" }
            ),
            Op::Purge { base, keep_last } => {
                write!(f, "--s3-base-path={base} purge --keep-last={keep_last}")
            }
            Op::Restore {
                backup,
                keyspace,
                mode,
                until,
            } => write!(
                f,
                "restore backup #{backup} --keyspace={keyspace} {}{}",
                match mode {
                    RestoreMode::Local => "--local",
                    RestoreMode::Refresh => "--mode=refresh",
                },
                match until {
                    Some(run) => format!(" --until=<end of its run {run}>"),
                    None => String::new(),
                }
            ),
        }
    }
}

/// The shape of a generated cluster: hosts and `(keyspace, table)` pairs.
#[derive(Debug, Clone)]
pub struct Shape {
    pub hosts: Vec<String>,
    pub tables: Vec<(String, String)>,
}

/// Base paths a sequence writes under (each sequence prefixes them with its own seed).
pub const BASES: [&str; 2] = ["main", "other"];

/// Picks the next operation. `backups` is how many backups the sequence has made so far, and
/// `selections` the selections already used (so that incrementals happen).
pub fn pick(
    rng: &mut Rng,
    shape: &Shape,
    backups: usize,
    selections: &[(String, Selection)],
) -> Op {
    let host = rng.pick(&shape.hosts).clone();
    let (keyspace, table) = rng.pick(&shape.tables).clone();
    match rng.below(100) {
        0..=29 => Op::Write {
            host,
            keyspace,
            table,
            rows: 1 + rng.below(3),
        },
        30..=36 => Op::Flush {
            host,
            keyspace: rng.chance(50).then_some(keyspace),
        },
        37..=41 => Op::Compact {
            host,
            keyspace,
            table,
        },
        42..=44 => Op::Truncate { keyspace, table },
        45..=47 => Op::Rebuild {
            host,
            keyspace,
            table,
        },
        48..=50 => Op::Restart { host },
        51..=60 => Op::Backup {
            base: BASES[0].to_string(),
            selection: full_selection(shape),
            new_snapshot: false,
        },
        61..=72 if !selections.is_empty() => {
            let (base, selection) = rng.pick(selections).clone();
            Op::Backup {
                base,
                selection,
                new_snapshot: false,
            }
        }
        61..=80 => Op::Backup {
            base: rng.pick(&BASES).to_string(),
            selection: random_selection(rng, shape),
            new_snapshot: rng.chance(30),
        },
        81..=84 => Op::Purge {
            base: rng.pick(&BASES).to_string(),
            keep_last: 1 + rng.below(2),
        },
        _ if backups > 0 => {
            let mode = match rng.chance(25) {
                true => RestoreMode::Refresh,
                false => RestoreMode::Local,
            };
            Op::Restore {
                backup: rng.below(backups),
                keyspace,
                mode,
                until: (mode == RestoreMode::Local && rng.chance(40)).then(|| rng.below(4)),
            }
        }
        _ => Op::Write {
            host,
            keyspace,
            table,
            rows: 2,
        },
    }
}

/// Every keyspace of every host.
pub fn full_selection(shape: &Shape) -> Selection {
    Selection {
        hosts: shape.hosts.clone(),
        keyspaces: Vec::new(),
        table: None,
        exclude: Vec::new(),
    }
}

/// A scoped selection: some hosts, one or all keyspaces, maybe one table, maybe an exclusion.
pub fn random_selection(rng: &mut Rng, shape: &Shape) -> Selection {
    let mut hosts = shape.hosts.clone();
    if hosts.len() > 1 && rng.chance(30) {
        hosts = vec![rng.pick(&shape.hosts).clone()];
    }
    let mut keyspaces: Vec<String> = shape.tables.iter().map(|(k, _)| k.clone()).collect();
    keyspaces.dedup();
    let (keyspace, table) = rng.pick(&shape.tables).clone();
    let mut selection = Selection {
        hosts,
        keyspaces: Vec::new(),
        table: None,
        exclude: Vec::new(),
    };
    match rng.below(4) {
        0 => selection.keyspaces = vec![keyspace],
        1 => {
            selection.keyspaces = vec![keyspace];
            selection.table = Some(table);
        }
        2 => selection.exclude = vec![format!("{keyspace}.{table}")],
        _ => {
            selection.keyspaces = keyspaces;
            selection.exclude = vec![format!("{keyspace}.{table}")];
        }
    }
    selection
}
