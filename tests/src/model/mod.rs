//! The model of the randomized workflow tests: which rows each backup must restore.
//!
//! It is written from Cassandra's semantics and the CLI's documented contract, not from the tool's code:
//! - a table's rows are in its memtable until a flush; a flush makes them live and hard-links the new
//!   SSTable into `backups/` (a *link* here); compaction changes no rows and makes no link; TRUNCATE
//!   flushes, then drops the live rows (the links stay); a rebuild loses everything of the table on that
//!   node, links included; a restart replays and flushes the memtables;
//! - a snapshot backup holds the rows live (after the snapshot's own flush) in its selection's tables on
//!   its hosts; a plain `backup` continues the newest complete backup of the same selection (hosts,
//!   keyspaces, table, exclusions) under the same base path, else takes a snapshot;
//! - an incremental must add the rows of every link made after the previous run of the same backup and
//!   still on the node; it may also add rows of older links still on the node (links of truncated data
//!   made before that run: Cassandra's backups/ holds them, and whether a tool sends them is not fixed
//!   by Cassandra), so each backup has a `must` and a `may` row set per host and table, and a restore
//!   must give back a set between the two;
//! - `purge --keep-last N` keeps the N newest complete backups of each selection under the base path.
//!
//! The coordinator's own nodetool calls (the flushes and snapshots it asks for) reach the model through
//! the scripted nodes' logs ([`crate::scripted::NodetoolCall`]), so the model follows what Cassandra was
//! told to do, whatever the tool's code looks like.

pub mod env;
pub mod ops;
pub mod restored;
pub mod rng;
pub mod runner;

use std::collections::{BTreeMap, BTreeSet};

/// Rows: `key\tvalue` lines.
pub type Rows = BTreeSet<String>;

/// (host, keyspace, table).
pub type TableKey = (String, String, String);

/// A backup's selection, as the CLI takes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selection {
    /// Sorted.
    pub hosts: Vec<String>,
    /// Sorted; empty = all keyspaces.
    pub keyspaces: Vec<String>,
    pub table: Option<String>,
    /// `ks.table`, sorted.
    pub exclude: Vec<String>,
}

impl Selection {
    /// Whether `ks.table` on `host` is backed up by this selection.
    pub fn covers(&self, host: &str, keyspace: &str, table: &str) -> bool {
        self.hosts.iter().any(|h| h == host)
            && (self.keyspaces.is_empty() || self.keyspaces.iter().any(|k| k == keyspace))
            && self.table.as_deref().is_none_or(|t| t == table)
            && !self.exclude.contains(&format!("{keyspace}.{table}"))
    }

    /// The `backup` flags of this selection.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![format!("--hosts={}", self.hosts.join(","))];
        if !self.keyspaces.is_empty() {
            args.push(format!("--keyspaces={}", self.keyspaces.join(",")));
        }
        if let Some(table) = &self.table {
            args.push(format!("--table={table}"));
        }
        if !self.exclude.is_empty() {
            args.push(format!("--exclude-tables={}", self.exclude.join(",")));
        }
        args
    }
}

/// One SSTable linked into a table's `backups/`.
#[derive(Debug, Clone)]
struct Link {
    seq: u64,
    rows: Rows,
    /// False once a rebuild wiped the table dir.
    present: bool,
}

#[derive(Debug, Clone, Default)]
struct TableState {
    memtable: Rows,
    live: Rows,
    links: Vec<Link>,
}

/// What a backup must and may restore.
#[derive(Debug, Clone)]
pub struct BackupModel {
    pub base: String,
    pub name: String,
    pub selection: Selection,
    pub must: BTreeMap<TableKey, Rows>,
    pub may: BTreeMap<TableKey, Rows>,
    /// The link sequence number at this backup's last run.
    last_run: u64,
    pub runs: usize,
    pub purged: bool,
    /// After each run: the time it was over (RFC 3339, for `--until`) and what the backup held then.
    pub points: Vec<Point>,
}

/// What a backup held at a time between two of its runs.
#[derive(Debug, Clone)]
pub struct Point {
    pub time: String,
    pub must: BTreeMap<TableKey, Rows>,
    pub may: BTreeMap<TableKey, Rows>,
}

/// The model of a whole sequence.
#[derive(Debug, Clone, Default)]
pub struct Model {
    tables: BTreeMap<TableKey, TableState>,
    link_seq: u64,
    /// Snapshot rows by (host, tag).
    snapshots: BTreeMap<(String, String), BTreeMap<(String, String), Rows>>,
    pub backups: Vec<BackupModel>,
}

impl Model {
    /// A model of `tables` on `hosts`, all empty.
    pub fn new(hosts: &[String], tables: &[(String, String)]) -> Model {
        let mut model = Model::default();
        for host in hosts {
            for (ks, t) in tables {
                model
                    .tables
                    .insert((host.clone(), ks.clone(), t.clone()), TableState::default());
            }
        }
        model
    }

    fn state(&mut self, key: &TableKey) -> &mut TableState {
        self.tables.get_mut(key).expect("known table")
    }

    /// The tables of `host` that `ks`/`table` name (None = all).
    pub fn tables_of(&self, host: &str, ks: Option<&str>, table: Option<&str>) -> Vec<TableKey> {
        self.tables
            .keys()
            .filter(|(h, k, t)| {
                h == host && ks.is_none_or(|ks| ks == k) && table.is_none_or(|tb| tb == t)
            })
            .cloned()
            .collect()
    }

