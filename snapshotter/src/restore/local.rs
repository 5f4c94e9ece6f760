//! `--mode local` and `--mode sstableloader`: the objects are downloaded here, in this process, with
//! node-push's restore library (ranged GETs, lzop and SHA-256 checks, `.part` files renamed only when
//! verified); sstableloader then streams each complete table to `--target-hosts`. A table with a file that
//! could not be restored is not streamed, and a failing sstableloader fails its table.

use super::report::{TableReport, TableState, TargetReport};
use super::settings::RestoreSettings;
use super::source::split_target;
use super::tables::Counts;
use crate::cli::ModeArg;
use crate::output::{human_bytes, Output};
use anyhow::{bail, Result};
use contract::message::{Message, RestoreFailure};
use engine::ratelimit::RateLimiter;
use engine::restore::{restore_files, Events, FetchConfig, PlannedFile, RestoreConfig};
use engine::store::{ObjectStore, RetryPolicy};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

/// sstableloader in `--cassandra-bin-dir`, else on PATH.
pub fn sstableloader(bin_dir: &str) -> Result<PathBuf> {
    let in_bin = Path::new(bin_dir).join("sstableloader");
    if in_bin.is_file() {
        return Ok(in_bin);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("sstableloader"))
        .find(|candidate| candidate.is_file());
    match on_path {
        Some(path) => Ok(path),
        None => bail!(
            "sstableloader not found in {bin_dir} (--cassandra-bin-dir) nor on PATH; \
             use --mode local to only download"
        ),
    }
}

/// One table's files on this machine: per source host, the directory sstableloader reads.
struct LocalTable {
    keyspace: String,
    table: String,
    files: Vec<PathBuf>,
    /// (source host, path inside the table dir as Cassandra names it) of each file, for the counts.
    names: Vec<(String, String)>,
    /// (source host, table directory).
    dirs: BTreeMap<String, PathBuf>,
}

