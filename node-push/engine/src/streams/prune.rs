//! Deleting `backups/` links that every stream covering them has committed.
//!
//! The walk covers every table's `backups/` (index dirs included), whatever the committing stream
//! selects, since one commit may complete what others committed earlier. A link goes only when at least
//! one registered stream covers its table and every such stream holds its identity; its identity is read
//! again just before the unlink, so a file replaced under the same name in between is kept. Identities no
//! longer on disk are forgotten, which keeps the registry as small as `backups/` itself.

use super::registry::Registry;
use crate::select::{self, Selection, Source};
use crate::sstable;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// What one prune did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub deleted: u64,
    /// Links the committing stream holds that another covering stream still needs.
    pub kept_for_others: u64,
}

/// Delete the links every covering stream has committed; `committing` is the stream that just committed.
pub fn prune(
    registry: &mut Registry,
    committing: &str,
    data_dirs: &[PathBuf],
) -> anyhow::Result<Pruned> {
    let mut pruned = Pruned::default();
    if data_dirs.is_empty() {
        return Ok(pruned);
    }
    let walked = select::select(&Selection::everything(
        data_dirs.to_vec(),
        Source::Incremental,
    ))?;
    let mut on_disk = BTreeSet::new();
    for file in walked.files {
        let Ok(id) = sstable::source_id_of(&file.path) else {
            continue;
        };
        let covering: Vec<_> = registry
            .streams
            .values()
            .filter(|r| super::covers(&r.spec, &file.keyspace, &file.table))
            .collect();
        let held_by = |id: &str| covering.iter().filter(|r| r.committed.contains(id)).count();
        let everyone_has_it = !covering.is_empty() && held_by(&id) == covering.len();
        if everyone_has_it && sstable::source_id_of(&file.path).ok().as_deref() == Some(&id) {
            match fs_err::remove_file(&file.path) {
                Ok(()) => {
                    pruned.deleted += 1;
                    continue;
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error.into()),
            }
        }
        if !everyone_has_it
            && covering
                .iter()
                .any(|r| r.spec.id == committing && r.committed.contains(&id))
        {
            pruned.kept_for_others += 1;
        }
        on_disk.insert(id);
    }
    for record in registry.streams.values_mut() {
        record.committed.retain(|id| on_disk.contains(id));
    }
    Ok(pruned)
}
