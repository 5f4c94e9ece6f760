//! The byte check after a local restore: every file the restore wrote equals the SSTable file it came
//! from on its node, and every SSTable file of the keyspace on every node came back.
//!
//! A local restore writes the old tool's layout, `<restore dir>/<ks>/<table dir>/<host>_<file>`. The
//! demo's tables never compact (at most two SSTables each, below Cassandra's threshold of four), so the
//! files the backups were taken from are still in each node's live table directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use testkit::fixture::NodeFixture;

/// What the check compared.
#[derive(Debug, Default)]
pub struct Checked {
    pub files: usize,
    pub bytes: u64,
}

/// Compares the restore of `keyspace` in `restore_dir` with the nodes' live files.
pub fn check_local_restore(
    nodes: &NodeFixture,
    keyspace: &str,
    restore_dir: &Path,
) -> Result<Checked> {
    let restored = restored_files(&restore_dir.join(keyspace))?;
    ensure!(
        !restored.is_empty(),
        "the restore wrote nothing under {}",
        restore_dir.join(keyspace).display()
    );
    let mut checked = Checked::default();
    for (index, host) in nodes.aliases().iter().enumerate() {
        let live_dir = nodes.cassandra.data_dir(index).join(keyspace);
        let live = live_sstable_files(&live_dir)?;
        let from_host: BTreeMap<&PathBuf, &PathBuf> = restored
            .iter()
            .filter(|((restored_host, _), _)| restored_host == host)
            .map(|((_, relative), path)| (relative, path))
            .collect();
        let missing: Vec<String> = live
            .iter()
            .filter(|relative| !from_host.contains_key(relative))
            .map(|relative| relative.display().to_string())
            .collect();
        ensure!(
            missing.is_empty(),
            "{host}: not restored: {}",
            missing.join(", ")
        );
        for (relative, restored_path) in from_host {
            let original = live_dir.join(relative);
            let expected = fs_err::read(&original).with_context(|| {
                format!(
                    "{host}: {} was restored but is not on the node",
                    relative.display()
                )
            })?;
            let actual = fs_err::read(restored_path)?;
            if actual != expected {
                bail!(
                    "{} differs from {host}'s {} ({} vs {} bytes)",
                    restored_path.display(),
                    original.display(),
                    actual.len(),
                    expected.len()
                );
            }
            checked.files += 1;
            checked.bytes += actual.len() as u64;
        }
    }
    ensure!(
        checked.files == restored.len(),
        "{} restored files belong to no node of the ring",
        restored.len() - checked.files
    );
    Ok(checked)
}

/// The restored files under `<restore dir>/<ks>`, keyed by (host, `<table dir>/<file>`), parsed from
/// the `<host>_<file>` names.
fn restored_files(keyspace_dir: &Path) -> Result<BTreeMap<(String, PathBuf), PathBuf>> {
    let mut found = BTreeMap::new();
    for table_dir in sorted_entries(keyspace_dir)? {
        for path in sorted_entries(&table_dir)? {
            let name = file_name(&path);
            let Some((host, file)) = name.split_once('_') else {
                bail!("{} is not named <host>_<file>", path.display());
            };
            let relative = Path::new(&file_name(&table_dir)).join(file);
            found.insert((host.to_string(), relative), path);
        }
    }
    Ok(found)
}

/// The SSTable files of a live keyspace dir as `<table dir>/<file>`: the files directly in each table
/// dir, not its `snapshots/` and `backups/` subdirectories.
fn live_sstable_files(keyspace_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for table_dir in sorted_entries(keyspace_dir)? {
        for path in sorted_entries(&table_dir)? {
            if path.is_file() {
                files.push(Path::new(&file_name(&table_dir)).join(file_name(&path)));
            }
        }
    }
    Ok(files)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = fs_err::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
