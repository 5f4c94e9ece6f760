//! SSTables as groups of files, and what makes two of them the same.
//!
//! Cassandra writes one SSTable as several component files that share a descriptor prefix:
//! `ks-cf-ia-5-Data.db` (1.2), `ks-cf-ka-5-Index.db` (2.1), `mc-5-big-Filter.db` (3.x), `nb-5-big-TOC.txt`
//! (4.0), `nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big-Data.db` (4.1+), `da-…-bti-Partitions.db` (5.0). The
//! component is the part after the last `-`; the prefix is everything before it. A file without a `-` is
//! a group of its own (Cassandra's snapshot `manifest.json`, `schema.cql`).
//!
//! Where an SSTable's files sit: `<data dir>/<ks>/<table dir>[/.<index>]/{snapshots/<tag>|backups}/<file>`.
//! Its *table location* is that path without the `snapshots/<tag>` or `backups` part, so that the same
//! SSTable seen in a snapshot and in `backups/` has one location.
//!
//! Identity is proven by content, never guessed from names: a [`Fingerprint`] is the sorted list of
//! (component, size, content digest) of every file of the SSTable (the digest tagged with its algorithm,
//! [`crate::digest`], so that only digests of one algorithm are ever compared); the generation is not part of it, so an SSTable
//! that `nodetool refresh`/`import` loaded under a new generation (and hard-linked into `backups/`) has the
//! fingerprint of the stored one it came from.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// `(prefix, component)` of an SSTable file name: `nb-1-big-Data.db` → (`nb-1-big`, `Data.db`). A name
/// without `-` is its own prefix, with an empty component.
pub fn split_component(file_name: &str) -> (&str, &str) {
    match file_name.rsplit_once('-') {
        Some((prefix, component)) if !prefix.is_empty() && !component.is_empty() => {
            (prefix, component)
        }
        _ => (file_name, ""),
    }
}

/// The table location and the file's path below the `snapshots/<tag>` or `backups` dir of `path`:
/// `/d/ks/t/backups/.idx/nb-1-big-Data.db` → (`/d/ks/t/.idx`, `nb-1-big-Data.db`). `None` when the path is
/// in neither.
pub fn table_location(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    let (marker, _, file_start) = contract::layout::find_backup_marker(&parts)?;
    // Below the marker: `[.<index>/]<file>`; the index dir belongs to the location.
    let (index, file) = match &parts[file_start..] {
        [file] => (None, *file),
        [index, file] => (Some(*index), *file),
        _ => return None,
    };
    let mut location = parts[..marker].join("/");
    if let Some(index) = index {
        location.push('/');
        location.push_str(index);
    }
    Some((location, file.to_string()))
}

/// The identity of a file on its node: `dev:ino:size:mtime_ns`. Hard links share it; a file written
/// again under the same name (a rebuilt table reusing a generation) does not.
pub fn source_id(meta: &std::fs::Metadata) -> String {
    let mtime_ns = meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128;
    format!("{}:{}:{}:{mtime_ns}", meta.dev(), meta.ino(), meta.size())
}

/// [`source_id`] of the file at `path`, not following a final symlink.
pub fn source_id_of(path: &Path) -> std::io::Result<String> {
    std::fs::symlink_metadata(path).map(|meta| source_id(&meta))
}

/// The content of an SSTable, without its generation: (component, size, [`Fingerprint::tag`] of its
/// digest), sorted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(Vec<(String, u64, String)>);

impl Fingerprint {
    pub fn new(mut components: Vec<(String, u64, String)>) -> Self {
        components.sort();
        Fingerprint(components)
    }

    /// A digest as a fingerprint holds it: `<algorithm>:<lower-case hex>`; for no digest (the old tool's
    /// entries) a tag no computed digest has, so such a file never matches.
    pub fn tag(digest: Option<(crate::digest::Algorithm, &str)>) -> String {
        match digest {
            Some((algorithm, hex)) => format!("{}:{}", algorithm.name(), hex.to_ascii_lowercase()),
            None => "unrecorded".to_string(),
        }
    }

    /// (component, size) pairs, sorted: what must match before hashing is worth it.
    pub fn shape(&self) -> Vec<(String, u64)> {
        self.0.iter().map(|(c, s, _)| (c.clone(), *s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_of_every_naming_scheme() {
        let cases = [
            ("ks-cf-ia-5-Data.db", "ks-cf-ia-5", "Data.db"),
            ("ks-cf.idx-ia-1-Index.db", "ks-cf.idx-ia-1", "Index.db"),
            (
                "mc-5-big-CompressionInfo.db",
                "mc-5-big",
                "CompressionInfo.db",
            ),
            ("nb-12-big-TOC.txt", "nb-12-big", "TOC.txt"),
            (
                "nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big-Data.db",
                "nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big",
                "Data.db",
            ),
            (
                "da-3gll_1kke_3qdyo2i4kzfpt3cqcy-bti-Partitions.db",
                "da-3gll_1kke_3qdyo2i4kzfpt3cqcy-bti",
                "Partitions.db",
            ),
            ("manifest.json", "manifest.json", ""),
        ];
        for (name, prefix, component) in cases {
            assert_eq!(split_component(name), (prefix, component), "{name}");
        }
    }

    #[test]
    fn locations_join_snapshots_and_backups() {
        let t = "/d/ks/t-0123456789abcdef0123456789abcdef";
        assert_eq!(
            table_location(&format!("{t}/backups/nb-1-big-Data.db")),
            Some((t.to_string(), "nb-1-big-Data.db".to_string()))
        );
        assert_eq!(
            table_location(&format!("{t}/snapshots/20240101000000/nb-1-big-Data.db")),
            Some((t.to_string(), "nb-1-big-Data.db".to_string()))
        );
        assert_eq!(
            table_location(&format!("{t}/snapshots/T/.idx/nb-1-big-Data.db")),
            Some((format!("{t}/.idx"), "nb-1-big-Data.db".to_string()))
        );
        assert_eq!(
            table_location(&format!("{t}/backups/.idx/nb-1-big-Data.db")),
            Some((format!("{t}/.idx"), "nb-1-big-Data.db".to_string()))
        );
        // A data dir that is itself called `backups` is not the marker.
        assert_eq!(
            table_location("/backups/ks/t/backups/f-Data.db"),
            Some(("/backups/ks/t".to_string(), "f-Data.db".to_string()))
        );
        assert_eq!(table_location("/d/ks/t/nb-1-big-Data.db"), None);
    }

    #[test]
    fn hard_links_share_a_source_id_and_rewrites_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs_err::write(&a, "one").unwrap();
        fs_err::hard_link(&a, dir.path().join("b")).unwrap();
        let id = source_id_of(&a).unwrap();
        assert_eq!(id, source_id_of(&dir.path().join("b")).unwrap());
        fs_err::remove_file(&a).unwrap();
        fs_err::write(&a, "two").unwrap();
        assert_ne!(id, source_id_of(&a).unwrap());
    }
}
