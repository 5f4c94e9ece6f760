use super::*;
use contract::manifest::ObjectEntry;
use std::path::{Path, PathBuf};

const PREFIX: &str = "b/20240101000000/h1";

/// A table dir with `backups/` files written from `files` (name, content).
fn backups(root: &Path, files: &[(&str, &str)]) -> Vec<UploadItem> {
    let dir = root.join("ks/t-0123456789abcdef0123456789abcdef/backups");
    fs_err::create_dir_all(&dir).unwrap();
    files
        .iter()
        .map(|(name, content)| {
            let path = dir.join(name);
            fs_err::write(&path, content).unwrap();
            item(&path)
        })
        .collect()
}

fn item(path: &Path) -> UploadItem {
    UploadItem {
        key: format!("{PREFIX}{}.lzo", path.display()),
        size: fs_err::metadata(path).unwrap().len(),
        path: path.to_path_buf(),
        keyspace: "ks".into(),
        table: "t".into(),
        variant: 0,
    }
}

/// The committed entry for a file that held `content` at `path`, as this version records it (BLAKE3).
fn committed_entry(path: &Path, content: &str, variant: u32) -> ObjectEntry {
    committed_entry_with(path, content, variant, Algorithm::Blake3)
}

/// The committed entry, recording the digest of `algorithm` (SHA-256: an earlier version's entry).
fn committed_entry_with(
    path: &Path,
    content: &str,
    variant: u32,
    algorithm: Algorithm,
) -> ObjectEntry {
    let mut hasher = digest::Hasher::new(algorithm);
    hasher.update(content.as_bytes());
    let hex = hasher.finalize_hex();
    let (sha256, blake3) = match algorithm {
        Algorithm::Blake3 => (String::new(), hex),
        Algorithm::Sha256 => (hex, String::new()),
    };
    let own = format!("{PREFIX}{}.lzo", path.display());
    ObjectEntry {
        key: layout::variant_key(&own, variant),
        host: "h1".into(),
        source_path: path.display().to_string(),
        keyspace: "ks".into(),
        table: "t".into(),
        size: content.len() as u64,
        compressed_size: 1,
        sha256,
        blake3,
        etag: "e".into(),
        variant,
        source_id: None,
    }
}

fn snapshot_path(root: &Path, name: &str) -> PathBuf {
    root.join("ks/t-0123456789abcdef0123456789abcdef/snapshots/20240101000000")
        .join(name)
}

#[test]
fn new_sstables_keep_their_own_keys() {
    let dir = tempfile::tempdir().unwrap();
    let items = backups(
        dir.path(),
        &[("nb-2-big-Data.db", "d2"), ("nb-2-big-TOC.txt", "toc")],
    );
    let committed = Committed::from_entries(&[
        committed_entry(&snapshot_path(dir.path(), "nb-1-big-Data.db"), "d1", 0),
        committed_entry(&snapshot_path(dir.path(), "nb-1-big-TOC.txt"), "toc", 0),
    ]);
    let plan = plan(items.clone(), &committed);
    assert_eq!(plan.upload, items);
    assert!(plan.in_backup.is_empty());
}

#[test]
fn an_sstable_restored_under_another_generation_is_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    // refresh loaded snapshot nb-1 as nb-7 and linked it into backups/; nb-8 is new.
    let items = backups(
        dir.path(),
        &[
            ("nb-7-big-Data.db", "d1"),
            ("nb-7-big-TOC.txt", "toc"),
            ("nb-8-big-Data.db", "d8"),
            ("nb-8-big-TOC.txt", "toc"),
        ],
    );
    let committed = Committed::from_entries(&[
        committed_entry(&snapshot_path(dir.path(), "nb-1-big-Data.db"), "d1", 0),
        committed_entry(&snapshot_path(dir.path(), "nb-1-big-TOC.txt"), "toc", 0),
    ]);
    let plan = plan(items.clone(), &committed);
    let sent: Vec<_> = plan.upload.iter().map(|i| i.path.clone()).collect();
    assert_eq!(sent, [items[2].path.clone(), items[3].path.clone()]);
    assert_eq!(plan.in_backup.len(), 2);
    assert!(plan
        .in_backup
        .iter()
        .all(|f| f.matches.contains("nb-1-big")));
}

#[test]
fn same_size_other_bytes_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let items = backups(
        dir.path(),
        &[("nb-7-big-Data.db", "dX"), ("nb-7-big-TOC.txt", "toc")],
    );
    let committed = Committed::from_entries(&[
        committed_entry(&snapshot_path(dir.path(), "nb-1-big-Data.db"), "d1", 0),
        committed_entry(&snapshot_path(dir.path(), "nb-1-big-TOC.txt"), "toc", 0),
    ]);
    let plan = plan(items.clone(), &committed);
    assert_eq!(plan.upload, items);
    assert!(plan.in_backup.is_empty());
}

#[test]
fn a_reused_name_goes_to_the_first_variant_free_for_the_whole_sstable() {
    let dir = tempfile::tempdir().unwrap();
    let items = backups(
        dir.path(),
        &[("nb-1-big-Data.db", "rebuilt"), ("nb-1-big-TOC.txt", "toc")],
    );
    let data = items[0].path.clone();
    let toc = items[1].path.clone();
    // The backup holds nb-1 (other content) under its own keys, and the TOC of an earlier variant 1.
    let committed = Committed::from_entries(&[
        committed_entry(&data, "first", 0),
        committed_entry(&toc, "toc", 0),
        committed_entry(&toc, "toc", 1),
    ]);
    let plan = plan(items, &committed);
    assert!(plan.in_backup.is_empty());
    assert_eq!(plan.upload.len(), 2);
    for item in &plan.upload {
        assert_eq!(item.variant, 2, "{}", item.key);
        assert!(item.key.ends_with("~2.lzo"), "{}", item.key);
    }
}

#[test]
fn an_empty_backup_takes_everything_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let items = backups(dir.path(), &[("nb-1-big-Data.db", "d")]);
    let plan = plan(items.clone(), &Committed::default());
    assert_eq!(plan.upload, items);
}

#[test]
fn an_earlier_versions_sha256_entries_are_compared_with_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let items = backups(
        dir.path(),
        &[("nb-7-big-Data.db", "d1"), ("nb-8-big-Data.db", "d2")],
    );
    let committed = Committed::from_entries(&[
        committed_entry_with(
            &snapshot_path(dir.path(), "nb-1-big-Data.db"),
            "d1",
            0,
            Algorithm::Sha256,
        ),
        committed_entry_with(
            &snapshot_path(dir.path(), "nb-2-big-Data.db"),
            "dX",
            0,
            Algorithm::Sha256,
        ),
    ]);
    let plan = plan(items.clone(), &committed);
    assert_eq!(plan.upload, [items[1].clone()]);
    assert_eq!(plan.in_backup.len(), 1);
    assert!(plan.in_backup[0].matches.contains("nb-1-big"));
}
