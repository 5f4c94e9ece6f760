//! `node-push upload`: turns an [`UploadRequest`] into a store, a file list and a pipeline run.
//!
//! This is what `node-push upload` does, as a library function so tests can drive it in-process:
//! read credentials (stdin line or environment), open the store, select files (Cassandra layout or a plain
//! directory), watch stdin so that a dropped SSH connection stops the run, upload, and print the summary.

use crate::session::{self, StoreAccess};
use anyhow::{bail, Context as _};
use contract::exit::ExitStatus;
use contract::layout::LZO_SUFFIX;
use contract::manifest::Manifest;
use contract::message::{Message, NodeInput, Summary, PROTOCOL_VERSION};
use contract::request::{LzopChecksum, Session, Sse, UploadRequest};
use engine::lzop::Checksum;
use engine::ratelimit::RateLimiter;
use engine::select::{self, Selection, Source};
use engine::store::{
    with_retry, Destination, ObjectStore, PutOptions, RetryPolicy, ServerSideEncryption, StoreError,
};
use engine::upload::{log_line, Context, Pipeline, PipelineConfig, Reporter, UploadItem};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

mod incremental;
mod reference;

/// The hello line: protocol, version, host and architecture.
pub fn hello() -> Message {
    let hostname = fs_err::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    Message::Hello {
        protocol: PROTOCOL_VERSION,
        tool_version: contract::TOOL_VERSION.to_string(),
        hostname,
        arch: std::env::consts::ARCH.to_string(),
    }
}

/// Run `node-push upload`. Errors are fatal (nothing could be uploaded); per-file failures are in the
/// summary and the status: `Success`, `Failed` (some files failed) or `Cancelled` (stdin closed).
pub async fn upload(
    args: UploadRequest,
    session: Session,
    reporter: Reporter,
    verbose: bool,
) -> anyhow::Result<(ExitStatus, Summary)> {
    let input = if session.credentials_stdin {
        session::read_json_line(&mut std::io::stdin().lock(), "credentials")?
    } else {
        NodeInput::default()
    };
    // Only the coordinator asks: a standalone run's stdin (cron's pipe at end of file) means nothing.
    let stdin_watch = session.watch_stdin;
    let dest = destination(&args)?;
    let access = StoreAccess {
        dest: &dest,
        endpoint: args.store.endpoint.as_deref(),
        region: &args.store.region,
        profile: args.store.profile.as_deref(),
    };
    let store = session::open_store(access, &input).await?;
    let host_label = args.host_label.clone().unwrap_or_else(|| match hello() {
        Message::Hello { hostname, .. } => hostname,
        _ => unreachable!("hello() returns a hello"),
    });
    let _destination_lock = match args.dir {
        Some(_) => None,
        None => incremental::lock_destination(&args, &data_dirs(&args)?)?,
    };
    let (items, in_backup) =
        incremental::against_committed(store.as_ref(), &args, &host_label, plan(&args)?, &reporter)
            .await?;
    let (items, referenced) =
        reference::against_reference(store.as_ref(), &args, &host_label, items, &reporter).await?;
    let (cancel_tx, cancel_rx) = watch::channel(false);
    // Without the watch nothing cancels, but the sender must live: a dropped one reads as a cancel.
    let (run_over, _unwatched) = if stdin_watch {
        (Some(crate::watch::watch_stdin(cancel_tx, "upload")), None)
    } else {
        (None, Some(cancel_tx))
    };
    let threads = args.threads.unwrap_or_else(default_threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("lzop-{i}"))
        .build()
        .context("cannot start the compression threads")?;
    let config = PipelineConfig {
        part_size: args.part_size_mib.max(1) * 1024 * 1024,
        concurrency: args.concurrency.max(1),
        put_options: put_options(&args),
        checksum: match args.checksum {
            LzopChecksum::Adler32 => Checksum::Adler32,
            LzopChecksum::Crc32 => Checksum::Crc32,
        },
        retry: RetryPolicy::default(),
        host_label,
        etag_is_md5: args.sse != Some(Sse::AwsKms),
        verbose,
        ..PipelineConfig::default()
    };
    let ctx = Context::new(
        store,
        config,
        Arc::new(pool),
        RateLimiter::new(args.rate_limit_kib),
        reporter,
        cancel_rx.clone(),
    );
    let (mut summary, mut source_ids) = Pipeline::new(ctx).run_collecting(items).await;
    // From here on the coordinator may hang up (it has what it needs once the summary is out).
    if let Some(over) = &run_over {
        over.set();
    }
    summary.files_in_backup = in_backup.len() as u64;
    source_ids.extend(in_backup);
    // Each referenced file was reported skipped (FileSkipped, Referenced): one of the run's files.
    summary.files_referenced = referenced.len() as u64;
    summary.bytes_referenced = referenced.iter().map(|e| e.size).sum();
    summary.files_total += summary.files_referenced;
    summary.files_skipped += summary.files_referenced;
    source_ids.extend(referenced.into_iter().filter_map(|e| e.source_id));
    let outcome = if *cancel_rx.borrow() {
        ExitStatus::Cancelled
    } else if summary.files_failed > 0 {
        ExitStatus::Failed
    } else {
        ExitStatus::Success
    };
    if args.delete_after_upload && outcome != ExitStatus::Cancelled {
        let answer = incremental::commit_standalone(&args, &data_dirs(&args)?, source_ids)?;
        log_line(format_args!(
            "{} backups/ link(s) deleted, {} kept for other streams (registry {})",
            answer.deleted, answer.kept_for_others, answer.registry
        ));
    }
    Ok((outcome, summary))
}

