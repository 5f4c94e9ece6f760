//! Checking a backup's objects in the store against their manifest entries, for `cassandra-snapshotter
//! verify` (which runs on the coordinator and calls [`verify_objects`]).
//!
//! - [`VerifyDepth::Shallow`]: one HEAD per object: it exists, its size is the entry's `compressed_size`,
//!   its ETag is the entry's `etag`.
//! - [`VerifyDepth::Deep`]: the shallow checks, then the object is streamed through the lzop decoder (ranged
//!   GETs, bounded memory, nothing written anywhere): every block checksum, then the decoded size and
//!   digest against `size` and the digest the entry records (`blake3`, or `sha256` for entries of earlier
//!   versions; see [`crate::digest`]). A damaged stream is reported as such (with its offset) even when
//!   the ETag differs too; an object whose ETag differs but whose bytes decode to the recorded ones is
//!   reported as an ETag mismatch. Entries without a digest (rebuilt from a listing of a backup the old
//!   tool wrote) get the lzop checks only.
//!
//! Every object gets an [`ObjectStatus`]; the [`VerifyReport`] groups them by host. One bad object never
//! stops the others.

use crate::digest::Algorithm;
use crate::restore::{
    check_stored, decode_checked, ChunkedReader, DecodeError, Discard, FetchConfig, ObjectError,
};
use crate::store::ObjectStore;
use contract::manifest::ObjectEntry;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use tokio::sync::{watch, Semaphore};

/// How much to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyDepth {
    /// HEAD: existence, stored size, ETag.
    Shallow,
    /// Also download and decode: lzop checksums, decoded size, content digest.
    Deep,
}

/// Settings of one verify run.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub depth: VerifyDepth,
    /// Objects checked at once (deep: each holds at most three chunks of `fetch.chunk_size` in memory).
    pub concurrency: usize,
    pub fetch: FetchConfig,
}

impl VerifyConfig {
    /// 16 HEADs at once for a shallow check, 4 downloads for a deep one.
    pub fn new(depth: VerifyDepth) -> Self {
        VerifyConfig {
            depth,
            concurrency: match depth {
                VerifyDepth::Shallow => 16,
                VerifyDepth::Deep => 4,
            },
            fetch: FetchConfig::default(),
        }
    }
}

/// What was found for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectStatus {
    Ok,
    Missing,
    /// The stored object's size is not the entry's `compressed_size`.
    StoredSizeMismatch {
        expected: u64,
        found: u64,
    },
    EtagMismatch {
        expected: String,
        found: String,
    },
    /// The lzop stream is damaged at `offset` (bytes into the stored object).
    Corrupt {
        offset: u64,
        message: String,
    },
    /// The decoded bytes are not `size` long.
    SizeMismatch {
        expected: u64,
        found: u64,
    },
    /// The decoded bytes do not hash to the recorded digest (`algorithm`: BLAKE3 or SHA-256).
    ShaMismatch {
        algorithm: Algorithm,
        expected: String,
        found: String,
    },
    /// The store did not answer (after retries): the object's state is unknown.
    Unreadable {
        message: String,
        retryable: bool,
    },
}

impl ObjectStatus {
    pub fn is_ok(&self) -> bool {
        *self == ObjectStatus::Ok
    }

    fn from_error(error: ObjectError) -> Self {
        match error {
            ObjectError::Missing { .. } => ObjectStatus::Missing,
            ObjectError::StoredSizeMismatch {
                expected, found, ..
            } => ObjectStatus::StoredSizeMismatch { expected, found },
            ObjectError::Corrupt { source, .. } => ObjectStatus::Corrupt {
                offset: source.offset(),
                message: source.to_string(),
            },
            ObjectError::SizeMismatch {
                expected, found, ..
            } => ObjectStatus::SizeMismatch { expected, found },
            ObjectError::ShaMismatch {
                algorithm,
                expected,
                found,
                ..
            } => ObjectStatus::ShaMismatch {
                algorithm,
                expected,
                found,
            },
            error @ (ObjectError::Store(_) | ObjectError::Cancelled { .. }) => {
                ObjectStatus::Unreadable {
                    retryable: error.is_retryable(),
                    message: error.to_string(),
                }
            }
        }
    }
}

impl fmt::Display for ObjectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectStatus::Ok => f.write_str("ok"),
            ObjectStatus::Missing => f.write_str("missing"),
            ObjectStatus::StoredSizeMismatch { expected, found } => write!(
                f,
                "stored size is {found} bytes, the manifest says {expected}"
            ),
            ObjectStatus::EtagMismatch { expected, found } => {
                write!(f, "ETag is {found}, the manifest says {expected}")
            }
            ObjectStatus::Corrupt { message, .. } => write!(f, "corrupt: {message}"),
            ObjectStatus::SizeMismatch { expected, found } => {
                write!(f, "decodes to {found} bytes, the manifest says {expected}")
            }
            ObjectStatus::ShaMismatch {
                algorithm,
                expected,
                found,
            } => write!(
                f,
                "{} of the decoded bytes is {found}, the manifest says {expected}",
                algorithm.name()
            ),
            ObjectStatus::Unreadable { message, .. } => write!(f, "unreadable: {message}"),
        }
    }
}

