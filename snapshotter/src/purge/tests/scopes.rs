//! Purge over backups of mixed selections (issue 9, finding 4), objects shared between backups, named
//! removals, and manifests of a newer format, against the in-memory store.

use super::*;

fn deleted_names(outcome: &PurgeOutcome) -> Vec<&str> {
    outcome
        .plan
        .backups
        .iter()
        .filter(|d| d.delete)
        .map(|d| d.name.as_str())
        .collect()
}

#[tokio::test]
async fn a_table_backup_leaves_the_only_full_backup_and_the_dry_run_names_selections() {
    let store = Recording::default();
    complete_backup(&store, "20240101000000").await;
    backup_of(&store, "20240102000000", Some(&["ks"]), "t").await;
    backup_of(&store, "20240103000000", Some(&["ks"]), "t").await;
    // An abandoned run of the same table selection: its run record says what it was.
    let record = Manifest::new(
        "20240104000000",
        "b",
        vec!["h1".into()],
        Some(vec!["ks".into()]),
        "t",
    );
    put(
        &store,
        "b/20240104000000/h1/d/ks/t/snapshots/20240104000000/x.lzo",
    )
    .await;
    store
        .put_object(
            &layout::manifest_staging_key("b", "20240104000000"),
            Bytes::from(record.to_json()),
            &PutOptions::default(),
        )
        .await
        .unwrap();

    let before = keys(&store).await;
    let dry = purge(&store, "b", &keep_last(1, true), &output())
        .await
        .unwrap();
    assert_eq!(keys(&store).await, before, "a dry run removes nothing");
    assert_eq!(deleted_names(&dry), ["20240104000000", "20240102000000"]);
    assert_eq!(
        dry.table(),
        "\
selection hosts h1; keyspaces ks; table t:
  20240104000000  incomplete  would remove  (incomplete (no manifest), started before the abandon threshold)
  20240103000000  complete    keep  (the newest complete backup of its selection)
  20240102000000  complete    would remove  (beyond the last 1 of its selection)
selection hosts h1; keyspaces all; all tables:
  20240101000000  complete    keep  (the newest complete backup of its selection)
would remove 20240104000000: 1 objects, 1 B
would remove 20240102000000: 3 objects, 3 B
"
    );
    let json = serde_json::to_value(&dry).unwrap();
    let full = &json["plan"]["backups"][3]["selection"];
    assert_eq!(full["keyspaces"], serde_json::Value::Null, "{json}");
    assert_eq!(full["table"], "");
    assert_eq!(
        json["plan"]["backups"][1]["selection"]["keyspaces"][0],
        "ks"
    );

    let old = options(
        Some(Retention::OlderThan(chrono::Duration::hours(1))),
        &[],
        true,
    );
    let by_age = purge(&store, "b", &old, &output()).await.unwrap();
    assert_eq!(
        deleted_names(&by_age),
        ["20240104000000", "20240102000000"],
        "every backup is old, but each selection keeps its newest"
    );

    let done = purge(&store, "b", &keep_last(1, false), &output())
        .await
        .unwrap();
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    let names: BTreeSet<String> = keys(&store)
        .await
        .iter()
        .map(|k| k.split('/').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["20240101000000".to_string(), "20240103000000".to_string()])
    );
    let listed = crate::list::list(&store, "b", false).await.unwrap();
    assert!(listed.iter().all(|e| e.complete), "{listed:?}");
}

#[tokio::test]
async fn an_object_a_remaining_manifest_lists_is_kept_and_manifests_go_first() {
    let store = Recording::default();
    complete_backup(&store, "20231231000000").await;
    let mut older = backup_of(&store, "20240101000000", None, "").await;
    // The older backup also lists an object outside its prefix, which nothing else lists.
    put(&store, "b/shared/only-older.lzo").await;
    older.batches[0]
        .objects
        .push(entry("b/shared/only-older.lzo"));
    write_manifest(&store, &older).await;
    // The newest lists one of the older backup's objects, as a differential backup would.
    let shared = older.batches[0].objects[0].key.clone();
    let mut newest = backup_of(&store, "20240102000000", None, "").await;
    newest.batches[0].objects.push(entry(&shared));
    write_manifest(&store, &newest).await;

    let done = purge(&store, "b", &keep_last(1, false), &output())
        .await
        .unwrap();
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    assert_eq!(deleted_names(&done), ["20240101000000", "20231231000000"]);
    let left = keys(&store).await;
    assert!(left.contains(&shared), "{left:?}");
    assert!(
        !left.contains(&"b/shared/only-older.lzo".to_string()),
        "{left:?}"
    );
    let removed = &done.removed[0];
    assert_eq!(
        (removed.shared_kept, removed.objects),
        (1, 3),
        "{removed:?}"
    );
    assert!(done
        .table()
        .contains("removed 20240101000000: 3 objects, 3 B, 1 kept (referenced by 20240102000000)"));
    // Both condemned manifests were deleted before any data object of either.
    let deleted = store.deleted.lock().unwrap().clone();
    let first_data = deleted.iter().position(|k| k.ends_with(".lzo")).unwrap();
    let last_manifest = deleted
        .iter()
        .rposition(|k| k.contains("manifest.json"))
        .unwrap();
    assert!(last_manifest < first_data, "{deleted:?}");
    // What the newest backup lists is all there.
    for object in newest.inline_objects() {
        assert!(left.contains(&object.key), "{} of {left:?}", object.key);
    }
}

#[tokio::test]
async fn named_backups_go_and_an_unknown_name_changes_nothing() {
    let store = Recording::default();
    complete_backup(&store, "20240101000000").await;
    backup_of(&store, "20240102000000", Some(&["ks"]), "t").await;
    let before = keys(&store).await;
    let unknown = purge(
        &store,
        "b",
        &options(None, &["20240105000000"], false),
        &output(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "--remove 20240105000000: there is no backup of that name under b; nothing was removed"
    );
    assert_eq!(keys(&store).await, before);

    let named = options(Some(Retention::KeepLast(1)), &["20240102000000"], false);
    let done = purge(&store, "b", &named, &output()).await.unwrap();
    assert_eq!(deleted_names(&done), ["20240102000000"]);
    assert_eq!(done.plan.backups[0].reason, "named with --remove");
    assert!(keys(&store)
        .await
        .iter()
        .all(|k| k.starts_with("b/20240101000000/")));
}

#[tokio::test]
async fn a_manifest_of_a_newer_format_stops_the_purge() {
    let store = Recording::default();
    complete_backup(&store, "20240101000000").await;
    complete_backup(&store, "20240102000000").await;
    let mut future = Manifest::new("20240103000000", "b", vec!["h1".into()], None, "");
    future.format_version = 99;
    write_manifest(&store, &future).await;
    let error = purge(&store, "b", &keep_last(1, false), &output())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("b/20240103000000/manifest.json") && error.contains("purge removed nothing"),
        "{error}"
    );
    assert!(store.deleted.lock().unwrap().is_empty());
}
