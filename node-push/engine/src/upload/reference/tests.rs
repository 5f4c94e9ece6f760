use super::*;
use std::path::PathBuf;

const TABLE: &str = "t-0123456789abcdef0123456789abcdef";

/// Writes `content` at `<data dir>/ks/<table>/snapshots/<tag>/<file>` and returns its item.
fn snapshot_file(data_dir: &Path, tag: &str, file: &str, content: &[u8]) -> UploadItem {
    let path = data_dir
        .join("ks")
        .join(TABLE)
        .join("snapshots")
        .join(tag)
        .join(file);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, content).unwrap();
    UploadItem {
        key: format!("b/NEW/h1{}.lzo", path.display()),
        size: content.len() as u64,
        path,
        keyspace: "ks".into(),
        table: "t".into(),
        variant: 0,
    }
}

/// The reference backup's entry of a file that held `content` at `path`, with `algorithm`'s digest.
fn reference_entry(path: &Path, content: &[u8], algorithm: Option<Algorithm>) -> ObjectEntry {
    let hex = algorithm.map(|algorithm| {
        let mut hasher = digest::Hasher::new(algorithm);
        hasher.update(content);
        hasher.finalize_hex()
    });
    let (sha256, blake3) = match (algorithm, hex) {
        (Some(Algorithm::Blake3), Some(hex)) => (String::new(), hex),
        (Some(Algorithm::Sha256), Some(hex)) => (hex, String::new()),
        _ => (String::new(), String::new()),
    };
    ObjectEntry {
        key: format!("b/OLD/h1{}.lzo", path.display()),
        host: "h1".into(),
        source_path: path.display().to_string(),
        keyspace: "ks".into(),
        table: "t".into(),
        size: content.len() as u64,
        compressed_size: 99,
        sha256,
        blake3,
        etag: "old-etag".into(),
        variant: 0,
        source_id: Some("old-id".into()),
    }
}

/// Where the reference saw `file`: the same data dir, under its own snapshot tag.
fn old_path(data_dir: &Path, file: &str) -> PathBuf {
    data_dir
        .join("ks")
        .join(TABLE)
        .join("snapshots/OLD")
        .join(file)
}

#[test]
fn locations_drop_the_data_dir_and_the_tag_and_keep_the_index_dir() {
    let location = |path: &str| Location::of(path, 7);
    let expected = |file: &str| Location {
        keyspace: "ks".into(),
        table_dir: "t".into(),
        file: file.into(),
        size: 7,
    };
    assert_eq!(
        location("/d1/ks/t/snapshots/A/nb-1-big-Data.db"),
        Some(expected("nb-1-big-Data.db"))
    );
    assert_eq!(
        location("/d2/x/ks/t/backups/nb-1-big-Data.db"),
        Some(expected("nb-1-big-Data.db"))
    );
    assert_eq!(
        location("/d/ks/t/snapshots/B/.idx/nb-1-big-Data.db"),
        Some(expected(".idx/nb-1-big-Data.db"))
    );
    assert_eq!(location("/d/ks/t/nb-1-big-Data.db"), None);
    assert_eq!(location("t/backups/f"), None);
}

#[test]
fn an_identical_file_is_referenced_with_the_stored_objects_entry() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"the same sstable bytes".to_vec();
    let item = snapshot_file(dir.path(), "NEW", "nb-1-big-Data.db", &content);
    let old = reference_entry(
        &old_path(dir.path(), "nb-1-big-Data.db"),
        &content,
        Some(Algorithm::Blake3),
    );
    let refs = References::from_entries([old.clone()]);
    let plan = plan(vec![item.clone()], &refs, "h1");
    assert!(plan.upload.is_empty());
    let entry = &plan.referenced[0];
    assert_eq!(
        (
            &entry.key,
            &entry.etag,
            entry.compressed_size,
            &entry.blake3,
            entry.variant
        ),
        (
            &old.key,
            &old.etag,
            old.compressed_size,
            &old.blake3,
            old.variant
        )
    );
    assert_eq!(entry.source_path, item.path.display().to_string());
    assert_eq!(
        entry.source_id,
        Some(sstable::source_id_of(&item.path).unwrap())
    );
    assert_eq!(entry.host, "h1");
}

#[test]
fn same_name_and_size_with_one_byte_flipped_is_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let stored = vec![7u8; 3 * digest::READ_SIZE + 5];
    let mut flipped = stored.clone();
    flipped[2 * digest::READ_SIZE + 1] ^= 1;
    let item = snapshot_file(dir.path(), "NEW", "nb-1-big-Data.db", &flipped);
    let refs = References::from_entries([reference_entry(
        &old_path(dir.path(), "nb-1-big-Data.db"),
        &stored,
        Some(Algorithm::Blake3),
    )]);
    let plan = plan(vec![item.clone()], &refs, "h1");
    assert_eq!(plan.upload, [item]);
    assert!(plan.referenced.is_empty());
}

