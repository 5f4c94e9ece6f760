//! `purge --keep-last N | --older-than DURATION [--dry-run]`: remove whole backups, and what failed or
//! killed runs left behind.
//!
//! The rules are in [`plan`]. Removing a backup deletes its `manifest.json` first (and the staging
//! `manifest.json.partial`), then every other object under its prefix: a purge interrupted half way leaves
//! an incomplete backup, which `list` shows as such and the next purge removes, never a backup that looks
//! complete and is not. Open multipart uploads under the base path that were started longer ago than
//! `--abandoned-after` are aborted. `--dry-run` prints the same plan and changes nothing.

mod duration;
mod plan;

pub use duration::parse_duration;

use crate::cli::GlobalArgs;
use crate::output::{human_bytes, Output};
use crate::settings::{CommonSettings, OutputMode};
use crate::stages::bounded;
use crate::store::{self, ManifestRead};
use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::{ArgGroup, Args};
use node_push::layout;
use node_push::store::{with_retry, ObjectMeta, ObjectStore, RetryPolicy};
use plan::{Found, PurgePlan, Retention};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::ExitCode;

/// `purge`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("retention").required(true).args(["keep_last", "older_than"])))]
pub struct PurgeArgs {
    /// Keep the N newest complete backups, remove the older ones.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Remove complete backups last written longer ago than this (30d, 12h, 2w, 1d12h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<chrono::Duration>,
    /// Incomplete backups (no manifest) started, and multipart uploads begun, longer ago than this are
    /// abandoned and removed; younger ones may still be running.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1d")]
    pub abandoned_after: chrono::Duration,
    /// Show what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress output, only the result.
    #[arg(long)]
    pub quiet: bool,
}

pub const PURGE_EXAMPLES: &str = "Examples:
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod purge --keep-last=7 --dry-run
  cassandra-snapshotter --s3-bucket-name=backups --s3-base-path=prod purge --older-than=30d
The newest complete backup is never removed. A backup's manifest.json is deleted before its other
objects, so a purge stopped half way leaves an incomplete backup, never a complete-looking one.";

/// What was removed from one backup.
#[derive(Debug, Clone, Serialize)]
struct Removed {
    name: String,
    objects: usize,
    bytes: u64,
    error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct PurgeOutcome {
    dry_run: bool,
    plan: PurgePlan,
    removed: Vec<Removed>,
    uploads_aborted: usize,
    errors: Vec<String>,
}

impl PurgeOutcome {
    fn table(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "would remove"
        } else {
            "remove"
        };
        for d in &self.plan.backups {
            let _ = writeln!(
                out,
                "{}  {:<10}  {}  ({})",
                d.name,
                if d.complete { "complete" } else { "incomplete" },
                if d.delete { verb } else { "keep" },
                d.reason
            );
        }
        for u in &self.plan.abort_uploads {
            let _ = writeln!(
                out,
                "multipart upload {} (started {}): {}",
                u.key,
                u.initiated.as_deref().unwrap_or("?"),
                match (u.abort, self.dry_run) {
                    (true, true) => "would abort",
                    (true, false) => "abort",
                    (false, _) => "keep",
                }
            );
        }
        for r in &self.removed {
            let _ = writeln!(
                out,
                "removed {}: {} objects, {}{}",
                r.name,
                r.objects,
                human_bytes(r.bytes),
                r.error
                    .as_ref()
                    .map(|e| format!(" (incomplete: {e})"))
                    .unwrap_or_default()
            );
        }
        for e in &self.errors {
            let _ = writeln!(out, "error: {e}");
        }
        out
    }
}

pub async fn run(global: &GlobalArgs, args: &PurgeArgs) -> Result<ExitCode> {
    let common = CommonSettings::resolve(global, args.quiet)?;
    let output = Output::new(common.output, common.verbosity);
    let retention = match (args.keep_last, args.older_than) {
        (Some(0), _) => bail!("--keep-last 0 would remove every backup: keep at least 1"),
        (Some(n), None) => Retention::KeepLast(n),
        (None, Some(age)) => Retention::OlderThan(age),
        _ => bail!("give one of --keep-last N and --older-than DURATION"),
    };
    let store = store::connect(&common.s3).await?;
    let options = PurgeOptions {
        retention,
        abandoned_after: args.abandoned_after,
        dry_run: args.dry_run,
    };
    let outcome = purge(store.as_ref(), &common.s3.base_path, &options, &output).await?;
    output.result(&outcome.table(), &serde_json::to_value(&outcome)?);
    if outcome.errors.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if output.mode() != OutputMode::Json {
        eprintln!("purge failed: {}", outcome.errors.join("; "));
    }
    Ok(ExitCode::FAILURE)
}

/// How a purge decides.
#[derive(Debug, Clone, Copy)]
struct PurgeOptions {
    retention: Retention,
    abandoned_after: chrono::Duration,
    dry_run: bool,
}