/// One object and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectReport {
    pub entry: ObjectEntry,
    pub status: ObjectStatus,
}

impl fmt::Display for ObjectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.entry.key, self.status)
    }
}

/// Every object's status, by host (the entry's `host`), each host's objects in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub depth: VerifyDepth,
    pub hosts: BTreeMap<String, Vec<ObjectReport>>,
}

impl VerifyReport {
    /// True when every object is fine (and vacuously for no objects).
    pub fn is_ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Every object that is not fine.
    pub fn failures(&self) -> impl Iterator<Item = &ObjectReport> {
        self.hosts.values().flatten().filter(|r| !r.status.is_ok())
    }

    /// (host, objects fine, objects not fine), sorted by host.
    pub fn per_host(&self) -> Vec<(&str, usize, usize)> {
        self.hosts
            .iter()
            .map(|(host, reports)| {
                let ok = reports.iter().filter(|r| r.status.is_ok()).count();
                (host.as_str(), ok, reports.len() - ok)
            })
            .collect()
    }
}

/// Checks every object; `on_object` sees each report as it is made (progress display). Never fails as a
/// whole: a store that cannot be reached makes every object [`ObjectStatus::Unreadable`].
pub async fn verify_objects(
    store: Arc<dyn ObjectStore>,
    objects: Vec<ObjectEntry>,
    config: &VerifyConfig,
    on_object: impl Fn(&ObjectReport) + Send + Sync + 'static,
) -> VerifyReport {
    let on_object = Arc::new(on_object);
    let gate = Arc::new(Semaphore::new(config.concurrency.max(1)));
    // Never cancelled: dropping the returned future stops the run.
    let (_keep_open, cancel) = watch::channel(false);
    let mut running = tokio::task::JoinSet::new();
    let mut statuses: Vec<Option<ObjectStatus>> = vec![None; objects.len()];
    for (index, entry) in objects.iter().enumerate() {
        let permit = gate.clone().acquire_owned().await.expect("never closed");
        let (store, config, entry, cancel, on_object) = (
            store.clone(),
            config.clone(),
            entry.clone(),
            cancel.clone(),
            on_object.clone(),
        );
        running.spawn(async move {
            let status = verify_one(store, &entry, &config, cancel).await;
            drop(permit);
            let report = ObjectReport { entry, status };
            on_object(&report);
            (index, report.status)
        });
        while let Some(done) = running.try_join_next() {
            let (index, status) = done.expect("verify task panicked");
            statuses[index] = Some(status);
        }
    }
    while let Some(done) = running.join_next().await {
        let (index, status) = done.expect("verify task panicked");
        statuses[index] = Some(status);
    }
    let mut hosts: BTreeMap<String, Vec<ObjectReport>> = BTreeMap::new();
    for (entry, status) in objects.into_iter().zip(statuses) {
        hosts
            .entry(entry.host.clone())
            .or_default()
            .push(ObjectReport {
                entry,
                status: status.expect("every object has a status"),
            });
    }
    VerifyReport {
        depth: config.depth,
        hosts,
    }
}

/// Checks one object as deeply as asked.
pub async fn verify_one(
    store: Arc<dyn ObjectStore>,
    entry: &ObjectEntry,
    config: &VerifyConfig,
    cancel: watch::Receiver<bool>,
) -> ObjectStatus {
    let meta = match check_stored(store.as_ref(), entry, &config.fetch.retry).await {
        Ok(meta) => meta,
        Err(error) => return ObjectStatus::from_error(error),
    };
    let etag_status = if entry.etag.is_empty() || meta.etag.eq_ignore_ascii_case(&entry.etag) {
        ObjectStatus::Ok
    } else {
        ObjectStatus::EtagMismatch {
            expected: entry.etag.clone(),
            found: meta.etag,
        }
    };
    if config.depth == VerifyDepth::Shallow {
        return etag_status;
    }
    // A rewritten object (other ETag) is still decoded: whether its bytes are damaged, or still the
    // recorded ones, is what a deep check is for.
    let reader = ChunkedReader::start(store, &entry.key, meta.size, &config.fetch, cancel);
    let entry = entry.clone();
    let decoded = tokio::task::spawn_blocking(move || decode_checked(&entry, reader, &mut Discard))
        .await
        .expect("verify task panicked");
    match decoded {
        Ok(_) => etag_status,
        Err(DecodeError::Object(error)) => ObjectStatus::from_error(error),
        Err(DecodeError::Sink(never)) => match never {},
    }
}

#[cfg(test)]
mod tests;
