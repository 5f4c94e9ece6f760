//! What a purge removes, decided from a listing alone (pure, so the rules are tested without a store):
//!
//! - complete backups (readable manifest) beyond `--keep-last N`, or whose last activity (the newest of
//!   the name's time and the last batch's completion) is older than `--older-than`; never the newest
//!   complete backup;
//! - incomplete backups (a prefix without manifest) whose name, i.e. start time, is older than
//!   `--abandoned-after` (default a day): younger ones may still be uploading and are only listed;
//! - multipart uploads initiated longer ago than `--abandoned-after`.
//!
//! A backup whose manifest exists but cannot be read (a newer tool's format, say) is never removed.

use chrono::{DateTime, Duration, Utc};
use node_push::manifest::Manifest;
use node_push::store::PendingUpload;
use serde::Serialize;

/// The rule for complete backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    KeepLast(usize),
    OlderThan(Duration),
}

/// A backup under the base path, as found.
#[derive(Debug, Clone)]
pub enum Found {
    Complete(Box<Manifest>),
    Incomplete,
    Unreadable(String),
}

/// One backup and what happens to it.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub name: String,
    pub complete: bool,
    pub delete: bool,
    pub reason: String,
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

/// Decide for `backups` (name time and what was found, newest first) and `uploads`.
pub fn plan(
    backups: &[(String, DateTime<Utc>, Found)],
    uploads: &[PendingUpload],
    retention: Retention,
    abandoned_after: Duration,
    now: DateTime<Utc>,
) -> PurgePlan {
    let mut plan = PurgePlan::default();
    let abandoned_before = now - abandoned_after;
    let mut complete_seen = 0usize;
    for (name, time, found) in backups {
        let decision = |delete: bool, complete: bool, reason: String| Decision {
            name: name.clone(),
            complete,
            delete,
            reason,
        };
        plan.backups.push(match found {
            Found::Complete(manifest) => {
                complete_seen += 1;
                if complete_seen == 1 {
                    decision(false, true, "the newest complete backup".into())
                } else {
                    match retention {
                        Retention::KeepLast(n) if complete_seen <= n => {
                            decision(false, true, format!("one of the last {n}"))
                        }
                        Retention::KeepLast(n) => {
                            decision(true, true, format!("beyond the last {n}"))
                        }
                        Retention::OlderThan(age) => {
                            let last = last_activity(*time, manifest);
                            if last < now - age {
                                decision(true, true, format!("last written {last}"))
                            } else {
                                decision(false, true, format!("last written {last}"))
                            }
                        }
                    }
                }
            }
            Found::Incomplete if *time < abandoned_before => decision(
                true,
                false,
                "incomplete (no manifest), started before the abandon threshold".into(),
            ),
            Found::Incomplete => decision(
                false,
                false,
                "incomplete (no manifest) but recent: it may still be running".into(),
            ),
            Found::Unreadable(why) => decision(false, false, format!("manifest unreadable: {why}")),
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
mod tests {
    use super::*;
    use node_push::manifest::{Batch, BatchKind};

    fn time(name: &str) -> DateTime<Utc> {
        name.parse::<node_push::layout::BackupName>()
            .unwrap()
            .time()
    }

    fn complete(name: &str, last: Option<&str>) -> (String, DateTime<Utc>, Found) {
        let mut m = Manifest::new(name, "b", vec!["h".into()], None, "");
        let t = time(name);
        m.batches.push(Batch {
            kind: BatchKind::Snapshot,
            started_at: t,
            completed_at: t,
            objects: vec![],
        });
        if let Some(last) = last {
            m.batches.push(Batch {
                kind: BatchKind::Incremental,
                started_at: time(last),
                completed_at: time(last),
                objects: vec![],
            });
        }
        (name.to_string(), t, Found::Complete(Box::new(m)))
    }

    fn deleted(plan: &PurgePlan) -> Vec<&str> {
        plan.backups
            .iter()
            .filter(|d| d.delete)
            .map(|d| d.name.as_str())
            .collect()
    }

    #[test]
    fn keeps_the_last_n_and_never_the_newest_complete() {
        let now = time("20240201000000");
        let backups = vec![
            (
                "20240131230000".to_string(),
                time("20240131230000"),
                Found::Incomplete,
            ),
            complete("20240130000000", None),
            (
                "20240129000000".into(),
                time("20240129000000"),
                Found::Unreadable("v9".into()),
            ),
            complete("20240120000000", None),
            (
                "20240110000000".into(),
                time("20240110000000"),
                Found::Incomplete,
            ),
            complete("20240101000000", None),
        ];
        let plan_n = |n| {
            plan(
                &backups,
                &[],
                Retention::KeepLast(n),
                Duration::days(1),
                now,
            )
        };
        assert_eq!(
            deleted(&plan_n(1)),
            ["20240120000000", "20240110000000", "20240101000000"]
        );
        assert_eq!(deleted(&plan_n(2)), ["20240110000000", "20240101000000"]);
        // Everything is older than a day, but the newest complete backup stays.
        let old = plan(
            &backups,
            &[],
            Retention::OlderThan(Duration::hours(1)),
            Duration::days(1),
            now,
        );
        assert_eq!(
            deleted(&old),
            ["20240120000000", "20240110000000", "20240101000000"]
        );
        assert!(
            !old.backups[0].delete,
            "a recent incomplete backup may be running"
        );
    }

    #[test]
    fn age_counts_from_the_last_incremental_and_uploads_from_their_start() {
        let now = time("20240201000000");
        let backups = vec![
            complete("20240130000000", None),
            complete("20240101000000", Some("20240131000000")),
            complete("20231201000000", None),
        ];
        let p = plan(
            &backups,
            &[],
            Retention::OlderThan(Duration::days(7)),
            Duration::days(1),
            now,
        );
        assert_eq!(deleted(&p), ["20231201000000"]);
        let uploads = vec![
            PendingUpload {
                key: "b/x".into(),
                upload_id: "1".into(),
                initiated: Some("2024-01-30T00:00:00Z".into()),
            },
            PendingUpload {
                key: "b/y".into(),
                upload_id: "2".into(),
                initiated: Some("2024-01-31T23:00:00.000Z".into()),
            },
            PendingUpload {
                key: "b/z".into(),
                upload_id: "3".into(),
                initiated: None,
            },
        ];
        let p = plan(
            &[],
            &uploads,
            Retention::KeepLast(1),
            Duration::days(1),
            now,
        );
        let aborted: Vec<bool> = p.abort_uploads.iter().map(|u| u.abort).collect();
        assert_eq!(aborted, [true, false, false]);
    }
}
