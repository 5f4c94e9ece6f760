//! Uploading one file: small files in one PUT, larger ones as a multipart upload whose parts are produced on
//! a blocking thread and sent while the next ones are compressed.
//!
//! A file is only reported done after the store's ETag matches the one computed locally and a HEAD shows the
//! expected size. A failed multipart upload is always aborted. A file that changes size while it is read is
//! read again (Cassandra's files are immutable once written, so this only happens to a file still being
//! written or replaced).

use super::parts::{multipart_etag, part_size_for, Part, PartProducer};
use super::Context;
use crate::digest::HashingReader;
use crate::lzop::LzopEncoder;
use crate::store::{
    with_retry, BodyDigest, CompletedPart, RetryPolicy, StoreError, TransportCheck,
};
use bytes::Bytes;
use contract::manifest::ObjectEntry;
use contract::message::Message;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};

/// One file to upload and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadItem {
    pub path: PathBuf,
    pub key: String,
    /// Size when the walk saw it.
    pub size: u64,
    pub keyspace: String,
    pub table: String,
    /// The variant number the key carries (0: the file's own key; see [`contract::layout::variant_key`]).
    pub variant: u32,
}

/// How one file's upload ended, short of success.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file disappeared before it could be read (compaction): not a failure.
    #[error("{0}: vanished before it could be read")]
    Vanished(PathBuf),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: changed size while it was read ({expected} then {found} bytes), {attempts} times"
    )]
    Unstable {
        path: PathBuf,
        expected: u64,
        found: u64,
        attempts: u32,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}: upload cancelled (stdin closed)")]
    Cancelled(PathBuf),
}

impl FileError {
    /// True if running the same upload later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            FileError::Store(e) => e.is_retryable(),
            FileError::Unstable { .. } | FileError::Cancelled(_) => true,
            FileError::Vanished(_) | FileError::Read { .. } => false,
        }
    }
}

/// What one successful attempt produced.
struct Uploaded {
    source_bytes: u64,
    /// Hex BLAKE3 of the source bytes.
    blake3: String,
    compressed_bytes: u64,
    etag: String,
}

/// How many times a file that changes while read is tried.
const SOURCE_ATTEMPTS: u32 = 3;

/// Upload `item`, verifying it; returns its manifest entry.
pub async fn upload_file(ctx: &Context, item: &UploadItem) -> Result<ObjectEntry, FileError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (size, source_id) = match fs_err::metadata(&item.path) {
            Ok(meta) => (meta.len(), Some(crate::sstable::source_id(&meta))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FileError::Vanished(item.path.clone()))
            }
            Err(source) => {
                return Err(FileError::Read {
                    path: item.path.clone(),
                    source,
                })
            }
        };
        ctx.reporter.emit(Message::FileStarted {
            path: item.path.display().to_string(),
            key: item.key.clone(),
            size,
        });
        let part_size = part_size_for(size, ctx.config.part_size);
        // Probed once per store, on its first file.
        let check = ctx
            .store
            .transport_check(&item.key, &ctx.config.put_options)
            .await;
        let uploaded = if size < part_size / 2 {
            // Dropping a single PUT midway leaves nothing behind that needs cleaning up.
            tokio::select! {
                uploaded = upload_small(ctx, item, check) => uploaded?,
                () = cancelled(ctx.cancel.clone()) => return Err(FileError::Cancelled(item.path.clone())),
            }
        } else {
            upload_multipart(ctx, item, part_size, check).await?
        };
        let size_after = fs_err::metadata(&item.path).map(|m| m.len()).ok();
        if uploaded.source_bytes != size || size_after != Some(size) {
            let found = size_after.unwrap_or(uploaded.source_bytes);
            if attempt >= SOURCE_ATTEMPTS {
                let _ = ctx.store.delete(&item.key).await;
                return Err(FileError::Unstable {
                    path: item.path.clone(),
                    expected: size,
                    found,
                    attempts: attempt,
                });
            }
            tracing_log(
                ctx,
                &format!(
                    "{}: changed while read, reading it again",
                    item.path.display()
                ),
            );
            continue;
        }
        verify_stored(ctx, &item.key, &uploaded).await?;
        return Ok(ObjectEntry {
            key: item.key.clone(),
            host: ctx.config.host_label.clone(),
            source_path: item.path.display().to_string(),
            keyspace: item.keyspace.clone(),
            table: item.table.clone(),
            size: uploaded.source_bytes,
            compressed_size: uploaded.compressed_bytes,
            sha256: String::new(),
            blake3: uploaded.blake3,
            etag: uploaded.etag,
            variant: item.variant,
            source_id,
        });
    }
}

