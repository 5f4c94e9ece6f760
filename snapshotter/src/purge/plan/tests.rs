//! The purge rules on listings alone: per-selection retention, incomplete backups, multipart uploads.

use super::*;
use contract::manifest::{Batch, BatchKind};

fn time(name: &str) -> DateTime<Utc> {
    name.parse::<contract::layout::BackupName>().unwrap().time()
}

/// A complete backup of all keyspaces on host `h`, last written at `last` (its name's time if `None`).
fn complete(name: &str, last: Option<&str>) -> (String, DateTime<Utc>, Found) {
    scoped(name, last, None, "")
}

/// A complete backup of `keyspaces` and `table` on host `h`.
fn scoped(
    name: &str,
    last: Option<&str>,
    keyspaces: Option<&[&str]>,
    table: &str,
) -> (String, DateTime<Utc>, Found) {
    let keyspaces = keyspaces.map(|k| k.iter().map(|s| s.to_string()).collect());
    let mut m = Manifest::new(name, "b", vec!["h".into()], keyspaces, table);
    let t = time(name);
    m.batches.push(Batch {
        kind: BatchKind::Snapshot,
        started_at: t,
        completed_at: t,
        objects: vec![],
        id: String::new(),
        records: Vec::new(),
    });
    if let Some(last) = last {
        m.batches.push(Batch {
            kind: BatchKind::Incremental,
            started_at: time(last),
            completed_at: time(last),
            objects: vec![],
            id: String::new(),
            records: Vec::new(),
        });
    }
    (name.to_string(), t, Found::Complete(Box::new(m)))
}

fn incomplete(name: &str) -> (String, DateTime<Utc>, Found) {
    (name.to_string(), time(name), Found::Incomplete(None))
}

fn policy(retention: Option<Retention>, named: &[&str]) -> Policy {
    Policy {
        retention,
        named: named.iter().map(|s| s.to_string()).collect(),
        abandoned_after: Duration::days(1),
    }
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
        incomplete("20240131230000"),
        complete("20240130000000", None),
        (
            "20240129000000".into(),
            time("20240129000000"),
            Found::Unreadable("v9".into()),
        ),
        complete("20240120000000", None),
        incomplete("20240110000000"),
        complete("20240101000000", None),
    ];
    let plan_n = |n| {
        plan(
            &backups,
            &[],
            &policy(Some(Retention::KeepLast(n)), &[]),
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
        &policy(Some(Retention::OlderThan(Duration::hours(1))), &[]),
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
        &policy(Some(Retention::OlderThan(Duration::days(7))), &[]),
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
        &policy(Some(Retention::KeepLast(1)), &[]),
        now,
    );
    let aborted: Vec<bool> = p.abort_uploads.iter().map(|u| u.abort).collect();
    assert_eq!(aborted, [true, false, false]);
}

/// Issue 9, finding 4: one ad-hoc single-table backup made the only whole-cluster backup eligible.
#[test]
fn a_single_table_backup_does_not_make_the_only_full_backup_eligible() {
    let now = time("20240201000000");
    let backups = vec![
        scoped("20240120000000", None, Some(&["ks"]), "users"),
        complete("20240110000000", None),
    ];
    let p = plan(
        &backups,
        &[],
        &policy(Some(Retention::KeepLast(1)), &[]),
        now,
    );
    assert!(deleted(&p).is_empty(), "{p:?}");
    for d in &p.backups {
        assert_eq!(d.reason, "the newest complete backup of its selection");
    }
    let p = plan(
        &backups,
        &[],
        &policy(Some(Retention::OlderThan(Duration::days(1))), &[]),
        now,
    );
    assert!(deleted(&p).is_empty(), "{p:?}");
}

#[test]
fn keep_last_counts_within_each_selection() {
    let now = time("20240201000000");
    let backups = vec![
        scoped("20240131000000", None, Some(&["ks"]), "users"),
        complete("20240130000000", None),
        scoped("20240129000000", None, Some(&["ks"]), "users"),
        scoped("20240128000000", None, Some(&["ks"]), ""),
        complete("20240127000000", None),
        scoped("20240126000000", None, Some(&["ks"]), "users"),
        complete("20240125000000", None),
        scoped("20240124000000", None, Some(&["ks"]), ""),
    ];
    let keep = |n| {
        plan(
            &backups,
            &[],
            &policy(Some(Retention::KeepLast(n)), &[]),
            now,
        )
    };
    assert_eq!(
        deleted(&keep(1)),
        [
            "20240129000000",
            "20240127000000",
            "20240126000000",
            "20240125000000",
            "20240124000000"
        ]
    );
    assert_eq!(
        deleted(&keep(2)),
        ["20240126000000", "20240125000000"],
        "two of each selection stay"
    );
    let p = keep(2);
    assert_eq!(p.backups[6].reason, "beyond the last 2 of its selection");
    assert_eq!(p.backups[4].reason, "one of the last 2 of its selection");
    assert_eq!(
        p.backups[0].selection.as_ref().unwrap().to_string(),
        "hosts h; keyspaces ks; table users"
    );
}

#[test]
fn older_than_keeps_each_selections_newest_unless_named() {
    let now = time("20240601000000");
    let backups = vec![
        complete("20240301000000", None),
        scoped("20240201000000", None, Some(&["ks"]), "users"),
        complete("20240101000000", None),
        scoped("20231201000000", None, Some(&["ks"]), "users"),
    ];
    let rule = Some(Retention::OlderThan(Duration::days(30)));
    let p = plan(&backups, &[], &policy(rule, &[]), now);
    assert_eq!(deleted(&p), ["20240101000000", "20231201000000"]);
    // Named, the newest of a selection goes; the next one of that selection becomes its newest.
    let p = plan(&backups, &[], &policy(rule, &["20240201000000"]), now);
    assert_eq!(deleted(&p), ["20240201000000", "20240101000000"]);
    assert_eq!(p.backups[1].reason, "named with --remove");
    assert_eq!(
        p.backups[3].reason,
        "the newest complete backup of its selection"
    );
    // Without a rule only the named backups go.
    let p = plan(&backups, &[], &policy(None, &["20231201000000"]), now);
    assert_eq!(deleted(&p), ["20231201000000"]);
    assert_eq!(p.backups[2].reason, "not named with --remove");
}

#[test]
fn exclusions_make_another_selection() {
    let now = time("20240201000000");
    let mut excluding = complete("20240120000000", None);
    if let Found::Complete(m) = &mut excluding.2 {
        m.exclude_tables = vec!["ks.audit".into()];
    }
    let backups = vec![excluding, complete("20240110000000", None)];
    let p = plan(
        &backups,
        &[],
        &policy(Some(Retention::KeepLast(1)), &[]),
        now,
    );
    assert!(deleted(&p).is_empty(), "{p:?}");
    assert_eq!(
        p.backups[0].selection.as_ref().unwrap().to_string(),
        "hosts h; keyspaces all; all tables except ks.audit"
    );
}
