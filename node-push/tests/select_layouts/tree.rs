//! Builders for Cassandra data trees in a temp dir, with the file names each release writes.

use std::path::{Path, PathBuf};

use engine::select::SelectedFile;

/// Table ids as Cassandra 2.1+ appends them to table dir names: a UUID as 32 lowercase hex digits.
pub const TABLE_ID_USERS: &str = "4d7f1e30a1b211eeb9620242ac120002";
pub const TABLE_ID_EVENTS: &str = "0b1e8e10a1b311eeb9620242ac120002";
/// A second id for `users`: what a dropped and re-created table leaves behind.
pub const TABLE_ID_USERS_DROPPED: &str = "f3a4c2d0077611efa1b2c3d4e5f60718";

/// A temp dir holding one or more data dirs and config files; removed on drop.
pub struct Tree {
    root: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Self {
        Tree {
            root: tempfile::tempdir().expect("create temp dir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Creates `relative` (and its parents) below the root.
    pub fn dir(&self, relative: &str) -> PathBuf {
        let dir = self.root().join(relative);
        fs_err::create_dir_all(&dir).unwrap();
        dir
    }

    /// Creates `dir` and, in it, one file per name with [`content_of`] the name.
    pub fn files(&self, dir: &Path, names: &[String]) {
        fs_err::create_dir_all(dir).unwrap();
        for name in names {
            fs_err::write(dir.join(name), content_of(name)).unwrap();
        }
    }

    /// Writes a text file below the root and returns its path.
    pub fn text(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.root().join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, text).unwrap();
        path
    }

    pub fn symlink(&self, target: &Path, link: &Path) {
        fs_err::os::unix::fs::symlink(target, link).unwrap();
    }
}

/// File contents that differ per name, so sizes differ too.
pub fn content_of(name: &str) -> String {
    format!("contents of {name}\n")
}

/// The selected paths relative to the tree root, in selection order.
pub fn relative_paths(tree: &Tree, files: &[SelectedFile]) -> Vec<String> {
    files
        .iter()
        .map(|file| {
            file.path
                .strip_prefix(tree.root())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn with_suffixes(prefix: &str, suffixes: &[&str]) -> Vec<String> {
    suffixes
        .iter()
        .map(|suffix| format!("{prefix}{suffix}"))
        .collect()
}

/// One SSTable of Cassandra 1.2 (`ia` format): `<ks>-<cf>-ia-<gen>-<component>`.
pub fn components_1_2(keyspace: &str, table: &str, generation: u32) -> Vec<String> {
    with_suffixes(
        &format!("{keyspace}-{table}-ia-{generation}-"),
        &[
            "CompressionInfo.db",
            "Data.db",
            "Filter.db",
            "Index.db",
            "Statistics.db",
            "Summary.db",
            "TOC.txt",
        ],
    )
}

/// One SSTable of Cassandra 2.1 (`ka` format), still prefixed with keyspace and table.
pub fn components_2_1(keyspace: &str, table: &str, generation: u32) -> Vec<String> {
    with_suffixes(
        &format!("{keyspace}-{table}-ka-{generation}-"),
        &[
            "CompressionInfo.db",
            "Data.db",
            "Digest.sha1",
            "Filter.db",
            "Index.db",
            "Statistics.db",
            "Summary.db",
            "TOC.txt",
        ],
    )
}

/// One SSTable of the `big` format (3.0+: `mc`, `md`, `me`, 4.x `nb`); `generation` is a number or, from
/// 4.1, a ULID-style id such as `3gll_1kke_3qdyo2i4kzfpt3cqcy`.
pub fn components_big(version: &str, generation: &str) -> Vec<String> {
    with_suffixes(
        &format!("{version}-{generation}-big-"),
        &[
            "CompressionInfo.db",
            "Data.db",
            "Digest.crc32",
            "Filter.db",
            "Index.db",
            "Statistics.db",
            "Summary.db",
            "TOC.txt",
        ],
    )
}

/// One SSTable of Cassandra 5.0's trie-indexed `bti` format (`da`).
pub fn components_bti(version: &str, generation: &str) -> Vec<String> {
    with_suffixes(
        &format!("{version}-{generation}-bti-"),
        &[
            "CompressionInfo.db",
            "Data.db",
            "Digest.crc32",
            "Filter.db",
            "Partitions.db",
            "Rows.db",
            "Statistics.db",
            "TOC.txt",
        ],
    )
}
