//! Records documents: the per-object records of one host in one batch of a format-2 backup.
//!
//! Stored at [`crate::layout::records_key`] as lzop-compressed JSON lines (`lzop -d` reads them by hand):
//! the first line a [`RecordsHeader`], then one [`ObjectEntry`] per line. A document is written once,
//! before the `manifest.json` that names it, and never rewritten; a reader streams it line by line, so
//! memory is bounded by one host's records. This module only builds and parses the lines (no I/O, no
//! compression: `engine::records` does those).

use super::ObjectEntry;
use serde::{Deserialize, Serialize};

/// The records document format this version writes.
pub const RECORDS_FORMAT_VERSION: u32 = 1;

/// First line of a records document: what it belongs to, so that a document read under the wrong key is
/// refused instead of restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsHeader {
    pub records_format: u32,
    /// The backup name.
    pub backup: String,
    /// The batch id.
    pub batch: String,
    /// The host as given to `--hosts`.
    pub host: String,
    /// Number of record lines that follow: a truncated document is refused.
    pub objects: u64,
}

/// What `manifest.json` says about one host's records document in one batch, so that `list` needs no
/// other read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsSummary {
    pub host: String,
    pub objects: u64,
    /// Source bytes of the objects listed.
    pub size: u64,
    /// Stored bytes of the objects listed, wherever they live.
    pub stored: u64,
    /// Stored bytes of the listed objects under this backup's own prefix; the rest are referenced.
    pub added: u64,
    /// Backups (names, same base path) whose objects these records reference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refers_to: Vec<String>,
    /// Size of the stored (compressed) records document.
    pub document_size: u64,
}

impl RecordsSummary {
    pub fn totals(&self) -> super::Totals {
        super::Totals {
            objects: self.objects,
            size: self.size,
            stored: self.stored,
            added: self.added,
        }
    }
}

/// A records document that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordsError {
    #[error("records document {key}: line {line} is not valid ({reason})")]
    Line {
        key: String,
        line: u64,
        reason: String,
    },
    #[error("records document {key} belongs to {found}, expected {expected}")]
    Mismatch {
        key: String,
        found: String,
        expected: String,
    },
    #[error("records document {key} has format {found}, newer than this tool understands: upgrade cassandra-snapshotter")]
    TooNew { key: String, found: u32 },
    #[error(
        "records document {key} holds {found} records, its header says {expected}: it is truncated"
    )]
    Count {
        key: String,
        found: u64,
        expected: u64,
    },
}

/// The uncompressed JSON lines of a document holding `entries`.
pub fn encode<'a>(
    backup: &str,
    batch: &str,
    host: &str,
    entries: impl ExactSizeIterator<Item = &'a ObjectEntry>,
) -> Vec<u8> {
    let header = RecordsHeader {
        records_format: RECORDS_FORMAT_VERSION,
        backup: backup.to_string(),
        batch: batch.to_string(),
        host: host.to_string(),
        objects: entries.len() as u64,
    };
    let mut out = serde_json::to_vec(&header).expect("headers serialise");
    out.push(b'\n');
    for entry in entries {
        serde_json::to_writer(&mut out, entry).expect("entries serialise");
        out.push(b'\n');
    }
    out
}

/// Parses a document's lines as they come, checking the header against what the manifest says it is.
/// Call [`Reader::finish`] after the last line to check that none is missing.
pub struct Reader {
    key: String,
    expected: (String, String, String),
    header: Option<RecordsHeader>,
    line: u64,
}

impl Reader {
    /// A reader for the document of `host` in batch `batch` of backup `backup`, stored at `key`.
    pub fn new(key: &str, backup: &str, batch: &str, host: &str) -> Self {
        Reader {
            key: key.to_string(),
            expected: (backup.to_string(), batch.to_string(), host.to_string()),
            header: None,
            line: 0,
        }
    }

