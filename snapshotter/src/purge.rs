//! `purge --keep-last N | --older-than DURATION | --remove NAME [--dry-run]`: remove whole backups, and
//! what failed or killed runs left behind.
//!
//! Retention is per selection (hosts, keyspaces, table, excluded tables): the rules are in [`plan`]; the
//! newest complete backup of every selection stays unless it is named with `--remove`. Removing deletes
//! the condemned backups' manifests first, then their objects host by host, never one that a remaining
//! backup references ([`remove`], [`refs`]; differential snapshots reference older backups' objects): a
//! purge interrupted half way leaves prefixes without manifest, which the next purge sweeps again, never
//! a backup that looks complete and is not. What others reference is decided after the manifests are
//! gone, from a fresh listing, so a backup committed meanwhile counts. Open multipart uploads under the
//! base path that were started longer ago than `--abandoned-after` are aborted. `--dry-run` prints the
//! same plan, grouped by selection, with what each removal would delete and keep, and changes nothing.

#[cfg(test)]
pub(crate) mod fixtures;
mod plan;
mod refs;
mod remove;
mod report;

use crate::cli::{GlobalArgs, PurgeArgs};
use crate::output::Output;
use crate::settings::CommonSettings;
use crate::store;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use contract::exit::ExitStatus;
use contract::layout;
use contract::manifest::{Manifest, ManifestError};
use engine::store::{with_retry, ObjectStore, PutOptions, RetryPolicy};
use plan::{Found, Policy, Retention};
use refs::Remaining;
use remove::Condemned;
use report::PurgeOutcome;
use std::collections::BTreeSet;
use std::process::ExitCode;

pub async fn run(global: &GlobalArgs, args: &PurgeArgs) -> Result<ExitCode> {
    let common = CommonSettings::resolve(global, args.quiet)?;
    let output = Output::new(common.output, common.verbosity);
    let retention = match (args.keep_last, args.older_than) {
        (Some(0), _) => bail!("--keep-last 0 would remove every backup: keep at least 1"),
        (Some(n), None) => Some(Retention::KeepLast(n)),
        (None, Some(age)) => Some(Retention::OlderThan(age)),
        (None, None) if !args.remove.is_empty() => None,
        _ => bail!("give one of --keep-last N and --older-than DURATION, or --remove NAME"),
    };
    let store = store::connect(&common.s3).await?;
    let options = PurgeOptions {
        policy: Policy {
            retention,
            named: args.remove.iter().cloned().collect(),
            abandoned_after: args.abandoned_after,
        },
        dry_run: args.dry_run,
        put: store::put_options(&common.s3, "application/json"),
    };
    let outcome = purge(store.as_ref(), &common.s3.base_path, &options, &output).await?;
    output.result(&outcome.table(), &serde_json::to_value(&outcome)?);
    if outcome.errors.is_empty() {
        return Ok(ExitStatus::Success.into());
    }
    output.failure(&format!("purge failed: {}", outcome.errors.join("; ")), &[]);
    Ok(ExitStatus::Failed.into())
}

/// How a purge decides.
#[derive(Debug, Clone)]
struct PurgeOptions {
    policy: Policy,
    dry_run: bool,
    /// How the marker of a removed backup is written.
    put: PutOptions,
}

/// Every backup under `base`, newest first, with its manifest or run record.
///
/// A manifest of a newer format stops the purge before anything is removed: its backup may share
/// objects with others in ways this version cannot see.
async fn find(store: &dyn ObjectStore, base: &str) -> Result<Vec<(String, DateTime<Utc>, Found)>> {
    let mut found = Vec::new();
    for name in store::backup_names(store, base).await? {
        let label = name.to_string();
        let key = layout::manifest_key(base, &label);
        let state = match store::get(store, &key).await? {
            Some(bytes) => match Manifest::from_json(&key, &bytes) {
                Ok(manifest) => Found::Complete(Box::new(manifest)),
                Err(error @ ManifestError::TooNew { .. }) => {
                    bail!("{error}; purge removed nothing")
                }
                Err(error) => Found::Unreadable(error.to_string()),
            },
            None if store::get(store, &layout::purged_marker_key(base, &label))
                .await?
                .is_some() =>
            {
                Found::Purged
            }
            None => {
                let staging = layout::manifest_staging_key(base, &label);
                let record = store::get(store, &staging)
                    .await?
                    .and_then(|bytes| Manifest::from_json(&staging, &bytes).ok());
                Found::Incomplete(record.map(Box::new))
            }
        };
        found.push((label, name.time(), state));
    }
    Ok(found)
}