#[test]
fn another_size_or_name_or_no_digest_is_uploaded_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"abc".to_vec();
    let grown = snapshot_file(dir.path(), "NEW", "nb-1-big-Data.db", b"abcd");
    let renamed = snapshot_file(dir.path(), "NEW", "nb-2-big-Data.db", &content);
    let unrecorded = snapshot_file(dir.path(), "NEW", "nb-3-big-Data.db", &content);
    let refs = References::from_entries([
        reference_entry(
            &old_path(dir.path(), "nb-1-big-Data.db"),
            &content,
            Some(Algorithm::Blake3),
        ),
        reference_entry(&old_path(dir.path(), "nb-3-big-Data.db"), &content, None),
    ]);
    assert_eq!(refs.len(), 1, "an entry without a digest cannot be matched");
    let items = vec![grown, renamed, unrecorded];
    let plan = plan(items.clone(), &refs, "h1");
    assert_eq!(plan.upload, items);
}

#[test]
fn index_dir_files_match_only_inside_their_index_dir() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"index sstable".to_vec();
    let in_index = snapshot_file(dir.path(), "NEW", ".idx/nb-1-big-Data.db", &content);
    let table_level = snapshot_file(dir.path(), "NEW", "nb-1-big-Data.db", &content);
    let refs = References::from_entries([reference_entry(
        &old_path(dir.path(), ".idx/nb-1-big-Data.db"),
        &content,
        Some(Algorithm::Blake3),
    )]);
    let plan = plan(vec![in_index.clone(), table_level.clone()], &refs, "h1");
    assert_eq!(plan.upload, [table_level]);
    assert_eq!(plan.referenced.len(), 1);
    assert_eq!(
        plan.referenced[0].source_path,
        in_index.path.display().to_string()
    );
}

#[test]
fn several_data_dirs_each_find_their_files_wherever_the_reference_saw_them() {
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2) = (dir.path().join("d1"), dir.path().join("d2"));
    let one = snapshot_file(&d1, "NEW", "nb-1-big-Data.db", b"first");
    // Moved from d1 to d2 since the reference (a data dir added, SSTables rebalanced).
    let two = snapshot_file(&d2, "NEW", "nb-2-big-Data.db", b"second");
    let new = snapshot_file(&d2, "NEW", "nb-3-big-Data.db", b"third");
    let refs = References::from_entries([
        reference_entry(
            &old_path(&d1, "nb-1-big-Data.db"),
            b"first",
            Some(Algorithm::Blake3),
        ),
        reference_entry(
            &old_path(&d1, "nb-2-big-Data.db"),
            b"second",
            Some(Algorithm::Blake3),
        ),
    ]);
    let plan = plan(vec![one.clone(), two.clone(), new.clone()], &refs, "h1");
    assert_eq!(plan.upload, [new]);
    let paths: Vec<_> = plan
        .referenced
        .iter()
        .map(|e| e.source_path.clone())
        .collect();
    assert_eq!(
        paths,
        [
            one.path.display().to_string(),
            two.path.display().to_string()
        ]
    );
}

#[test]
fn an_earlier_versions_sha256_entry_is_checked_with_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let item = snapshot_file(dir.path(), "NEW", "nb-1-big-Data.db", b"older");
    let other = snapshot_file(dir.path(), "NEW", "nb-2-big-Data.db", b"newer");
    let refs = References::from_entries([
        reference_entry(
            &old_path(dir.path(), "nb-1-big-Data.db"),
            b"older",
            Some(Algorithm::Sha256),
        ),
        reference_entry(
            &old_path(dir.path(), "nb-2-big-Data.db"),
            b"NEWER",
            Some(Algorithm::Sha256),
        ),
    ]);
    let plan = plan(vec![item, other.clone()], &refs, "h1");
    assert_eq!(plan.upload, [other]);
    assert!(!plan.referenced[0].sha256.is_empty());
}

#[test]
fn of_two_variants_the_one_with_the_files_bytes_is_referenced() {
    let dir = tempfile::tempdir().unwrap();
    let item = snapshot_file(dir.path(), "NEW", "nb-1-big-Data.db", b"second");
    let path = old_path(dir.path(), "nb-1-big-Data.db");
    let first = reference_entry(&path, b"first_", Some(Algorithm::Blake3));
    let mut second = reference_entry(&path, b"second", Some(Algorithm::Blake3));
    second.variant = 1;
    second.key = layout::variant_key(&second.key, 1);
    let refs = References::from_entries([first, second.clone()]);
    let plan = plan(vec![item], &refs, "h1");
    assert_eq!(plan.referenced[0].key, second.key);
    assert_eq!(plan.referenced[0].variant, 1);
}