/// Decide and (unless a dry run) remove; per-object failures are in the outcome's errors.
async fn purge(
    store: &dyn ObjectStore,
    base: &str,
    options: &PurgeOptions,
    output: &Output,
) -> Result<PurgeOutcome> {
    let mut found = Vec::new();
    for name in store::backup_names(store, base).await? {
        let label = name.to_string();
        let state = match store::read_manifest(store, base, &label).await? {
            ManifestRead::Found(manifest) => Found::Complete(manifest),
            ManifestRead::Missing => Found::Incomplete,
            ManifestRead::Unreadable(why) => Found::Unreadable(why),
        };
        found.push((label, name.time(), state));
    }
    let prefix = layout::base_prefix(base);
    let uploads = with_retry(&RetryPolicy::default(), || {
        store.list_multipart_uploads(&prefix)
    })
    .await
    .with_context(|| format!("cannot list the multipart uploads under {prefix}"))?;
    let plan = plan::plan(
        &found,
        &uploads,
        options.retention,
        options.abandoned_after,
        Utc::now(),
    );
    let mut outcome = PurgeOutcome {
        dry_run: options.dry_run,
        plan,
        removed: Vec::new(),
        uploads_aborted: 0,
        errors: Vec::new(),
    };
    if !options.dry_run {
        for decision in outcome.plan.backups.clone().iter().filter(|d| d.delete) {
            output.info(format!(
                "removing backup {} ({})",
                decision.name, decision.reason
            ));
            let removed = remove_backup(store, base, &decision.name).await;
            if let Some(error) = &removed.error {
                output.error(error);
                outcome.errors.push(error.clone());
            }
            outcome.removed.push(removed);
        }
        for upload in outcome
            .plan
            .abort_uploads
            .clone()
            .iter()
            .filter(|u| u.abort)
        {
            let aborted = with_retry(&RetryPolicy::default(), || {
                store.abort_multipart(&upload.key, &upload.upload_id)
            })
            .await;
            match aborted {
                Ok(()) => outcome.uploads_aborted += 1,
                Err(error) => {
                    let error = format!(
                        "cannot abort the multipart upload of {}: {error}",
                        upload.key
                    );
                    output.error(&error);
                    outcome.errors.push(error);
                }
            }
        }
    }
    Ok(outcome)
}

/// Delete one backup: manifest (and its staging copy) first, then every other object under its prefix.
async fn remove_backup(store: &dyn ObjectStore, base: &str, name: &str) -> Removed {
    let mut removed = Removed {
        name: name.to_string(),
        objects: 0,
        bytes: 0,
        error: None,
    };
    let retry = RetryPolicy::default();
    for key in [
        layout::manifest_key(base, name),
        layout::manifest_staging_key(base, name),
    ] {
        if let Err(error) = with_retry(&retry, || store.delete(&key)).await {
            removed.error = Some(format!(
                "backup {name}: cannot delete {key}: {error}; nothing else of it was deleted"
            ));
            return removed;
        }
    }
    let prefix = layout::backup_prefix(base, name);
    let listing = match with_retry(&retry, || store.list(&prefix, None)).await {
        Ok(listing) => listing,
        Err(error) => {
            removed.error = Some(format!(
                "backup {name}: manifest deleted, but cannot list {prefix}: {error} (run purge again)"
            ));
            return removed;
        }
    };
    let results = bounded(&listing.objects, 16, |object| {
        let retry = &retry;
        async move {
            with_retry(retry, || store.delete(&object.key))
                .await
                .map(|()| object.size)
                .map_err(|e| format!("{}: {e}", object.key))
        }
    })
    .await;
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(size) => {
                removed.objects += 1;
                removed.bytes += size;
            }
            Err(error) => failures.push(error),
        }
    }
    if failures.is_empty() {
        remove_folders(store, &prefix, &listing.objects).await;
    } else {
        removed.error = Some(format!(
            "backup {name}: {} object(s) not deleted, first: {} (it is listed as incomplete; run purge again)",
            failures.len(),
            failures[0]
        ));
    }
    removed
}

/// Stores with real directories (SeaweedFS's filer) keep a removed backup's empty folders and list them as
/// common prefixes, so the backup would still show up (as incomplete). Deleting `<folder>/` removes an
/// empty one there (and never a non-empty one); on S3, where folders do not exist, it deletes nothing.
/// Deepest first, best effort.
async fn remove_folders(store: &dyn ObjectStore, prefix: &str, objects: &[ObjectMeta]) {
    let mut folders: BTreeSet<String> = BTreeSet::new();
    for object in objects {
        let Some(rest) = object.key.strip_prefix(prefix) else {
            continue;
        };
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            if c == '/' && i > end {
                folders.insert(format!("{prefix}{}", &rest[..=i]));
            }
            if c == '/' {
                end = i + 1;
            }
        }
    }
    let mut folders: Vec<String> = folders.into_iter().collect();
    folders.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
    folders.push(prefix.to_string());
    for folder in folders {
        let _ = store.delete(&folder).await;
    }
}

#[cfg(test)]
mod tests;
