//! Running a restore: every file of a request, `concurrency` at a time, each streamed from the store,
//! verified and renamed into place ([`super::write`]), with one message per file.
//!
//! A failed file does not stop the others, except those of its own table when
//! [`OnFailure::SkipRestOfTable`] is set (the default): a table with a missing or corrupt file cannot be
//! loaded anyway, so its remaining downloads are not worth their time. Files already restored stay; the
//! caller decides what to do with a failed table (the summary lists them).

use super::error::RestoreError;
use super::fetch::{
    check_stored, decode_checked, ChunkedReader, DecodeError, Decoded, DecodedSink, FetchConfig,
};
use super::write::{Owner, PartFile};
use crate::store::ObjectStore;
use crate::upload::ProgressThrottle;
use contract::message::{Message, RestoreFile, RestoreSummary};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{watch, Semaphore};

/// Where restore messages go: stdout as JSON lines in the binary, a progress display in the coordinator.
pub type Events = Arc<dyn Fn(Message) + Send + Sync>;

/// What to do with the rest of a table once one of its files failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Report its remaining files as [`RestoreError::TableFailed`] without downloading them.
    #[default]
    SkipRestOfTable,
    /// Restore everything that can be restored.
    KeepGoing,
}

/// Settings of one restore run.
#[derive(Debug, Clone)]
pub struct RestoreConfig {
    /// Files downloaded at once (each holds at most three chunks in memory).
    pub concurrency: usize,
    pub fetch: FetchConfig,
    /// Owner of restored files and of the directories created for them; `None` keeps the process's.
    pub owner: Option<Owner>,
    pub on_failure: OnFailure,
}

impl Default for RestoreConfig {
    fn default() -> Self {
        RestoreConfig {
            concurrency: 4,
            fetch: FetchConfig::default(),
            owner: None,
            on_failure: OnFailure::default(),
        }
    }
}

/// How one file ended.
#[derive(Debug)]
pub struct FileResult {
    pub file: RestoreFile,
    pub outcome: Result<Decoded, RestoreError>,
}

/// Everything a run did: the summary (also the last message) and each file's result in request order.
#[derive(Debug)]
pub struct RestoreReport {
    pub summary: RestoreSummary,
    pub results: Vec<FileResult>,
}

impl RestoreReport {
    pub fn failures(&self) -> impl Iterator<Item = (&RestoreFile, &RestoreError)> {
        self.results
            .iter()
            .filter_map(|r| r.outcome.as_ref().err().map(|e| (&r.file, e)))
    }
}

