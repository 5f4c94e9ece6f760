//! `manifest.json`: what a backup holds, and whether it is complete.
//!
//! The old tool wrote `{"name", "base_path", "hosts", "keyspaces", "table"}`; those fields keep their names
//! and meaning, so its manifests parse here ([`Manifest::format_version`] is then 0) and ours stay readable
//! by it. We add a format version, the tool version, timestamps, and one [`Batch`] per upload run (the
//! snapshot and every incremental after it).
//!
//! Format 1 listed every object inline in its batch. Format 2 keeps `manifest.json` small: each batch names
//! its id and, per host, a [`RecordsSummary`] (counts, bytes added, bytes referenced); the per-object
//! records ([`ObjectEntry`]) live in one compressed JSON-lines document per host and batch
//! ([`records`], at [`crate::layout::records_key`]), written once and never rewritten. An incremental adds
//! a batch (its documents, then a new `manifest.json`) instead of rewriting every record. Both formats are
//! read; [`Batch::objects`] holds a format-1 batch's objects.
//!
//! Invariant: a manifest is only ever written after every object it lists was uploaded and verified, and it
//! is written last (first under [`crate::layout::MANIFEST_STAGING_FILE`], then copied into place); the
//! records documents it names are written and read back before it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod records;
mod selection;
pub use records::{RecordsHeader, RecordsSummary};
pub use selection::Selection;

/// The manifest format this version writes. 0 means "written by the old Python tool", 1 "objects inline".
pub const MANIFEST_FORMAT_VERSION: u32 = 2;

/// A backup's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The backup name (`%Y%m%d%H%M%S`, UTC).
    pub name: String,
    pub base_path: String,
    /// Hosts as given to `--hosts`, in that order.
    pub hosts: Vec<String>,
    /// Keyspaces backed up; `None` means all of them.
    pub keyspaces: Option<Vec<String>>,
    /// The one table backed up, or `""` for all tables (the old tool's convention).
    #[serde(default)]
    pub table: String,

    #[serde(default)]
    pub format_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_tables: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// The complete backup of the same base path whose objects this one's snapshot may reference instead
    /// of storing them again (a differential snapshot); `None` for a self-contained backup. In the run
    /// record it tells `purge` that a backup in progress may come to reference that backup's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Every upload run into this backup, oldest first: the snapshot, then the incrementals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<Batch>,
}

/// One upload run into a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub kind: BatchKind,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    /// Format 1 only: the batch's objects, inline. Empty in format 2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectEntry>,
    /// Format 2: the batch's id, unique in the backup ([`Batch::new_id`]); its records are at
    /// [`crate::layout::records_key`]`(base, name, id, host)`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Format 2: one summary per host with records in this batch, in `--hosts` order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordsSummary>,
}

impl Batch {
    /// A format-2 batch with no records yet.
    pub fn new(
        kind: BatchKind,
        started_at: DateTime<Utc>,
        completed_at: DateTime<Utc>,
        id: String,
    ) -> Self {
        Batch {
            kind,
            started_at,
            completed_at,
            objects: Vec::new(),
            id,
            records: Vec::new(),
        }
    }

    /// A batch id: its start time to the millisecond and a caller's nonce, so that two runs adding to one
    /// backup at once never write the same records keys.
    pub fn new_id(started_at: DateTime<Utc>, nonce: u32) -> String {
        format!("{}-{nonce:08x}", started_at.format("%Y%m%dT%H%M%S%3fZ"))
    }

    /// (objects, source bytes, stored bytes, stored bytes added by this backup) over every host.
    pub fn totals(&self, base: &str, name: &str) -> Totals {
        if self.records.is_empty() {
            return Totals::of_entries(&self.objects, base, name);
        }
        self.records
            .iter()
            .fold(Totals::default(), |t, r| t + r.totals())
    }
}

/// Counts over a set of records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub objects: u64,
    /// Source bytes.
    pub size: u64,
    /// Stored (compressed) bytes of every object listed, wherever it lives.
    pub stored: u64,
    /// Stored bytes of the objects under this backup's own prefix (the rest are referenced).
    pub added: u64,
}

