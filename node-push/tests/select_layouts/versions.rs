//! One test per on-disk layout: 1.2 (`<ks>/<cf>/`, `ks-cf-ia-N-*`), 2.1 (`<table>-<id>`, `ka`), 3.x/4.x
//! (`mc`/`me`/`nb`, manifest.json, schema.cql, `.index` dirs), 4.1 ULID generations and 5.0 `bti`/SAI files.

use std::path::PathBuf;

use engine::select::{select, table_name, Selection, Source};

use crate::tree::{
    self, components_1_2, components_2_1, components_big, components_bti, relative_paths, Tree,
    TABLE_ID_EVENTS, TABLE_ID_USERS,
};
use crate::{qualified, snapshot, TAG};

/// A Cassandra 1.2 node: `<ks>/<cf>/` dirs, `<ks>-<cf>-ia-N-*` files, index SSTables next to the table's.
pub(crate) fn cassandra_1_2_node(tree: &Tree) -> PathBuf {
    let data = tree.dir("data");
    for (keyspace, table) in [
        ("ks1", "users"),
        ("ks1", "events"),
        ("system", "LocationInfo"),
    ] {
        let table_dir = format!("{keyspace}/{table}");
        tree.files(&data.join(&table_dir), &components_1_2(keyspace, table, 2));
        tree.files(
            &data.join(&table_dir).join("snapshots").join(TAG),
            &components_1_2(keyspace, table, 1),
        );
        tree.files(
            &data.join(&table_dir).join("snapshots/older"),
            &components_1_2(keyspace, table, 1),
        );
    }
    tree.files(
        &data.join("ks1/users/snapshots").join(TAG),
        &components_1_2("ks1", "users.users_email_idx", 1),
    );
    tree.files(
        &data.join("ks1/users/backups"),
        &components_1_2("ks1", "users", 2),
    );
    data
}

#[test]
fn cassandra_1_2_snapshot_takes_only_the_tag_in_every_keyspace() {
    let tree = Tree::new();
    let data = cassandra_1_2_node(&tree);
    let result = select(&Selection::everything(vec![data.clone()], snapshot())).unwrap();

    let mut expected = Vec::new();
    for (keyspace, table) in [
        ("ks1", "events"),
        ("ks1", "users"),
        ("system", "LocationInfo"),
    ] {
        for file in components_1_2(keyspace, table, 1) {
            expected.push(format!("data/{keyspace}/{table}/snapshots/{TAG}/{file}"));
        }
        if table == "users" {
            for file in components_1_2("ks1", "users.users_email_idx", 1) {
                expected.push(format!("data/ks1/users/snapshots/{TAG}/{file}"));
            }
        }
    }
    expected.sort();
    assert_eq!(relative_paths(&tree, &result.files), expected);
    assert_eq!(result.keyspaces_seen, ["ks1", "system"]);
    assert_eq!(
        result.tables_seen,
        [
            qualified("ks1", "events"),
            qualified("ks1", "users"),
            qualified("system", "LocationInfo")
        ]
    );
    let users_data = &result
        .files
        .iter()
        .find(|f| f.path.ends_with("ks1-users-ia-1-Data.db"))
        .unwrap();
    assert_eq!(users_data.data_dir, data);
    assert_eq!(
        (users_data.keyspace.as_str(), users_data.table.as_str()),
        ("ks1", "users")
    );
    assert_eq!(users_data.table_dir, "users");
    assert_eq!(
        users_data.size,
        tree::content_of("ks1-users-ia-1-Data.db").len() as u64
    );
    assert!(result.vanished.is_empty() && result.symlinks_skipped.is_empty());
}

#[test]
fn cassandra_1_2_incremental_takes_backups_only() {
    let tree = Tree::new();
    let data = cassandra_1_2_node(&tree);
    let result = select(&Selection::everything(vec![data], Source::Incremental)).unwrap();
    let expected: Vec<String> = components_1_2("ks1", "users", 2)
        .iter()
        .map(|file| format!("data/ks1/users/backups/{file}"))
        .collect();
    assert_eq!(relative_paths(&tree, &result.files), expected);
    // Tables without backups/ are still seen: the caller can tell "nothing flushed" from "no such table".
    assert_eq!(result.tables_seen.len(), 3);
}

