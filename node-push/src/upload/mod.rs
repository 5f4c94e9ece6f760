//! The upload pipeline: walk → read → compress → parts → verified upload, with bounded concurrency.
//!
//! [`Pipeline::run`] uploads a list of [`UploadItem`]s, `concurrency` files at a time. Each file is read and
//! compressed on a blocking thread (the lzop encoder spreads blocks over a capped rayon pool, leaving cores
//! to Cassandra) and sent as parts while the next ones are compressed. Memory is bounded by a global budget
//! of parts in flight, whatever the number and size of the files. Every transfer draws from one node-wide
//! [`RateLimiter`]. A file that fails does not stop the others; it is reported by name and makes the run's
//! exit code non-zero. When [`AfterUpload::Delete`] is set (incremental backups), a source file is deleted
//! only after its object's ETag and size were verified.

mod file;
mod parts;
mod report;

pub use file::{upload_file, FileError, UploadItem};
pub use parts::{
    multipart_etag, part_size_for, HashingReader, Part, PartProducer, MAX_PARTS, MIN_PART_SIZE,
};
pub use report::{ProgressThrottle, Reporter};

use crate::lzop::{Checksum, EncoderOptions};
use crate::message::{Message, SkipReason, Summary};
use crate::ratelimit::RateLimiter;
use crate::store::{ObjectStore, PutOptions, RetryPolicy};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{watch, Semaphore};

/// What to do with a source file once its upload is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterUpload {
    #[default]
    Keep,
    /// Delete it (incremental `backups/` files, which Cassandra never deletes itself).
    Delete,
}

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
    pub after_upload: AfterUpload,
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
            memory_budget: 40 * 1024 * 1024,
            put_options: PutOptions::default(),
            checksum: Checksum::Adler32,
            retry: RetryPolicy::default(),
            host_label: String::new(),
            after_upload: AfterUpload::Keep,
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
            bytes_sent: AtomicU64::new(0),
        }
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

/// Runs uploads and reports each file.
#[derive(Debug, Clone)]
pub struct Pipeline {
    ctx: Arc<Context>,
}

impl Pipeline {
    pub fn new(ctx: Context) -> Self {
        Pipeline { ctx: Arc::new(ctx) }
    }

    /// Upload every item; one failure does not stop the others. Emits a `plan` first and a `summary` last.
    pub async fn run(&self, items: Vec<UploadItem>) -> Summary {
        let started = Instant::now();
        let ctx = &self.ctx;
        ctx.reporter.emit(Message::Plan {
            files: items.len() as u64,
            bytes: items.iter().map(|i| i.size).sum(),
        });
        let mut summary = Summary {
            files_total: items.len() as u64,
            ..Summary::default()
        };
        let gate = Arc::new(Semaphore::new(ctx.config.concurrency.max(1)));
        let mut running = tokio::task::JoinSet::new();
        for item in items {
            let permit = gate
                .clone()
                .acquire_owned()
                .await
                .expect("gate is never closed");
            if *ctx.cancel.borrow() {
                break;
            }
            let ctx = ctx.clone();
            running.spawn(async move {
                let result = upload_file(&ctx, &item).await;
                drop(permit);
                (item, result)
            });
            while let Some(done) = running.try_join_next() {
                self.account(&mut summary, done.expect("upload task panicked"));
            }
        }
        while let Some(done) = running.join_next().await {
            self.account(&mut summary, done.expect("upload task panicked"));
        }
        summary.bytes_stored = ctx.bytes_sent.load(Ordering::Relaxed);
        summary.elapsed_ms = started.elapsed().as_millis() as u64;
        summary
    }

    fn account(
        &self,
        summary: &mut Summary,
        (item, result): (UploadItem, Result<crate::manifest::ObjectEntry, FileError>),
    ) {
        let reporter = &self.ctx.reporter;
        let path = item.path.display().to_string();
        match result {
            Ok(entry) => {
                summary.files_done += 1;
                summary.bytes_read += entry.size;
                reporter.emit(Message::FileDone { entry });
                if self.ctx.config.after_upload == AfterUpload::Delete {
                    match fs_err::remove_file(&item.path) {
                        Ok(()) => reporter.emit(Message::FileDeleted { path }),
                        Err(e) => eprintln!("node-push: uploaded but could not delete: {e}"),
                    }
                }
            }
            Err(FileError::Vanished(_)) => {
                summary.files_skipped += 1;
                reporter.emit(Message::FileSkipped {
                    path,
                    reason: SkipReason::Vanished,
                });
            }
            Err(error) => {
                summary.files_failed += 1;
                eprintln!("node-push: {error}");
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
