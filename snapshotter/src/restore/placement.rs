//! Where each staged file goes in a live table directory: pure planning, tested without a node.
//!
//! - [`Renumber::OnCollision`] (in-place, Cassandra stopped): an SSTable keeps its generation unless the
//!   live directory, or another restored SSTable, already has it; then it gets the next free one. At start
//!   Cassandra sets its generation counter above every file on disk, so nothing can collide later.
//! - [`Renumber::Always`] (refresh, Cassandra running): every SSTable gets a generation `margin` above the
//!   highest live one. A running Cassandra's in-memory counter may be above the highest file on disk, and
//!   a flush between our move and `nodetool refresh` would write the counter's next generation, replacing
//!   a file we put there; the margin keeps us clear of it. `refresh` then renumbers them itself.
//!
//! Files that are not SSTable components (a 3.0+ snapshot's `manifest.json`, `schema.cql`) are not moved.
//! The moves list every non-data component first and the `Data.db` files last, so an SSTable interrupted
//! half way has no data component and is not loaded.

use engine::restore::sstable::{Generation, SstableName};
use std::collections::{BTreeMap, BTreeSet};

/// Gap between the highest live generation and the ones given to refreshed SSTables.
pub const REFRESH_GENERATION_MARGIN: u64 = 100_000;

/// How generations are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renumber {
    OnCollision,
    Always { margin: u64 },
}

/// One restored file in a node's staging area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    pub source_host: String,
    /// Absolute path of the staged file.
    pub path: String,
    /// Path inside the table directory: `<file>`, or `.<index>/<file>` for a secondary index.
    pub relative: String,
}

/// One rename on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub from: String,
    pub to: String,
}

/// What placing one table's staged files means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub moves: Vec<Move>,
    /// SSTables moved.
    pub sstables: usize,
    /// SSTables given another generation than the one they had.
    pub renumbered: usize,
    /// Staged files that are not SSTable components (left in staging).
    pub not_sstables: Vec<String>,
    /// SSTables with a unique (4.1+) generation that the live directory already holds.
    pub already_live: Vec<String>,
}

/// Plans moving `staged` into `live_dir`, which holds `live_files` (relative paths, as
/// [`StagedFile::relative`]).
pub fn place(
    live_dir: &str,
    live_files: &[String],
    staged: &[StagedFile],
    renumber: Renumber,
) -> Placement {
    let split = |relative: &str| -> (String, String) {
        match relative.rsplit_once('/') {
            Some((dir, name)) => (dir.to_string(), name.to_string()),
            None => (String::new(), relative.to_string()),
        }
    };
    // (subdir, family) -> generations live there; subdir -> unique generations live there.
    let mut taken: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    let mut live_max: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut unique_live: BTreeSet<(String, String)> = BTreeSet::new();
    for relative in live_files {
        let (dir, name) = split(relative);
        let Some(sstable) = SstableName::parse(&name) else {
            continue;
        };
        match sstable.generation() {
            Generation::Number(n) => {
                let key = (dir, sstable.family());
                let max = live_max.entry(key.clone()).or_default();
                *max = (*max).max(*n);
                taken.entry(key).or_default().insert(*n);
            }
            Generation::Unique(id) => {
                unique_live.insert((dir, id.clone()));
            }
        }
    }

    let mut placement = Placement::default();
    // (source host, subdir, family, generation) -> the SSTable's files.
    type Group = Vec<(StagedFile, SstableName)>;
    let mut groups: BTreeMap<(String, String, String, Generation), Group> = BTreeMap::new();
    let mut staged_numbers: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    for file in staged {
        let (dir, name) = split(&file.relative);
        let sstable = match SstableName::parse(&name) {
            Some(sstable) if dir.is_empty() || (dir.starts_with('.') && !dir.contains('/')) => {
                sstable
            }
            _ => {
                placement.not_sstables.push(file.path.clone());
                continue;
            }
        };
        if let Generation::Number(n) = sstable.generation() {
            staged_numbers
                .entry((dir.clone(), sstable.family()))
                .or_default()
                .insert(*n);
        }
        let key = (
            file.source_host.clone(),
            dir,
            sstable.family(),
            sstable.generation().clone(),
        );
        groups.entry(key).or_default().push((file.clone(), sstable));
    }

    let mut data_moves = Vec::new();
    for ((_, dir, family, generation), files) in groups {
        let target_name = |sstable: &SstableName, number: Option<u64>| match number {
            Some(n) => sstable.with_generation(n),
            None => sstable.file_name(),
        };
        let number = match generation {
            Generation::Unique(id) => {
                if unique_live.contains(&(dir.clone(), id)) {
                    placement
                        .already_live
                        .extend(files.iter().map(|(f, _)| f.path.clone()));
                    continue;
                }
                None
            }
            Generation::Number(old) => {
                let key = (dir.clone(), family);
                let in_use = taken.entry(key.clone()).or_default();
                let new = match renumber {
                    Renumber::OnCollision if !in_use.contains(&old) => old,
                    Renumber::OnCollision => {
                        let staged_max = staged_numbers
                            .get(&key)
                            .and_then(|s| s.last().copied())
                            .unwrap_or(0);
                        let floor = in_use.last().copied().unwrap_or(0).max(staged_max) + 1;
                        next_free(in_use, floor)
                    }
                    Renumber::Always { margin } => {
                        let floor = live_max.get(&key).copied().unwrap_or(0) + margin.max(1);
                        next_free(in_use, floor)
                    }
                };
                in_use.insert(new);
                if new != old {
                    placement.renumbered += 1;
                }
                Some(new)
            }
        };
        placement.sstables += 1;
        for (file, sstable) in files {
            let name = target_name(&sstable, number);
            let to = if dir.is_empty() {
                format!("{live_dir}/{name}")
            } else {
                format!("{live_dir}/{dir}/{name}")
            };
            let the_move = Move {
                from: file.path,
                to,
            };
            if sstable.is_data() {
                data_moves.push(the_move);
            } else {
                placement.moves.push(the_move);
            }
        }
    }
    placement.moves.extend(data_moves);
    placement
}

