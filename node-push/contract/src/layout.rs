//! The S3 key layout, shared by the agent and the coordinator, as builders with their parsers.
//!
//! It is the old Python tool's layout, so that buckets it wrote stay readable and ours stay readable by it:
//!
//! ```text
//! <base>/<NAME>/manifest.json
//! <base>/<NAME>/ring                          raw `nodetool ring` of the first host
//! <base>/<NAME>/schema.cql | schema_<ks>.cql
//! <base>/<NAME>/<host><absolute data path>/<ks>/<tabledir>/snapshots/<NAME>/<file>.lzo
//! <base>/<NAME>/<host><absolute data path>/<ks>/<tabledir>/backups/<file>.lzo
//! ```
//!
//! `NAME` is a UTC time `%Y%m%d%H%M%S` ([`BackupName`]). Releases of the old tool up to 1.0.1 wrote a double
//! slash after the host (`<host>//var/lib/...`); [`parse_key`] reads both forms. Secondary-index files sit one
//! level deeper (`snapshots/<NAME>/.<index>/<file>.lzo`).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// Suffix of every compressed data object.
pub const LZO_SUFFIX: &str = ".lzo";
/// Name of the manifest object inside a backup's prefix.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Name the manifest is first written under; it is copied to [`MANIFEST_FILE`] last.
pub const MANIFEST_STAGING_FILE: &str = "manifest.json.partial";
/// Name of the ring object inside a backup's prefix.
pub const RING_FILE: &str = "ring";
/// Folder of a format-2 backup's records documents, inside its prefix.
pub const RECORDS_DIR: &str = "manifest.d";
/// Suffix of a records document (lzop-compressed JSON lines).
pub const RECORDS_SUFFIX: &str = ".jsonl.lzo";
/// Name of the marker `purge` leaves in a removed backup's prefix while objects there are kept because
/// newer backups reference them: the prefix is no backup (complete or incomplete) any more.
pub const PURGED_FILE: &str = "purged.json";
const NAME_FORMAT: &str = "%Y%m%d%H%M%S";

/// A backup's name: its UTC start time to the second, as the old tool formats it (`20240131235959`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupName(DateTime<Utc>);

impl BackupName {
    /// The name for a backup started at `time` (sub-second precision is dropped).
    pub fn from_time(time: DateTime<Utc>) -> Self {
        let secs = time.timestamp();
        BackupName(
            Utc.timestamp_opt(secs, 0)
                .single()
                .expect("whole seconds are always valid"),
        )
    }

    pub fn time(&self) -> DateTime<Utc> {
        self.0
    }

    /// The next second's name: used when a name is already taken under the base path.
    pub fn next(&self) -> Self {
        BackupName(self.0 + chrono::Duration::seconds(1))
    }
}

impl fmt::Display for BackupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(NAME_FORMAT))
    }
}

/// A string that is not a backup name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a backup name (expected 14 digits, UTC YYYYMMDDhhmmss)")]
pub struct BackupNameError(pub String);

impl FromStr for BackupName {
    type Err = BackupNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BackupNameError(s.to_string()));
        }
        NaiveDateTime::parse_from_str(s, NAME_FORMAT)
            .map(|naive| BackupName(naive.and_utc()))
            .map_err(|_| BackupNameError(s.to_string()))
    }
}

/// `<base>/<NAME>/`: everything of one backup lives below it. An empty base path puts backups at the root.
pub fn backup_prefix(base: &str, name: &str) -> String {
    let base = base.trim_matches('/');
    if base.is_empty() {
        format!("{name}/")
    } else {
        format!("{base}/{name}/")
    }
}

/// `<base>/`: the prefix listed to find backups (empty for an empty base path).
pub fn base_prefix(base: &str) -> String {
    let base = base.trim_matches('/');
    if base.is_empty() {
        String::new()
    } else {
        format!("{base}/")
    }
}

pub fn manifest_key(base: &str, name: &str) -> String {
    format!("{}{MANIFEST_FILE}", backup_prefix(base, name))
}

pub fn manifest_staging_key(base: &str, name: &str) -> String {
    format!("{}{MANIFEST_STAGING_FILE}", backup_prefix(base, name))
}

