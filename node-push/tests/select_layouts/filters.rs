//! Keyspace, table and exclude filters over a two-disk node, and the errors for bad requests.

use std::path::PathBuf;

use engine::select::{select, SelectError, Selection, Source};

use crate::tree::{
    components_big, relative_paths, Tree, TABLE_ID_EVENTS, TABLE_ID_USERS, TABLE_ID_USERS_DROPPED,
};
use crate::versions::modern_node;
use crate::{qualified, snapshot, TAG};

/// Two data dirs (JBOD): the same table dir exists in both, each with its own SSTables.
pub(crate) fn two_disk_node(tree: &Tree) -> (PathBuf, PathBuf) {
    let disk1 = tree.dir("disk1/data");
    let disk2 = tree.dir("disk2/data");
    for (disk, generation) in [(&disk1, "1"), (&disk2, "2")] {
        for (keyspace, table, id) in [
            ("ks1", "users", TABLE_ID_USERS),
            ("ks1", "events", TABLE_ID_EVENTS),
            ("ks_2024", "users", TABLE_ID_USERS_DROPPED),
        ] {
            let table_dir = disk.join(format!("{keyspace}/{table}-{id}"));
            tree.files(
                &table_dir.join("snapshots").join(TAG),
                &components_big("nb", generation),
            );
            tree.files(
                &table_dir.join("backups"),
                &components_big("nb", &format!("{generation}0")),
            );
        }
    }
    (disk1, disk2)
}

/// Paths of `result` for one table on both disks, sorted.
pub(crate) fn expected_on_both_disks(
    keyspace: &str,
    table_dir: &str,
    source: &Source,
) -> Vec<String> {
    let mut expected = Vec::new();
    for (disk, generation) in [("disk1", "1"), ("disk2", "2")] {
        let (below, generation) = match source {
            Source::Snapshot { tag } => (format!("snapshots/{tag}"), generation.to_string()),
            Source::Incremental => ("backups".to_string(), format!("{generation}0")),
        };
        for file in components_big("nb", &generation) {
            expected.push(format!("{disk}/data/{keyspace}/{table_dir}/{below}/{file}"));
        }
    }
    expected
}

#[test]
fn two_data_dirs_are_both_walked_and_sorted_by_path() {
    let tree = Tree::new();
    let (disk1, disk2) = two_disk_node(&tree);
    // Trailing slash and a duplicate: normalised, walked once.
    let data_dirs = vec![disk2.join(""), disk1.clone(), disk2.clone()];
    let result = select(&Selection::everything(data_dirs, snapshot())).unwrap();
    let mut expected = Vec::new();
    expected.extend(expected_on_both_disks(
        "ks1",
        &format!("events-{TABLE_ID_EVENTS}"),
        &snapshot(),
    ));
    expected.extend(expected_on_both_disks(
        "ks1",
        &format!("users-{TABLE_ID_USERS}"),
        &snapshot(),
    ));
    expected.extend(expected_on_both_disks(
        "ks_2024",
        &format!("users-{TABLE_ID_USERS_DROPPED}"),
        &snapshot(),
    ));
    expected.sort();
    assert_eq!(relative_paths(&tree, &result.files), expected);
    let paths: Vec<_> = result.files.iter().map(|f| f.path.clone()).collect();
    assert!(paths.windows(2).all(|pair| pair[0] < pair[1]));
    for file in &result.files {
        assert!(file.path.starts_with(&file.data_dir));
        assert!(
            file.data_dir == disk1 || file.data_dir == disk2,
            "{:?}",
            file.data_dir
        );
    }
}

