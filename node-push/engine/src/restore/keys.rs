//! From object keys to what a restore needs to know: which keyspace, table directory and file an entry
//! holds, and, for backups the old tool wrote (manifest format 0, no object list), the entries themselves,
//! rebuilt from a listing of the backup's prefix.

use crate::store::{ObjectMeta, ObjectStore, StoreResult};
use contract::layout::{self, BackupName, DataKey, DataKind, ParsedKey};
use contract::manifest::ObjectEntry;

/// What `entry.key` says about its file, whatever base path it was written under.
///
/// The base path is not in the entry, so every component of the key that is a backup name is tried as the
/// `<NAME>` component; the one that parses as a data key for the entry's source path wins.
pub(crate) fn entry_data_key(entry: &ObjectEntry) -> Option<DataKey> {
    let mut fallback = None;
    let mut start = 0;
    for component in entry.key.split('/') {
        let base = entry.key[..start].trim_end_matches('/');
        start += component.len() + 1;
        if component.parse::<BackupName>().is_err() {
            continue;
        }
        if let Some(ParsedKey::Data(data)) = layout::parse_key(base, &entry.key) {
            if data.source_path.to_str() == Some(entry.source_path.as_str()) {
                return Some(data);
            }
            fallback.get_or_insert(data);
        }
    }
    fallback
}

/// The entries of a backup the old tool wrote, from a listing of its prefix `<base>/<name>/`: every data
/// object (both key forms, `<host>/var/...` and `<host>//var/...`), snapshot files first, then incrementals,
/// each sorted by key. Their `sha256` is empty and `size` is 0: the old tool recorded neither, so only the
/// stored size, the ETag and the lzop checksums can be checked.
pub fn objects_from_listing(base: &str, name: &str, objects: &[ObjectMeta]) -> Vec<ObjectEntry> {
    let mut entries: Vec<(bool, ObjectEntry)> = objects
        .iter()
        .filter_map(|meta| match layout::parse_key(base, &meta.key)? {
            ParsedKey::Data(data) if data.name == name => Some((
                data.kind == DataKind::Incremental,
                ObjectEntry {
                    key: meta.key.clone(),
                    table: crate::select::table_name(&data.table_dir).to_string(),
                    host: data.host,
                    source_path: data.source_path.display().to_string(),
                    keyspace: data.keyspace,
                    size: 0,
                    compressed_size: meta.size,
                    sha256: String::new(),
                    blake3: String::new(),
                    etag: meta.etag.clone(),
                    variant: data.variant,
                    source_id: None,
                },
            )),
            _ => None,
        })
        .collect();
    entries.sort_by(|a, b| (a.0, &a.1.key).cmp(&(b.0, &b.1.key)));
    entries.into_iter().map(|(_, entry)| entry).collect()
}

/// Lists `<base>/<name>/` and returns its data objects as [`objects_from_listing`] does.
pub async fn list_backup_objects(
    store: &dyn ObjectStore,
    base: &str,
    name: &str,
) -> StoreResult<Vec<ObjectEntry>> {
    let listing = store.list(&layout::backup_prefix(base, name), None).await?;
    Ok(objects_from_listing(base, name, &listing.objects))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn meta(key: &str, size: u64) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size,
            etag: format!("etag-{size}"),
        }
    }

    #[test]
    fn legacy_listings_become_entries_of_both_key_forms() {
        let n = "20150101000000";
        let listing = [
            meta(&format!("old/{n}/manifest.json"), 1),
            meta(&format!("old/{n}/ring"), 2),
            meta(&format!("old/{n}/h1/var/lib/c/data/ks/cf/backups/ks-cf-ic-9-Data.db.lzo"), 3),
            meta(&format!("old/{n}/h1//var/lib/c/data/ks/cf/snapshots/{n}/ks-cf-ic-1-Data.db.lzo"), 4),
            meta(&format!("old/{n}/h2/d/ks/t-0123456789abcdef0123456789abcdef/snapshots/{n}/nb-1-big-Data.db.lzo"), 5),
            meta("old/20150102000000/h1/d/ks/cf/backups/x.lzo", 6),
        ];
        // A `~N` variant in a listing keeps its number (and its real file name).
        let variant = meta(
            &format!("old/{n}/h1/d/ks/cf/backups/ks-cf-ic-9-Data.db~1.lzo"),
            7,
        );
        let with_variant = objects_from_listing("old", n, std::slice::from_ref(&variant));
        assert_eq!(with_variant[0].variant, 1);
        assert_eq!(
            with_variant[0].source_path,
            "/d/ks/cf/backups/ks-cf-ic-9-Data.db"
        );
        let entries = objects_from_listing("old", n, &listing);
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, [&listing[3].key, &listing[4].key, &listing[2].key]);
        let first = &entries[0];
        assert_eq!(first.host, "h1");
        assert_eq!(
            first.source_path,
            format!("/var/lib/c/data/ks/cf/snapshots/{n}/ks-cf-ic-1-Data.db")
        );
        assert_eq!(
            (first.keyspace.as_str(), first.table.as_str()),
            ("ks", "cf")
        );
        assert_eq!((first.compressed_size, first.etag.as_str()), (4, "etag-4"));
        assert!(first.sha256.is_empty());
        assert_eq!(entries[1].table, "t");
    }

    #[test]
    fn entry_keys_parse_without_knowing_the_base_path() {
        for base in ["", "a/b", "x/20990101000000"] {
            let path = "/d/ks/t/snapshots/20240101000000/nb-1-big-Data.db";
            let key = layout::data_key(base, "20240101000000", "h", Path::new(path));
            let entry = ObjectEntry {
                key,
                host: "h".into(),
                source_path: path.into(),
                keyspace: "ks".into(),
                table: "t".into(),
                size: 1,
                compressed_size: 1,
                sha256: String::new(),
                etag: String::new(),
                variant: 0,
                source_id: None,
                blake3: String::new(),
            };
            let data = entry_data_key(&entry).unwrap_or_else(|| panic!("{base}"));
            assert_eq!(
                (data.keyspace.as_str(), data.table_dir.as_str()),
                ("ks", "t")
            );
            assert_eq!(data.file, "nb-1-big-Data.db");
        }
    }
}
