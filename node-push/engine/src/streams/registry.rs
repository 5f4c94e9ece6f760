//! The registry of streams on a node: one JSON file per stream in `<state dir>/streams/`, read and
//! written under an exclusive lock on `<state dir>/lock`, so that a cron run and a coordinator run on the
//! same node never interleave. Files are replaced by write-then-rename.

use super::StreamSpec;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What the registry knows of one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRecord {
    pub spec: StreamSpec,
    /// The backup the stream's incrementals go into.
    pub backup: String,
    pub registered_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Identities of the `backups/` files (and snapshot files) the stream's committed batches hold and
    /// that were still on the node at the last prune.
    pub committed: BTreeSet<String>,
}

/// The streams of one node, locked for the lifetime of this value.
#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    pub(super) streams: BTreeMap<String, StreamRecord>,
    removed: BTreeSet<String>,
    _lock: fs_err::File,
}

impl Registry {
    /// Open (creating it if needed) and lock the registry in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let streams_dir = dir.join("streams");
        fs_err::create_dir_all(&streams_dir)
            .with_context(|| format!("cannot create the stream registry {}", dir.display()))?;
        let lock = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        lock.file()
            .lock()
            .with_context(|| format!("cannot lock {}", dir.join("lock").display()))?;
        let mut streams = BTreeMap::new();
        for entry in fs_err::read_dir(&streams_dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = fs_err::read(&path)?;
            let record: StreamRecord = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a stream record", path.display()))?;
            streams.insert(record.spec.id.clone(), record);
        }
        Ok(Registry {
            dir: dir.to_path_buf(),
            streams,
            removed: BTreeSet::new(),
            _lock: lock,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    pub fn is_registered(&self, id: &str, backup: &str) -> bool {
        self.streams.get(id).is_some_and(|r| r.backup == backup)
    }

    /// The stream continues `backup` from now on. A new backup of the stream starts with nothing
    /// committed; registering the same backup again (a resumed run) keeps what it had.
    pub fn register(&mut self, spec: &StreamSpec, backup: &str, now: DateTime<Utc>) {
        let record = self
            .streams
            .entry(spec.id.clone())
            .or_insert_with(|| StreamRecord {
                spec: spec.clone(),
                backup: backup.to_string(),
                registered_at: now,
                last_seen: now,
                committed: BTreeSet::new(),
            });
        if record.backup != backup {
            record.backup = backup.to_string();
            record.registered_at = now;
            record.committed.clear();
        }
        record.spec = spec.clone();
        record.last_seen = now;
    }

    /// Record that the stream's committed batch of `backup` holds `source_ids`. A stream committing
    /// without being registered (a standalone node-push, or the first run after an upgrade) registers.
    pub fn commit(
        &mut self,
        spec: &StreamSpec,
        backup: &str,
        source_ids: &[String],
        now: DateTime<Utc>,
    ) {
        if !self.is_registered(&spec.id, backup) {
            self.register(spec, backup, now);
        }
        let record = self.streams.get_mut(&spec.id).expect("registered above");
        record.committed.extend(source_ids.iter().cloned());
        record.last_seen = now;
    }

    /// Drop streams not seen for `days` (never `keep`); returns their labels.
    pub fn expire(&mut self, now: DateTime<Utc>, days: u32, keep: &str) -> Vec<String> {
        let limit = chrono::Duration::days(i64::from(days));
        let stale: Vec<String> = self
            .streams
            .values()
            .filter(|r| r.spec.id != keep && now - r.last_seen > limit)
            .map(|r| r.spec.id.clone())
            .collect();
        stale
            .into_iter()
            .filter_map(|id| {
                self.removed.insert(id.clone());
                self.streams.remove(&id).map(|r| r.spec.label)
            })
            .collect()
    }

    /// Write every record back (and remove the files of dropped streams).
    pub fn save(&self) -> anyhow::Result<()> {
        let streams_dir = self.dir.join("streams");
        for record in self.streams.values() {
            let path = streams_dir.join(format!("{}.json", record.spec.id));
            let tmp = streams_dir.join(format!(".{}.json.tmp", record.spec.id));
            let json = serde_json::to_vec_pretty(record).expect("a record serialises");
            fs_err::write(&tmp, json)?;
            fs_err::File::open(&tmp)?.sync_all()?;
            fs_err::rename(&tmp, &path)?;
        }
        for id in &self.removed {
            let path = streams_dir.join(format!("{id}.json"));
            if let Err(error) = fs_err::remove_file(&path) {
                if error.kind() != std::io::ErrorKind::NotFound {
                    return Err(error.into());
                }
            }
        }
        Ok(())
    }
}
