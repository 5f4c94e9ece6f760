//! `manifest.json`: what a backup holds, and whether it is complete.
//!
//! The old tool wrote `{"name", "base_path", "hosts", "keyspaces", "table"}`; those fields keep their names
//! and meaning, so its manifests parse here ([`Manifest::format_version`] is then 0) and ours stay readable
//! by it. We add a format version, the tool version, timestamps, and one [`Batch`] per upload run (the
//! snapshot and every incremental after it), each listing its objects with size, compressed size, SHA-256
//! of the source bytes and the S3 ETag, so that `verify` and `restore` can check every byte.
//!
//! Invariant: a manifest is only ever written after every object it lists was uploaded and verified, and it
//! is written last (first under [`crate::layout::MANIFEST_STAGING_FILE`], then copied into place).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod selection;
pub use selection::Selection;

/// The manifest format this version writes. 0 means "written by the old Python tool".
pub const MANIFEST_FORMAT_VERSION: u32 = 1;

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
    pub objects: Vec<ObjectEntry>,
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
    /// Hex SHA-256 of the source bytes.
    pub sha256: String,
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

    /// Every object of every batch.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectEntry> {
        self.batches.iter().flat_map(|b| b.objects.iter())
    }

    /// Objects of the batches completed at or before `until` (all when `None`): a point-in-time view.
    pub fn objects_until(
        &self,
        until: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = &ObjectEntry> {
        self.batches
            .iter()
            .filter(move |b| until.is_none_or(|t| b.completed_at <= t))
            .flat_map(|b| b.objects.iter())
    }

    pub fn incremental_count(&self) -> usize {
        self.batches
            .iter()
            .filter(|b| b.kind == BatchKind::Incremental)
            .count()
    }

    /// (object count, source bytes, stored bytes) over all batches.
    pub fn totals(&self) -> (u64, u64, u64) {
        self.objects().fold((0, 0, 0), |(n, size, stored), o| {
            (n + 1, size + o.size, stored + o.compressed_size)
        })
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
            sha256: "00".repeat(32),
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
        assert_eq!(m.totals(), (0, 0, 0));
    }

    #[test]
    fn round_trips_with_batches() {
        let mut m = Manifest::new(
            "20240101000000",
            "b",
            vec!["h1".into()],
            Some(vec!["ks".into()]),
            "",
        );
        let t0 = Utc::now();
        m.batches.push(Batch {
            kind: BatchKind::Snapshot,
            started_at: t0,
            completed_at: t0,
            objects: vec![entry("a")],
        });
        m.batches.push(Batch {
            kind: BatchKind::Incremental,
            started_at: t0,
            completed_at: t0 + chrono::Duration::seconds(60),
            objects: vec![entry("b")],
        });
        let back = Manifest::from_json("k", m.to_json().as_bytes()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.totals(), (2, 20, 14));
        assert_eq!(back.incremental_count(), 1);
        assert_eq!(back.objects_until(Some(t0)).count(), 1);
        // The old tool's fields stay at the top level with their old names.
        let value: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
        for field in ["name", "base_path", "hosts", "keyspaces", "table"] {
            assert!(value.get(field).is_some(), "{field}");
        }
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
