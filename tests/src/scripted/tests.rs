//! The scripted node numbers, links and drops SSTables the way Cassandra does.

use super::*;
use std::path::Path;

fn node(dir: &Path, version: Version, uuid_ids: bool) -> Node {
    let spec = NodeSpec {
        version,
        format: Format::Big,
        uuid_ids,
        data_dirs: 1,
        tables: vec![TableSpec {
            keyspace: "ks".into(),
            table: "t".into(),
            index: Some("t_idx".into()),
        }],
        salt: 7,
    };
    Node::create(dir, spec, Path::new("/nonexistent/scripted-nodetool")).unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs_err::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with("Data.db"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

#[test]
fn flush_links_compaction_does_not_and_a_restart_numbers_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), Version::V40, false);
    let table = node.spec().tables[0].clone();
    let table_dir = node.table_dir(&table, 0);
    for n in 0..2 {
        node.write("ks", "t", &[format!("k{n}\tv")]).unwrap();
        node.flush(Some("ks"), None).unwrap();
    }
    assert_eq!(
        names(&table_dir.join("backups")),
        ["nb-1-big-Data.db", "nb-2-big-Data.db"]
    );
    assert_eq!(
        names(&table_dir.join("backups/.t_idx")),
        ["nb-1-big-Data.db", "nb-2-big-Data.db"]
    );
    node.compact("ks", "t").unwrap();
    assert_eq!(names(&table_dir), ["nb-3-big-Data.db"]);
    assert_eq!(
        names(&table_dir.join("backups")).len(),
        2,
        "compaction output is not linked"
    );
    // A tool empties backups/, TRUNCATE drops the live SSTable: a restart numbers from 1 again.
    fs_err::remove_dir_all(table_dir.join("backups")).unwrap();
    node.truncate("ks", "t", 1).unwrap();
    assert!(names(&table_dir).is_empty());
    assert_eq!(
        names(&table_dir.join("snapshots/truncated-1-t")),
        ["nb-3-big-Data.db"]
    );
    node.restart().unwrap();
    node.write("ks", "t", &["k9\tv".to_string()]).unwrap();
    node.flush(None, None).unwrap();
    assert_eq!(names(&table_dir), ["nb-1-big-Data.db"]);
    assert_eq!(node.live_rows("ks", "t").unwrap().len(), 1);
}

#[test]
fn old_and_new_names() {
    let dir = tempfile::tempdir().unwrap();
    let old = node(&dir.path().join("a"), Version::V21, false);
    old.write("ks", "t", &["k\tv".to_string()]).unwrap();
    old.snapshot("s1", &[], None).unwrap();
    let table_dir = old.table_dir(&old.spec().tables[0], 0);
    // 2.1 keeps an index's SSTables next to the table's, named <table>.<index>.
    assert_eq!(
        names(&table_dir.join("snapshots/s1")),
        ["ks-t-ka-1-Data.db", "ks-t.t_idx-ka-1-Data.db"]
    );
    assert!(!table_dir.join("snapshots/s1/manifest.json").exists());
    let new = node(&dir.path().join("b"), Version::V41, true);
    new.write("ks", "t", &["k\tv".to_string()]).unwrap();
    new.snapshot("s1", &["ks".to_string()], Some("t")).unwrap();
    let table_dir = new.table_dir(&new.spec().tables[0], 0);
    let data = names(&table_dir.join("snapshots/s1"));
    assert_eq!(data.len(), 1);
    assert!(
        data[0].starts_with("nb-") && data[0].contains('_'),
        "{data:?}"
    );
    assert!(table_dir.join("snapshots/s1/manifest.json").exists());
    assert_eq!(names(&table_dir.join("snapshots/s1/.t_idx")).len(), 1);
}
