//! Multipart uploads in a directory, with S3's rules, so the pipeline behaves the same on both stores.
//!
//! An upload is a staging directory `<root>/.multipart/<upload-id>/` holding `meta` (initiation time and
//! key) and one file per part (`part-00001`, ...). Completing concatenates the listed parts into a temp file
//! and renames it into place. As on S3: a part whose body does not match its Content-MD5 is refused
//! (BadDigest), parts must be listed in ascending order with the ETags the uploads returned (InvalidPart,
//! InvalidPartOrder), every part but the last must be at least 5 MiB (EntityTooSmall), and the object's
//! ETag is the MD5 of the concatenated part MD5s followed by `-<number of parts>`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::{Digest as _, Md5};

use super::files::{create_parent, install, io_error, write_temp};
use super::paths::{is_upload_id, new_upload_id, Layout};
use crate::store::{CompletedPart, PendingUpload, StoreError};

/// S3's smallest allowed part, except for the last one.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

const META_FILE: &str = "meta";

fn part_path(upload_dir: &Path, part_number: u32) -> PathBuf {
    upload_dir.join(format!("part-{part_number:05}"))
}

pub(super) fn permanent(op: &'static str, key: &str, message: String) -> StoreError {
    StoreError::Permanent {
        op,
        key: key.to_string(),
        message,
    }
}

/// The upload's staging directory, if the upload exists and belongs to `key` (else NotFound, as S3's
/// NoSuchUpload).
pub(super) fn open_upload(
    layout: &Layout,
    op: &'static str,
    key: &str,
    upload_id: &str,
) -> Result<PathBuf, StoreError> {
    let dir = layout.upload_dir(op, key, upload_id)?;
    let not_found = || StoreError::NotFound {
        op,
        key: key.to_string(),
    };
    match read_meta(&dir) {
        Ok(Some((_, owner))) if owner == key => Ok(dir),
        Ok(_) => Err(not_found()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(not_found()),
        Err(err) => Err(io_error(op, key)(err)),
    }
}

/// `(initiated, key)` from an upload's meta file; `None` if it is malformed.
fn read_meta(upload_dir: &Path) -> std::io::Result<Option<(String, String)>> {
    let text = fs_err::read_to_string(upload_dir.join(META_FILE))?;
    Ok(text
        .split_once('\n')
        .map(|(initiated, key)| (initiated.to_string(), key.to_string())))
}

pub fn create(layout: &Layout, key: &str) -> Result<String, StoreError> {
    const OP: &str = "create_multipart";
    layout.object_path(OP, key)?;
    let upload_id = new_upload_id();
    let dir = layout.upload_dir(OP, key, &upload_id)?;
    let initiated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    (|| {
        fs_err::create_dir_all(&dir)?;
        // Written via a temp file so that a listed upload always has a complete meta file.
        let temp = write_temp(layout, [initiated.as_bytes(), b"\n", key.as_bytes()])?;
        fs_err::rename(temp, dir.join(META_FILE))
    })()
    .map_err(io_error(OP, key))?;
    Ok(upload_id)
}

pub fn upload_part(
    layout: &Layout,
    key: &str,
    upload_id: &str,
    part_number: u32,
    body: &[u8],
    md5: [u8; 16],
) -> Result<String, StoreError> {
    const OP: &str = "upload_part";
    layout.object_path(OP, key)?;
    if !(1..=MAX_PART_NUMBER).contains(&part_number) {
        return Err(permanent(
            OP,
            key,
            format!("part number {part_number} is outside 1..={MAX_PART_NUMBER}"),
        ));
    }
    let dir = open_upload(layout, OP, key, upload_id)?;
    let actual: [u8; 16] = Md5::digest(body).into();
    if actual != md5 {
        // What S3 answers with BadDigest: the body was damaged between hashing and sending.
        return Err(StoreError::Integrity {
            op: OP,
            key: key.to_string(),
            message: format!(
                "part {part_number}: Content-MD5 {} does not match the body's MD5 {} (BadDigest)",
                hex::encode(md5),
                hex::encode(actual)
            ),
        });
    }
    (|| {
        let temp = write_temp(layout, [body])?;
        fs_err::rename(temp, part_path(&dir, part_number))
    })()
    .map_err(io_error(OP, key))?;
    Ok(hex::encode(actual))
}

pub fn complete(
    layout: &Layout,
    key: &str,
    upload_id: &str,
    parts: &[CompletedPart],
) -> Result<String, StoreError> {
    const OP: &str = "complete_multipart";
    let dest = layout.object_path(OP, key)?;
    let dir = open_upload(layout, OP, key, upload_id)?;
    if parts.is_empty() {
        return Err(permanent(OP, key, "no parts listed (MalformedXML)".into()));
    }
    if parts
        .windows(2)
        .any(|pair| pair[0].part_number >= pair[1].part_number)
    {
        return Err(permanent(
            OP,
            key,
            "parts must be listed in ascending order (InvalidPartOrder)".into(),
        ));
    }
    let mut part_files = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        let path = part_path(&dir, part.part_number);
        let label = format!("part {}", part.part_number);
        check_part_file(
            OP,
            key,
            &path,
            &label,
            part.part_number,
            index + 1 == parts.len(),
        )?;
        part_files.push(path);
    }
    let (temp, part_md5s) = concatenate(layout, &part_files).map_err(io_error(OP, key))?;
    for (part, md5) in parts.iter().zip(&part_md5s) {
        if !part
            .etag
            .trim_matches('"')
            .eq_ignore_ascii_case(&hex::encode(md5))
        {
            let _ = fs_err::remove_file(&temp);
            let message = format!(
                "part {} has ETag {}, not {} (InvalidPart)",
                part.part_number,
                hex::encode(md5),
                part.etag
            );
            return Err(permanent(OP, key, message));
        }
    }
    let etag = multipart_etag(&part_md5s);
    install(layout, key, &temp, &dest, &etag).map_err(io_error(OP, key))?;
    // The object is in place; a leftover staging directory would only show up as a stale upload.
    let _ = fs_err::remove_dir_all(&dir);
    Ok(etag)
}

