//! Blocking file operations behind the local store: atomic writes, ETag sidecars, tidy deletes.
//!
//! An object becomes visible only by `rename(2)` of a complete, fsynced temp file, so a reader (or a crash)
//! never sees half an object. Its ETag sits in a sidecar file that is removed before the object is replaced
//! and written after: if we crash in between, the object has no sidecar and its ETag is recomputed as the
//! MD5 of its content. That is right for single PUTs, and for a multipart object it yields a mismatch (never
//! a false match), so verification errs on the safe side.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::{Digest as _, Md5};

use super::paths::Layout;
use crate::store::StoreError;

/// Wraps an I/O error with the operation and key, as [`StoreError::Io`].
pub fn io_error(op: &'static str, key: &str) -> impl FnOnce(std::io::Error) -> StoreError {
    let key = key.to_string();
    move |source| StoreError::Io { op, key, source }
}

/// Creates `path`'s parent directories.
pub fn create_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => fs_err::create_dir_all(parent),
        None => Ok(()),
    }
}

/// Writes `chunks` to a fresh temp file, fsyncs it, and returns its path. The caller renames it into place.
pub fn write_temp<'a>(
    layout: &Layout,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> std::io::Result<PathBuf> {
    let temp = layout.temp_path();
    create_parent(&temp)?;
    let result = (|| {
        let mut file = fs_err::File::create(&temp)?;
        for chunk in chunks {
            file.write_all(chunk)?;
        }
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(temp),
        Err(err) => {
            let _ = fs_err::remove_file(&temp);
            Err(err)
        }
    }
}

/// Moves the complete temp file `temp` to `dest` (creating its directories) and records `etag` for it.
pub fn install(
    layout: &Layout,
    key: &str,
    temp: &Path,
    dest: &Path,
    etag: &str,
) -> std::io::Result<()> {
    let etag_path = layout.etag_path(key);
    remove_if_exists(&etag_path)?;
    create_parent(dest)?;
    if let Err(err) = fs_err::rename(temp, dest) {
        let _ = fs_err::remove_file(temp);
        return Err(err);
    }
    // Not fsynced: a sidecar lost or emptied by a crash reads as a missing or wrong ETag, which
    // verification reports (never a false match; see the module doc), and it saves a disk flush per object.
    let etag_temp = layout.temp_path();
    create_parent(&etag_temp)?;
    fs_err::write(&etag_temp, etag.as_bytes())?;
    create_parent(&etag_path)?;
    fs_err::rename(&etag_temp, &etag_path)
}

/// The ETag recorded for `key`, or the hex MD5 of `path`'s content when none is recorded (files placed
/// by hand, or a crash between an object's rename and its sidecar's).
pub fn etag_of(layout: &Layout, key: &str, path: &Path) -> std::io::Result<String> {
    match fs_err::read_to_string(layout.etag_path(key)) {
        Ok(etag) => Ok(etag.trim().to_string()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            md5_of_file(path).map(hex::encode)
        }
        Err(err) => Err(err),
    }
}

/// MD5 of a file's content, read in 1 MiB pieces.
pub fn md5_of_file(path: &Path) -> std::io::Result<[u8; 16]> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
    }
}

/// Removes a file; a file that is already gone (or could not exist, below a file) is fine.
pub fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match fs_err::remove_file(path) {
        Err(err)
            if !matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Err(err)
        }
        _ => Ok(()),
    }
}

/// Removes the now-empty directories between `path` and `stop` (exclusive), so deleted prefixes do not
/// linger as empty directories. Stops at the first directory that is not empty.
pub fn prune_empty_parents(path: &Path, stop: &Path) {
    let mut dir = path.parent();
    while let Some(current) = dir {
        if current == stop || !current.starts_with(stop) {
            break;
        }
        // Fails (and ends the walk) as soon as a directory still has entries.
        if fs_err::remove_dir(current).is_err() {
            break;
        }
        dir = current.parent();
    }
}
