//! `node-push restore`: turns parsed [`RestoreArgs`] into a store, a list of files and a run.
//!
//! Stdin, as the coordinator uses it: with `--credentials-stdin` the first line is a
//! [`NodeInput`] (credentials), then with `--plan-stdin` one line holding a [`RestoreRequest`]; with
//! `--watch-stdin` stdin then stays open, its end (the SSH connection dropped) cancels the run, and each
//! further line is fresh credentials (see [`super::watch`]). By hand, `--backup NAME|LATEST`
//! reads the manifest (or, for a backup the old tool wrote, lists the backup) and plans the restore here.

use super::engine::{restore_files, Events, OnFailure, RestoreConfig};
use super::fetch::FetchConfig;
use super::plan::{check_request, plan_restore, RestoreMode, RestoreOptions};
use super::source::{backup_objects, find_backup, BackupSelector};
use super::watch::watch_stdin;
use super::write::Owner;
use crate::agent::Outcome;
use crate::cli::RestoreArgs;
use crate::message::{NodeInput, RestoreFile, RestoreRequest, RestoreSummary};
use crate::ratelimit::RateLimiter;
use crate::session::{open_store, read_json_line, StoreAccess};
use crate::store::{ObjectStore, RetryPolicy};
use anyhow::{bail, Context as _};
use tokio::sync::watch;

/// Runs `node-push restore`. Errors are fatal (nothing could be restored); per-file failures are in the
/// summary and the outcome.
pub async fn run(
    args: RestoreArgs,
    events: Events,
    verbose: bool,
) -> anyhow::Result<(Outcome, RestoreSummary)> {
    let mut stdin = std::io::stdin().lock();
    let input = if args.credentials_stdin {
        read_json_line::<NodeInput>(&mut stdin, "credentials")?
    } else {
        NodeInput::default()
    };
    let stdin_request = if args.plan_stdin {
        Some(read_json_line::<RestoreRequest>(
            &mut stdin,
            "restore request",
        )?)
    } else {
        None
    };
    drop(stdin);
    let access = StoreAccess {
        dest: &args.from,
        endpoint: args.endpoint.as_deref(),
        region: &args.region,
        profile: args.profile.as_deref(),
    };
    let store = open_store(access, &input).await?;
    let files = match (stdin_request, &args.plan) {
        (Some(request), _) => request.files,
        (None, Some(path)) => {
            let text = fs_err::read_to_string(path)?;
            serde_json::from_str::<RestoreRequest>(&text)
                .with_context(|| format!("{} is not a restore request", path.display()))?
                .files
        }
        (None, None) => plan_from_backup(&args, store.as_ref()).await?,
    };
    check_request(&files)?;
    if verbose {
        eprintln!(
            "node-push: restoring {} files from {}",
            files.len(),
            store.describe()
        );
    }
    let (cancel_tx, cancel_rx) = watch::channel(false);
    // Without the watch nothing cancels, but the sender must live: a dropped one reads as a cancel.
    let (run_over, _unwatched) = if args.watch_stdin {
        (Some(watch_stdin(cancel_tx)), None)
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
            limiter: RateLimiter::new(args.rate_limit),
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
        eprintln!("node-push: {error}");
    }
    let outcome = if *cancel_rx.borrow() {
        Outcome::Cancelled
    } else if report.summary.files_failed > 0 {
        Outcome::SomeFailed
    } else {
        Outcome::Complete
    };
    Ok((outcome, report.summary))
}

/// The base path backups are under.
fn base_path(args: &RestoreArgs) -> String {
    args.base_path
        .clone()
        .unwrap_or_else(|| args.from.prefix().to_string())
        .trim_matches('/')
        .to_string()
}

/// `--backup`: find the backup, its objects, and where each goes.
async fn plan_from_backup(
    args: &RestoreArgs,
    store: &dyn ObjectStore,
) -> anyhow::Result<Vec<RestoreFile>> {
    let selector = args.backup.clone().unwrap_or(BackupSelector::Latest);
    let base = base_path(args);
    let manifest = find_backup(
        store,
        &base,
        &selector,
        args.hosts.first().map(String::as_str),
    )
    .await
    .with_context(|| store.describe())?;
    let objects = backup_objects(store, &base, &manifest, args.until)
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
        host_map: args.host_map.clone().unwrap_or_default(),
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
