//! SSTable instances: duplicates restored once, reused names renumbered by whole SSTable, in every naming
//! scheme and layout.

use super::*;

/// `components` of one SSTable `descriptor` under `dir` (`snapshots/s` or `backups`), content `seed`.
fn sstable(host: &str, dir: &str, descriptor: &str, seed: &str, variant: u32) -> Vec<ObjectEntry> {
    ["Index.db", "TOC.txt", "Data.db"]
        .iter()
        .map(|component| {
            let mut e = entry(
                host,
                &format!("/d/ks/{T}/{dir}/{descriptor}-{component}"),
                &format!("{seed}-{component}"),
            );
            if variant > 0 {
                e.key = contract::layout::variant_key(&e.key, variant);
                e.variant = variant;
            }
            e
        })
        .collect()
}

fn stage() -> RestoreOptions {
    RestoreOptions::new(RestoreMode::Stage {
        staging_root: "/s".into(),
    })
}

/// (restored name, key it comes from) of every planned file.
fn names(plan: &RestorePlan) -> Vec<(String, String)> {
    plan.files
        .iter()
        .map(|f| {
            let name = f.file.target.file_name().unwrap().to_string_lossy();
            (name.into_owned(), f.file.entry.key.clone())
        })
        .collect()
}

#[test]
fn a_duplicate_is_restored_once_and_a_variant_gets_its_own_generation() {
    let snap = sstable("h1", "snapshots/s", "na-1-big", "A", 0);
    let dup = sstable("h1", "backups", "na-1-big", "A", 0);
    let other = sstable("h1", "backups", "na-1-big", "B", 1);
    let two = sstable("h1", "backups", "na-2-big", "C", 0);
    let all: Vec<&ObjectEntry> = snap.iter().chain(&dup).chain(&other).chain(&two).collect();
    let plan = plan_restore(all, &stage()).unwrap();
    assert_eq!((plan.duplicates, plan.renumbered), (1, 1));
    let got = names(&plan);
    let expected: Vec<(String, String)> = snap
        .iter()
        .map(|e| (file_of(e), e.key.clone()))
        .chain(
            other
                .iter()
                .map(|e| (file_of(e).replace("na-1-", "na-3-"), e.key.clone())),
        )
        .chain(two.iter().map(|e| (file_of(e), e.key.clone())))
        .collect();
    assert_eq!(got, expected);
    assert!(other[0].key.ends_with("na-1-big-Index.db~1.lzo"));
    // Every target once.
    let targets: BTreeSet<_> = plan.files.iter().map(|f| &f.file.target).collect();
    assert_eq!(targets.len(), plan.files.len());
}

fn file_of(entry: &ObjectEntry) -> String {
    entry.source_path.rsplit('/').next().unwrap().to_string()
}

#[test]
fn components_are_never_mixed_between_instances() {
    // Same TOC bytes, other Data bytes: a different SSTable; its TOC goes with it, not deduplicated alone.
    let snap = sstable("h1", "snapshots/s", "nb-1-big", "A", 0);
    let mut rebuilt = sstable("h1", "backups", "nb-1-big", "B", 0);
    rebuilt[1].sha256 = snap[1].sha256.clone();
    let plan = plan_restore(snap.iter().chain(&rebuilt), &stage()).unwrap();
    assert_eq!(plan.files.len(), 6);
    let from_backups: Vec<String> = plan.files[3..]
        .iter()
        .map(|f| f.file.target.display().to_string())
        .collect();
    assert_eq!(
        from_backups,
        ["Index.db", "TOC.txt", "Data.db"].map(|c| format!("/s/ks/{T}/nb-2-big-{c}"))
    );
    // A subset of one instance's components is not a duplicate of it either.
    let partial = &sstable("h1", "backups", "nb-1-big", "A", 0)[..2];
    let plan = plan_restore(snap.iter().chain(partial), &stage()).unwrap();
    assert_eq!(
        (plan.files.len(), plan.duplicates, plan.renumbered),
        (5, 0, 1)
    );
}

#[test]
fn every_naming_scheme_is_renumbered_by_whole_sstable() {
    let ulid = "3gll_1kke_3qdyo2i4kzfpt3cqcy";
    for (first, second, renamed) in [
        ("ks-cf-ia-1", "ks-cf-ia-1", "ks-cf-ia-2"),
        ("ks-cf-jb-3", "ks-cf-jb-3", "ks-cf-jb-4"),
        ("ks-cf-ka-5", "ks-cf-ka-5", "ks-cf-ka-6"),
        ("ma-1-big", "ma-1-big", "ma-2-big"),
        ("mc-7-big", "mc-7-big", "mc-8-big"),
        ("me-2-big", "me-2-big", "me-3-big"),
        ("nb-1-big", "nb-1-big", "nb-2-big"),
        ("oa-4-big", "oa-4-big", "oa-5-big"),
        // A generation is unique per directory whatever the version.
        ("nb-4-big", "oa-4-big", "oa-5-big"),
        (
            &format!("nb-{ulid}-big"),
            &format!("nb-{ulid}-big"),
            "nb-1-big",
        ),
        (
            &format!("da-{ulid}-bti"),
            &format!("da-{ulid}-bti"),
            "da-1-bti",
        ),
    ] {
        let snap = sstable("h1", "snapshots/s", first, "A", 0);
        let variant = sstable("h1", "backups", second, "B", 2);
        let plan = plan_restore(snap.iter().chain(&variant), &stage()).unwrap();
        let got: Vec<String> = names(&plan).into_iter().map(|(n, _)| n).collect();
        let expected: Vec<String> = ["Index.db", "TOC.txt", "Data.db"]
            .iter()
            .map(|c| format!("{first}-{c}"))
            .chain(
                ["Index.db", "TOC.txt", "Data.db"]
                    .iter()
                    .map(|c| format!("{renamed}-{c}")),
            )
            .collect();
        assert_eq!(got, expected, "{first} / {second}");
    }
}