/// Restores every file: emits `plan`, then one `restore_file_done` / `restore_file_failed` per file
/// (progress in between). The caller emits the summary, as it also decides the exit code.
pub async fn restore_files(
    store: Arc<dyn ObjectStore>,
    files: Vec<RestoreFile>,
    config: &RestoreConfig,
    events: Events,
    cancel: watch::Receiver<bool>,
) -> RestoreReport {
    let started = Instant::now();
    events(Message::Plan {
        files: files.len() as u64,
        bytes: files
            .iter()
            .map(|f| super::plan::expected_bytes(&f.entry))
            .sum(),
    });
    let several_hosts = files
        .iter()
        .map(|f| &f.entry.host)
        .collect::<BTreeSet<_>>()
        .len()
        > 1;
    let table_of = move |file: &RestoreFile| {
        let e = &file.entry;
        if several_hosts {
            format!("{}.{}@{}", e.keyspace, e.table, e.host)
        } else {
            format!("{}.{}", e.keyspace, e.table)
        }
    };
    // Table -> the key of its first failed file.
    let failed_tables: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let gate = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut running = tokio::task::JoinSet::new();
    let total = files.len();
    let mut results: Vec<Option<FileResult>> = (0..total).map(|_| None).collect();
    for (index, file) in files.into_iter().enumerate() {
        let permit = gate.clone().acquire_owned().await.expect("never closed");
        let table = table_of(&file);
        let earlier_failure = failed_tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&table)
            .cloned();
        let skip = match earlier_failure {
            Some(failed_key) if config.on_failure == OnFailure::SkipRestOfTable => {
                Some(RestoreError::TableFailed {
                    key: file.entry.key.clone(),
                    failed_key,
                    table: table.clone(),
                })
            }
            _ if *cancel.borrow() => Some(RestoreError::Object(super::ObjectError::Cancelled {
                key: file.entry.key.clone(),
            })),
            _ => None,
        };
        let (store, config, events, cancel, failed_tables) = (
            store.clone(),
            config.clone(),
            events.clone(),
            cancel.clone(),
            failed_tables.clone(),
        );
        running.spawn(async move {
            let outcome = match skip {
                Some(error) => Err(error),
                None => restore_one(store, &file, &config, events.clone(), cancel).await,
            };
            // Recorded before the permit goes, so the next file of this table already sees it.
            if let Err(error) = &outcome {
                if !matches!(error, RestoreError::TableFailed { .. }) {
                    failed_tables
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(table)
                        .or_insert_with(|| file.entry.key.clone());
                }
            }
            drop(permit);
            report(&events, &file, &outcome);
            (index, FileResult { file, outcome })
        });
        while let Some(done) = running.try_join_next() {
            let (index, result) = done.expect("restore task panicked");
            results[index] = Some(result);
        }
    }
    while let Some(done) = running.join_next().await {
        let (index, result) = done.expect("restore task panicked");
        results[index] = Some(result);
    }
    let results: Vec<FileResult> = results
        .into_iter()
        .map(|r| r.expect("every file has a result"))
        .collect();
    let mut summary = RestoreSummary {
        files_total: total as u64,
        elapsed_ms: started.elapsed().as_millis() as u64,
        ..RestoreSummary::default()
    };
    let mut tables = BTreeSet::new();
    for result in &results {
        match &result.outcome {
            Ok(decoded) => {
                summary.files_done += 1;
                summary.bytes_written += decoded.size;
                summary.bytes_downloaded += decoded.downloaded;
            }
            Err(_) => {
                summary.files_failed += 1;
                tables.insert(table_of(&result.file));
            }
        }
    }
    summary.failed_tables = tables.into_iter().collect();
    RestoreReport { summary, results }
}

fn report(events: &Events, file: &RestoreFile, outcome: &Result<Decoded, RestoreError>) {
    let key = file.entry.key.clone();
    let target = file.target.clone();
    events(match outcome {
        Ok(decoded) => Message::RestoreFileDone {
            key,
            target,
            size: decoded.size,
            sha256: decoded.digest.clone(),
        },
        Err(error) => Message::RestoreFileFailed {
            key,
            target,
            failure: error.failure(),
            error: error.to_string(),
            retryable: error.is_retryable(),
        },
    });
}

/// Decoded bytes go to the `.part` file, with throttled progress messages.
struct PartSink {
    part: PartFile,
    events: Events,
    key: String,
    throttle: ProgressThrottle,
}

impl DecodedSink for PartSink {
    type Error = RestoreError;

    fn write_block(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        self.part.write_all(bytes)
    }

    fn progress(&mut self, decoded: u64) {
        if self.throttle.ready() {
            (self.events)(Message::RestoreFileProgress {
                key: self.key.clone(),
                bytes_written: decoded,
            });
        }
    }
}

/// Restores one file: the object must exist with its recorded stored size, decode with every lzop checksum
/// right, and match the recorded size and digest; only then is it renamed to its target.
pub async fn restore_one(
    store: Arc<dyn ObjectStore>,
    file: &RestoreFile,
    config: &RestoreConfig,
    events: Events,
    cancel: watch::Receiver<bool>,
) -> Result<Decoded, RestoreError> {
    let entry = &file.entry;
    let meta = check_stored(store.as_ref(), entry, &config.fetch.retry).await?;
    let reader = ChunkedReader::start(store, &entry.key, meta.size, &config.fetch, cancel);
    let (file, owner) = (file.clone(), config.owner);
    tokio::task::spawn_blocking(move || {
        let part = PartFile::create(&file.target, &file.entry.key, owner)?;
        let mut sink = PartSink {
            part,
            events,
            key: file.entry.key.clone(),
            throttle: ProgressThrottle::new(),
        };
        match decode_checked(&file.entry, reader, &mut sink) {
            Ok(decoded) => {
                sink.part.commit()?;
                Ok(decoded)
            }
            // Dropping the sink removes the `.part` file.
            Err(DecodeError::Object(error)) => Err(error.into()),
            Err(DecodeError::Sink(error)) => Err(error),
        }
    })
    .await
    .expect("restore task panicked")
}