impl Totals {
    /// Totals of `entries` of backup `name` under `base`.
    pub fn of_entries<'a>(
        entries: impl IntoIterator<Item = &'a ObjectEntry>,
        base: &str,
        name: &str,
    ) -> Totals {
        let prefix = crate::layout::backup_prefix(base, name);
        entries.into_iter().fold(Totals::default(), |t, o| Totals {
            objects: t.objects + 1,
            size: t.size + o.size,
            stored: t.stored + o.compressed_size,
            added: t.added
                + if o.key.starts_with(&prefix) {
                    o.compressed_size
                } else {
                    0
                },
        })
    }

    /// Stored bytes that live in other backups.
    pub fn referenced(&self) -> u64 {
        self.stored - self.added
    }
}

impl std::ops::Add for Totals {
    type Output = Totals;
    fn add(self, o: Totals) -> Totals {
        Totals {
            objects: self.objects + o.objects,
            size: self.size + o.size,
            stored: self.stored + o.stored,
            added: self.added + o.added,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchKind {
    Snapshot,
    Incremental,
}

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    /// Full object key.
    pub key: String,
    /// The host as given to `--hosts`.
    pub host: String,
    /// Absolute path of the source file on the node.
    pub source_path: String,
    pub keyspace: String,
    /// Table name (without the `-<id>` suffix of 2.1+ directories).
    pub table: String,
    /// Source size in bytes.
    pub size: u64,
    /// Stored (lzop) size in bytes.
    pub compressed_size: u64,
    /// Hex SHA-256 of the source bytes: recorded by versions before BLAKE3 (empty since, and in the old
    /// tool's backups, which record nothing). See [`ObjectEntry::digest`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// Hex BLAKE3 of the source bytes: what this version records for every object it stores.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub blake3: String,
    /// The object's ETag, without quotes.
    pub etag: String,
    /// 0 for the file's own key; N > 0 when that key was already taken in this backup by a committed
    /// object with other content (a table rebuilt, or truncated and restarted, numbers its SSTables from 1
    /// again): the object is then stored under [`crate::layout::variant_key`]`(key, N)`, and every
    /// component of that SSTable carries the same N. Restore gives each variant a generation of its own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub variant: u32,
    /// The source file's identity on its node when it was read (`dev:ino:size:mtime_ns`): lets node-push
    /// tell, after the manifest is committed, that a `backups/` link is still the very file that was
    /// stored before it deletes it. `None` in manifests written before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The digest of an object's source bytes, as recorded: BLAKE3 where present, else SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentDigest<'a> {
    Blake3(&'a str),
    Sha256(&'a str),
}

impl ContentDigest<'_> {
    pub fn algorithm(&self) -> &'static str {
        match self {
            ContentDigest::Blake3(_) => "BLAKE3",
            ContentDigest::Sha256(_) => "SHA-256",
        }
    }

    pub fn hex(&self) -> &str {
        match self {
            ContentDigest::Blake3(hex) | ContentDigest::Sha256(hex) => hex,
        }
    }
}

impl ObjectEntry {
    /// The recorded digest of the source bytes; `None` when none was recorded.
    pub fn digest(&self) -> Option<ContentDigest<'_>> {
        if !self.blake3.is_empty() {
            Some(ContentDigest::Blake3(&self.blake3))
        } else if !self.sha256.is_empty() {
            Some(ContentDigest::Sha256(&self.sha256))
        } else {
            None
        }
    }
}

/// `<base>/<NAME>/purged.json` ([`crate::layout::purged_marker_key`]): the prefix of a backup `purge`
/// removed, kept while other backups reference its objects. Not a backup: `list` shows it as purged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgedMarker {
    pub name: String,
    pub purged_at: DateTime<Utc>,
    /// Objects still under the prefix because the backups in `kept_for` reference them.
    pub kept_objects: usize,
    pub kept_for: Vec<String>,
}

/// A manifest that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {key} is not valid JSON: {source}")]
    Parse {
        key: String,
        source: serde_json::Error,
    },
    #[error("manifest {key} has format version {found}, newer than this tool understands ({MANIFEST_FORMAT_VERSION}): upgrade cassandra-snapshotter")]
    TooNew { key: String, found: u32 },
}

impl Manifest {
    /// A new, empty manifest of our format.
    pub fn new(
        name: &str,
        base_path: &str,
        hosts: Vec<String>,
        keyspaces: Option<Vec<String>>,
        table: &str,
    ) -> Self {
        Manifest {
            name: name.to_string(),
            base_path: base_path.to_string(),
            hosts,
            keyspaces,
            table: table.to_string(),
            format_version: MANIFEST_FORMAT_VERSION,
            tool_version: Some(crate::TOOL_VERSION.to_string()),
            exclude_tables: Vec::new(),
            created_at: Some(Utc::now()),
            reference: None,
            batches: Vec::new(),
        }
    }

