//! Waiting for Cassandra 1.2's incremental-backup hard links.
//!
//! In 1.2 `nodetool flush` returns once the SSTable is written, but the hard links into `backups/` are
//! made afterwards on a background executor (`DataTracker.incrementallyBackup` runs on
//! `StorageService.tasks`), one component file at a time. A test that looks at `backups/` right after a
//! flush can see nothing, or only some components. (Backup tools face the same race: a file missing now
//! shows up for the next incremental run.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// The SSTable component files directly in each table dir of `keyspace` (not in snapshots/ or backups/).
pub(super) fn sstable_files(data_dir: &Path, keyspace: &str) -> Result<BTreeSet<PathBuf>> {
    let keyspace_dir = data_dir.join(keyspace);
    let mut files = BTreeSet::new();
    if !keyspace_dir.is_dir() {
        return Ok(files);
    }
    for table in fs_err::read_dir(&keyspace_dir)? {
        let table = table?;
        if !table.file_type()?.is_dir() {
            continue;
        }
        for entry in fs_err::read_dir(table.path())? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.insert(entry.path());
            }
        }
    }
    Ok(files)
}

/// Waits until each of `files` has its hard link in its table's `backups/`.
pub(super) fn wait_for_backup_links(files: &BTreeSet<PathBuf>, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let missing: Vec<PathBuf> = files
            .iter()
            .filter_map(|file| backup_link(file))
            .filter(|link| !link.exists())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "after {timeout:?} these flushed files still have no incremental backup link: {missing:?} (a compaction \
                 output is never linked; `nodetool setcompactionthreshold KS CF 0 0` stops minor compactions)"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `<table dir>/backups/<file name>` for a file directly in a table dir.
fn backup_link(file: &Path) -> Option<PathBuf> {
    Some(file.parent()?.join("backups").join(file.file_name()?))
}
