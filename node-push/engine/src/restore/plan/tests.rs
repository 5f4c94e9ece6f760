//! Planning: layouts, filters, host maps, duplicates and conflicts, requests from elsewhere.

use super::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

mod instances;

fn entry(host: &str, path: &str, sha: &str) -> ObjectEntry {
    let table_dir = path.split('/').nth(3).unwrap();
    ObjectEntry {
        key: format!("base/20240101000000/{host}{path}.lzo"),
        host: host.into(),
        source_path: path.into(),
        keyspace: path.split('/').nth(2).unwrap().into(),
        table: crate::select::table_name(table_dir).into(),
        size: 10,
        compressed_size: 8,
        sha256: sha.into(),
        blake3: String::new(),
        etag: "e".into(),
        variant: 0,
        source_id: None,
    }
}

const T: &str = "users-0123456789abcdef0123456789abcdef";

fn objects() -> Vec<ObjectEntry> {
    vec![
        entry(
            "h1",
            &format!("/d/ks/{T}/snapshots/s/nb-1-big-Data.db"),
            "aa",
        ),
        entry(
            "h1",
            &format!("/d/ks/{T}/snapshots/s/.idx/nb-1-big-Data.db"),
            "bb",
        ),
        entry("h2", &format!("/d/ks/{T}/backups/nb-2-big-Data.db"), "cc"),
        entry(
            "h1",
            "/d/other/events/snapshots/s/other-events-ia-1-Data.db",
            "dd",
        ),
    ]
}

fn targets(plan: &RestorePlan) -> Vec<String> {
    plan.files
        .iter()
        .map(|f| f.file.target.display().to_string())
        .collect()
}

#[test]
fn stage_mode_uses_cassandras_names_and_index_dirs() {
    let mut options = RestoreOptions::new(RestoreMode::Stage {
        staging_root: "/stage".into(),
    });
    options.hosts = vec!["h1".into()];
    let plan = plan_restore(&objects(), &options).unwrap();
    assert_eq!(
        targets(&plan),
        [
            format!("/stage/ks/{T}/nb-1-big-Data.db"),
            format!("/stage/ks/{T}/.idx/nb-1-big-Data.db"),
            "/stage/other/events/other-events-ia-1-Data.db".to_string(),
        ]
    );
    assert_eq!(plan.target_hosts(), BTreeSet::from(["h1".to_string()]));
    assert_eq!(plan.total_bytes(), 30);
}

#[test]
fn flat_mode_is_the_old_tools_layout_and_filters_apply() {
    let mut options = RestoreOptions::new(RestoreMode::Flat {
        restore_dir: "/r".into(),
    });
    options.keyspace = Some("ks".into());
    options.tables = vec!["users".into()];
    let plan = plan_restore(&objects(), &options).unwrap();
    assert_eq!(
        targets(&plan),
        [
            format!("/r/ks/{T}/h1_nb-1-big-Data.db"),
            format!("/r/ks/{T}/.idx/h1_nb-1-big-Data.db"),
            format!("/r/ks/{T}/h2_nb-2-big-Data.db"),
        ]
    );
    options.tables = vec![T.into()];
    assert_eq!(plan_restore(&objects(), &options).unwrap().files.len(), 3);
    options.tables = vec!["nope".into()];
    assert!(plan_restore(&objects(), &options).unwrap().is_empty());
}

#[test]
fn host_map_moves_files_to_another_host() {
    let mut options = RestoreOptions::new(RestoreMode::Stage {
        staging_root: "/stage".into(),
    });
    options.host_map = "h2=new2".parse().unwrap();
    let plan = plan_restore(&objects(), &options).unwrap();
    assert_eq!(
        plan.target_hosts(),
        BTreeSet::from(["h1".to_string(), "new2".to_string()])
    );
    let request = plan.request_for("new2");
    assert_eq!(request.files.len(), 1);
    assert!(request.files[0].entry.key.contains("/h2/"));
    assert_eq!(plan.into_request().files.len(), 4);
}

#[test]
fn the_same_sstable_twice_is_restored_once_and_different_ones_are_renumbered() {
    let snap = entry(
        "h1",
        &format!("/d/ks/{T}/snapshots/s/nb-1-big-Data.db"),
        "aa",
    );
    let incr = entry("h1", &format!("/d/ks/{T}/backups/nb-1-big-Data.db"), "aa");
    let options = RestoreOptions::new(RestoreMode::Stage {
        staging_root: "/s".into(),
    });
    let plan = plan_restore([&snap, &incr], &options).unwrap();
    assert_eq!(plan.files.len(), 1);
    assert_eq!(plan.files[0].file.entry.key, snap.key);
    assert_eq!((plan.duplicates, plan.renumbered), (1, 0));

    // A table rebuilt after the snapshot: backups/ has another nb-1. Both are restored.
    let changed = entry("h1", &format!("/d/ks/{T}/backups/nb-1-big-Data.db"), "ff");
    let plan = plan_restore([&snap, &changed], &options).unwrap();
    assert_eq!(
        targets(&plan),
        [
            format!("/s/ks/{T}/nb-1-big-Data.db"),
            format!("/s/ks/{T}/nb-2-big-Data.db"),
        ]
    );
    assert_eq!((plan.duplicates, plan.renumbered), (0, 1));
    // Two hosts' generation 1 onto one staging dir: renumbered, not an overwrite.
    let other_host = entry(
        "h2",
        &format!("/d/ks/{T}/snapshots/s/nb-1-big-Data.db"),
        "ab",
    );
    let plan = plan_restore([&snap, &other_host], &options).unwrap();
    assert_eq!(plan.files[1].file.entry.key, other_host.key);
    assert_eq!(
        plan.files[1].file.target,
        PathBuf::from(format!("/s/ks/{T}/nb-2-big-Data.db"))
    );
}

#[test]
fn keys_that_are_not_data_objects_are_refused() {
    let mut bad = entry("h1", &format!("/d/ks/{T}/snapshots/s/f"), "aa");
    bad.key = "base/20240101000000/ring".into();
    let options = RestoreOptions::new(RestoreMode::Stage {
        staging_root: "/s".into(),
    });
    assert_eq!(
        plan_restore([&bad], &options),
        Err(PlanError::NotADataKey { key: bad.key })
    );
}

#[test]
fn requests_from_elsewhere_are_checked() {
    let options = RestoreOptions::new(RestoreMode::Stage {
        staging_root: "/s".into(),
    });
    let plan = plan_restore(&objects(), &options).unwrap();
    let mut files = plan.into_request().files;
    assert_eq!(check_request(&files), Ok(()));
    files[1].target = files[0].target.clone();
    assert!(matches!(
        check_request(&files),
        Err(PlanError::Conflict { .. })
    ));
    for bad in ["relative/f", "/s/../etc/passwd", "/"] {
        files[1].target = bad.into();
        assert!(
            matches!(check_request(&files), Err(PlanError::BadTarget { .. })),
            "{bad}"
        );
    }
}