/// Decide and (unless a dry run) remove; per-object failures are in the outcome's errors.
async fn purge(
    store: &dyn ObjectStore,
    base: &str,
    options: &PurgeOptions,
    output: &Output,
) -> Result<PurgeOutcome> {
    let found = find(store, base).await?;
    let names: BTreeSet<&str> = found.iter().map(|(name, _, _)| name.as_str()).collect();
    if let Some(missing) = options
        .policy
        .named
        .iter()
        .find(|n| !names.contains(n.as_str()))
    {
        bail!(
            "--remove {missing}: there is no backup of that name under {base}; nothing was removed"
        );
    }
    let prefix = layout::base_prefix(base);
    let uploads = with_retry(&RetryPolicy::default(), || {
        store.list_multipart_uploads(&prefix)
    })
    .await
    .with_context(|| format!("cannot list the multipart uploads under {prefix}"))?;
    let plan = plan::plan(&found, &uploads, &options.policy, Utc::now());
    let mut outcome = PurgeOutcome {
        dry_run: options.dry_run,
        plan,
        removed: Vec::new(),
        uploads_aborted: 0,
        errors: Vec::new(),
    };
    let condemned: Vec<Condemned> = outcome
        .plan
        .backups
        .iter()
        .zip(&found)
        .filter(|(decision, _)| decision.delete)
        .map(|(decision, (name, _, state))| {
            if !options.dry_run {
                output.info(format!("removing backup {name} ({})", decision.reason));
            }
            Condemned {
                name,
                manifest: state.manifest(),
            }
        })
        .collect();
    if options.dry_run {
        let names = condemned.iter().map(|c| c.name).collect();
        let remaining = Remaining::new(base, &found, &names, Utc::now());
        for backup in &condemned {
            let removed = remove::sweep(store, base, backup, &remaining, (false, &options.put));
            outcome.removed.push(removed.await);
        }
        return Ok(outcome);
    }
    sweep(store, base, &condemned, options, &mut outcome, output).await?;
    abort_uploads(store, &mut outcome, output).await;
    Ok(outcome)
}

/// Both passes of [`remove`]: manifests, then objects against a fresh listing.
async fn sweep(
    store: &dyn ObjectStore,
    base: &str,
    condemned: &[Condemned<'_>],
    options: &PurgeOptions,
    outcome: &mut PurgeOutcome,
    output: &Output,
) -> Result<()> {
    let first = remove::delete_manifests(store, base, condemned, &options.put).await;
    let fresh = find(store, base).await?;
    let gone: BTreeSet<&str> = first
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| r.name.as_str())
        .collect();
    let remaining = Remaining::new(base, &fresh, &gone, Utc::now());
    for (backup, first) in condemned.iter().zip(first) {
        let removed = match first.error {
            Some(_) => first,
            None => remove::sweep(store, base, backup, &remaining, (true, &options.put)).await,
        };
        if let Some(error) = &removed.error {
            output.error(error);
            outcome.errors.push(error.clone());
        }
        outcome.removed.push(removed);
    }
    Ok(())
}

/// Abort the multipart uploads the plan calls abandoned.
async fn abort_uploads(store: &dyn ObjectStore, outcome: &mut PurgeOutcome, output: &Output) {
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

#[cfg(test)]
mod tests;