/// The manifest at `key`; `missing` says why its absence is an error.
async fn read_manifest(
    store: &dyn ObjectStore,
    key: &str,
    missing: impl FnOnce() -> String,
) -> anyhow::Result<Manifest> {
    let bytes = match with_retry(&RetryPolicy::default(), || store.get(key, None)).await {
        Ok(bytes) => bytes,
        Err(StoreError::NotFound { .. }) => bail!(missing()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {key}")),
    };
    Ok(Manifest::from_json(key, &bytes)?)
}

/// Half the cores, at least one: the rest stay with Cassandra.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// The store URL of the request, parsed.
fn destination(args: &UploadRequest) -> anyhow::Result<Destination> {
    args.store
        .url
        .parse()
        .with_context(|| format!("the store URL {}", args.store.url))
}

fn put_options(args: &UploadRequest) -> PutOptions {
    let sse = match args.sse {
        None => ServerSideEncryption::None,
        Some(Sse::Aes256) => ServerSideEncryption::Aes256,
        Some(Sse::AwsKms) => ServerSideEncryption::Kms {
            key_id: args.sse_kms_key_id.clone(),
        },
    };
    PutOptions {
        sse,
        storage_class: args.storage_class.clone(),
        content_type: None,
    }
}

/// The files to upload and their keys.
pub fn plan(args: &UploadRequest) -> anyhow::Result<Vec<UploadItem>> {
    let dest = destination(args)?;
    if let Some(dir) = &args.dir {
        return plan_directory(dir, &dest);
    }
    let (data_dirs, warning) = data_dirs_and_warning(args)?;
    if let Some(warning) = warning {
        log_line(format_args!("warning: {warning}"));
    }
    let source = match (&args.snapshot_tag, args.incremental) {
        (Some(tag), false) => Source::Snapshot { tag: tag.clone() },
        (None, true) => Source::Incremental,
        _ => bail!("give exactly one of --snapshot-tag TAG and --incremental"),
    };
    let selection = Selection {
        data_dirs,
        keyspaces: args
            .keyspaces
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect(),
        table: args.table.clone(),
        exclude_tables: args.exclude_tables.clone(),
        source,
    };
    let selected = select::select(&selection)?;
    for path in &selected.vanished {
        log_line(format_args!(
            "{} vanished during the walk (compaction), skipped",
            path.display()
        ));
    }
    let prefix = dest.prefix();
    Ok(selected
        .files
        .into_iter()
        .map(|file| UploadItem {
            key: cassandra_key(prefix, &file.path),
            path: file.path,
            size: file.size,
            keyspace: file.keyspace,
            table: file.table,
            variant: 0,
        })
        .collect())
}

/// The data directories to walk: `--data-dir`, or those of `--cassandra-yaml`.
pub fn data_dirs(args: &UploadRequest) -> anyhow::Result<Vec<PathBuf>> {
    data_dirs_and_warning(args).map(|(dirs, _)| dirs)
}

fn data_dirs_and_warning(args: &UploadRequest) -> anyhow::Result<(Vec<PathBuf>, Option<String>)> {
    if !args.data_dirs.is_empty() {
        return Ok((args.data_dirs.clone(), None));
    }
    let Some(yaml) = &args.cassandra_yaml else {
        bail!("say what to upload: --dir PATH, or --cassandra-yaml FILE / --data-dir DIR with --snapshot-tag TAG or --incremental");
    };
    let settings = select::cassandra_yaml_settings(&select::locate_cassandra_yaml(yaml))?;
    let warning = (args.incremental && !settings.incremental_backups).then(|| {
        format!(
            "{} does not set incremental_backups: true; backups/ holds only what an earlier setting left",
            yaml.display()
        )
    });
    Ok((settings.dirs_to_walk(), warning))
}

/// `<prefix><absolute path>.lzo`: the old tool's layout, where the prefix is `<base>/<NAME>/<host>`.
fn cassandra_key(prefix: &str, path: &Path) -> String {
    let key = format!("{prefix}{}{LZO_SUFFIX}", path.display());
    key.trim_start_matches('/').to_string()
}

/// Every regular file below `dir`, keyed by its path relative to `dir`.
fn plan_directory(dir: &Path, dest: &Destination) -> anyhow::Result<Vec<UploadItem>> {
    let mut items = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.io_error().map(|io| io.kind()) == Some(std::io::ErrorKind::NotFound) => {
                continue
            }
            Err(e) => bail!("cannot walk {}: {e}", dir.display()),
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let relative: PathBuf = entry
            .path()
            .strip_prefix(dir)
            .expect("walk stays below its root")
            .to_path_buf();
        items.push(UploadItem {
            path: entry.path().to_path_buf(),
            key: dest.key_for(&format!("{}{LZO_SUFFIX}", relative.display())),
            size: meta.len(),
            keyspace: String::new(),
            table: String::new(),
            variant: 0,
        });
    }
    if items.is_empty() && !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cassandra_keys_follow_the_old_layout() {
        let key = cassandra_key(
            "base/20240101000000/node1",
            Path::new("/var/lib/cassandra/data/ks/t/backups/f"),
        );
        assert_eq!(
            key,
            "base/20240101000000/node1/var/lib/cassandra/data/ks/t/backups/f.lzo"
        );
        assert_eq!(
            cassandra_key("", Path::new("/d/ks/t/backups/f")),
            "d/ks/t/backups/f.lzo"
        );
    }
}