fn tracing_log(ctx: &Context, line: &str) {
    if ctx.config.verbose {
        log!("{line}");
    }
}

/// Compress the whole file in memory and PUT it.
async fn upload_small(
    ctx: &Context,
    item: &UploadItem,
    check: TransportCheck,
) -> Result<Uploaded, FileError> {
    let permit = ctx.memory_permit().await;
    let path = item.path.clone();
    let encoder_options = ctx.encoder_options(&item.path);
    let pool = ctx.pool.clone();
    let compressed =
        tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, u64, String), FileError> {
            let file = open_source(&path)?;
            let mut encoder =
                LzopEncoder::new(HashingReader::new(file), encoder_options, Some(pool));
            let mut body = Vec::new();
            encoder
                .read_to_end(&mut body)
                .map_err(|source| read_error(&path, source))?;
            let (bytes, blake3) = encoder.into_inner().finish();
            Ok((body, bytes, blake3))
        })
        .await
        .expect("compression task panicked")?;
    let (body, source_bytes, blake3) = compressed;
    let compressed_bytes = body.len() as u64;
    let digest = BodyDigest::of(&body, check == TransportCheck::ContentMd5);
    let expected = digest.md5.map(hex::encode);
    let body = Bytes::from(body);
    ctx.limiter.acquire(body.len()).await;
    let etag = with_retry(&ctx.config.retry, || {
        let (store, key, body, opts) = (
            ctx.store.clone(),
            item.key.clone(),
            body.clone(),
            ctx.config.put_options.clone(),
        );
        async move { store.put_object_checked(&key, body, digest, &opts).await }
    })
    .await?;
    drop(permit);
    check_etag(ctx, &item.key, &etag, expected.as_deref())?;
    ctx.add_sent(compressed_bytes);
    Ok(Uploaded {
        source_bytes,
        blake3,
        compressed_bytes,
        etag,
    })
}

/// Stream the file as a multipart upload; aborts the upload on any failure.
async fn upload_multipart(
    ctx: &Context,
    item: &UploadItem,
    part_size: u64,
    check: TransportCheck,
) -> Result<Uploaded, FileError> {
    let upload_id = with_retry(&ctx.config.retry, || {
        let (store, key, opts) = (
            ctx.store.clone(),
            item.key.clone(),
            ctx.config.put_options.clone(),
        );
        async move { store.create_multipart_checked(&key, &opts, check).await }
    })
    .await?;
    // Waiting for the rate limiter or a retry's backoff can take long: a closed stdin must not wait for
    // them, so the parts are dropped (and the upload aborted) as soon as it closes.
    let result = tokio::select! {
        result = send_parts(ctx, item, part_size, &upload_id, check) => result,
        () = cancelled(ctx.cancel.clone()) => Err(FileError::Cancelled(item.path.clone())),
    };
    if result.is_err() {
        // A few quick tries: the store may be failing. One that still fails leaves an upload that the next
        // run of this backup (or `purge`) aborts.
        let _ = with_retry(&ABORT_RETRY, || {
            ctx.store.abort_multipart(&item.key, &upload_id)
        })
        .await;
    }
    result
}

/// Retries of an abort: short, since it runs when something already went wrong.
const ABORT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: std::time::Duration::from_millis(200),
    max_delay: std::time::Duration::from_secs(2),
};

