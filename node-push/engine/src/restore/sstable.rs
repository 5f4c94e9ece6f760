//! SSTable file names (Cassandra's `Descriptor`): which files are components of one SSTable, and the same
//! SSTable under another generation. The planner uses them to give every distinct SSTable of a backup its
//! own generation, the coordinator to move restored files into a live table directory without ever taking
//! a name a live SSTable has (Cassandra would skip it, or the move would replace a live file).
//!
//! Two naming schemes exist:
//! - up to 2.1: `<ks>-<table>[.<index>]-<version>-<generation>-<Component>`, e.g. `ks1-users-ia-3-Data.db`
//!   (1.2), `ks-t-ka-12-Data.db` (2.1); temporary files carry `tmp`/`tmplink` before the version;
//! - from 2.2: `<version>-<generation>-<format>-<Component>`, e.g. `la-1-big-Data.db` (2.2),
//!   `mc-12-big-Data.db` (3.x), `nb-12-big-Data.db` (4.0), with 4.1+'s unique (ULID-like, base 36)
//!   generations `nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big-Data.db` and 5.0's formats `oa-…-big-` and
//!   `da-…-bti-`; 5.0's SAI components are `<descriptor>-SAI+aa+<index>+<part>.db`.
//!
//! The generation namespace is the directory plus, for the old scheme, the `<ks>-<table>[.<index>]`
//! family: two files of one directory and family with the same generation belong to the same SSTable,
//! whatever their version.

/// A generation: a counter, or (4.1+) a unique id that never needs renaming.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Generation {
    Number(u64),
    Unique(String),
}

/// A file name that is an SSTable component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SstableName {
    parts: Vec<String>,
    generation_index: usize,
    generation: Generation,
}

impl SstableName {
    /// `None` for anything that is not a (non-temporary) SSTable component: `manifest.json`,
    /// `schema.cql`, `ks-t-tmp-ia-3-Data.db`, ...
    pub fn parse(name: &str) -> Option<Self> {
        let parts: Vec<String> = name.split('-').map(str::to_string).collect();
        let component = parts.last()?;
        if !component.contains('.') || component.starts_with('.') {
            return None;
        }
        let generation_index = if parts.len() == 4 && is_format(&parts[2]) {
            // <version>-<generation>-<format>-<Component>
            if !is_version(&parts[0]) {
                return None;
            }
            1
        } else if parts.len() >= 5 {
            // <ks>-<table>[.<index>]-[tmp-]<version>-<generation>-<Component>
            let n = parts.len();
            if !is_version(&parts[n - 3]) {
                return None;
            }
            let family = &parts[..n - 3];
            if family
                .iter()
                .any(|p| p == "tmp" || p == "tmplink" || p.is_empty())
            {
                return None;
            }
            n - 2
        } else {
            return None;
        };
        let generation = parse_generation(&parts[generation_index])?;
        Some(SstableName {
            parts,
            generation_index,
            generation,
        })
    }

    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// The generation namespace inside a directory: `<ks>-<table>[.<index>]`, or empty for the 2.2+ scheme.
    pub fn family(&self) -> String {
        if self.generation_index == 1 {
            String::new()
        } else {
            self.parts[..self.generation_index - 1].join("-")
        }
    }

    /// `Data.db`, `Index.db`, `TOC.txt`, ...
    pub fn component(&self) -> &str {
        self.parts.last().expect("parsed names have a component")
    }

    /// The data component goes last when a set of files is moved in, so that a half-moved SSTable never has
    /// one.
    pub fn is_data(&self) -> bool {
        self.component() == "Data.db"
    }

    /// The same name with generation `number`.
    pub fn with_generation(&self, number: u64) -> String {
        let mut parts = self.parts.clone();
        parts[self.generation_index] = number.to_string();
        parts.join("-")
    }

    pub fn file_name(&self) -> String {
        self.parts.join("-")
    }

    /// The name without its component: `nb-12-big`, `ks1-users-ia-3`. Every component of one SSTable has
    /// the same descriptor.
    pub fn descriptor(&self) -> String {
        self.parts[..self.parts.len() - 1].join("-")
    }

    /// The same name with `generation` (a counter, or a unique id as it was).
    pub fn with(&self, generation: &Generation) -> String {
        match generation {
            Generation::Number(n) => self.with_generation(*n),
            Generation::Unique(id) => {
                let mut parts = self.parts.clone();
                parts[self.generation_index] = id.clone();
                parts.join("-")
            }
        }
    }
}