#[test]
fn cassandra_2_1_table_filter_matches_the_name_not_the_dir() {
    let tree = Tree::new();
    let data = tree.dir("data");
    let users = format!("ks1/users-{TABLE_ID_USERS}");
    let events = format!("ks1/events-{TABLE_ID_EVENTS}");
    tree.files(
        &data.join(&users).join("snapshots").join(TAG),
        &components_2_1("ks1", "users", 1),
    );
    tree.files(
        &data.join(&events).join("snapshots").join(TAG),
        &components_2_1("ks1", "events", 3),
    );

    let selection = Selection {
        keyspaces: vec!["ks1".into()],
        table: Some("users".into()),
        ..Selection::everything(vec![data], snapshot())
    };
    let result = select(&selection).unwrap();
    let expected: Vec<String> = components_2_1("ks1", "users", 1)
        .iter()
        .map(|file| format!("data/{users}/snapshots/{TAG}/{file}"))
        .collect();
    assert_eq!(relative_paths(&tree, &result.files), expected);
    assert!(result
        .files
        .iter()
        .all(|f| f.table == "users" && f.table_dir == format!("users-{TABLE_ID_USERS}")));
    assert_eq!(result.tables_seen, [qualified("ks1", "users")]);
}

/// 3.x/4.x: `mc-`/`me-`/`nb-` names, Cassandra's own manifest.json and schema.cql in the snapshot, and a
/// secondary index under `.users_email_idx` both in the snapshot and in backups.
pub(crate) fn modern_node(tree: &Tree) -> PathBuf {
    let data = tree.dir("data");
    let users = data.join(format!("ks1/users-{TABLE_ID_USERS}"));
    tree.files(&users, &components_big("nb", "14"));
    tree.files(&users.join(".users_email_idx"), &components_big("nb", "14"));
    let snapshot_dir = users.join("snapshots").join(TAG);
    tree.files(&snapshot_dir, &components_big("me", "3"));
    tree.files(&snapshot_dir, &components_big("nb", "12"));
    tree.files(
        &snapshot_dir,
        &["manifest.json".to_string(), "schema.cql".to_string()],
    );
    tree.files(
        &snapshot_dir.join(".users_email_idx"),
        &components_big("nb", "12"),
    );
    tree.files(&users.join("backups"), &components_big("nb", "13"));
    tree.files(
        &users.join("backups/.users_email_idx"),
        &components_big("nb", "13"),
    );
    let events = data.join(format!("ks2/events-{TABLE_ID_EVENTS}"));
    tree.files(
        &events.join("snapshots").join(TAG),
        &components_big("mc", "1"),
    );
    tree.files(
        &events.join("snapshots").join(TAG),
        &["manifest.json".to_string(), "schema.cql".to_string()],
    );
    tree.files(
        &events,
        &["mb_txn_compaction_8ae5b0a0-07c8-11ef-9d0b-53e4c3d7a3f7.log".to_string()],
    );
    data
}

#[test]
fn cassandra_3_and_4_snapshot_includes_manifest_schema_and_index_dirs() {
    let tree = Tree::new();
    let data = modern_node(&tree);
    let result = select(&Selection::everything(vec![data], snapshot())).unwrap();

    let users = format!("data/ks1/users-{TABLE_ID_USERS}/snapshots/{TAG}");
    let events = format!("data/ks2/events-{TABLE_ID_EVENTS}/snapshots/{TAG}");
    let mut expected: Vec<String> = Vec::new();
    expected.extend(
        components_big("me", "3")
            .iter()
            .map(|f| format!("{users}/{f}")),
    );
    expected.extend(
        components_big("nb", "12")
            .iter()
            .map(|f| format!("{users}/{f}")),
    );
    expected.extend(
        components_big("nb", "12")
            .iter()
            .map(|f| format!("{users}/.users_email_idx/{f}")),
    );
    expected.extend(["manifest.json", "schema.cql"].map(|f| format!("{users}/{f}")));
    expected.extend(
        components_big("mc", "1")
            .iter()
            .map(|f| format!("{events}/{f}")),
    );
    expected.extend(["manifest.json", "schema.cql"].map(|f| format!("{events}/{f}")));
    expected.sort();
    assert_eq!(relative_paths(&tree, &result.files), expected);
    let index_file = result
        .files
        .iter()
        .find(|f| f.path.to_string_lossy().contains(".users_email_idx"))
        .unwrap();
    assert_eq!(
        (index_file.keyspace.as_str(), index_file.table.as_str()),
        ("ks1", "users")
    );
}

