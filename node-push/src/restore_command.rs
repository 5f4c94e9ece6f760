//! `node-push restore`: turns a [`RestoreInput`] (a [`RestoreFilesRequest`] and where its files come
//! from) into a store, a list of files and a run.
//!
//! Stdin, as the coordinator uses it (`--request-stdin`): the request line (read by `main`), then with
//! the session's `credentials_stdin` a [`NodeInput`] line; with `watch_stdin` stdin then stays open, its
//! end (the SSH connection dropped) cancels the run, and each further line is fresh credentials (see
//! [`super::watch`]). Standalone, `--plan-stdin` reads a [`RestoreRequest`] line after the credentials,
//! `--plan FILE` one from a file, and `--backup NAME|LATEST` reads the manifest (or, for a backup the old
//! tool wrote, lists the backup) and plans the restore here.

use crate::session::{open_store, read_json_line, StoreAccess};
use crate::watch::watch_stdin;
use anyhow::{bail, Context as _};
use contract::exit::ExitStatus;
use contract::message::{NodeInput, RestoreFile, RestoreRequest, RestoreSummary};
use contract::request::{RestoreFilesRequest, Session};
use engine::ratelimit::RateLimiter;
use engine::restore::{
    backup_objects, check_request, find_backup, plan_restore, restore_files, BackupSelector,
    Events, FetchConfig, HostMap, OnFailure, Owner, RestoreConfig, RestoreMode, RestoreOptions,
};
use engine::store::{Destination, ObjectStore, RetryPolicy};
use engine::upload::log_line;
use std::path::PathBuf;
use tokio::sync::watch;

/// What `node-push restore` runs: the request, and where its files come from.
#[derive(Debug, Clone)]
pub struct RestoreInput {
    pub request: RestoreFilesRequest,
    pub files_from: FilesFrom,
}

/// Where the files to restore come from.
#[derive(Debug, Clone)]
pub enum FilesFrom {
    /// The request lists them (the coordinator's way).
    Request,
    /// A [`RestoreRequest`] line on stdin, after the credentials line.
    PlanStdin,
    /// A [`RestoreRequest`] in this file.
    PlanFile(PathBuf),
    /// Planned here from a backup in the store.
    Backup(BackupQuery),
}

/// `--backup`: which backup, which of its files, and where they go.
#[derive(Debug, Clone)]
pub struct BackupQuery {
    pub backup: BackupSelector,
    /// Base path backups are under.
    pub base_path: String,
    pub keyspace: Option<String>,
    pub tables: Vec<String>,
    pub hosts: Vec<String>,
    pub host_map: HostMap,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub staging_dir: Option<PathBuf>,
    pub restore_dir: Option<PathBuf>,
}