/// Concatenates the part files into a fsynced temp file, streaming; returns it with each part's MD5.
/// What S3 checks of a listed part when completing: its file was uploaded (else InvalidPart, naming it
/// `label`) and, unless it is the `last`, holds at least [`MIN_PART_SIZE`] bytes (else EntityTooSmall).
pub(super) fn check_part_file(
    op: &'static str,
    key: &str,
    path: &Path,
    label: &str,
    part_number: u32,
    last: bool,
) -> Result<(), StoreError> {
    let size = match fs_err::metadata(path) {
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let message = format!("{label} was never uploaded (InvalidPart)");
            return Err(permanent(op, key, message));
        }
        Err(err) => return Err(io_error(op, key)(err)),
    };
    if !last && size < MIN_PART_SIZE {
        let message = format!(
            "part {part_number} is {size} bytes; all parts but the last need at least {MIN_PART_SIZE} (EntityTooSmall)"
        );
        return Err(permanent(op, key, message));
    }
    Ok(())
}

fn concatenate(
    layout: &Layout,
    part_files: &[PathBuf],
) -> std::io::Result<(PathBuf, Vec<[u8; 16]>)> {
    let temp = layout.temp_path();
    create_parent(&temp)?;
    let result = (|| {
        let mut out = fs_err::File::create(&temp)?;
        let mut buf = vec![0u8; 1 << 20];
        let mut md5s = Vec::with_capacity(part_files.len());
        for path in part_files {
            let mut part = fs_err::File::open(path)?;
            let mut hasher = Md5::new();
            loop {
                let n = part.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])?;
            }
            md5s.push(hasher.finalize().into());
        }
        out.sync_all()?;
        Ok(md5s)
    })();
    match result {
        Ok(md5s) => Ok((temp, md5s)),
        Err(err) => {
            let _ = fs_err::remove_file(&temp);
            Err(err)
        }
    }
}

/// S3's multipart ETag: hex MD5 of the concatenated raw part MD5s, then `-<number of parts>`.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut hasher = Md5::new();
    for md5 in part_md5s {
        hasher.update(md5);
    }
    format!("{}-{}", hex::encode(hasher.finalize()), part_md5s.len())
}

pub fn abort(layout: &Layout, key: &str, upload_id: &str) -> Result<(), StoreError> {
    const OP: &str = "abort_multipart";
    if !is_upload_id(upload_id) {
        return Ok(());
    }
    let dir = layout.upload_dir(OP, key, upload_id)?;
    match fs_err::remove_dir_all(&dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io_error(OP, key)(err)),
        _ => Ok(()),
    }
}

pub fn list(layout: &Layout, prefix: &str) -> Result<Vec<PendingUpload>, StoreError> {
    const OP: &str = "list_multipart_uploads";
    let entries = match fs_err::read_dir(layout.uploads_dir()) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_error(OP, prefix)(err)),
    };
    let mut uploads = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error(OP, prefix))?;
        let Some(upload_id) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !is_upload_id(&upload_id) {
            continue;
        }
        // An upload being created or aborted right now may lack its meta file: not listed.
        if let Ok(Some((initiated, key))) = read_meta(&entry.path()) {
            if key.starts_with(prefix) {
                uploads.push(PendingUpload {
                    key,
                    upload_id,
                    initiated: Some(initiated),
                });
            }
        }
    }
    uploads.sort_by(|a, b| (&a.key, &a.initiated).cmp(&(&b.key, &b.initiated)));
    Ok(uploads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_follows_s3() {
        // Two parts "a" and "b": md5(md5("a") ++ md5("b")) + "-2".
        let a: [u8; 16] = Md5::digest(b"a").into();
        let b: [u8; 16] = Md5::digest(b"b").into();
        let mut joined = a.to_vec();
        joined.extend_from_slice(&b);
        assert_eq!(
            multipart_etag(&[a, b]),
            format!("{}-2", hex::encode(Md5::digest(&joined)))
        );
    }
}