/// The records document of `host` in batch `batch_id` of backup `name`:
/// `<base>/<NAME>/manifest.d/<batch id>/<host>.jsonl.lzo`.
pub fn records_key(base: &str, name: &str, batch_id: &str, host: &str) -> String {
    format!(
        "{}{RECORDS_DIR}/{batch_id}/{host}{RECORDS_SUFFIX}",
        backup_prefix(base, name)
    )
}

/// Whether `key` is a records document of backup `name` (data-key parsers and listings skip those).
pub fn is_records_key(base: &str, name: &str, key: &str) -> bool {
    key.strip_prefix(&backup_prefix(base, name))
        .is_some_and(|rest| {
            rest.starts_with(RECORDS_DIR) && rest.as_bytes().get(RECORDS_DIR.len()) == Some(&b'/')
        })
}

/// `<base>/<NAME>/purged.json`: see [`PURGED_FILE`].
pub fn purged_marker_key(base: &str, name: &str) -> String {
    format!("{}{PURGED_FILE}", backup_prefix(base, name))
}

pub fn ring_key(base: &str, name: &str) -> String {
    format!("{}{RING_FILE}", backup_prefix(base, name))
}

/// `schema.cql` for the whole cluster, `schema_<ks>.cql` for one keyspace.
pub fn schema_key(base: &str, name: &str, keyspace: Option<&str>) -> String {
    match keyspace {
        Some(ks) => format!("{}schema_{ks}.cql", backup_prefix(base, name)),
        None => format!("{}schema.cql", backup_prefix(base, name)),
    }
}

/// `schema.cli` for the whole cluster, `schema_<ks>.cli` for one keyspace: the schema as cassandra-cli's
/// `show schema` prints it, the way Cassandra 1.2 (which has no current cqlsh) offers it. [`parse_key`]
/// leaves these keys `Other`; [`parse_cli_schema_key`] reads them.
pub fn cli_schema_key(base: &str, name: &str, keyspace: Option<&str>) -> String {
    match keyspace {
        Some(ks) => format!("{}schema_{ks}.cli", backup_prefix(base, name)),
        None => format!("{}schema.cli", backup_prefix(base, name)),
    }
}

/// The backup name and keyspace (`None`: the whole schema) of a key written by [`cli_schema_key`].
pub fn parse_cli_schema_key(base: &str, key: &str) -> Option<(String, Option<String>)> {
    let rest = key.strip_prefix(&base_prefix(base))?;
    let (name, file) = rest.split_once('/')?;
    name.parse::<BackupName>().ok()?;
    let keyspace = match file {
        "schema.cli" => None,
        _ => {
            let ks = file.strip_prefix("schema_")?.strip_suffix(".cli")?;
            if ks.is_empty() || ks.contains('/') {
                return None;
            }
            Some(ks.to_string())
        }
    };
    Some((name.to_string(), keyspace))
}

/// `<base>/<NAME>/<host>`: the key prefix node-push on `host` writes under (no trailing slash: the absolute
/// path of each file follows directly).
pub fn host_prefix(base: &str, name: &str, host: &str) -> String {
    format!("{}{host}", backup_prefix(base, name))
}

/// The key of one data file: `<base>/<NAME>/<host><absolute path>.lzo`.
pub fn data_key(base: &str, name: &str, host: &str, absolute_path: &Path) -> String {
    format!(
        "{}{}{LZO_SUFFIX}",
        host_prefix(base, name, host),
        absolute_path.display()
    )
}

/// Separates a variant number from the file name in a data key: `na-1-big-Data.db~2.lzo`.
pub const VARIANT_SEPARATOR: char = '~';

/// The key for variant `n` of the file whose own key is `key` (`…/na-1-big-Data.db.lzo` →
/// `…/na-1-big-Data.db~2.lzo`); `n == 0` is the key itself. A variant holds a file whose own key was
/// already taken, in the same backup, by a committed object with other content; the object is an ordinary
/// lzop file whose header still names the original file.
pub fn variant_key(key: &str, n: u32) -> String {
    if n == 0 {
        return key.to_string();
    }
    let stem = key.strip_suffix(LZO_SUFFIX).unwrap_or(key);
    format!("{stem}{VARIANT_SEPARATOR}{n}{LZO_SUFFIX}")
}