/// The directories that may not exist yet, parents first: the keyspace dir, the table dir, and index
/// subdirs of the moves' targets.
pub fn dirs_to_create(data_dir: &str, live_dir: &str, moves: &[Move]) -> Vec<String> {
    let mut dirs = Vec::new();
    if let Some(keyspace_dir) = live_dir.rsplit_once('/').map(|(parent, _)| parent) {
        if keyspace_dir.len() > data_dir.trim_end_matches('/').len() {
            dirs.push(keyspace_dir.to_string());
        }
    }
    dirs.push(live_dir.to_string());
    let mut subdirs: BTreeSet<String> = BTreeSet::new();
    for m in moves {
        if let Some((parent, _)) = m.to.rsplit_once('/') {
            if parent != live_dir {
                subdirs.insert(parent.to_string());
            }
        }
    }
    dirs.extend(subdirs);
    dirs
}

fn next_free(in_use: &BTreeSet<u64>, floor: u64) -> u64 {
    let mut candidate = floor;
    while in_use.contains(&candidate) {
        candidate += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(host: &str, relative: &str) -> StagedFile {
        StagedFile {
            source_host: host.into(),
            path: format!("/stage/{host}/ks/t/{relative}"),
            relative: relative.into(),
        }
    }

    fn targets(placement: &Placement) -> Vec<&str> {
        placement.moves.iter().map(|m| m.to.as_str()).collect()
    }

    #[test]
    fn in_place_keeps_free_generations_and_renumbers_collisions() {
        let live = vec!["ks-t-ia-2-Data.db".to_string(), "ks-t-ia-2-Index.db".into()];
        let files = vec![
            staged("a", "ks-t-ia-1-Data.db"),
            staged("a", "ks-t-ia-1-Index.db"),
            staged("a", "ks-t-ia-2-Data.db"),
            staged("a", "ks-t-ia-2-Index.db"),
            staged("b", "ks-t-ia-1-Data.db"),
            staged("a", "manifest.json"),
        ];
        let p = place("/d/ks/t", &live, &files, Renumber::OnCollision);
        assert_eq!(
            targets(&p),
            [
                "/d/ks/t/ks-t-ia-1-Index.db",
                "/d/ks/t/ks-t-ia-3-Index.db",
                "/d/ks/t/ks-t-ia-1-Data.db",
                "/d/ks/t/ks-t-ia-3-Data.db",
                "/d/ks/t/ks-t-ia-4-Data.db",
            ]
        );
        assert_eq!(p.renumbered, 2);
        assert_eq!(p.not_sstables, ["/stage/a/ks/t/manifest.json"]);
        // Every component of one SSTable gets the same new generation.
        assert_eq!(p.moves[1].from, "/stage/a/ks/t/ks-t-ia-2-Index.db");
        assert_eq!(p.moves[3].from, "/stage/a/ks/t/ks-t-ia-2-Data.db");
    }

    #[test]
    fn refresh_renumbers_everything_above_the_margin() {
        let live = vec![
            "nb-7-big-Data.db".to_string(),
            ".idx/nb-2-big-Data.db".into(),
        ];
        let files = vec![
            staged("a", "nb-1-big-Data.db"),
            staged("a", "nb-1-big-TOC.txt"),
            staged("a", ".idx/nb-1-big-Data.db"),
            staged("a", "nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big-Data.db"),
        ];
        let p = place("/d/ks/t-1", &live, &files, Renumber::Always { margin: 100 });
        let mut got = targets(&p);
        got.sort_unstable();
        assert_eq!(
            got,
            [
                "/d/ks/t-1/.idx/nb-102-big-Data.db",
                "/d/ks/t-1/nb-107-big-Data.db",
                "/d/ks/t-1/nb-107-big-TOC.txt",
                "/d/ks/t-1/nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big-Data.db",
            ]
        );
        assert!(p.moves.last().unwrap().to.ends_with("Data.db"));
        assert_eq!(p.moves[0].to, "/d/ks/t-1/nb-107-big-TOC.txt");
    }

    #[test]
    fn a_unique_generation_already_live_is_not_moved_again() {
        let id = "nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big-Data.db";
        let p = place(
            "/d",
            &[id.to_string()],
            &[staged("a", id)],
            Renumber::OnCollision,
        );
        assert!(p.moves.is_empty());
        assert_eq!(p.already_live.len(), 1);
    }
}
