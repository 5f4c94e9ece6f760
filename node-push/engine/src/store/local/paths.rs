//! Where a key lives on disk, and which names the local store keeps for itself.
//!
//! A key maps to `<root>/<key>` component by component. Keys that could escape the root (`..`, absolute
//! paths) or collide with the store's own hidden directories are rejected before any file is touched.

use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// Staging area: open multipart uploads (`<root>/.multipart/<upload-id>/`) and temp files (`tmp/`).
pub const MULTIPART_DIR: &str = ".multipart";
/// ETags of stored objects, as a parallel tree: `<root>/.etags/<key>` holds the ETag of `<root>/<key>`.
pub const ETAG_DIR: &str = ".etags";
/// Temp files live here until they are renamed into place (same filesystem, so the rename is atomic).
const TMP_DIR: &str = "tmp";

/// The root-level names keys may not start with.
pub const RESERVED: [&str; 2] = [MULTIPART_DIR, ETAG_DIR];

/// The store's directory layout below its root.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    /// The file holding the object `key`, after checking that the key is safe.
    pub fn object_path(&self, op: &'static str, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(op, key)?;
        Ok(self.root.join(key))
    }

    /// The file holding the ETag of `key` (the key must have been validated).
    pub fn etag_path(&self, key: &str) -> PathBuf {
        self.root.join(ETAG_DIR).join(key)
    }

    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join(MULTIPART_DIR)
    }

    /// The staging directory of an upload, after checking that the id is one we could have issued.
    pub fn upload_dir(
        &self,
        op: &'static str,
        key: &str,
        upload_id: &str,
    ) -> Result<PathBuf, StoreError> {
        if !is_upload_id(upload_id) {
            // An id we never issue cannot name an open upload; S3 answers NoSuchUpload the same way.
            return Err(StoreError::NotFound {
                op,
                key: key.to_string(),
            });
        }
        Ok(self.uploads_dir().join(upload_id))
    }

    /// A fresh temp file path in the staging area (its directory is created on demand).
    pub fn temp_path(&self) -> PathBuf {
        self.uploads_dir()
            .join(TMP_DIR)
            .join(format!("{:032x}", fastrand::u128(..)))
    }
}

/// Upload ids are 32 lowercase hex digits; anything else cannot be one of ours.
pub fn new_upload_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

pub fn is_upload_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Rejects keys that are empty, absolute, contain `.`/`..`/empty components or NUL, or start with one of
/// the store's reserved directory names.
pub fn validate_key(op: &'static str, key: &str) -> Result<(), StoreError> {
    let reason = if key.is_empty() {
        Some("empty key")
    } else if key.starts_with('/') {
        Some("absolute paths are not keys")
    } else if key.contains('\0') {
        Some("NUL in key")
    } else if key
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        Some("empty, '.' or '..' path component")
    } else if RESERVED.contains(&key.split('/').next().unwrap_or_default()) {
        Some("the first component is reserved for the local store's own files")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::Permanent {
            op,
            key: key.to_string(),
            message: format!("invalid key for a local store: {reason}"),
        }),
        None => Ok(()),
    }
}

/// `path` relative to `root` as a key (`/`-separated), or `None` if it is not valid UTF-8 or not below root.
pub fn key_of(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in [
            "a",
            "prefix/host/ks/cf/ks-cf-ia-1-Data.db.lzo",
            "ks/table-1234/.index_name/nb-1-big-Data.db",
            "with space/and:colon",
        ] {
            validate_key("put", key).unwrap();
        }
    }

    #[test]
    fn rejects_escaping_or_reserved_keys() {
        for key in [
            "",
            "/etc/passwd",
            "../outside",
            "a/../../b",
            "a//b",
            "a/./b",
            "dir/",
            ".multipart/x",
            ".etags/x",
            "nul\0byte",
        ] {
            let err = validate_key("put", key).unwrap_err();
            assert!(
                matches!(err, StoreError::Permanent { .. }),
                "{key:?}: {err}"
            );
        }
    }

    #[test]
    fn upload_ids_are_ours_only() {
        assert!(is_upload_id(&new_upload_id()));
        assert!(!is_upload_id("../../etc"));
        assert!(!is_upload_id("tmp"));
    }

    #[test]
    fn keys_round_trip_through_paths() {
        let root = Path::new("/backups");
        assert_eq!(
            key_of(root, &root.join("a/b/c.lzo")).as_deref(),
            Some("a/b/c.lzo")
        );
        assert_eq!(key_of(root, Path::new("/elsewhere/x")), None);
    }
}