/// Splits `name~N` into (`name`, N); a name without a numeric `~N` suffix is variant 0.
pub fn split_variant(file_name: &str) -> (&str, u32) {
    if let Some((stem, n)) = file_name.rsplit_once(VARIANT_SEPARATOR) {
        if !stem.is_empty()
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && !n.starts_with('0')
        {
            if let Ok(n) = n.parse::<u32>() {
                return (stem, n);
            }
        }
    }
    (file_name, 0)
}

/// Whether a data object belongs to a snapshot or to an incremental (`backups/`) batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataKind {
    Snapshot { tag: String },
    Incremental,
}

/// What a data key says about the file it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey {
    pub name: String,
    pub host: String,
    /// The file's absolute path on the node, without `.lzo`.
    pub source_path: PathBuf,
    /// The Cassandra data directory the file was under (`/var/lib/cassandra/data`).
    pub data_dir: PathBuf,
    pub keyspace: String,
    /// The table directory as on disk (`users` or `users-<32 hex id>`).
    pub table_dir: String,
    pub kind: DataKind,
    /// The path below the snapshot or `backups/` directory (`nb-1-big-Data.db`, `.idx/nb-1-big-Data.db`).
    pub file: String,
    /// Written by the old tool's releases up to 1.0.1 (`<host>//var/...`).
    pub double_slash: bool,
    /// The variant number of a key written by [`variant_key`] (0 for a file's own key);
    /// `source_path` and `file` are then without the `~N`.
    pub variant: u32,
}

/// One key below a base path, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedKey {
    Manifest {
        name: String,
    },
    ManifestStaging {
        name: String,
    },
    Ring {
        name: String,
    },
    Schema {
        name: String,
        keyspace: Option<String>,
    },
    Data(DataKey),
    /// Below a backup's prefix but of no known shape.
    Other {
        name: String,
        rest: String,
    },
}

/// Classify `key` as written under the base path `base`. `None` if it is not below `<base>/<NAME>/`.
pub fn parse_key(base: &str, key: &str) -> Option<ParsedKey> {
    let rest = key.strip_prefix(&base_prefix(base))?;
    let (name, rest) = rest.split_once('/')?;
    name.parse::<BackupName>().ok()?;
    let name = name.to_string();
    let parsed = match rest {
        MANIFEST_FILE => ParsedKey::Manifest { name },
        MANIFEST_STAGING_FILE => ParsedKey::ManifestStaging { name },
        RING_FILE => ParsedKey::Ring { name },
        "schema.cql" => ParsedKey::Schema {
            name,
            keyspace: None,
        },
        _ => {
            if let Some(ks) = rest
                .strip_prefix("schema_")
                .and_then(|r| r.strip_suffix(".cql"))
            {
                if !ks.contains('/') {
                    return Some(ParsedKey::Schema {
                        name,
                        keyspace: Some(ks.to_string()),
                    });
                }
            }
            match parse_data_key(&name, rest) {
                Some(data) => ParsedKey::Data(data),
                None => ParsedKey::Other {
                    name,
                    rest: rest.to_string(),
                },
            }
        }
    };
    Some(parsed)
}

/// `rest` is `<host>/<abs path>.lzo` or `<host>//<abs path>.lzo`.
fn parse_data_key(name: &str, rest: &str) -> Option<DataKey> {
    let without_suffix = rest.strip_suffix(LZO_SUFFIX)?;
    let (without_suffix, variant) = split_variant(without_suffix);
    let (host, path) = without_suffix.split_once('/')?;
    if host.is_empty() {
        return None;
    }
    let double_slash = path.starts_with('/');
    let path = path.trim_start_matches('/');
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return None;
    }
    let (marker, kind, file_start) = find_backup_marker(&parts)?;
    // The table dir and keyspace are the two components before the marker.
    if marker < 2 {
        return None;
    }
    let data_dir: PathBuf = std::iter::once("/")
        .chain(parts[..marker - 2].iter().copied())
        .collect();
    Some(DataKey {
        name: name.to_string(),
        host: host.to_string(),
        source_path: PathBuf::from(format!("/{path}")),
        data_dir,
        keyspace: parts[marker - 2].to_string(),
        table_dir: parts[marker - 1].to_string(),
        kind,
        file: parts[file_start..].join("/"),
        double_slash,
        variant,
    })
}

