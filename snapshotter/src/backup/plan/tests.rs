//! Which backup a run continues: incrementals into complete backups, resumption of recent incomplete ones
//! that a run of ours recorded, and a new name otherwise.

use super::*;
use crate::cli::{Cli, Command};
use crate::memstore::MemoryStore;
use crate::settings::{OutputMode, Verbosity};
use bytes::Bytes;
use clap::Parser;
use contract::manifest::{Batch, BatchKind};
use engine::store::PutOptions;

fn settings(extra: &[&str]) -> BackupSettings {
    let mut argv = vec![
        "x",
        "--s3-bucket-name=bkt",
        "--s3-base-path=base",
        "--aws-access-key-id=AKIA",
        "--aws-secret-access-key=secret-in-test",
        "backup",
        "--hosts=h1,h2",
        "--keyspaces=ks",
        "--node-push-binary=/local/node-push",
    ];
    argv.extend_from_slice(extra);
    let cli = Cli::try_parse_from(argv).unwrap();
    match &cli.command {
        Command::Backup(args) => BackupSettings::resolve(&cli.global, args).unwrap(),
        _ => unreachable!(),
    }
}

/// A backup name `hours` ago.
fn name_ago(hours: i64) -> String {
    BackupName::from_time(Utc::now() - chrono::Duration::hours(hours)).to_string()
}

fn manifest(name: &str, hosts: &[&str], keyspace: &str) -> Manifest {
    Manifest::new(
        name,
        "base",
        hosts.iter().map(|h| h.to_string()).collect(),
        Some(vec![keyspace.to_string()]),
        "",
    )
}

async fn complete(store: &MemoryStore, name: &str) {
    let mut m = manifest(name, &["h2", "h1"], "ks");
    let now = Utc::now();
    m.batches.push(Batch {
        kind: BatchKind::Snapshot,
        started_at: now,
        completed_at: now,
        objects: vec![],
        id: String::new(),
        records: Vec::new(),
    });
    store::write_manifest(store, &m, &PutOptions::default())
        .await
        .unwrap();
}

/// What a run that failed after its snapshot leaves: a run record and some data.
async fn incomplete(store: &MemoryStore, name: &str, record: Option<Manifest>) {
    let opts = PutOptions::default();
    store::put(
        store,
        &format!("base/{name}/h1/d/ks/t/snapshots/{name}/f.lzo"),
        Bytes::from("x"),
        &opts,
    )
    .await
    .unwrap();
    if let Some(record) = record {
        let key = layout::manifest_staging_key("base", name);
        store::put(store, &key, Bytes::from(record.to_json()), &opts)
            .await
            .unwrap();
    }
}

async fn plan(store: &MemoryStore, extra: &[&str]) -> Plan {
    let output = Output::new(OutputMode::Plain, Verbosity::Quiet);
    choose_plan(store, &settings(extra), &output).await.unwrap()
}

fn resumed(plan: &Plan) -> Option<&str> {
    match plan {
        Plan::Snapshot {
            name,
            start: Start::Resume,
        } => Some(name),
        _ => None,
    }
}

#[tokio::test]
async fn a_recent_incomplete_backup_of_the_same_selection_is_resumed() {
    let store = MemoryStore::default();
    let name = name_ago(1);
    incomplete(&store, &name, Some(manifest(&name, &["h1", "h2"], "ks"))).await;
    assert_eq!(resumed(&plan(&store, &[]).await), Some(name.as_str()));
    // --new-snapshot asks for a snapshot, which a resumed backup is: it is resumed all the same.
    assert_eq!(
        resumed(&plan(&store, &["--new-snapshot"]).await),
        Some(name.as_str())
    );
}

#[tokio::test]
async fn incomplete_backups_of_another_selection_old_ones_and_unrecorded_ones_are_not_resumed() {
    for (name, record) in [
        (
            name_ago(1),
            Some(manifest(&name_ago(1), &["h1", "h3"], "ks")),
        ),
        (
            name_ago(2),
            Some(manifest(&name_ago(2), &["h1", "h2"], "other")),
        ),
        (name_ago(3), None),
    ] {
        let store = MemoryStore::default();
        incomplete(&store, &name, record).await;
        let plan = plan(&store, &[]).await;
        assert!(resumed(&plan).is_none(), "{name}: {plan:?}");
        assert_ne!(plan.name(), name);
    }
    let store = MemoryStore::default();
    let old = name_ago(13);
    incomplete(&store, &old, Some(manifest(&old, &["h1", "h2"], "ks"))).await;
    let plan = plan(&store, &[]).await;
    assert!(
        matches!(&plan, Plan::Snapshot { name, start: Start::Fresh } if *name != old),
        "older than {RESUME_WITHIN:?}: {plan:?}"
    );
}

#[tokio::test]
async fn the_newest_of_a_complete_and_an_incomplete_backup_decides() {
    let store = MemoryStore::default();
    let (older, newer) = (name_ago(3), name_ago(1));
    complete(&store, &older).await;
    incomplete(&store, &newer, Some(manifest(&newer, &["h1", "h2"], "ks"))).await;
    assert_eq!(resumed(&plan(&store, &[]).await), Some(newer.as_str()));

    let store = MemoryStore::default();
    incomplete(&store, &older, Some(manifest(&older, &["h1", "h2"], "ks"))).await;
    complete(&store, &newer).await;
    assert!(matches!(plan(&store, &[]).await, Plan::Incremental { base } if base.name == newer));
    let fresh = plan(&store, &["--new-snapshot"]).await;
    assert!(
        matches!(&fresh, Plan::Snapshot { name, start: Start::Fresh } if *name != newer && *name != older),
        "{fresh:?}"
    );

    // An incomplete backup too old to resume is passed over, as the old tool passed over every
    // incomplete one: the incremental goes into the complete backup before it.
    let store = MemoryStore::default();
    let (complete_one, stale) = (name_ago(30), name_ago(20));
    complete(&store, &complete_one).await;
    incomplete(&store, &stale, Some(manifest(&stale, &["h1", "h2"], "ks"))).await;
    assert!(
        matches!(plan(&store, &[]).await, Plan::Incremental { base } if base.name == complete_one)
    );
    let fresh = plan(&store, &["--new-snapshot"]).await;
    assert!(
        matches!(&fresh, Plan::Snapshot { name, start: Start::Fresh } if *name != newer && *name != older),
        "{fresh:?}"
    );
}
