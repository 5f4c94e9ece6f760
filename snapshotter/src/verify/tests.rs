//! Verify of format-2 backups against the in-memory store: host by host, referenced objects checked where
//! they live.

use super::*;
use crate::memstore::MemoryStore;
use crate::purge::fixtures::{differential, format2_backup, own_key, record, NEW, OLD};
use crate::settings::{OutputMode, Verbosity};

fn quiet() -> Arc<Output> {
    Arc::new(Output::new(OutputMode::Plain, Verbosity::Quiet))
}

#[tokio::test]
async fn checks_referenced_objects_where_they_live_and_names_a_missing_one() {
    let memory = Arc::new(MemoryStore::default());
    let store: Arc<dyn ObjectStore> = memory.clone();
    let manifest = differential(store.as_ref()).await;
    let config = VerifyConfig::new(VerifyDepth::Shallow);
    let outcome = verify_backup(store.clone(), "b", &manifest, &config, &quiet())
        .await
        .unwrap();
    assert!(outcome.ok, "{}", outcome.table());
    let lines: Vec<(&str, usize, usize, usize)> = outcome
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.objects, h.referenced, h.ok))
        .collect();
    assert_eq!(lines, [("h1", 2, 1, 2), ("h2", 1, 1, 1)]);

    let missing = own_key(OLD, "h2", "c");
    store.delete(&missing).await.unwrap();
    let outcome = verify_backup(store.clone(), "b", &manifest, &config, &quiet())
        .await
        .unwrap();
    assert!(!outcome.ok);
    assert_eq!(outcome.bad.len(), 1, "{}", outcome.table());
    assert_eq!(outcome.bad[0].key, missing);
    assert_eq!(outcome.bad[0].host, "h2");
    assert_eq!(outcome.bad[0].problem, "missing");
}

#[tokio::test]
async fn a_missing_records_document_fails_its_host_and_the_others_are_checked() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::default());
    let manifest = differential(store.as_ref()).await;
    let batch = &manifest.batches[0].id;
    let document = layout::records_key("b", NEW, batch, "h1");
    store.delete(&document).await.unwrap();
    let config = VerifyConfig::new(VerifyDepth::Shallow);
    let outcome = verify_backup(store, "b", &manifest, &config, &quiet())
        .await
        .unwrap();
    assert!(!outcome.ok);
    assert_eq!(outcome.bad.len(), 1);
    assert_eq!(outcome.bad[0].host, "h1");
    assert!(
        outcome.bad[0].problem.contains(&document),
        "{:?}",
        outcome.bad
    );
    assert_eq!(outcome.hosts.len(), 1);
    assert_eq!(
        (outcome.hosts[0].host.as_str(), outcome.hosts[0].ok),
        ("h2", 1)
    );
}

#[tokio::test]
async fn a_backup_with_every_object_gone_lists_a_bounded_number_of_them() {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::default());
    let records: Vec<ObjectEntry> = (0..LISTED_BAD + 50)
        .map(|i| record("h1", &own_key(OLD, "h1", &format!("f{i}"))))
        .collect();
    let keys: Vec<String> = records.iter().map(|r| r.key.clone()).collect();
    let manifest = format2_backup(store.as_ref(), OLD, None, &[("h1", records)]).await;
    for key in &keys {
        store.delete(key).await.unwrap();
    }
    let config = VerifyConfig::new(VerifyDepth::Shallow);
    let outcome = verify_backup(store.clone(), "b", &manifest, &config, &quiet())
        .await
        .unwrap();
    assert!(!outcome.ok);
    assert_eq!(
        (outcome.bad.len(), outcome.bad_total),
        (LISTED_BAD, LISTED_BAD + 50)
    );
    assert_eq!(outcome.hosts[0].bad, LISTED_BAD + 50);
    assert!(
        outcome.table().contains("and 50 more bad object(s)"),
        "{}",
        outcome.table()
    );
}