/// Runs `node-push restore`. Errors are fatal (nothing could be restored); per-file failures are in the
/// summary and the outcome.
pub async fn run(
    input: RestoreInput,
    session: Session,
    events: Events,
    verbose: bool,
) -> anyhow::Result<(ExitStatus, RestoreSummary)> {
    let RestoreInput {
        request: args,
        files_from,
    } = input;
    let mut stdin = std::io::stdin().lock();
    let credentials = if session.credentials_stdin {
        read_json_line::<NodeInput>(&mut stdin, "credentials")?
    } else {
        NodeInput::default()
    };
    let stdin_plan = match files_from {
        FilesFrom::PlanStdin => Some(read_json_line::<RestoreRequest>(
            &mut stdin,
            "restore request",
        )?),
        _ => None,
    };
    drop(stdin);
    let from: Destination = args
        .store
        .url
        .parse()
        .with_context(|| format!("the store URL {}", args.store.url))?;
    let access = StoreAccess {
        dest: &from,
        endpoint: args.store.endpoint.as_deref(),
        region: &args.store.region,
        profile: args.store.profile.as_deref(),
    };
    let store = open_store(access, &credentials).await?;
    let files = match (stdin_plan, files_from) {
        (Some(plan), _) => plan.files,
        (None, FilesFrom::PlanFile(path)) => {
            let text = fs_err::read_to_string(&path)?;
            serde_json::from_str::<RestoreRequest>(&text)
                .with_context(|| format!("{} is not a restore request", path.display()))?
                .files
        }
        (None, FilesFrom::Backup(query)) => plan_from_backup(&query, store.as_ref()).await?,
        (None, FilesFrom::Request | FilesFrom::PlanStdin) => args.files,
    };
    check_request(&files)?;
    if verbose {
        log_line(format_args!(
            "restoring {} files from {}",
            files.len(),
            store.describe()
        ));
    }
    let (cancel_tx, cancel_rx) = watch::channel(false);
    // Without the watch nothing cancels, but the sender must live: a dropped one reads as a cancel.
    let (run_over, _unwatched) = if session.watch_stdin {
        (Some(watch_stdin(cancel_tx, "restore")), None)
    } else {
        (None, Some(cancel_tx))
    };
    let owner = match &args.owner_of {
        Some(path) => {
            Some(Owner::of(path).with_context(|| format!("--owner-of {}", path.display()))?)
        }
        None => None,
    };
    let config = RestoreConfig {
        concurrency: args.concurrency.max(1),
        fetch: FetchConfig {
            chunk_size: args.chunk_size_mib.max(1) * 1024 * 1024,
            retry: RetryPolicy::default(),
            limiter: RateLimiter::new(args.rate_limit_kib),
        },
        owner,
        on_failure: if args.keep_going {
            OnFailure::KeepGoing
        } else {
            OnFailure::SkipRestOfTable
        },
    };
    let report = restore_files(store, files, &config, events, cancel_rx.clone()).await;
    // From here on the coordinator may hang up (it has what it needs once the summary is out).
    if let Some(over) = &run_over {
        over.set();
    }
    for (_, error) in report.failures() {
        log_line(format_args!("{error}"));
    }
    let outcome = if *cancel_rx.borrow() {
        ExitStatus::Cancelled
    } else if report.summary.files_failed > 0 {
        ExitStatus::Failed
    } else {
        ExitStatus::Success
    };
    Ok((outcome, report.summary))
}

/// `--backup`: find the backup, its objects, and where each goes.
async fn plan_from_backup(
    args: &BackupQuery,
    store: &dyn ObjectStore,
) -> anyhow::Result<Vec<RestoreFile>> {
    let selector = &args.backup;
    let base = &args.base_path;
    let manifest = find_backup(
        store,
        base,
        selector,
        args.hosts.first().map(String::as_str),
    )
    .await
    .with_context(|| store.describe())?;
    let objects = backup_objects(store, base, &manifest, args.until)
        .await
        .with_context(|| store.describe())?;
    let mode = match (&args.staging_dir, &args.restore_dir) {
        (Some(dir), None) => RestoreMode::Stage {
            staging_root: absolute(dir)?,
        },
        (None, Some(dir)) => RestoreMode::Flat {
            restore_dir: absolute(dir)?,
        },
        _ => bail!("give exactly one of --staging-dir DIR and --restore-dir DIR"),
    };
    let options = RestoreOptions {
        mode,
        keyspace: args.keyspace.clone(),
        tables: args.tables.clone(),
        hosts: args.hosts.clone(),
        host_map: args.host_map.clone(),
    };
    let plan = plan_restore(&objects, &options)?;
    if plan.is_empty() {
        bail!(
            "backup {} under {base:?} has no files{}{}{}",
            manifest.name,
            args.keyspace
                .as_ref()
                .map(|k| format!(" of keyspace {k}"))
                .unwrap_or_default(),
            if args.tables.is_empty() {
                String::new()
            } else {
                format!(" of table {}", args.tables.join(","))
            },
            if args.hosts.is_empty() {
                String::new()
            } else {
                format!(" of host {}", args.hosts.join(","))
            },
        );
    }
    Ok(plan.into_request().files)
}

fn absolute(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    Ok(std::path::absolute(dir)?)
}
