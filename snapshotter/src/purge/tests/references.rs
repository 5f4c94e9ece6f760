//! Purge of format-2 backups that differential snapshots reference: host by host, only what a remaining
//! backup references is kept, a purged prefix is swept again, and a backup in progress keeps its reference.

use super::*;
use crate::memstore::MemoryStore;
use crate::purge::fixtures::{differential, own_key, put, NEW, OLD};

fn remove(name: &str, dry_run: bool) -> PurgeOptions {
    options(None, &[name], dry_run)
}

async fn under(store: &dyn ObjectStore, name: &str) -> Vec<String> {
    let prefix = layout::backup_prefix("b", name);
    let mut keys: Vec<String> = store
        .list(&prefix, None)
        .await
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.key)
        .collect();
    keys.sort();
    keys
}

async fn marker(store: &dyn ObjectStore, name: &str) -> Option<remove::PurgedMarker> {
    let bytes = store::get(store, &layout::purged_marker_key("b", name))
        .await
        .unwrap()?;
    Some(serde_json::from_slice(&bytes).unwrap())
}

async fn verify_ok(store: &Arc<MemoryStore>, manifest: &Manifest) -> bool {
    let store: Arc<dyn ObjectStore> = store.clone();
    let config = engine::verify::VerifyConfig::new(engine::verify::VerifyDepth::Shallow);
    let objects = engine::restore::backup_objects(store.as_ref(), "b", manifest, None)
        .await
        .unwrap();
    assert_eq!(objects.len(), 3);
    engine::verify::verify_objects(store, objects, &config, |_| {})
        .await
        .is_ok()
}

use std::sync::Arc;

#[tokio::test]
async fn the_older_backup_keeps_exactly_what_the_newer_references_until_that_goes_too() {
    let store = Arc::new(MemoryStore::default());
    let newer = differential(store.as_ref()).await;

    let dry = purge(store.as_ref(), "b", &remove(OLD, true), &output())
        .await
        .unwrap();
    let would = &dry.removed[0];
    assert_eq!((would.shared_kept, would.objects), (2, 4), "{would:?}");
    assert_eq!(
        marker(store.as_ref(), OLD).await,
        None,
        "a dry run writes nothing"
    );

    let done = purge(store.as_ref(), "b", &remove(OLD, false), &output())
        .await
        .unwrap();
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    let removed = &done.removed[0];
    assert_eq!(removed.shared_kept, 2, "{removed:?}");
    assert_eq!(removed.kept_for.iter().collect::<Vec<_>>(), [NEW]);
    // b, the ring and the two records documents went (and the manifest first); a and c stay beside the
    // marker.
    assert_eq!(removed.objects, 4, "{removed:?}");
    let mut expected = vec![
        layout::purged_marker_key("b", OLD),
        own_key(OLD, "h1", "a"),
        own_key(OLD, "h2", "c"),
    ];
    expected.sort();
    assert_eq!(under(store.as_ref(), OLD).await, expected);
    let kept = marker(store.as_ref(), OLD).await.unwrap();
    assert_eq!(
        (kept.kept_objects, kept.kept_for),
        (2, vec![NEW.to_string()])
    );
    assert!(
        verify_ok(&store, &newer).await,
        "NEW still has all its objects"
    );

    // The prefix is no incomplete backup: the next purge sees it as purged and keeps a and c again.
    let again = purge(store.as_ref(), "b", &keep_last(1, false), &output())
        .await
        .unwrap();
    let decision = &again.plan.backups[1];
    assert_eq!((decision.name.as_str(), decision.purged), (OLD, true));
    assert!(
        again.table().contains(&format!("{OLD}  purged")),
        "{}",
        again.table()
    );
    assert_eq!(under(store.as_ref(), OLD).await, expected);
    assert!(verify_ok(&store, &newer).await);

    // Once NEW goes, nothing references a and c: both prefixes are empty.
    let last = purge(store.as_ref(), "b", &remove(NEW, false), &output())
        .await
        .unwrap();
    assert!(last.errors.is_empty(), "{:?}", last.errors);
    assert_eq!(keys(store.as_ref()).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_backup_in_progress_that_names_a_condemned_one_keeps_all_of_it() {
    let store = MemoryStore::default();
    differential(&store).await;
    let before = under(&store, OLD).await;
    let running = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let mut record = Manifest::new(&running, "b", vec!["h1".into()], None, "");
    record.reference = Some(OLD.to_string());
    put(
        &store,
        &layout::manifest_staging_key("b", &running),
        Box::leak(record.to_json().into_bytes().into_boxed_slice()),
    )
    .await;

    let done = purge(&store, "b", &remove(OLD, false), &output())
        .await
        .unwrap();
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    let removed = &done.removed[0];
    assert!(removed.kept_all, "{removed:?}");
    assert_eq!(removed.objects, 0);
    assert_eq!(
        removed.kept_for.iter().collect::<Vec<_>>(),
        [running.as_str()]
    );
    assert!(
        done.table().contains("every object kept"),
        "{}",
        done.table()
    );
    let left = under(&store, OLD).await;
    let data: Vec<&String> = before.iter().filter(|k| !k.contains("manifest")).collect();
    for key in data {
        assert!(left.contains(key), "{key} of {left:?}");
    }
    assert!(!left.contains(&layout::manifest_key("b", OLD)));
    assert_eq!(marker(&store, OLD).await.unwrap().kept_for, [running]);
}

#[tokio::test]
async fn an_abandoned_prefix_a_newer_backup_references_is_swept_with_the_same_check() {
    // A purge stopped after OLD's manifest went and before its marker was written: OLD looks like an
    // abandoned incomplete backup, and the cleanup of those keeps what NEW references all the same.
    let store = Arc::new(MemoryStore::default());
    let newer = differential(store.as_ref()).await;
    store.delete(&layout::manifest_key("b", OLD)).await.unwrap();
    let done = purge(store.as_ref(), "b", &keep_last(1, false), &output())
        .await
        .unwrap();
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    let decision = &done.plan.backups[1];
    assert_eq!((decision.name.as_str(), decision.delete), (OLD, true));
    assert!(decision.reason.contains("abandon"), "{}", decision.reason);
    assert_eq!(done.removed[0].shared_kept, 2, "{:?}", done.removed);
    assert!(marker(store.as_ref(), OLD).await.is_some());
    assert!(verify_ok(&store, &newer).await);
}