/// Finds, from the right, the `snapshots/<tag>` or `backups` component that the file sits in; a data path
/// may itself contain a directory called `backups`. Returns (marker index, kind, index of the file part).
pub fn find_backup_marker(parts: &[&str]) -> Option<(usize, DataKind, usize)> {
    let is_index_dir = |p: &str| p.starts_with('.') && p.len() > 1;
    for i in (0..parts.len()).rev() {
        let after = &parts[i + 1..];
        match parts[i] {
            "backups" if after.len() == 1 || (after.len() == 2 && is_index_dir(after[0])) => {
                return Some((i, DataKind::Incremental, i + 1));
            }
            "snapshots" if after.len() == 2 || (after.len() == 3 && is_index_dir(after[1])) => {
                return Some((
                    i,
                    DataKind::Snapshot {
                        tag: after[0].to_string(),
                    },
                    i + 2,
                ));
            }
            _ => {}
        }
    }
    None
}

/// True if `path` is absolute and has no `.`/`..` components, as a data file path must be to go in a key.
pub fn is_clean_absolute(path: &Path) -> bool {
    path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_name_round_trips() {
        let name: BackupName = "20240131235959".parse().unwrap();
        assert_eq!(name.to_string(), "20240131235959");
        assert_eq!(name.next().to_string(), "20240201000000");
        for bad in ["2024013123595", "2024013123595x", "20241331235959", ""] {
            assert!(bad.parse::<BackupName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn records_keys_are_recognised_and_never_parse_as_data() {
        let key = records_key(
            "b",
            "20240101000000",
            "20240101T000000000Z-00000001",
            "10.0.0.1",
        );
        assert_eq!(
            key,
            "b/20240101000000/manifest.d/20240101T000000000Z-00000001/10.0.0.1.jsonl.lzo"
        );
        assert!(is_records_key("b", "20240101000000", &key));
        assert!(matches!(
            parse_key("b", &key),
            Some(ParsedKey::Other { .. })
        ));
        assert!(!is_records_key(
            "b",
            "20240101000000",
            "b/20240101000000/manifest.json"
        ));
        assert!(!is_records_key(
            "b",
            "20240101000000",
            "b/20240101000000/manifest.dx/f"
        ));
    }

    #[test]
    fn data_key_round_trips_for_snapshots_and_incrementals() {
        let cases = [
            (
                "/var/lib/cassandra/data/ks/users/snapshots/20240101000000/ks-users-ia-1-Data.db",
                "users",
            ),
            (
                "/d1/ks/users-0123456789abcdef0123456789abcdef/backups/nb-3-big-Data.db",
                "users-0123456789abcdef0123456789abcdef",
            ),
            (
                "/d/ks/t-0123456789abcdef0123456789abcdef/snapshots/tag/.t_idx/nb-1-big-Index.db",
                "t-0123456789abcdef0123456789abcdef",
            ),
            ("/mnt/backups/data/ks/t/backups/ks-t-ia-2-Data.db", "t"),
        ];
        for (path, table_dir) in cases {
            let key = data_key(
                "cluster/prod",
                "20240101000000",
                "10.0.0.1",
                Path::new(path),
            );
            let Some(ParsedKey::Data(parsed)) = parse_key("cluster/prod", &key) else {
                panic!("{key} did not parse as data");
            };
            assert_eq!(parsed.source_path, Path::new(path));
            assert_eq!(parsed.host, "10.0.0.1");
            assert_eq!(parsed.keyspace, "ks");
            assert_eq!(parsed.table_dir, table_dir);
            assert!(!parsed.double_slash);
            assert_eq!(
                data_key(
                    "cluster/prod",
                    &parsed.name,
                    &parsed.host,
                    &parsed.source_path
                ),
                key
            );
        }
    }

    #[test]
    fn parses_the_old_double_slash_form() {
        let key = "base/20150101000000/h1//var/lib/cassandra/data/ks/cf/snapshots/20150101000000/ks-cf-ic-1-Data.db.lzo";
        let Some(ParsedKey::Data(parsed)) = parse_key("base", key) else {
            panic!("not data")
        };
        assert!(parsed.double_slash);
        assert_eq!(parsed.data_dir, Path::new("/var/lib/cassandra/data"));
        assert_eq!(
            parsed.kind,
            DataKind::Snapshot {
                tag: "20150101000000".into()
            }
        );
        assert_eq!(parsed.file, "ks-cf-ic-1-Data.db");
    }

    #[test]
    fn classifies_metadata_keys() {
        let n = "20240101000000";
        assert_eq!(
            parse_key("b", &manifest_key("b", n)),
            Some(ParsedKey::Manifest { name: n.into() })
        );
        assert_eq!(
            parse_key("b", &manifest_staging_key("b", n)),
            Some(ParsedKey::ManifestStaging { name: n.into() })
        );
        assert_eq!(
            parse_key("b", &ring_key("b", n)),
            Some(ParsedKey::Ring { name: n.into() })
        );
        assert_eq!(
            parse_key("b", &schema_key("b", n, None)),
            Some(ParsedKey::Schema {
                name: n.into(),
                keyspace: None
            })
        );
        assert_eq!(
            parse_key("b", &schema_key("b", n, Some("ks1"))),
            Some(ParsedKey::Schema {
                name: n.into(),
                keyspace: Some("ks1".into())
            })
        );
        assert_eq!(parse_key("b", "other/20240101000000/ring"), None);
        assert_eq!(parse_key("b", "b/notaname/ring"), None);
        assert!(matches!(
            parse_key("b", "b/20240101000000/h/x.txt"),
            Some(ParsedKey::Other { .. })
        ));
    }

    #[test]
    fn empty_base_path_puts_backups_at_the_root() {
        assert_eq!(
            manifest_key("", "20240101000000"),
            "20240101000000/manifest.json"
        );
        assert_eq!(
            manifest_key("/a/b/", "20240101000000"),
            "a/b/20240101000000/manifest.json"
        );
        assert!(matches!(
            parse_key("", "20240101000000/manifest.json"),
            Some(ParsedKey::Manifest { .. })
        ));
    }

    #[test]
    fn clean_absolute_paths() {
        assert!(is_clean_absolute(Path::new("/var/lib/x")));
        assert!(!is_clean_absolute(Path::new("var/lib")));
        assert!(!is_clean_absolute(Path::new("/var/../etc")));
    }

    #[test]
    fn variant_keys_round_trip() {
        let path = Path::new("/d/ks/t-0123456789abcdef0123456789abcdef/backups/na-1-big-Data.db");
        let own = data_key("b", "20240101000000", "h1", path);
        assert_eq!(variant_key(&own, 0), own);
        for n in [1, 2, 17] {
            let key = variant_key(&own, n);
            assert!(key.ends_with(&format!("na-1-big-Data.db~{n}.lzo")), "{key}");
            let Some(ParsedKey::Data(data)) = parse_key("b", &key) else {
                panic!("{key} is a data key");
            };
            assert_eq!(data.variant, n);
            assert_eq!(data.source_path, path);
            assert_eq!(data.file, "na-1-big-Data.db");
            assert_eq!(data.kind, DataKind::Incremental);
        }
        // A `~` that is not a variant stays part of the name.
        for name in ["a~b", "a~", "~3", "a~03"] {
            assert_eq!(split_variant(name), (name, 0), "{name}");
        }
        assert_eq!(split_variant("x.db~12"), ("x.db", 12));
    }

    #[test]
    fn cli_schema_keys_round_trip() {
        let n = "20240101000000";
        assert_eq!(cli_schema_key("b", n, None), "b/20240101000000/schema.cli");
        for keyspace in [None, Some("ks1")] {
            let key = cli_schema_key("b", n, keyspace);
            assert_eq!(
                parse_cli_schema_key("b", &key),
                Some((n.to_string(), keyspace.map(str::to_string)))
            );
            assert!(matches!(
                parse_key("b", &key),
                Some(ParsedKey::Other { .. })
            ));
        }
        assert_eq!(
            parse_cli_schema_key("b", &schema_key("b", n, Some("ks1"))),
            None
        );
        assert_eq!(
            parse_cli_schema_key("b", "b/20240101000000/h/schema_x.cli"),
            None
        );
        assert_eq!(parse_cli_schema_key("b", "b/notaname/schema.cli"), None);
    }
}
