//! SSTable instances: the unit a restore keeps whole.
//!
//! One backup can hold the same SSTable name more than once: `snapshots/<tag>/na-1-big-*` and
//! `backups/na-1-big-*` (hard links of one live SSTable, or a table rebuilt between the snapshot and the
//! incremental), and `backups/na-1-big-*~N` variants (a name reused after the first was stored; see
//! [`contract::layout::variant_key`]). An instance is every component of one SSTable from one place: (source
//! host, table dir, `.<index>` dir, snapshot tag or `backups/`, variant, descriptor). Instances that land
//! in one target directory share a generation namespace (per name family for the pre-2.2 scheme):
//! - an instance whose components have the same types, sizes and SHA-256s as one already planned there
//!   (the stored size and ETag for the old tool's backups, which recorded no SHA-256) is a duplicate and
//!   restored once;
//! - the first instance with a generation keeps it; every later one gets a fresh generation above all the
//!   namespace's own, all its components together, so no two instances share a name and none is dropped.

use super::super::sstable::{Generation, SstableName};
use contract::manifest::ObjectEntry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One wanted object and where it would go under its original name.
#[derive(Debug, Clone)]
pub(super) struct Slot<'a> {
    pub entry: &'a ObjectEntry,
    pub target_host: String,
    /// The directory the file goes in (with its `.<index>` dir).
    pub dir: PathBuf,
    /// Put before the file name: `<host>_` in the flat layout, else empty.
    pub prefix: String,
    /// The file name as the backup has it (without `~N`).
    pub name: String,
    /// Where the file came from on its node: `snapshots/<tag>` or `backups`, with its variant.
    pub location: String,
}

/// What planning decided for one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Decision {
    /// Restore under this file name (the original one, or the SSTable renumbered).
    Restore(String),
    /// A component of an SSTable that an earlier identical instance already restores.
    Duplicate,
}

/// The decisions, in slot order, and what they amount to.
#[derive(Debug, Default)]
pub(super) struct Decisions {
    pub per_slot: Vec<Decision>,
    /// SSTable instances restored once because an identical one was already planned.
    pub duplicates: usize,
    /// SSTable instances given another generation than their own.
    pub renumbered: usize,
}

/// (target dir, prefix, family): the names one generation counter covers.
type Namespace = (PathBuf, String, String);
/// The components' (type, content) pairs, sorted.
type Signature = Vec<(String, String)>;

struct Instance {
    namespace: Namespace,
    generation: Generation,
    slots: Vec<(usize, SstableName)>,
}

/// Decide every slot's file name: duplicates out, colliding generations renumbered by whole instance.
/// Slots that are not SSTable components keep their names.
pub(super) fn decide(slots: &[Slot<'_>]) -> Decisions {
    let mut per_slot: Vec<Decision> = slots
        .iter()
        .map(|s| Decision::Restore(s.name.clone()))
        .collect();
    let instances = group(slots);

    let mut highest: BTreeMap<&Namespace, u64> = BTreeMap::new();
    for instance in &instances {
        let top = highest.entry(&instance.namespace).or_default();
        if let Generation::Number(n) = instance.generation {
            *top = (*top).max(n);
        }
    }
    let mut taken: BTreeSet<(&Namespace, Generation)> = BTreeSet::new();
    let mut restored: BTreeSet<(&Namespace, Signature)> = BTreeSet::new();
    let mut decisions = Decisions::default();
    for instance in &instances {
        let signature = signature(slots, instance);
        if !restored.insert((&instance.namespace, signature)) {
            for (slot, _) in &instance.slots {
                per_slot[*slot] = Decision::Duplicate;
            }
            decisions.duplicates += 1;
            continue;
        }
        let mut generation = instance.generation.clone();
        if taken.contains(&(&instance.namespace, generation.clone())) {
            let top = highest
                .get_mut(&instance.namespace)
                .expect("every namespace has a highest generation");
            *top += 1;
            generation = Generation::Number(*top);
            decisions.renumbered += 1;
        }
        taken.insert((&instance.namespace, generation.clone()));
        for (slot, sstable) in &instance.slots {
            per_slot[*slot] = Decision::Restore(sstable.with(&generation));
        }
    }
    decisions.per_slot = per_slot;
    decisions
}

/// The slots that are SSTable components, as instances in order of their first component.
fn group(slots: &[Slot<'_>]) -> Vec<Instance> {
    let mut instances: Vec<Instance> = Vec::new();
    let mut index: BTreeMap<(Namespace, String, String, String), usize> = BTreeMap::new();
    for (i, slot) in slots.iter().enumerate() {
        let Some(sstable) = SstableName::parse(&slot.name) else {
            continue;
        };
        let namespace = (slot.dir.clone(), slot.prefix.clone(), sstable.family());
        let id = (
            namespace.clone(),
            slot.entry.host.clone(),
            slot.location.clone(),
            sstable.descriptor(),
        );
        let at = *index.entry(id).or_insert_with(|| {
            instances.push(Instance {
                namespace,
                generation: sstable.generation().clone(),
                slots: Vec::new(),
            });
            instances.len() - 1
        });
        instances[at].slots.push((i, sstable));
    }
    instances
}

fn signature(slots: &[Slot<'_>], instance: &Instance) -> Signature {
    let mut components: Signature = instance
        .slots
        .iter()
        .map(|(i, sstable)| (sstable.component().to_string(), content(slots[*i].entry)))
        .collect();
    components.sort();
    components
}

/// What an entry's bytes are known by: the source size and recorded digest (BLAKE3, or SHA-256 for older
/// entries), or for the old tool's backups the stored size and ETag.
pub(super) fn content(entry: &ObjectEntry) -> String {
    match crate::digest::Algorithm::of_entry(entry) {
        Some((algorithm, hex)) => format!(
            "{}:{}:{}",
            algorithm.name(),
            entry.size,
            hex.to_ascii_lowercase()
        ),
        None => format!("stored:{}:{}", entry.compressed_size, entry.etag),
    }
}
