//! How Cassandra 2.1 to 5.0 name SSTables (`Descriptor`, `SSTableFormat` versions, sequence and
//! ULID-like `UUIDBasedSSTableId` generations) and the directories around them (`Directories`).

use std::fmt;

/// A Cassandra release line, as far as file names go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 2.1: `<ks>-<table>-ka-<gen>-Data.db`, `Digest.sha1`, no snapshot manifest.
    V21,
    /// 3.11: `mc-<gen>-big-Data.db`, snapshot `manifest.json` and `schema.cql`.
    V311,
    /// 4.0: `nb-<gen>-big-Data.db`.
    V40,
    /// 4.1: `nb-<gen>-big-`, ULID-like generations with `uuid_sstable_identifiers_enabled`.
    V41,
    /// 5.0: `oa-<gen>-big-` (or the BTI format `da-<gen>-bti-`).
    V50,
}

impl Version {
    pub const ALL: [Version; 5] = [
        Version::V21,
        Version::V311,
        Version::V40,
        Version::V41,
        Version::V50,
    ];

    /// What `nodetool version` prints after `ReleaseVersion: `.
    pub fn release(self) -> &'static str {
        match self {
            Version::V21 => "2.1.22",
            Version::V311 => "3.11.16",
            Version::V40 => "4.0.11",
            Version::V41 => "4.1.3",
            Version::V50 => "5.0.2",
        }
    }

    pub fn parse(text: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.release() == text)
    }

    /// Whether snapshot dirs hold Cassandra's `manifest.json` and `schema.cql` (3.0 and later).
    pub fn snapshot_manifest(self) -> bool {
        self != Version::V21
    }

    /// Whether the node may use ULID-like generations (4.1 and later).
    pub fn supports_uuid_ids(self) -> bool {
        matches!(self, Version::V41 | Version::V50)
    }
}

/// An SSTable generation: a sequence number, or a ULID-like id (4.1+).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Generation {
    Seq(u64),
    Uuid(String),
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Generation::Seq(n) => write!(f, "{n}"),
            Generation::Uuid(id) => f.write_str(id),
        }
    }
}

/// A ULID-like id as `UUIDBasedSSTableId` prints it: `4_4_5+13` base-36 chars, increasing with `seq`.
pub fn uuid_id(seq: u64, salt: u64) -> String {
    let time = base36(0x1_0000_0000 + seq, 13);
    let mut random = String::new();
    let mut state = salt ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for _ in 0..13 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        random.push(char::from_digit((state % 36) as u32, 36).expect("base 36"));
    }
    format!("{}_{}_{}{}", &time[..4], &time[4..8], &time[8..], random)
}

fn base36(mut n: u64, width: usize) -> String {
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(char::from_digit((n % 36) as u32, 36).expect("base 36"));
        n /= 36;
    }
    while digits.len() < width {
        digits.push('0');
    }
    digits.iter().rev().collect()
}

/// The SSTable format of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Big,
    /// 5.0's trie-indexed format.
    Bti,
}

/// Names the components of one SSTable of one table (or of one of its secondary indexes).
#[derive(Debug, Clone)]
pub struct Namer {
    pub version: Version,
    pub format: Format,
    pub keyspace: String,
    /// The table, or `table.index` for an index's SSTables (2.1 puts it in the file name).
    pub table: String,
}

impl Namer {
    /// The component file names, TOC.txt last (its content is this list).
    pub fn components(&self) -> &'static [&'static str] {
        match (self.version, self.format) {
            (Version::V21, _) => &[
                "Data.db",
                "Index.db",
                "Filter.db",
                "Summary.db",
                "Statistics.db",
                "CompressionInfo.db",
                "Digest.sha1",
                "TOC.txt",
            ],
            (_, Format::Bti) => &[
                "Data.db",
                "Partitions.db",
                "Rows.db",
                "Filter.db",
                "Statistics.db",
                "CompressionInfo.db",
                "Digest.crc32",
                "TOC.txt",
            ],
            _ => &[
                "Data.db",
                "Index.db",
                "Filter.db",
                "Summary.db",
                "Statistics.db",
                "CompressionInfo.db",
                "Digest.crc32",
                "TOC.txt",
            ],
        }
    }

    /// `<prefix><component>`: the prefix is what identifies the SSTable.
    pub fn prefix(&self, generation: &Generation) -> String {
        match (self.version, self.format) {
            (Version::V21, _) => format!("{}-{}-ka-{generation}-", self.keyspace, self.table),
            (Version::V311, _) => format!("mc-{generation}-big-"),
            (Version::V40 | Version::V41, _) => format!("nb-{generation}-big-"),
            (Version::V50, Format::Big) => format!("oa-{generation}-big-"),
            (Version::V50, Format::Bti) => format!("da-{generation}-bti-"),
        }
    }

    /// The generation of a `Data.db` file name of this table, if it is one.
    pub fn parse_data(&self, file_name: &str) -> Option<Generation> {
        let stem = file_name.strip_suffix("Data.db")?;
        let generation = match self.version {
            Version::V21 => {
                let rest = stem.strip_prefix(&format!("{}-{}-ka-", self.keyspace, self.table))?;
                rest.strip_suffix('-')?
            }
            _ => {
                let mut parts = stem.trim_end_matches('-').splitn(3, '-');
                let _format_version = parts.next()?;
                let generation = parts.next()?;
                let _kind = parts.next()?;
                generation
            }
        };
        Some(match generation.parse::<u64>() {
            Ok(n) => Generation::Seq(n),
            Err(_) if generation.contains('_') => Generation::Uuid(generation.to_string()),
            Err(_) => return None,
        })
    }
}

/// `<table>-<32 hex>`: the table directory name (2.1+), a stable fake table id.
pub fn table_dir_name(keyspace: &str, table: &str, salt: u64) -> String {
    let mut state = format!("{keyspace}.{table}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64 ^ salt, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let mut id = String::new();
    while id.len() < 32 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        id.push_str(&format!("{state:016x}"));
    }
    id.truncate(32);
    format!("{table}-{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for version in Version::ALL {
            let namer = Namer {
                version,
                format: Format::Big,
                keyspace: "ks".into(),
                table: "t1".into(),
            };
            for generation in [Generation::Seq(12), Generation::Uuid(uuid_id(3, 7))] {
                let name = format!("{}Data.db", namer.prefix(&generation));
                assert_eq!(namer.parse_data(&name), Some(generation), "{name}");
            }
        }
        let a = uuid_id(1, 5);
        let b = uuid_id(2, 5);
        assert!(a < b, "{a} {b}");
        assert_eq!(a.len(), 4 + 1 + 4 + 1 + 5 + 13);
    }
}