    pub fn write(&mut self, key: &TableKey, rows: &[String]) {
        self.state(key).memtable.extend(rows.iter().cloned());
    }

    pub fn flush(&mut self, key: &TableKey) {
        let seq = self.link_seq + 1;
        let state = self.state(key);
        if state.memtable.is_empty() {
            return;
        }
        let rows = std::mem::take(&mut state.memtable);
        state.live.extend(rows.iter().cloned());
        state.links.push(Link {
            seq,
            rows,
            present: true,
        });
        self.link_seq = seq;
    }

    pub fn truncate(&mut self, key: &TableKey) {
        self.flush(key);
        self.state(key).live.clear();
    }

    pub fn rebuild(&mut self, key: &TableKey) {
        let state = self.state(key);
        state.memtable.clear();
        state.live.clear();
        for link in &mut state.links {
            link.present = false;
        }
    }

    /// Rows loaded by `nodetool refresh` (restored SSTables): live, and linked into backups/.
    pub fn load(&mut self, key: &TableKey, rows: Rows) {
        self.link_seq += 1;
        let seq = self.link_seq;
        let state = self.state(key);
        state.live.extend(rows.iter().cloned());
        state.links.push(Link {
            seq,
            rows,
            present: true,
        });
    }

    pub fn live(&self, key: &TableKey) -> &Rows {
        &self.tables[key].live
    }

    pub fn memtable(&self, key: &TableKey) -> &Rows {
        &self.tables[key].memtable
    }

    /// A `nodetool snapshot` on `host`: flush, then remember the live rows under `tag`.
    pub fn snapshot(&mut self, host: &str, tag: &str, tables: &[TableKey]) {
        let mut taken = BTreeMap::new();
        for key in tables {
            self.flush(key);
            taken.insert((key.1.clone(), key.2.clone()), self.live(key).clone());
        }
        self.snapshots
            .entry((host.to_string(), tag.to_string()))
            .or_default()
            .extend(taken);
    }

    /// The backup a plain `backup` of `selection` under `base` continues, if any.
    pub fn continued(&self, base: &str, selection: &Selection) -> Option<&BackupModel> {
        self.backups
            .iter()
            .filter(|b| b.base == base && !b.purged && &b.selection == selection)
            .max_by(|a, b| a.name.cmp(&b.name))
    }

    /// A snapshot backup `name` just finished: its rows are the snapshot `tag`'s, per selection.
    pub fn snapshot_backup(&mut self, base: &str, name: &str, tag: &str, selection: &Selection) {
        let mut rows = BTreeMap::new();
        for host in &selection.hosts {
            let taken = self
                .snapshots
                .get(&(host.clone(), tag.to_string()))
                .cloned()
                .unwrap_or_default();
            for key in self.tables_of(host, None, None) {
                if selection.covers(host, &key.1, &key.2) {
                    let got = taken.get(&(key.1.clone(), key.2.clone())).cloned();
                    rows.insert(key, got.unwrap_or_default());
                }
            }
        }
        self.backups.push(BackupModel {
            base: base.to_string(),
            name: name.to_string(),
            selection: selection.clone(),
            may: rows.clone(),
            must: rows,
            last_run: self.link_seq,
            runs: 1,
            purged: false,
            points: Vec::new(),
        });
    }

    /// An incremental into backup `name` just finished (after its flushes were applied).
    pub fn incremental(&mut self, base: &str, name: &str) {
        let link_seq = self.link_seq;
        let tables = self.tables.clone();
        let backup = self
            .backups
            .iter_mut()
            .find(|b| b.base == base && b.name == name)
            .expect("known backup");
        for (key, state) in &tables {
            if !backup.selection.covers(&key.0, &key.1, &key.2) {
                continue;
            }
            for link in state.links.iter().filter(|l| l.present) {
                if link.seq > backup.last_run {
                    let must = backup.must.entry(key.clone()).or_default();
                    must.extend(link.rows.iter().cloned());
                }
                let may = backup.may.entry(key.clone()).or_default();
                may.extend(link.rows.iter().cloned());
            }
        }
        backup.last_run = link_seq;
        backup.runs += 1;
    }

    /// The backups under `base` that `purge --keep-last N` keeps, newest first: the N newest complete
    /// backups of each selection.
    pub fn purge(&mut self, base: &str, keep_last: usize) -> Vec<String> {
        let mut live: Vec<&mut BackupModel> = self
            .backups
            .iter_mut()
            .filter(|b| b.base == base && !b.purged)
            .collect();
        live.sort_by(|a, b| b.name.cmp(&a.name));
        let mut seen: BTreeMap<Selection, usize> = BTreeMap::new();
        let mut kept = Vec::new();
        for backup in live {
            let newer = seen.entry(backup.selection.clone()).or_default();
            *newer += 1;
            if *newer <= keep_last {
                kept.push(backup.name.clone());
            } else {
                backup.purged = true;
            }
        }
        kept
    }

    /// Backup `name`'s last run was over at `time`.
    pub fn mark_point(&mut self, base: &str, name: &str, time: String) {
        if let Some(backup) = self
            .backups
            .iter_mut()
            .find(|b| b.base == base && b.name == name)
        {
            let point = Point {
                time,
                must: backup.must.clone(),
                may: backup.may.clone(),
            };
            backup.points.push(point);
        }
    }

    pub fn backup(&self, base: &str, name: &str) -> Option<&BackupModel> {
        self.backups
            .iter()
            .find(|b| b.base == base && b.name == name)
    }
}
