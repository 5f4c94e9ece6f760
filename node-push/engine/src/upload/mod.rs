//! The upload pipeline: walk → read → compress → parts → verified upload, with bounded concurrency.
//!
//! [`Pipeline::run`] uploads a list of [`UploadItem`]s, `concurrency` files at a time. Each file is read and
//! compressed on a blocking thread (the lzop encoder spreads blocks over a capped rayon pool, leaving cores
//! to Cassandra) and sent as parts while the next ones are compressed. Memory is bounded by a global budget
//! of parts in flight, whatever the number and size of the files. Every transfer draws from one node-wide
//! [`RateLimiter`]. A file that fails does not stop the others; it is reported by name and makes the run's
//! exit code non-zero. The pipeline never deletes a source file: a `backups/` link may only go once the
//! batch that lists its object is committed, and only when no other stream needs it (see
//! [`crate::streams`]); [`Pipeline::run_collecting`] returns the identities to commit.
//!
//! A run of a backup that an earlier run left unfinished resumes it (see the `resume` module): objects
//! already stored exactly as this run would store them are checked locally and reported `already_stored`
//! instead of being sent again, and multipart uploads the earlier run left open on this run's keys are
//! aborted. When the store fails for `STORE_DOWN_AFTER` files in a row and then does not answer at all,
//! the remaining files are reported failed without being tried, so that a dead store ends the run quickly.

/// `eprintln!` with the `node-push: ` prefix that never panics (see [`report::log_line`]).
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::upload::report::log_line(format_args!($($arg)*))
    };
}

mod file;
pub mod incremental;
mod parts;
pub mod reference;
mod report;
mod resume;

pub use file::{upload_file, FileError, UploadItem};
pub use parts::{
    multipart_etag, part_size_for, Part, PartBuffers, PartProducer, MAX_PARTS, MIN_PART_SIZE,
};
pub use report::{log_line, ProgressThrottle, Reporter};
pub use resume::{listing_prefix, StoredObjects};

use crate::lzop::{Checksum, EncoderOptions};
use crate::ratelimit::RateLimiter;
use crate::store::{with_retry, ObjectStore, PutOptions, RetryPolicy};
use contract::manifest::ObjectEntry;
use contract::message::{Message, SkipReason, Summary};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{watch, Semaphore};

/// Settings of one pipeline run.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Multipart part size in bytes (grown per file to fit the part limit).
    pub part_size: u64,
    /// Files uploaded at once.
    pub concurrency: usize,
    /// Parts of one file uploaded at once.
    pub parts_per_file: usize,
    /// Bytes of compressed parts held in memory at once, across all files.
    pub memory_budget: u64,
    pub put_options: PutOptions,
    pub checksum: Checksum,
    pub retry: RetryPolicy,
    /// Host name recorded in manifest entries.
    pub host_label: String,
    /// False with SSE-KMS, where ETags are not MD5s and cannot be checked locally.
    pub etag_is_md5: bool,
    pub verbose: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            part_size: 8 * 1024 * 1024,
            concurrency: 4,
            parts_per_file: 2,
            memory_budget: 32 * 1024 * 1024,
            put_options: PutOptions::default(),
            checksum: Checksum::Adler32,
            retry: RetryPolicy::default(),
            host_label: String::new(),
            etag_is_md5: true,
            verbose: false,
        }
    }
}

/// Shared state of one run, handed to every file's upload.
#[derive(Debug)]
pub struct Context {
    pub store: Arc<dyn ObjectStore>,
    pub config: PipelineConfig,
    pub pool: Arc<rayon::ThreadPool>,
    pub limiter: Arc<RateLimiter>,
    pub reporter: Reporter,
    /// Becomes true when the run must stop (stdin closed).
    pub cancel: watch::Receiver<bool>,
    /// One permit per part-sized buffer that may be in memory.
    memory: Arc<Semaphore>,
    /// The part buffers, as many kept as the memory semaphore lets out at once.
    buffers: Arc<PartBuffers>,
    bytes_sent: AtomicU64,
}