fn is_version(word: &str) -> bool {
    word.len() == 2 && word.bytes().all(|b| b.is_ascii_lowercase())
}

fn is_format(word: &str) -> bool {
    !word.is_empty() && word.len() <= 4 && word.bytes().all(|b| b.is_ascii_lowercase())
}

fn parse_generation(word: &str) -> Option<Generation> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok().map(Generation::Number);
    }
    let unique = word.contains('_')
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    unique.then(|| Generation::Unique(word.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_schemes_and_renames_the_generation() {
        let old = SstableName::parse("ks1-users-ia-3-Data.db").unwrap();
        assert_eq!(old.generation(), &Generation::Number(3));
        assert_eq!(old.family(), "ks1-users");
        assert!(old.is_data());
        assert_eq!(old.with_generation(17), "ks1-users-ia-17-Data.db");

        let index = SstableName::parse("ks1-users.users_email_idx-ia-2-Index.db").unwrap();
        assert_eq!(index.family(), "ks1-users.users_email_idx");
        assert!(!index.is_data());

        let new = SstableName::parse("nb-12-big-CompressionInfo.db").unwrap();
        assert_eq!(new.family(), "");
        assert_eq!(new.component(), "CompressionInfo.db");
        assert_eq!(new.with_generation(100), "nb-100-big-CompressionInfo.db");
        assert_eq!(
            SstableName::parse("ka-7-big-TOC.txt").unwrap().file_name(),
            "ka-7-big-TOC.txt"
        );

        let unique = SstableName::parse("nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big-Data.db").unwrap();
        assert!(matches!(unique.generation(), Generation::Unique(_)));

        assert_eq!(
            SstableName::parse("ks-t-ka-12-Digest.sha1")
                .unwrap()
                .component(),
            "Digest.sha1"
        );
    }

    #[test]
    fn every_version_has_a_descriptor_and_a_generation() {
        for (name, descriptor, family, generation) in [
            (
                "ks-cf-ia-4-Data.db",
                "ks-cf-ia-4",
                "ks-cf",
                Generation::Number(4),
            ),
            (
                "ks-cf-jb-5-Index.db",
                "ks-cf-jb-5",
                "ks-cf",
                Generation::Number(5),
            ),
            (
                "ks-cf.cf_idx-ka-6-Data.db",
                "ks-cf.cf_idx-ka-6",
                "ks-cf.cf_idx",
                Generation::Number(6),
            ),
            ("la-1-big-Data.db", "la-1-big", "", Generation::Number(1)),
            ("ma-2-big-TOC.txt", "ma-2-big", "", Generation::Number(2)),
            (
                "me-3-big-Statistics.db",
                "me-3-big",
                "",
                Generation::Number(3),
            ),
            ("nb-7-big-Data.db", "nb-7-big", "", Generation::Number(7)),
            ("oa-8-big-Data.db", "oa-8-big", "", Generation::Number(8)),
            (
                "da-3gll_1kke_3qdyo2i4kzfpt3cqcy-bti-Partitions.db",
                "da-3gll_1kke_3qdyo2i4kzfpt3cqcy-bti",
                "",
                Generation::Unique("3gll_1kke_3qdyo2i4kzfpt3cqcy".into()),
            ),
            (
                "nc-9-big-SAI+aa+users_age_idx+Meta.db",
                "nc-9-big",
                "",
                Generation::Number(9),
            ),
        ] {
            let sstable = SstableName::parse(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(sstable.descriptor(), descriptor, "{name}");
            assert_eq!(sstable.family(), family, "{name}");
            assert_eq!(sstable.generation(), &generation, "{name}");
            assert_eq!(sstable.with(&generation), name);
        }
        let ulid = SstableName::parse("nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big-Data.db").unwrap();
        assert_eq!(ulid.with(&Generation::Number(12)), "nb-12-big-Data.db");
    }

    #[test]
    fn other_files_are_not_sstables() {
        for name in [
            "manifest.json",
            "schema.cql",
            "ks1-users-tmp-ia-3-Data.db",
            "ks1-users-tmplink-ia-3-Data.db",
            "ks1-users-ia-x-Data.db",
            "ks1-users-IA-3-Data.db",
            "nb-12-big",
            "backups",
            "a-b-c-d-e",
        ] {
            assert_eq!(SstableName::parse(name), None, "{name}");
        }
    }
}