    /// Parse a manifest read from `key` (named in errors).
    pub fn from_json(key: &str, bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|source| ManifestError::Parse {
                key: key.to_string(),
                source,
            })?;
        if manifest.format_version > MANIFEST_FORMAT_VERSION {
            return Err(ManifestError::TooNew {
                key: key.to_string(),
                found: manifest.format_version,
            });
        }
        Ok(manifest)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest always serialises")
    }

    /// Written by the old Python tool: no batches, no object list.
    pub fn is_legacy(&self) -> bool {
        self.format_version == 0
    }

    /// Format 1 only: every object of every batch, inline. A format-2 manifest has none here: its records
    /// are read host by host (`engine::records`).
    pub fn inline_objects(&self) -> impl Iterator<Item = &ObjectEntry> {
        self.batches.iter().flat_map(|b| b.objects.iter())
    }

    /// The hosts whose records this manifest holds: its `hosts`, then any other a batch names (format 2
    /// summaries or format 1 inline objects).
    pub fn record_hosts(&self) -> Vec<String> {
        let mut hosts = self.hosts.clone();
        let named = self
            .batches
            .iter()
            .flat_map(|b| b.records.iter().map(|r| &r.host))
            .chain(self.inline_objects().map(|o| &o.host));
        for host in named {
            if !hosts.contains(host) {
                hosts.push(host.clone());
            }
        }
        hosts
    }

    /// Whether the per-object records live in records documents (format 2 and later).
    pub fn has_records_documents(&self) -> bool {
        self.format_version >= 2
    }

    /// The batches completed at or before `until` (all when `None`): a point-in-time view.
    pub fn batches_until(&self, until: Option<DateTime<Utc>>) -> impl Iterator<Item = &Batch> {
        self.batches
            .iter()
            .filter(move |b| until.is_none_or(|t| b.completed_at <= t))
    }

    pub fn incremental_count(&self) -> usize {
        self.batches
            .iter()
            .filter(|b| b.kind == BatchKind::Incremental)
            .count()
    }

    /// Totals over all batches, from the summaries (format 2) or the inline objects (format 1).
    pub fn totals(&self) -> Totals {
        self.batches.iter().fold(Totals::default(), |t, b| {
            t + b.totals(&self.base_path, &self.name)
        })
    }

    /// The backups outside this one whose objects its records reference.
    pub fn referenced_backups(&self) -> std::collections::BTreeSet<&str> {
        let own = crate::layout::backup_prefix(&self.base_path, &self.name);
        let base = crate::layout::base_prefix(&self.base_path);
        let mut names: std::collections::BTreeSet<&str> = self
            .batches
            .iter()
            .flat_map(|b| {
                b.records
                    .iter()
                    .flat_map(|r| r.refers_to.iter().map(String::as_str))
            })
            .collect();
        for o in self.inline_objects().filter(|o| !o.key.starts_with(&own)) {
            if let Some(name) = o
                .key
                .strip_prefix(&base)
                .and_then(|rest| rest.split('/').next())
            {
                names.insert(name);
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> ObjectEntry {
        ObjectEntry {
            key: key.into(),
            host: "h1".into(),
            source_path: "/d/ks/t/snapshots/n/f".into(),
            keyspace: "ks".into(),
            table: "t".into(),
            size: 10,
            compressed_size: 7,
            sha256: String::new(),
            blake3: "00".repeat(32),
            etag: "abc".into(),
            variant: 0,
            source_id: None,
        }
    }

    #[test]
    fn reads_the_old_tools_manifest() {
        let old = br#"{"name": "20190101000000", "base_path": "cluster", "hosts": ["h1", "h2"], "keyspaces": null, "table": ""}"#;
        let m = Manifest::from_json("k", old).unwrap();
        assert!(m.is_legacy());
        assert_eq!(m.hosts, ["h1", "h2"]);
        assert_eq!(m.keyspaces, None);
        assert_eq!(m.totals(), Totals::default());
    }

    #[test]
    fn reads_format_1_with_inline_objects() {
        let mut m = Manifest::new(
            "20240101000000",
            "b",
            vec!["h1".into()],
            Some(vec!["ks".into()]),
            "",
        );
        m.format_version = 1;
        let t0 = Utc::now();
        let mut snapshot = Batch::new(BatchKind::Snapshot, t0, t0, String::new());
        snapshot.objects = vec![entry("b/20240101000000/h1/a")];
        let mut incremental = Batch::new(
            BatchKind::Incremental,
            t0,
            t0 + chrono::Duration::seconds(60),
            String::new(),
        );
        incremental.objects = vec![entry("b/20230101000000/h1/b")];
        m.batches = vec![snapshot, incremental];
        let back = Manifest::from_json("k", m.to_json().as_bytes()).unwrap();
        assert_eq!(back, m);
        assert!(!back.has_records_documents());
        let totals = back.totals();
        assert_eq!(
            (totals.objects, totals.size, totals.stored, totals.added),
            (2, 20, 14, 7)
        );
        assert_eq!(back.incremental_count(), 1);
        assert_eq!(back.batches_until(Some(t0)).count(), 1);
        assert_eq!(
            back.referenced_backups().into_iter().collect::<Vec<_>>(),
            ["20230101000000"]
        );
    }

    #[test]
    fn round_trips_format_2_with_summaries() {
        let mut m = Manifest::new(
            "20240101000000",
            "b",
            vec!["h1".into(), "h2".into()],
            None,
            "",
        );
        m.reference = Some("20231231000000".into());
        let t0 = Utc::now();
        let mut batch = Batch::new(BatchKind::Snapshot, t0, t0, Batch::new_id(t0, 7));
        for host in ["h1", "h2"] {
            batch.records.push(RecordsSummary {
                host: host.into(),
                objects: 3,
                size: 30,
                stored: 21,
                added: 7,
                refers_to: vec!["20231231000000".into()],
                document_size: 100,
            });
        }
        m.batches.push(batch);
        let json = m.to_json();
        let back = Manifest::from_json("k", json.as_bytes()).unwrap();
        assert_eq!(back, m);
        assert!(back.has_records_documents());
        assert_eq!(back.totals().referenced(), 28);
        assert_eq!(
            back.referenced_backups().into_iter().collect::<Vec<_>>(),
            ["20231231000000"]
        );
        // The old tool's fields stay at the top level with their old names; no object is inline.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        for field in ["name", "base_path", "hosts", "keyspaces", "table"] {
            assert!(value.get(field).is_some(), "{field}");
        }
        assert!(value["batches"][0].get("objects").is_none());
    }

    #[test]
    fn digest_prefers_blake3() {
        let mut e = entry("k");
        assert_eq!(e.digest().unwrap().algorithm(), "BLAKE3");
        e.blake3.clear();
        assert_eq!(e.digest(), None);
        e.sha256 = "ab".into();
        assert_eq!(e.digest(), Some(ContentDigest::Sha256("ab")));
    }

    #[test]
    fn incremental_rule_ignores_order() {
        let mut m = Manifest::new(
            "n",
            "b",
            vec!["h1".into(), "h2".into()],
            Some(vec!["a".into(), "b".into()]),
            "",
        );
        let hosts = ["h2".to_string(), "h1".to_string()];
        let ks = ["b".to_string(), "a".to_string()];
        let same = |hosts: &[String], ks: &[String], table: &str, exclude: &[String]| {
            m.selection() == Selection::new(hosts, Some(ks), table, exclude)
        };
        assert!(same(&hosts, &ks, "", &[]));
        assert!(!same(&hosts[..1], &ks, "", &[]));
        assert!(!same(&hosts, &ks[..1], "", &[]));
        assert!(!same(&hosts, &ks, "users", &[]));
        assert!(!same(&hosts, &ks, "", &["a.audit".to_string()]));
        m.exclude_tables = vec!["a.audit".into()];
        assert!(m.selection() == Selection::new(&hosts, Some(&ks), "", &["a.audit".to_string()]));
    }

    #[test]
    fn rejects_bad_and_future_manifests() {
        let err = Manifest::from_json("b/n/manifest.json", b"not json").unwrap_err();
        assert!(err.to_string().contains("b/n/manifest.json"));
        let future = br#"{"name":"n","base_path":"b","hosts":[],"keyspaces":null,"table":"","format_version":99}"#;
        assert!(matches!(
            Manifest::from_json("k", future),
            Err(ManifestError::TooNew { .. })
        ));
    }
}