#[test]
fn old_scheme_families_and_index_dirs_are_separate_namespaces() {
    let base = entry("h1", "/d/ks/cf/snapshots/s/ks-cf-ia-1-Data.db", "a");
    let index = entry("h1", "/d/ks/cf/snapshots/s/ks-cf.cf_idx-ia-1-Data.db", "b");
    let new_index = entry(
        "h1",
        &format!("/d/ks/{T}/snapshots/s/.idx/nb-1-big-Data.db"),
        "c",
    );
    let new_base = entry(
        "h1",
        &format!("/d/ks/{T}/snapshots/s/nb-1-big-Data.db"),
        "d",
    );
    let plan = plan_restore([&base, &index, &new_index, &new_base], &stage()).unwrap();
    assert_eq!(plan.renumbered, 0);
    let incr_index = entry(
        "h1",
        &format!("/d/ks/{T}/backups/.idx/nb-1-big-Data.db"),
        "e",
    );
    let plan = plan_restore([&new_index, &new_base, &incr_index], &stage()).unwrap();
    assert_eq!(
        plan.files[2].file.target,
        PathBuf::from(format!("/s/ks/{T}/.idx/nb-2-big-Data.db"))
    );
}

#[test]
fn the_flat_layout_renumbers_per_host_and_the_host_map_shares_a_directory() {
    let flat = RestoreOptions::new(RestoreMode::Flat {
        restore_dir: "/r".into(),
    });
    let h1 = sstable("h1", "snapshots/s", "nb-1-big", "A", 0);
    let h1_variant = sstable("h1", "backups", "nb-1-big", "B", 1);
    let h2 = sstable("h2", "snapshots/s", "nb-1-big", "C", 0);
    let all: Vec<&ObjectEntry> = h1.iter().chain(&h1_variant).chain(&h2).collect();
    let plan = plan_restore(all.clone(), &flat).unwrap();
    let data: Vec<String> = plan
        .files
        .iter()
        .filter(|f| f.file.target.to_string_lossy().ends_with("Data.db"))
        .map(|f| f.file.target.display().to_string())
        .collect();
    assert_eq!(
        data,
        [
            format!("/r/ks/{T}/h1_nb-1-big-Data.db"),
            format!("/r/ks/{T}/h1_nb-2-big-Data.db"),
            format!("/r/ks/{T}/h2_nb-1-big-Data.db"),
        ]
    );
    // h2's files written by h1 into one staging dir: h2's nb-1 is renumbered too.
    let mut mapped = stage();
    mapped.host_map = "h2=h1".parse().unwrap();
    let plan = plan_restore(all, &mapped).unwrap();
    assert_eq!(plan.target_hosts(), BTreeSet::from(["h1".to_string()]));
    assert_eq!(plan.renumbered, 2);
    let last = &plan.files.last().unwrap().file;
    assert!(last.entry.key.contains("/h2/"));
    assert_eq!(
        last.target,
        PathBuf::from(format!("/s/ks/{T}/nb-3-big-Data.db"))
    );
}

#[test]
fn the_old_tools_backups_compare_stored_size_and_etag() {
    let legacy = |path: &str, etag: &str| {
        let mut e = entry("h1", path, "");
        e.size = 0;
        e.etag = etag.into();
        e
    };
    let snap = legacy("/d/ks/cf/snapshots/s/ks-cf-ia-1-Data.db", "x");
    let same = legacy("/d/ks/cf/backups/ks-cf-ia-1-Data.db", "x");
    let other = legacy("/d/ks/cf/backups/ks-cf-ia-1-Data.db", "y");
    let plan = plan_restore([&snap, &same], &stage()).unwrap();
    assert_eq!((plan.files.len(), plan.duplicates), (1, 1));
    let plan = plan_restore([&snap, &other], &stage()).unwrap();
    assert_eq!(
        plan.files[1].file.target,
        PathBuf::from("/s/ks/cf/ks-cf-ia-2-Data.db")
    );
}

#[test]
fn files_that_are_not_sstables_keep_their_names() {
    let manifest = entry("h1", &format!("/d/ks/{T}/snapshots/s/manifest.json"), "m");
    let again = manifest.clone();
    let plan = plan_restore([&manifest, &again], &stage()).unwrap();
    assert_eq!(plan.files.len(), 1);
    // Another host's manifest.json into the same staging dir: refused, not overwritten.
    let changed = entry("h2", &format!("/d/ks/{T}/snapshots/s/manifest.json"), "n");
    let err = plan_restore([&manifest, &changed], &stage()).unwrap_err();
    assert!(matches!(err, PlanError::Conflict { .. }), "{err}");
}
