//! Streaming an object out of the store and through the lzop decoder with bounded memory, checking it
//! against its manifest entry. Shared by restore (which writes the bytes) and deep verify (which drops them).
//!
//! An async task fetches the object in ranged GETs of `chunk_size` bytes (each retried on its own) and hands
//! them over a channel of one slot to a blocking [`ChunkedReader`], which the decoder reads. At most three
//! chunks exist per object at any time (one being fetched, one waiting, one being decoded), whatever the
//! object's size. If the decoder stops early, dropping the reader stops the fetching.

use crate::digest::{same_hex, Algorithm, Hasher};
use crate::lzop::{LzopDecoder, LzopError};
use crate::ratelimit::RateLimiter;
use crate::store::{with_retry, ObjectStore, RetryPolicy, StoreError};
use bytes::Bytes;
use contract::manifest::ObjectEntry;
use contract::message::RestoreFailure;
use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// How objects are fetched.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Bytes per ranged GET.
    pub chunk_size: u64,
    pub retry: RetryPolicy,
    /// Shared with everything else this process transfers.
    pub limiter: Arc<RateLimiter>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            chunk_size: 8 * 1024 * 1024,
            retry: RetryPolicy::default(),
            limiter: RateLimiter::unlimited(),
        }
    }
}

/// Why an object did not decode to what its entry says.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{key}: object not found")]
    Missing { key: String },
    #[error("{key}: stored object is {found} bytes, the manifest says {expected}")]
    StoredSizeMismatch {
        key: String,
        expected: u64,
        found: u64,
    },
    /// The lzop stream is damaged; the error carries the offset in the stored object.
    #[error("{key}: corrupt: {source}")]
    Corrupt { key: String, source: LzopError },
    #[error("{key}: decodes to {found} bytes, the manifest says {expected}")]
    SizeMismatch {
        key: String,
        expected: u64,
        found: u64,
    },
    #[error("{key}: {} of the decoded bytes is {found}, the manifest says {expected}", algorithm.name())]
    ShaMismatch {
        key: String,
        algorithm: Algorithm,
        expected: String,
        found: String,
    },
    /// The store failed after its retries (its message names the key).
    #[error(transparent)]
    Store(StoreError),
    #[error("{key}: cancelled")]
    Cancelled { key: String },
}

impl ObjectError {
    /// Only store trouble (throttling, a dropped connection) may go away; bad bytes stay bad.
    pub fn is_retryable(&self) -> bool {
        match self {
            ObjectError::Store(e) => e.is_retryable(),
            ObjectError::Cancelled { .. } => true,
            _ => false,
        }
    }

    pub fn failure(&self) -> RestoreFailure {
        match self {
            ObjectError::Missing { .. } => RestoreFailure::Missing,
            ObjectError::StoredSizeMismatch { .. } => RestoreFailure::StoredSizeMismatch,
            ObjectError::Corrupt { .. } => RestoreFailure::Corrupt,
            ObjectError::SizeMismatch { .. } => RestoreFailure::SizeMismatch,
            ObjectError::ShaMismatch { .. } => RestoreFailure::Sha256Mismatch,
            ObjectError::Store(_) => RestoreFailure::StoreError,
            ObjectError::Cancelled { .. } => RestoreFailure::Cancelled,
        }
    }
}

/// Checks the object exists with the stored size its entry records; returns that size.
pub(crate) async fn check_stored(
    store: &dyn ObjectStore,
    entry: &ObjectEntry,
    retry: &RetryPolicy,
) -> Result<crate::store::ObjectMeta, ObjectError> {
    let meta = with_retry(retry, || store.head(&entry.key))
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => ObjectError::Missing {
                key: entry.key.clone(),
            },
            other => ObjectError::Store(other),
        })?
        .ok_or_else(|| ObjectError::Missing {
            key: entry.key.clone(),
        })?;
    if meta.size != entry.compressed_size {
        return Err(ObjectError::StoredSizeMismatch {
            key: entry.key.clone(),
            expected: entry.compressed_size,
            found: meta.size,
        });
    }
    Ok(meta)
}

/// Why the fetching side stopped early.
#[derive(Debug)]
enum FetchFailure {
    Store(StoreError),
    Cancelled,
}

/// A blocking `Read` over an object being fetched in chunks by an async task.
pub(crate) struct ChunkedReader {
    chunks: mpsc::Receiver<Bytes>,
    current: Bytes,
    probe: FailureProbe,
    task: tokio::task::JoinHandle<()>,
}

/// Tells, after the decoder gave up, whether the fetching side failed first (and how).
#[derive(Clone)]
pub(crate) struct FailureProbe {
    key: String,
    slot: Arc<Mutex<Option<FetchFailure>>>,
}

impl FailureProbe {
    fn failed(&self) -> bool {
        self.slot.lock().is_ok_and(|f| f.is_some())
    }

    /// The fetching side's failure, if it failed: it explains whatever the decoder made of the short stream.
    fn take(&self) -> Option<ObjectError> {
        let failure = self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        failure.map(|f| match f {
            FetchFailure::Store(StoreError::NotFound { .. }) => ObjectError::Missing {
                key: self.key.clone(),
            },
            FetchFailure::Store(e) => ObjectError::Store(e),
            FetchFailure::Cancelled => ObjectError::Cancelled {
                key: self.key.clone(),
            },
        })
    }
}