/// Download `files`, then (sstableloader mode) stream every complete table.
pub async fn run(
    settings: &RestoreSettings,
    store: Arc<dyn ObjectStore>,
    files: Vec<PlannedFile>,
    output: Arc<Output>,
    cancel: watch::Receiver<bool>,
) -> Result<TargetReport> {
    let loader = match settings.mode {
        ModeArg::Sstableloader => Some(sstableloader(&settings.bin_dir)?),
        _ => None,
    };
    let mut report = TargetReport::new("local");
    let mut tables: BTreeMap<(String, String), LocalTable> = BTreeMap::new();
    for planned in &files {
        let entry = &planned.file.entry;
        let table = tables
            .entry((entry.keyspace.clone(), entry.table.clone()))
            .or_insert_with(|| LocalTable {
                keyspace: entry.keyspace.clone(),
                table: entry.table.clone(),
                files: Vec::new(),
                names: Vec::new(),
                dirs: BTreeMap::new(),
            });
        table.files.push(planned.file.target.clone());
        let root = match settings.mode {
            ModeArg::Sstableloader => settings.restore_dir.join(
                settings
                    .host_map
                    .target(&planned.source_host)
                    .replace('/', "_"),
            ),
            _ => settings.restore_dir.clone(),
        };
        if let Some((ks, table_dir, relative)) = split_target(&root, &planned.file.target) {
            table
                .dirs
                .insert(planned.source_host.clone(), root.join(ks).join(table_dir));
            // The flat layout puts `<host>_` before each file name.
            let prefix = format!("{}_", planned.source_host);
            let relative = match relative.rsplit_once('/') {
                Some((dir, name)) => {
                    format!("{dir}/{}", name.strip_prefix(&prefix).unwrap_or(name))
                }
                None => relative
                    .strip_prefix(&prefix)
                    .unwrap_or(&relative)
                    .to_string(),
            };
            table.names.push((planned.source_host.clone(), relative));
        }
    }

    let config = RestoreConfig {
        concurrency: settings.concurrency,
        fetch: FetchConfig {
            chunk_size: 8 * 1024 * 1024,
            retry: RetryPolicy::default(),
            limiter: RateLimiter::new(settings.rate_limit),
        },
        owner: None,
        on_failure: Default::default(),
    };
    let events: Events = {
        let output = output.clone();
        let into = settings.restore_dir.display().to_string();
        Arc::new(move |message| match message {
            Message::Plan { files, bytes } => output.info(format!(
                "local: restoring {files} files, {} into {into}",
                human_bytes(bytes),
            )),
            Message::RestoreFileDone { target, size, .. } => output.verbose(format!(
                "local: restored {} ({})",
                target.display(),
                human_bytes(size)
            )),
            Message::RestoreFileFailed { error, failure, .. }
                if failure != RestoreFailure::TableFailed =>
            {
                output.error(format!("local: {error}"))
            }
            _ => {}
        })
    };
    let requests: Vec<_> = files.into_iter().map(|f| f.file).collect();
    let result = restore_files(store, requests, &config, events, cancel).await;
    report.files_restored = result.summary.files_done;
    report.files_failed = result.summary.files_failed;
    report.bytes_written = result.summary.bytes_written;
    let failures: BTreeMap<PathBuf, (RestoreFailure, String)> = result
        .failures()
        .map(|(file, error)| (file.target.clone(), (error.failure(), error.to_string())))
        .collect();

    for table in tables.into_values() {
        let failed: Vec<&(RestoreFailure, String)> =
            table.files.iter().filter_map(|f| failures.get(f)).collect();
        let counts = Counts::of(table.names.iter().map(|(h, r)| (h.as_str(), r.as_str())));
        // In the flat layout every host's files share one directory: name it once.
        let mut staged_in: Vec<String> = table
            .dirs
            .values()
            .map(|d| d.display().to_string())
            .collect();
        staged_in.sort();
        staged_in.dedup();
        let mut line = TableReport {
            keyspace: table.keyspace.clone(),
            table: table.table.clone(),
            source_hosts: table.dirs.keys().cloned().collect(),
            state: TableState::Staged,
            sstables: counts.sstables,
            files: counts.files,
            left_out: counts.other,
            indexes_rebuilt: Vec::new(),
            staged_in,
            live_dir: None,
            renumbered: 0,
            error: None,
        };
        if !failed.is_empty() {
            let first = failed
                .iter()
                .find(|(failure, _)| *failure != RestoreFailure::TableFailed)
                .unwrap_or(&failed[0]);
            line.state = TableState::Failed;
            line.error = Some(match loader {
                Some(_) => format!("{} (the table was not streamed)", first.1),
                None => first.1.clone(),
            });
        } else if let Some(loader) = &loader {
            match stream(loader, &settings.loader_targets, &table, &output).await {
                Ok(()) => line.state = TableState::Loaded,
                Err(error) => {
                    let error = format!("{error:#}");
                    output.error(format!(
                        "local: {}.{}: {error}",
                        table.keyspace, table.table
                    ));
                    line.state = TableState::Failed;
                    line.error = Some(error);
                }
            }
        }
        report.tables.push(line);
    }
    report.settle();
    Ok(report)
}

/// `sstableloader -d TARGETS DIR` for each source host's directory of `table`.
async fn stream(
    loader: &Path,
    targets: &[String],
    table: &LocalTable,
    output: &Output,
) -> Result<()> {
    for (host, dir) in &table.dirs {
        output.info(format!(
            "sstableloader {}.{} (from {host}) to {}",
            table.keyspace,
            table.table,
            targets.join(",")
        ));
        let out = tokio::process::Command::new(loader)
            .arg("-d")
            .arg(targets.join(","))
            .arg(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(error) => bail!("cannot run {}: {error}", loader.display()),
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in stderr.lines() {
            output.verbose(format!("sstableloader: {line}"));
        }
        if !out.status.success() {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let last = stderr
                .lines()
                .chain(stdout.lines())
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .unwrap_or("no message")
                .to_string();
            bail!(
                "sstableloader for {} ({}) failed with {}: {last}",
                dir.display(),
                host,
                out.status
            );
        }
    }
    Ok(())
}
