//! Listing a directory tree the way S3 lists a bucket: by key prefix, sorted, optionally folded at a
//! delimiter into common prefixes.

use std::collections::BTreeSet;
use std::path::Path;

use super::files::{etag_of, io_error};
use super::paths::{key_of, Layout, RESERVED};
use crate::store::{Listing, ObjectMeta, StoreError};

const OP: &str = "list";

pub fn list(layout: &Layout, prefix: &str, delimiter: Option<&str>) -> Result<Listing, StoreError> {
    let mut keys = Vec::new();
    collect_keys(layout, prefix, &mut keys)?;
    // S3 orders keys by their UTF-8 bytes, which is how `str` compares.
    keys.sort();

    let mut listing = Listing::default();
    let mut common_prefixes = BTreeSet::new();
    for (key, path, size) in keys {
        if let Some(delimiter) = delimiter.filter(|d| !d.is_empty()) {
            let rest = &key[prefix.len()..];
            if let Some(at) = rest.find(delimiter) {
                common_prefixes.insert(format!("{prefix}{}", &rest[..at + delimiter.len()]));
                continue;
            }
        }
        let etag = etag_of(layout, &key, &path).map_err(io_error(OP, &key))?;
        listing.objects.push(ObjectMeta { key, size, etag });
    }
    listing.common_prefixes = common_prefixes.into_iter().collect();
    Ok(listing)
}

/// Every stored object whose key starts with `prefix`, as `(key, path, size)`. Walks only the directory
/// the prefix's complete components name, not the whole tree.
fn collect_keys(
    layout: &Layout,
    prefix: &str,
    keys: &mut Vec<(String, std::path::PathBuf, u64)>,
) -> Result<(), StoreError> {
    let root = &layout.root;
    if prefix.contains('/') && RESERVED.contains(&prefix.split('/').next().unwrap_or_default()) {
        // The staging area and the ETag tree hold no objects.
        return Ok(());
    }
    let start = match prefix.rfind('/') {
        Some(at)
            if !prefix[..at]
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..") =>
        {
            root.join(&prefix[..at])
        }
        // A prefix that cannot name a directory below the root: only a full walk can be right.
        Some(_) => root.clone(),
        None => root.clone(),
    };
    if !start.is_dir() {
        return Ok(());
    }
    let walker = walkdir::WalkDir::new(&start)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| !is_reserved(root, entry.path()));
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            // Deleted while we walked: S3 listings are not snapshots either.
            Err(err) if err.io_error().map(|e| e.kind()) == Some(std::io::ErrorKind::NotFound) => {
                continue
            }
            Err(err) => {
                let source = err
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("directory loop"));
                return Err(io_error(OP, prefix)(source));
            }
        };
        // Symlinks and special files are not objects this store wrote.
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(key) = key_of(root, entry.path()) else {
            continue;
        };
        if !key.starts_with(prefix) {
            continue;
        }
        let size = entry
            .metadata()
            .map_err(|err| io_error(OP, &key)(err.into()))?
            .len();
        keys.push((key, entry.path().to_path_buf(), size));
    }
    Ok(())
}

/// The store's own top-level directories are not part of any listing.
fn is_reserved(root: &Path, path: &Path) -> bool {
    path.parent() == Some(root)
        && path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| RESERVED.contains(&name))
}
