//! Reading and writing a format-2 backup's records documents (`contract::manifest::records`): one
//! lzop-compressed JSON-lines document per host and batch, written once before the `manifest.json` that
//! names it, read host by host so that memory is bounded by one host's records.
//!
//! [`host_entries`] is the one way every command reads a backup's objects for a host, whatever the
//! manifest's format (format 1 keeps them inline).

use crate::lzop::{EncoderOptions, LzopDecoder, LzopEncoder, LzopError};
use crate::store::{with_retry, ObjectStore, PutOptions, RetryPolicy, StoreError};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use contract::layout;
use contract::manifest::records::{self, RecordsError};
use contract::manifest::{Batch, Manifest, ObjectEntry, RecordsSummary, Totals};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};

/// A records document that could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RecordsIoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("records document {key} is missing, although manifest.json names it")]
    Missing { key: String },
    #[error("records document {key} is not a valid lzop file: {source}")]
    Lzop { key: String, source: LzopError },
    #[error("records document {key} cannot be read: {source}")]
    Io { key: String, source: std::io::Error },
    #[error(transparent)]
    Records(#[from] RecordsError),
    #[error("records document {key} reads back different from what was written")]
    ReadBack { key: String },
}

impl RecordsIoError {
    /// Whether trying again may help (a store's transient error).
    pub fn is_retryable(&self) -> bool {
        matches!(self, RecordsIoError::Store(e) if e.is_retryable())
    }
}

/// Writes the records of `host` in batch `batch_id` of backup `name` (read back and compared), and returns
/// the summary `manifest.json` keeps of it.
pub async fn write_document(
    store: &dyn ObjectStore,
    (base, name, batch_id): (&str, &str, &str),
    host: &str,
    entries: &[ObjectEntry],
    opts: &PutOptions,
) -> Result<RecordsSummary, RecordsIoError> {
    let key = layout::records_key(base, name, batch_id, host);
    let lines = records::encode(name, batch_id, host, entries.iter());
    let body = Bytes::from(compress(&key, &lines)?);
    let retry = RetryPolicy::default();
    with_retry(&retry, || store.put_object(&key, body.clone(), opts)).await?;
    let back = with_retry(&retry, || store.get(&key, None)).await?;
    if back != body {
        return Err(RecordsIoError::ReadBack { key });
    }
    Ok(summarise(base, name, host, entries, body.len() as u64))
}

/// The summary of `entries` of `host` in backup `name`.
pub fn summarise(
    base: &str,
    name: &str,
    host: &str,
    entries: &[ObjectEntry],
    document_size: u64,
) -> RecordsSummary {
    let totals = Totals::of_entries(entries, base, name);
    let own = layout::backup_prefix(base, name);
    let base_prefix = layout::base_prefix(base);
    let refers_to: BTreeSet<String> = entries
        .iter()
        .filter(|e| !e.key.starts_with(&own))
        .filter_map(|e| {
            e.key
                .strip_prefix(&base_prefix)?
                .split('/')
                .next()
                .map(str::to_string)
        })
        .collect();
    RecordsSummary {
        host: host.to_string(),
        objects: totals.objects,
        size: totals.size,
        stored: totals.stored,
        added: totals.added,
        refers_to: refers_to.into_iter().collect(),
        document_size,
    }
}

fn compress(key: &str, lines: &[u8]) -> Result<Vec<u8>, RecordsIoError> {
    let opts = EncoderOptions {
        blocks_in_flight: 1,
        ..EncoderOptions::default()
    };
    let mut out = Vec::with_capacity(lines.len() / 4 + 1024);
    LzopEncoder::new(lines, opts, None)
        .read_to_end(&mut out)
        .map_err(|source| RecordsIoError::Io {
            key: key.to_string(),
            source,
        })?;
    Ok(out)
}

/// Calls `each` with every record of `host` in `batch`, streaming the document (format 1: the batch's
/// inline objects of that host).
pub async fn for_each_in_batch(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    batch: &Batch,
    host: &str,
    mut each: impl FnMut(ObjectEntry),
) -> Result<(), RecordsIoError> {
    if !manifest.has_records_documents() {
        batch
            .objects
            .iter()
            .filter(|o| o.host == host)
            .cloned()
            .for_each(each);
        return Ok(());
    }
    if !batch.records.iter().any(|r| r.host == host) {
        return Ok(());
    }
    let (base, name) = (&manifest.base_path, &manifest.name);
    let key = layout::records_key(base, name, &batch.id, host);
    let body = match with_retry(&RetryPolicy::default(), || store.get(&key, None)).await {
        Ok(body) => body,
        Err(StoreError::NotFound { .. }) => return Err(RecordsIoError::Missing { key }),
        Err(error) => return Err(error.into()),
    };
    let decoder = LzopDecoder::new(&body[..]).map_err(|source| RecordsIoError::Lzop {
        key: key.clone(),
        source,
    })?;
    let mut reader = records::Reader::new(&key, name, &batch.id, host);
    let mut lines = BufReader::new(decoder);
    let mut line = Vec::new();
    let mut count = 0u64;
    loop {
        line.clear();
        let read = lines
            .read_until(b'\n', &mut line)
            .map_err(|source| RecordsIoError::Io {
                key: key.clone(),
                source,
            })?;
        if read == 0 {
            break;
        }
        if let Some(entry) = reader.line(line.strip_suffix(b"\n").unwrap_or(&line))? {
            count += 1;
            each(entry);
        }
    }
    reader.finish(count)?;
    Ok(())
}

/// Every record of `host` in the batches completed at or before `until` (all when `None`), oldest batch
/// first: the one way commands read what a backup holds for a host.
pub async fn host_entries(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    host: &str,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<ObjectEntry>, RecordsIoError> {
    let mut entries = Vec::new();
    for batch in manifest.batches_until(until) {
        for_each_in_batch(store, manifest, batch, host, |e| entries.push(e)).await?;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests;