#[test]
fn cassandra_4_incremental_includes_index_backups() {
    let tree = Tree::new();
    let data = modern_node(&tree);
    let result = select(&Selection::everything(vec![data], Source::Incremental)).unwrap();
    let backups = format!("data/ks1/users-{TABLE_ID_USERS}/backups");
    let mut expected: Vec<String> = components_big("nb", "13")
        .iter()
        .map(|f| format!("{backups}/{f}"))
        .collect();
    expected.extend(
        components_big("nb", "13")
            .iter()
            .map(|f| format!("{backups}/.users_email_idx/{f}")),
    );
    expected.sort();
    assert_eq!(relative_paths(&tree, &result.files), expected);
}

#[test]
fn index_snapshots_below_the_index_dir_are_taken_too() {
    // Should a release keep `<table>/.<index>/snapshots/<tag>/`, those files belong to the backup as well.
    let tree = Tree::new();
    let data = tree.dir("data");
    let users = data.join(format!("ks1/users-{TABLE_ID_USERS}"));
    tree.files(
        &users.join("snapshots").join(TAG),
        &components_2_1("ks1", "users", 1),
    );
    tree.files(
        &users.join(".users_email_idx/snapshots").join(TAG),
        &components_2_1("ks1", "users.users_email_idx", 1),
    );
    let result = select(&Selection::everything(vec![data], snapshot())).unwrap();
    let mut expected: Vec<String> = components_2_1("ks1", "users", 1)
        .iter()
        .map(|f| format!("data/ks1/users-{TABLE_ID_USERS}/snapshots/{TAG}/{f}"))
        .collect();
    expected.extend(
        components_2_1("ks1", "users.users_email_idx", 1)
            .iter()
            .map(|f| {
                format!("data/ks1/users-{TABLE_ID_USERS}/.users_email_idx/snapshots/{TAG}/{f}")
            }),
    );
    expected.sort();
    assert_eq!(relative_paths(&tree, &result.files), expected);
}

#[test]
fn ulid_generations_and_cassandra_5_trie_files_are_taken_whole() {
    let tree = Tree::new();
    let data = tree.dir("data");
    let snapshot_dir = data
        .join(format!("ks1/users-{TABLE_ID_USERS}/snapshots"))
        .join(TAG);
    let mut files = components_big("nb", "3gll_1kke_3qdyo2i4kzfpt3cqcy");
    files.extend(components_bti("da", "3gll_1kkf_0ab3k2q9l1xa9v1jzm"));
    files.push("da-3gll_1kkf_0ab3k2q9l1xa9v1jzm-bti-SAI+aa+email_idx+KDTree.db".to_string());
    files.extend(["manifest.json".to_string(), "schema.cql".to_string()]);
    tree.files(&snapshot_dir, &files);
    let result = select(&Selection::everything(vec![data], snapshot())).unwrap();
    let mut expected: Vec<String> = files
        .iter()
        .map(|f| format!("data/ks1/users-{TABLE_ID_USERS}/snapshots/{TAG}/{f}"))
        .collect();
    expected.sort();
    assert_eq!(relative_paths(&tree, &result.files), expected);
}

#[test]
fn table_name_strips_the_id_of_2_1_and_later_dirs() {
    assert_eq!(table_name(&format!("users-{TABLE_ID_USERS}")), "users");
    assert_eq!(table_name("users"), "users");
    assert_eq!(table_name("LocationInfo"), "LocationInfo");
}