impl ChunkedReader {
    /// Starts fetching `[0, size)` of `key` on the current runtime. Must be called inside a runtime.
    pub(crate) fn start(
        store: Arc<dyn ObjectStore>,
        key: &str,
        size: u64,
        config: &FetchConfig,
        mut cancel: watch::Receiver<bool>,
    ) -> Self {
        // One waiting chunk: the fetcher gets at most one chunk ahead of the decoder.
        let (sender, chunks) = mpsc::channel(1);
        let probe = FailureProbe {
            key: key.to_string(),
            slot: Arc::new(Mutex::new(None)),
        };
        let slot = probe.slot.clone();
        let (task_key, config) = (key.to_string(), config.clone());
        let chunk = config.chunk_size.max(1);
        let task = tokio::spawn(async move {
            let mut start = 0;
            while start < size {
                let end = size.min(start + chunk);
                let fetch = async {
                    config.limiter.acquire((end - start) as usize).await;
                    with_retry(&config.retry, || store.get(&task_key, Some((start, end)))).await
                };
                let result = tokio::select! {
                    result = fetch => result.map_err(FetchFailure::Store),
                    _ = cancel.wait_for(|stop| *stop) => Err(FetchFailure::Cancelled),
                };
                match result {
                    Ok(bytes) => {
                        if sender.send(bytes).await.is_err() {
                            return; // The decoder stopped reading.
                        }
                    }
                    Err(failure) => {
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
                        return; // Dropping the sender ends the reader's stream.
                    }
                }
                start = end;
            }
        });
        ChunkedReader {
            chunks,
            current: Bytes::new(),
            probe,
            task,
        }
    }

    pub(crate) fn probe(&self) -> FailureProbe {
        self.probe.clone()
    }
}

impl Read for ChunkedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None if self.probe.failed() => return Err(io::Error::other("download failed")),
                None => return Ok(0),
            }
        }
        let n = self.current.len().min(buf.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

impl Drop for ChunkedReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a fully checked object decoded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Decoded bytes.
    pub size: u64,
    /// Hex digest of the decoded bytes, with the algorithm the entry records (SHA-256 when it records
    /// none: the old tool's backups).
    pub digest: String,
    /// Stored bytes read.
    pub downloaded: u64,
}

/// Where decoded bytes go; write errors are the sink's own (a full disk is not a corrupt object).
pub(crate) trait DecodedSink {
    type Error;
    fn write_block(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
    /// Decoded bytes so far, after each block (progress messages).
    fn progress(&mut self, _decoded: u64) {}
}

/// Drops the bytes (verify).
pub(crate) struct Discard;

impl DecodedSink for Discard {
    type Error = std::convert::Infallible;
    fn write_block(&mut self, _bytes: &[u8]) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A decode that failed because of the object or because of the sink.
#[derive(Debug)]
pub(crate) enum DecodeError<E> {
    Object(ObjectError),
    Sink(E),
}

/// Decodes the whole stream into `sink`, then checks size and digest against `entry` (when recorded, with
/// the algorithm it records).
/// Runs on a blocking thread.
pub(crate) fn decode_checked<S: DecodedSink>(
    entry: &ObjectEntry,
    reader: ChunkedReader,
    sink: &mut S,
) -> Result<Decoded, DecodeError<S::Error>> {
    let probe = reader.probe();
    // A short stream because the download failed is the download's fault, not the object's.
    let object_error = |source: LzopError| {
        DecodeError::Object(probe.take().unwrap_or(ObjectError::Corrupt {
            key: entry.key.clone(),
            source,
        }))
    };
    let mut decoder = LzopDecoder::new(reader).map_err(object_error)?;
    let recorded = Algorithm::of_entry(entry);
    let mut hasher = Hasher::new(recorded.map_or(Algorithm::Sha256, |(algorithm, _)| algorithm));
    let mut size = 0u64;
    loop {
        let block = match decoder.fill_buf() {
            Ok(block) => block,
            Err(error) => {
                let offset = decoder.stats().compressed_bytes;
                return Err(object_error(lzop_error(error, offset)));
            }
        };
        if block.is_empty() {
            break;
        }
        hasher.update(block);
        sink.write_block(block).map_err(DecodeError::Sink)?;
        let n = block.len();
        size += n as u64;
        decoder.consume(n);
        sink.progress(size);
    }
    let downloaded = decoder.stats().compressed_bytes;
    let algorithm = hasher.algorithm();
    let digest = hasher.finalize_hex();
    let Some((_, expected)) = recorded else {
        return Ok(Decoded {
            size,
            digest,
            downloaded,
        });
    };
    if size != entry.size {
        return Err(DecodeError::Object(ObjectError::SizeMismatch {
            key: entry.key.clone(),
            expected: entry.size,
            found: size,
        }));
    }
    if !same_hex(&digest, expected) {
        return Err(DecodeError::Object(ObjectError::ShaMismatch {
            key: entry.key.clone(),
            algorithm,
            expected: expected.to_string(),
            found: digest,
        }));
    }
    Ok(Decoded {
        size,
        digest,
        downloaded,
    })
}

/// The decoder's error inside an `io::Error` from its `Read` side.
fn lzop_error(error: io::Error, offset: u64) -> LzopError {
    if error.get_ref().is_some_and(|inner| inner.is::<LzopError>()) {
        let inner = error.into_inner().expect("an inner error was just seen");
        return *inner
            .downcast::<LzopError>()
            .expect("its type was just checked");
    }
    LzopError::Io {
        offset,
        source: error,
    }
}