impl Context {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        config: PipelineConfig,
        pool: Arc<rayon::ThreadPool>,
        limiter: Arc<RateLimiter>,
        reporter: Reporter,
        cancel: watch::Receiver<bool>,
    ) -> Self {
        // Permits are counted in parts of the configured size; a grown part size of a huge file still
        // takes one permit, so the budget is a target, at least two parts so one file can stream.
        let permits = (config.memory_budget / config.part_size.max(1)).max(2) as usize;
        Context {
            store,
            config,
            pool,
            limiter,
            reporter,
            cancel,
            memory: Arc::new(Semaphore::new(permits)),
            buffers: PartBuffers::new(permits),
            bytes_sent: AtomicU64::new(0),
        }
    }

    /// One part's worth of the memory budget, waited for.
    async fn memory_permit(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.memory
            .clone()
            .acquire_owned()
            .await
            .expect("memory semaphore is never closed")
    }

    fn encoder_options(&self, path: &Path) -> EncoderOptions {
        let meta = fs_err::metadata(path).ok();
        let mtime = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        let mode = meta.map_or(0o100644, |m| {
            use std::os::unix::fs::PermissionsExt;
            m.permissions().mode()
        });
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        EncoderOptions {
            checksum: self.config.checksum,
            name,
            mtime,
            mode,
            ..EncoderOptions::default()
        }
    }

    fn add_sent(&self, bytes: u64) {
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The compression threads of a run: `threads` of them (at least one), named `lzop-N`.
pub fn compression_pool(threads: usize) -> std::io::Result<Arc<rayon::ThreadPool>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("lzop-{i}"))
        .build()
        .map(Arc::new)
        .map_err(std::io::Error::other)
}

/// How a file's turn in the pipeline ended well.
#[derive(Debug)]
enum FileOutcome {
    Uploaded(ObjectEntry),
    /// An earlier run stored exactly this object; nothing was sent.
    AlreadyStored(ObjectEntry),
}

/// After this many files in a row failed on retryable store errors (each after its own retries), the store
/// is asked whether it is there at all (one HEAD, with retries). If it is not, the remaining files are not
/// tried: the run fails within a minute instead of grinding through every file's retries, and the next
/// run resumes where this one stopped. If it answers, the failures belong to those files, and the others
/// go on.
const STORE_DOWN_AFTER: u32 = 4;

/// Runs uploads and reports each file.
#[derive(Debug, Clone)]
pub struct Pipeline {
    ctx: Arc<Context>,
}

/// The running tally of one [`Pipeline::run`].
#[derive(Debug, Default)]
struct Tally {
    summary: Summary,
    /// Files that failed in a row on retryable store errors.
    store_failures_in_a_row: u32,
    /// Set once the store did not answer: why the remaining files are not tried.
    store_down: Option<String>,
    /// [`crate::sstable::source_id`] of every verified file.
    source_ids: Vec<String>,
}

impl Pipeline {
    pub fn new(ctx: Context) -> Self {
        Pipeline { ctx: Arc::new(ctx) }
    }

    /// Upload every item; one failure does not stop the others. Emits a `plan` first (the caller emits the
    /// summary). Objects an earlier run stored exactly as this one would are not sent again.
    pub async fn run(&self, items: Vec<UploadItem>) -> Summary {
        self.run_collecting(items).await.0
    }

    /// [`Pipeline::run`], also returning the source identities of every verified file (uploaded now or
    /// found already stored): what a commit of the batch records.
    pub async fn run_collecting(&self, items: Vec<UploadItem>) -> (Summary, Vec<String>) {
        let started = Instant::now();
        let ctx = &self.ctx;
        ctx.reporter.emit(Message::Plan {
            files: items.len() as u64,
            bytes: items.iter().map(|i| i.size).sum(),
        });
        let store = ctx.store.as_ref();
        let aborted = resume::abort_leftover_uploads(store, &ctx.config.retry, &items).await;
        if aborted > 0 {
            log!("aborted {aborted} multipart upload(s) an earlier run left open");
        }
        let stored = Arc::new(resume::stored_objects(store, &ctx.config.retry, &items).await);
        if !stored.is_empty() {
            log!(
                "{} of {} object(s) already stored: checking them instead of sending them",
                stored.len(),
                items.len()
            );
        }
        let mut tally = Tally {
            summary: Summary {
                files_total: items.len() as u64,
                ..Summary::default()
            },
            ..Tally::default()
        };
        let gate = Arc::new(Semaphore::new(ctx.config.concurrency.max(1)));
        let mut running = tokio::task::JoinSet::new();
        for item in items.iter().cloned() {
            let permit = gate
                .clone()
                .acquire_owned()
                .await
                .expect("gate is never closed");
            while let Some(done) = running.try_join_next() {
                self.account(&mut tally, done.expect("upload task panicked"));
            }
            if *ctx.cancel.borrow() {
                break;
            }
            if tally.store_down.is_none() && tally.store_failures_in_a_row >= STORE_DOWN_AFTER {
                self.check_store(&mut tally, &item).await;
            }
            if tally.store_down.is_some() {
                tally.summary.files_failed += 1;
                self.not_attempted(&tally, &item);
                continue;
            }
            let (ctx, stored) = (ctx.clone(), stored.clone());
            running.spawn(async move {
                let result = process(&ctx, &item, stored.get(&item.key)).await;
                drop(permit);
                (item, result)
            });
        }
        while let Some(done) = running.join_next().await {
            self.account(&mut tally, done.expect("upload task panicked"));
        }
        // A lost answer to a multipart initiation leaves an upload nobody knows the id of: abort those.
        let orphans = resume::abort_leftover_uploads(store, &ABORT_RETRY_AT_END, &items).await;
        if orphans > 0 {
            log!("aborted {orphans} multipart upload(s) whose initiation answer was lost");
        }
        let mut summary = tally.summary;
        summary.bytes_stored = ctx.bytes_sent.load(Ordering::Relaxed);
        summary.elapsed_ms = started.elapsed().as_millis() as u64;
        (summary, tally.source_ids)
    }

