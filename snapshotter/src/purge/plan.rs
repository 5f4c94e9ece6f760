//! What a purge removes, decided from a listing alone (pure, so the rules are tested without a store).
//!
//! Retention is per selection ([`Selection`]: hosts, keyspaces, table, excluded tables). Complete backups
//! (readable manifest) are grouped by selection, newest first, and:
//!
//! - the newest complete backup of every selection is kept, whatever the rule, unless it is named with
//!   `--remove`: an ad-hoc one-table backup never makes the last whole-cluster backup eligible;
//! - `--keep-last N` keeps the N newest of each selection and removes the older ones;
//! - `--older-than D` removes those whose last activity (the newest of the name's time and the last
//!   batch's completion) is older than D;
//! - a backup named with `--remove` is removed, complete or not.
//!
//! Incomplete backups (a prefix without manifest) whose name, i.e. start time, is older than
//! `--abandoned-after` (default a day) are removed; younger ones may still be uploading and are only
//! listed. Multipart uploads initiated longer ago than `--abandoned-after` are aborted. A backup whose
//! manifest exists but cannot be read is never removed by a rule. A prefix an earlier purge removed but
//! left objects in (newer backups referenced them; its `purged.json` says so) is swept again every time:
//! what is no longer referenced goes.

use chrono::{DateTime, Duration, Utc};
use contract::manifest::{Manifest, Selection};
use engine::store::PendingUpload;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The rule for complete backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    KeepLast(usize),
    OlderThan(Duration),
}

/// Everything that decides a plan besides what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `None` when only `--remove` names backups.
    pub retention: Option<Retention>,
    /// Backups named with `--remove`.
    pub named: BTreeSet<String>,
    pub abandoned_after: Duration,
}

/// A backup under the base path, as found.
#[derive(Debug, Clone)]
pub enum Found {
    Complete(Box<Manifest>),
    /// No manifest; the run record (`manifest.json.partial`) when one parses.
    Incomplete(Option<Box<Manifest>>),
    /// Removed by an earlier purge, which kept objects newer backups referenced (`purged.json`).
    Purged,
    Unreadable(String),
}

impl Found {
    /// The manifest, or the run record of an incomplete backup.
    pub fn manifest(&self) -> Option<&Manifest> {
        match self {
            Found::Complete(m) | Found::Incomplete(Some(m)) => Some(m),
            _ => None,
        }
    }
}

/// One backup and what happens to it.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub name: String,
    pub complete: bool,
    /// Removed earlier; only objects others referenced are left.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub purged: bool,
    pub delete: bool,
    pub reason: String,
    /// What it covers; for an incomplete backup, from its run record when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
}

/// Everything a purge will do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgePlan {
    /// Newest first.
    pub backups: Vec<Decision>,
    pub abort_uploads: Vec<UploadDecision>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UploadDecision {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<String>,
    pub abort: bool,
}

/// When a backup was last written to.
fn last_activity(name_time: DateTime<Utc>, manifest: &Manifest) -> DateTime<Utc> {
    manifest
        .batches
        .iter()
        .map(|b| b.completed_at)
        .chain([name_time])
        .max()
        .unwrap_or(name_time)
}

/// The decision for a complete backup that is the `rank`-th newest (1 = newest) of its selection.
fn complete(
    rank: usize,
    time: DateTime<Utc>,
    manifest: &Manifest,
    retention: Option<Retention>,
    now: DateTime<Utc>,
) -> (bool, String) {
    if rank == 1 {
        return (
            false,
            "the newest complete backup of its selection".to_string(),
        );
    }
    match retention {
        None => (false, "not named with --remove".to_string()),
        Some(Retention::KeepLast(n)) if rank <= n => {
            (false, format!("one of the last {n} of its selection"))
        }
        Some(Retention::KeepLast(n)) => (true, format!("beyond the last {n} of its selection")),
        Some(Retention::OlderThan(age)) => {
            let last = last_activity(time, manifest);
            (last < now - age, format!("last written {last}"))
        }
    }
}

/// Decide for `backups` (name, name time and what was found, newest first) and `uploads`.
pub fn plan(
    backups: &[(String, DateTime<Utc>, Found)],
    uploads: &[PendingUpload],
    policy: &Policy,
    now: DateTime<Utc>,
) -> PurgePlan {
    let mut plan = PurgePlan::default();
    let abandoned_before = now - policy.abandoned_after;
    let mut seen: BTreeMap<Selection, usize> = BTreeMap::new();
    for (name, time, found) in backups {
        let selection = found.manifest().map(Manifest::selection);
        let named = policy.named.contains(name);
        let (delete, reason) = match found {
            Found::Complete(_) if named => (true, "named with --remove".to_string()),
            Found::Complete(manifest) => {
                // Named backups do not count: the newest one left of a selection stays protected.
                let rank = seen.entry(manifest.selection()).or_default();
                *rank += 1;
                complete(*rank, *time, manifest, policy.retention, now)
            }
            _ if named => (true, "named with --remove".to_string()),
            Found::Purged => (
                true,
                "removed earlier; the objects newer backups referenced are checked again".into(),
            ),
            Found::Incomplete(_) if *time < abandoned_before => (
                true,
                "incomplete (no manifest), started before the abandon threshold".into(),
            ),
            Found::Incomplete(_) => (
                false,
                "incomplete (no manifest) but recent: it may still be running".into(),
            ),
            Found::Unreadable(why) => (false, format!("manifest unreadable: {why}")),
        };
        plan.backups.push(Decision {
            name: name.clone(),
            complete: matches!(found, Found::Complete(_)),
            purged: matches!(found, Found::Purged),
            delete,
            reason,
            selection,
        });
    }
    for upload in uploads {
        let initiated = upload
            .initiated
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        plan.abort_uploads.push(UploadDecision {
            key: upload.key.clone(),
            upload_id: upload.upload_id.clone(),
            initiated: upload.initiated.clone(),
            abort: initiated.is_some_and(|t| t < abandoned_before),
        });
    }
    plan
}

#[cfg(test)]
mod tests;
