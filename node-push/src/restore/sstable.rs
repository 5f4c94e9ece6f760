//! SSTable file names, to move restored files into a live table directory without ever taking a name a
//! live SSTable has (Cassandra would skip it, or the move would replace a live file).
//!
//! Two naming schemes exist:
//! - up to 2.1: `<ks>-<table>[.<index>]-<version>-<generation>-<Component>`, e.g. `ks1-users-ia-3-Data.db`
//!   (1.2), `ks-t-ka-12-Data.db` (2.1); temporary files carry `tmp`/`tmplink` before the version;
//! - from 2.2: `<version>-<generation>-<format>-<Component>`, e.g. `nb-12-big-Data.db`, with 4.1+'s
//!   unique generations `nb-3gll_1kke_3qdyo2i4kzfpt3cqcy-big-Data.db`.
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