/// Resolves once `cancel` says the run must stop (never, if its sender is gone without saying so).
pub(super) async fn cancelled(mut cancel: watch::Receiver<bool>) {
    loop {
        if *cancel.borrow_and_update() {
            return;
        }
        if cancel.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

type ProducedPart = std::io::Result<(Part, OwnedSemaphorePermit)>;

async fn send_parts(
    ctx: &Context,
    item: &UploadItem,
    part_size: u64,
    upload_id: &str,
    check: TransportCheck,
) -> Result<Uploaded, FileError> {
    let (tx, mut rx) = mpsc::channel::<ProducedPart>(1);
    let with_md5 = check == TransportCheck::ContentMd5;
    let buffers = ctx.buffers.clone();
    let path = item.path.clone();
    let encoder_options = ctx.encoder_options(&item.path);
    let pool = ctx.pool.clone();
    let memory = ctx.memory.clone();
    let runtime = tokio::runtime::Handle::current();
    let read_so_far = Arc::new(AtomicU64::new(0));
    let read_counter = read_so_far.clone();
    let producer = tokio::task::spawn_blocking(move || -> Result<(u64, String, u64), FileError> {
        let file = open_source(&path)?;
        let mut producer = PartProducer::new(
            file,
            part_size,
            encoder_options,
            Some(pool),
            with_md5,
            buffers,
        );
        loop {
            let permit = runtime
                .block_on(memory.clone().acquire_owned())
                .expect("memory semaphore is never closed");
            match producer.next_part() {
                Ok(Some(part)) => {
                    read_counter.store(producer.source_bytes(), Ordering::Relaxed);
                    if tx.blocking_send(Ok((part, permit))).is_err() {
                        break; // The uploader gave up; it reports why.
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let message = e.to_string();
                    let _ = tx.blocking_send(Err(e));
                    return Err(read_error(&path, std::io::Error::other(message)));
                }
            }
        }
        let compressed = producer.compressed_bytes();
        let (bytes, blake3) = producer.finish();
        Ok((bytes, blake3, compressed))
    });

    let mut uploads = tokio::task::JoinSet::new();
    let mut md5s: Vec<[u8; 16]> = Vec::new();
    let mut crc32cs: Vec<u32> = Vec::new();
    let mut completed: Vec<CompletedPart> = Vec::new();
    let mut cancel = ctx.cancel.clone();
    let mut progress = super::report::ProgressThrottle::new();
    let mut sent: u64 = 0;
    loop {
        tokio::select! {
            produced = rx.recv() => {
                let Some(produced) = produced else { break };
                let (part, permit) = produced.map_err(|source| read_error(&item.path, source))?;
                md5s.extend(part.digest.md5);
                crc32cs.push(part.digest.crc32c);
                ctx.limiter.acquire(part.body.len()).await;
                while uploads.len() >= ctx.config.parts_per_file {
                    let done = uploads.join_next().await.expect("set is not empty").expect("part task panicked")?;
                    sent += record_part(ctx, &mut completed, done);
                }
                let (store, key, id, retry) =
                    (ctx.store.clone(), item.key.clone(), upload_id.to_string(), ctx.config.retry.clone());
                uploads.spawn(async move {
                    let len = part.body.len() as u64;
                    let etag = with_retry(&retry, || {
                        let (store, key, id, body) = (store.clone(), key.clone(), id.clone(), part.body.clone());
                        async move { store.upload_part_checked(&key, &id, part.number, body, part.digest).await }
                    })
                    .await;
                    drop(permit);
                    etag.map(|etag| (CompletedPart { part_number: part.number, etag }, len))
                });
            }
            Ok(()) = cancel.changed() => {
                if *cancel.borrow() {
                    uploads.abort_all();
                    return Err(FileError::Cancelled(item.path.clone()));
                }
            }
        }
        if progress.ready() {
            ctx.reporter.emit(Message::FileProgress {
                path: item.path.display().to_string(),
                bytes_read: read_so_far.load(Ordering::Relaxed),
                bytes_sent: sent,
            });
        }
    }
    while let Some(done) = uploads.join_next().await {
        sent += record_part(ctx, &mut completed, done.expect("part task panicked")?);
    }
    let (source_bytes, blake3, compressed_bytes) =
        producer.await.expect("compression task panicked")?;
    completed.sort_by_key(|p| p.part_number);
    // Content-MD5: the object's ETag is known in advance. CRC32C: the store checks the parts' CRC32Cs and
    // the composite one at completion; the ETag is whatever it says.
    let expected = with_md5.then(|| multipart_etag(&md5s));
    let completion = with_retry(&ctx.config.retry, || {
        let (store, key, id, parts, crcs) = (
            ctx.store.clone(),
            item.key.clone(),
            upload_id.to_string(),
            completed.clone(),
            &crc32cs,
        );
        async move {
            store
                .complete_multipart_checked(&key, &id, &parts, crcs, check)
                .await
        }
    })
    .await;
    let etag = match completion {
        Ok(etag) => etag,
        // A completion that succeeded but whose answer was lost is retried into NoSuchUpload: the object
        // is then there with exactly our ETag.
        Err(StoreError::NotFound { .. }) => match ctx.store.head(&item.key).await? {
            Some(meta) if Some(&meta.etag) == expected.as_ref() => meta.etag,
            _ => {
                return Err(FileError::Store(StoreError::Integrity {
                    op: "complete",
                    key: item.key.clone(),
                    message: "the multipart upload vanished before it was completed".to_string(),
                }))
            }
        },
        Err(e) => return Err(e.into()),
    };
    check_etag(ctx, &item.key, &etag, expected.as_deref())?;
    debug_assert_eq!(sent, compressed_bytes);
    Ok(Uploaded {
        source_bytes,
        blake3,
        compressed_bytes,
        etag,
    })
}

fn record_part(
    ctx: &Context,
    completed: &mut Vec<CompletedPart>,
    (part, len): (CompletedPart, u64),
) -> u64 {
    completed.push(part);
    ctx.add_sent(len);
    len
}

pub(super) fn open_source(path: &std::path::Path) -> Result<fs_err::File, FileError> {
    fs_err::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => FileError::Vanished(path.to_path_buf()),
        _ => FileError::Read {
            path: path.to_path_buf(),
            source: e,
        },
    })
}

pub(super) fn read_error(path: &std::path::Path, source: std::io::Error) -> FileError {
    FileError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// Compare the ETag the store returned with the one computed locally (Content-MD5 stores only; with
/// CRC32C the store checked the bytes). With SSE-KMS the ETag is not an MD5, so nothing is compared.
fn check_etag(
    ctx: &Context,
    key: &str,
    got: &str,
    expected: Option<&str>,
) -> Result<(), StoreError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    if !ctx.config.etag_is_md5 || got == expected {
        return Ok(());
    }
    Err(StoreError::Integrity {
        op: "upload",
        key: key.to_string(),
        message: format!("store returned ETag {got}, computed {expected}"),
    })
}

/// HEAD the object: it must exist with the size we sent and the ETag we were given.
async fn verify_stored(ctx: &Context, key: &str, uploaded: &Uploaded) -> Result<(), StoreError> {
    let meta = with_retry(&ctx.config.retry, || {
        let (store, key) = (ctx.store.clone(), key.to_string());
        async move { store.head(&key).await }
    })
    .await?;
    let integrity = |message: String| StoreError::Integrity {
        op: "verify",
        key: key.to_string(),
        message,
    };
    let meta = meta.ok_or_else(|| integrity("object missing right after upload".to_string()))?;
    if meta.size != uploaded.compressed_bytes {
        return Err(integrity(format!(
            "stored size {} != uploaded {}",
            meta.size, uploaded.compressed_bytes
        )));
    }
    if meta.etag != uploaded.etag {
        return Err(integrity(format!(
            "stored ETag {} != upload's {}",
            meta.etag, uploaded.etag
        )));
    }
    Ok(())
}