    /// One line (without its newline); `Some(entry)` for a record, `None` for the header or a blank line.
    pub fn line(&mut self, text: &[u8]) -> Result<Option<ObjectEntry>, RecordsError> {
        self.line += 1;
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let bad = |reason: String| RecordsError::Line {
            key: self.key.clone(),
            line: self.line,
            reason,
        };
        if self.header.is_none() {
            let header: RecordsHeader =
                serde_json::from_slice(text).map_err(|e| bad(format!("header: {e}")))?;
            self.check_header(&header)?;
            self.header = Some(header);
            return Ok(None);
        }
        serde_json::from_slice(text)
            .map(Some)
            .map_err(|e| bad(e.to_string()))
    }

    fn check_header(&self, header: &RecordsHeader) -> Result<(), RecordsError> {
        if header.records_format > RECORDS_FORMAT_VERSION {
            return Err(RecordsError::TooNew {
                key: self.key.clone(),
                found: header.records_format,
            });
        }
        let found = (
            header.backup.clone(),
            header.batch.clone(),
            header.host.clone(),
        );
        if found != self.expected {
            let show = |(b, batch, h): &(String, String, String)| {
                format!("backup {b} batch {batch} host {h}")
            };
            return Err(RecordsError::Mismatch {
                key: self.key.clone(),
                found: show(&found),
                expected: show(&self.expected),
            });
        }
        Ok(())
    }

    /// Checks that the document was complete: a header, and as many records as it announced.
    pub fn finish(self, records_read: u64) -> Result<(), RecordsError> {
        let expected = self.header.map(|h| h.objects);
        match expected {
            Some(expected) if expected == records_read => Ok(()),
            expected => Err(RecordsError::Count {
                key: self.key,
                found: records_read,
                expected: expected.unwrap_or(0),
            }),
        }
    }
}

/// Parses a whole document held in memory (tests, small documents).
pub fn decode(
    key: &str,
    backup: &str,
    batch: &str,
    host: &str,
    bytes: &[u8],
) -> Result<Vec<ObjectEntry>, RecordsError> {
    let mut reader = Reader::new(key, backup, batch, host);
    let mut entries = Vec::new();
    for line in bytes.split(|b| *b == b'\n') {
        if let Some(entry) = reader.line(line)? {
            entries.push(entry);
        }
    }
    reader.finish(entries.len() as u64)?;
    Ok(entries)
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
            blake3: "11".repeat(32),
            etag: "abc".into(),
            variant: 0,
            source_id: Some("1:2:10:3".into()),
        }
    }

    #[test]
    fn round_trips() {
        let entries = vec![entry("a"), entry("b")];
        let bytes = encode("n", "b1", "h1", entries.iter());
        assert_eq!(decode("k", "n", "b1", "h1", &bytes).unwrap(), entries);
        let empty = encode("n", "b1", "h1", [].iter());
        assert!(decode("k", "n", "b1", "h1", &empty).unwrap().is_empty());
    }

    #[test]
    fn refuses_truncated_misplaced_and_future_documents() {
        let entries = [entry("a"), entry("b")];
        let bytes = encode("n", "b1", "h1", entries.iter());
        let cut = &bytes[..bytes.len() - 3];
        assert!(decode("k", "n", "b1", "h1", cut).is_err());
        let last_line_dropped = &bytes[..bytes[..bytes.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .unwrap()
            + 1];
        assert!(matches!(
            decode("k", "n", "b1", "h1", last_line_dropped),
            Err(RecordsError::Count {
                found: 1,
                expected: 2,
                ..
            })
        ));
        let error = decode("k", "n", "b1", "h2", &bytes).unwrap_err();
        assert!(error.to_string().contains("host h2"), "{error}");
        let future = br#"{"records_format":9,"backup":"n","batch":"b1","host":"h1","objects":0}"#;
        assert!(matches!(
            decode("k", "n", "b1", "h1", future),
            Err(RecordsError::TooNew { .. })
        ));
        assert!(matches!(
            decode("k", "n", "b1", "h1", b""),
            Err(RecordsError::Count { .. })
        ));
    }
}