#[test]
fn filter_combinations_select_exact_sets() {
    let tree = Tree::new();
    let (disk1, disk2) = two_disk_node(&tree);
    let users = format!("users-{TABLE_ID_USERS}");
    let events = format!("events-{TABLE_ID_EVENTS}");
    let users_2024 = format!("users-{TABLE_ID_USERS_DROPPED}");
    let base = |source: Source| Selection::everything(vec![disk1.clone(), disk2.clone()], source);
    let run = |selection: Selection| {
        let result = select(&selection).unwrap();
        (relative_paths(&tree, &result.files), result)
    };
    let sorted = |mut paths: Vec<String>| {
        paths.sort();
        paths
    };

    for source in [snapshot(), Source::Incremental] {
        let (paths, result) = run(Selection {
            keyspaces: vec!["ks1".into()],
            ..base(source.clone())
        });
        let expected = sorted(
            [
                expected_on_both_disks("ks1", &users, &source),
                expected_on_both_disks("ks1", &events, &source),
            ]
            .concat(),
        );
        assert_eq!(paths, expected, "{source:?}");
        assert_eq!(result.keyspaces_seen, ["ks1"]);

        // `--table users` across all keyspaces: both keyspaces' users, never events.
        let (paths, result) = run(Selection {
            table: Some("users".into()),
            ..base(source.clone())
        });
        let expected = sorted(
            [
                expected_on_both_disks("ks1", &users, &source),
                expected_on_both_disks("ks_2024", &users_2024, &source),
            ]
            .concat(),
        );
        assert_eq!(paths, expected, "{source:?}");
        assert_eq!(
            result.tables_seen,
            [qualified("ks1", "users"), qualified("ks_2024", "users")]
        );

        // Bare exclude: that table everywhere.
        let (paths, _) = run(Selection {
            exclude_tables: vec!["users".into()],
            ..base(source.clone())
        });
        assert_eq!(
            paths,
            expected_on_both_disks("ks1", &events, &source),
            "{source:?}"
        );

        // Qualified exclude: only in that keyspace; the same name elsewhere stays.
        let (paths, result) = run(Selection {
            exclude_tables: vec!["ks1.users".into(), " ks1.nope".into()],
            ..base(source.clone())
        });
        let expected = sorted(
            [
                expected_on_both_disks("ks1", &events, &source),
                expected_on_both_disks("ks_2024", &users_2024, &source),
            ]
            .concat(),
        );
        assert_eq!(paths, expected, "{source:?}");
        assert_eq!(result.unmatched_excludes, ["ks1.nope"]);

        // Keyspace filter plus exclude plus table: the table wins only where it is not excluded.
        let (paths, _) = run(Selection {
            keyspaces: vec!["ks1".into(), "ks_2024".into()],
            table: Some("users".into()),
            exclude_tables: vec!["ks_2024.users".into()],
            ..base(source.clone())
        });
        assert_eq!(
            paths,
            expected_on_both_disks("ks1", &users, &source),
            "{source:?}"
        );

        // Excluding the only requested table leaves nothing, which is not an error.
        let (paths, result) = run(Selection {
            table: Some("events".into()),
            exclude_tables: vec!["events".into()],
            ..base(source.clone())
        });
        assert!(
            paths.is_empty() && result.tables_seen.is_empty(),
            "{source:?}"
        );
        assert!(result.unmatched_excludes.is_empty());
    }
}

#[test]
fn dropped_table_leftovers_are_distinct_dirs_and_both_taken() {
    let tree = Tree::new();
    let data = tree.dir("data");
    for id in [TABLE_ID_USERS, TABLE_ID_USERS_DROPPED] {
        tree.files(
            &data.join(format!("ks1/users-{id}/snapshots")).join(TAG),
            &components_big("nb", "1"),
        );
    }
    let result = select(&Selection {
        table: Some("users".into()),
        ..Selection::everything(vec![data], snapshot())
    })
    .unwrap();
    let table_dirs: std::collections::BTreeSet<_> =
        result.files.iter().map(|f| f.table_dir.clone()).collect();
    assert_eq!(table_dirs.len(), 2);
    assert_eq!(result.files.len(), 2 * components_big("nb", "1").len());
    assert_eq!(result.tables_seen, [qualified("ks1", "users")]);
}

#[test]
fn missing_tag_gives_an_empty_selection_not_an_error() {
    let tree = Tree::new();
    let data = modern_node(&tree);
    let source = Source::Snapshot {
        tag: "never-taken".into(),
    };
    let result = select(&Selection::everything(vec![data], source)).unwrap();
    assert!(result.files.is_empty());
    assert_eq!(
        result.tables_seen,
        [qualified("ks1", "users"), qualified("ks2", "events")]
    );
}

#[test]
fn bad_requests_fail_naming_what_is_wrong() {
    let tree = Tree::new();
    let data = modern_node(&tree);
    let everything = || Selection::everything(vec![data.clone()], snapshot());
    let message = |selection: Selection| select(&selection).unwrap_err().to_string();

    let error = message(Selection {
        keyspaces: vec!["ks1".into(), "ks9".into()],
        ..everything()
    });
    assert_eq!(
        error,
        format!(
            "keyspace \"ks9\" not found in data directories {}",
            data.display()
        )
    );
    let error = message(Selection {
        keyspaces: vec!["ks2".into()],
        table: Some("users".into()),
        ..everything()
    });
    assert_eq!(error, "table \"users\" not found in keyspace(s) ks2");
    // The old tool's bug: a raw dir name is not a table name.
    let error = message(Selection {
        table: Some(format!("users-{TABLE_ID_USERS}")),
        ..everything()
    });
    assert!(error.starts_with("table \"users-"), "{error}");
    let error = message(Selection {
        exclude_tables: vec!["a.b.c".into()],
        ..everything()
    });
    assert_eq!(
        error,
        "invalid --exclude-tables entry \"a.b.c\": expected `table` or `keyspace.table`"
    );
    let error = message(Selection::everything(
        vec![tree.root().join("nope")],
        snapshot(),
    ));
    assert!(error.contains("nope does not exist"), "{error}");
    let error = message(Selection::everything(
        vec![PathBuf::from("var/lib/cassandra/data")],
        snapshot(),
    ));
    assert_eq!(
        error,
        "data directory var/lib/cassandra/data is not an absolute path"
    );
    assert!(matches!(
        select(&Selection::everything(vec![], snapshot())),
        Err(SelectError::NoDataDirs)
    ));
    let error = message(Selection::everything(
        vec![data.clone()],
        Source::Snapshot { tag: "../x".into() },
    ));
    assert!(
        error.starts_with("invalid snapshot name \"../x\""),
        "{error}"
    );
}