    /// After several files in a row failed on the store: is it there at all? A HEAD of the next key
    /// answers that (a missing object is an answer too).
    async fn check_store(&self, tally: &mut Tally, next: &UploadItem) {
        let store = self.ctx.store.clone();
        match with_retry(&self.ctx.config.retry, || store.head(&next.key)).await {
            Ok(_) => tally.store_failures_in_a_row = 0,
            Err(error) => {
                log!("the store does not answer, not trying the remaining files: {error}");
                tally.store_down = Some(format!(
                    "not tried: {} files in a row failed on the store, which no longer answers ({error})",
                    tally.store_failures_in_a_row
                ));
            }
        }
    }

    /// Report a file that was not tried because the store is down.
    fn not_attempted(&self, tally: &Tally, item: &UploadItem) {
        let error = tally.store_down.clone().unwrap_or_default();
        self.ctx.reporter.emit(Message::FileFailed {
            path: item.path.display().to_string(),
            key: item.key.clone(),
            error,
            retryable: true,
        });
    }

    fn account(
        &self,
        tally: &mut Tally,
        (item, result): (UploadItem, Result<FileOutcome, FileError>),
    ) {
        let reporter = &self.ctx.reporter;
        let path = item.path.display().to_string();
        let summary = &mut tally.summary;
        match &result {
            Err(FileError::Store(error)) if error.is_retryable() => {
                tally.store_failures_in_a_row += 1;
            }
            Ok(_) => tally.store_failures_in_a_row = 0,
            Err(_) => {}
        }
        match result {
            Ok(FileOutcome::Uploaded(entry)) => {
                summary.files_done += 1;
                summary.bytes_read += entry.size;
                tally.source_ids.extend(entry.source_id.clone());
                reporter.emit(Message::FileDone { entry });
            }
            Ok(FileOutcome::AlreadyStored(entry)) => {
                summary.files_skipped += 1;
                summary.bytes_not_resent += entry.size;
                tally.source_ids.extend(entry.source_id.clone());
                reporter.emit(Message::FileSkipped {
                    path,
                    reason: SkipReason::AlreadyStored { entry },
                });
            }
            Err(error) => self.account_failure(summary, &item, path, error),
        }
    }

    fn account_failure(
        &self,
        summary: &mut Summary,
        item: &UploadItem,
        path: String,
        error: FileError,
    ) {
        let reporter = &self.ctx.reporter;
        match error {
            FileError::Vanished(_) => {
                summary.files_skipped += 1;
                reporter.emit(Message::FileSkipped {
                    path,
                    reason: SkipReason::Vanished,
                });
            }
            error => {
                summary.files_failed += 1;
                log!("{error}");
                reporter.emit(Message::FileFailed {
                    path,
                    key: item.key.clone(),
                    retryable: error.is_retryable(),
                    error: error.to_string(),
                });
            }
        }
    }
}

/// The end-of-run check for orphaned uploads: one quick try, it only tidies up.
const ABORT_RETRY_AT_END: RetryPolicy = RetryPolicy {
    max_attempts: 2,
    base_delay: std::time::Duration::from_millis(200),
    max_delay: std::time::Duration::from_secs(1),
};

/// One file: taken as it is when an earlier run stored exactly this object, else uploaded.
async fn process(
    ctx: &Context,
    item: &UploadItem,
    stored: Option<&crate::store::ObjectMeta>,
) -> Result<FileOutcome, FileError> {
    if let Some(stored) = stored {
        if let Some(entry) = resume::already_stored(ctx, item, stored).await? {
            return Ok(FileOutcome::AlreadyStored(entry));
        }
    }
    upload_file(ctx, item).await.map(FileOutcome::Uploaded)
}
