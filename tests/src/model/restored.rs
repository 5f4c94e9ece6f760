//! Reading back what a local restore wrote: the rows of every `Data.db` under the restore dir, per
//! source host, keyspace and table (index entries apart).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Result};

use super::{Rows, TableKey};
use crate::scripted::sstable::{read_rows, INDEX_LINE_PREFIX};

/// Rows and index entries found for one table of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub rows: Rows,
    pub index: Rows,
    pub data_files: usize,
}

/// Every `Data.db` below `dir`, laid out as `<ks>/<table dir>/[...]/<host>_<file>`.
pub fn read_local_restore(dir: &Path) -> Result<BTreeMap<TableKey, Found>> {
    let mut found: BTreeMap<TableKey, Found> = BTreeMap::new();
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    for file in files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        if !name.ends_with("Data.db") {
            continue;
        }
        let rel = file.strip_prefix(dir)?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.len() < 3 {
            bail!(
                "restored file {} is not under <ks>/<table dir>/",
                file.display()
            );
        }
        let Some((host, _)) = name.split_once('_') else {
            bail!(
                "restored file {} does not start with <host>_",
                file.display()
            );
        };
        let key = (host.to_string(), parts[0].clone(), table_of_dir(&parts[1]));
        let entry = found.entry(key).or_default();
        entry.data_files += 1;
        for row in read_rows(&file)? {
            match row.starts_with(INDEX_LINE_PREFIX) {
                true => entry.index.insert(row),
                false => entry.rows.insert(row),
            };
        }
    }
    Ok(found)
}

/// `t1-<32 hex>` → `t1`.
pub fn table_of_dir(dir: &str) -> String {
    match dir.rsplit_once('-') {
        Some((table, id)) if id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()) => {
            table.to_string()
        }
        _ => dir.to_string(),
    }
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
