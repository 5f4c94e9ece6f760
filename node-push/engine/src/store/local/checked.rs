//! The local store's CRC32C path (what [`super::LocalStore::transport_check`] answers): every byte is
//! written once by us and hashed by nobody here.
//!
//! A body is checked against the CRC32C its producer computed (hardware CRC, several GB/s) and refused as
//! S3 refuses it (BadDigest) when they differ. A part is written to `part-NNNNN-<crc hex>` without fsync;
//! the part's ETag is its CRC32C in hex, so completion proves each listed part is the one uploaded by
//! finding its file by name. Completion concatenates the part files in the kernel (`copy_file_range`
//! through `std::io::copy`: no copy through user space, a reflink on filesystems that have them), fsyncs
//! once and renames. The object's ETag is S3's composite CRC32C (`<base64>-N`, or the base64 CRC32C of a
//! single PUT), recorded in the ETag sidecar like an MD5 ETag.

use std::path::{Path, PathBuf};

use super::files::{create_parent, install, io_error, write_temp};
use super::multipart::{check_part_file, open_upload, permanent, MAX_PART_NUMBER};
use super::paths::Layout;
use crate::store::{composite_crc32c, BodyDigest, CompletedPart, StoreError};

/// The ETag of a single PUT checked by CRC32C: its CRC32C in base64, as S3 reports the checksum.
pub fn single_etag(crc: u32) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

fn part_path(upload_dir: &Path, part_number: u32, crc: u32) -> PathBuf {
    upload_dir.join(format!("part-{part_number:05}-{crc:08x}"))
}

/// Refuses `body` unless its CRC32C is `digest`'s (what S3 answers with BadDigest).
pub fn check_body(
    op: &'static str,
    key: &str,
    body: &[u8],
    digest: &BodyDigest,
) -> Result<(), StoreError> {
    let actual = crc32c::crc32c(body);
    if actual == digest.crc32c {
        return Ok(());
    }
    Err(StoreError::Integrity {
        op,
        key: key.to_string(),
        message: format!(
            "x-amz-checksum-crc32c {:08x} does not match the body's CRC32C {actual:08x} (BadDigest)",
            digest.crc32c
        ),
    })
}

/// A single PUT: checked, written once (fsync, rename); its ETag is its CRC32C.
pub fn put(
    layout: &Layout,
    key: &str,
    body: &[u8],
    digest: &BodyDigest,
) -> Result<String, StoreError> {
    const OP: &str = "put";
    let dest = layout.object_path(OP, key)?;
    check_body(OP, key, body, digest)?;
    let etag = single_etag(digest.crc32c);
    let temp = write_temp(layout, [body]).map_err(io_error(OP, key))?;
    install(layout, key, &temp, &dest, &etag).map_err(io_error(OP, key))?;
    Ok(etag)
}

/// One part: checked and written once, not fsynced (completion fsyncs the object).
pub fn upload_part(
    layout: &Layout,
    key: &str,
    upload_id: &str,
    part_number: u32,
    body: &[u8],
    digest: &BodyDigest,
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
    check_body(OP, key, body, digest)?;
    let path = part_path(&dir, part_number, digest.crc32c);
    // A temp name first: a part is either complete under its name or absent.
    let temp = dir.join(format!(".part-{part_number:05}.tmp"));
    (|| {
        fs_err::write(&temp, body)?;
        fs_err::rename(&temp, &path)
    })()
    .map_err(io_error(OP, key))?;
    Ok(format!("{:08x}", digest.crc32c))
}

/// Completes an upload whose parts were uploaded with [`upload_part`]; returns the composite CRC32C ETag.
pub fn complete(
    layout: &Layout,
    key: &str,
    upload_id: &str,
    parts: &[CompletedPart],
    part_crc32cs: &[u32],
) -> Result<String, StoreError> {
    const OP: &str = "complete_multipart";
    let dest = layout.object_path(OP, key)?;
    let dir = open_upload(layout, OP, key, upload_id)?;
    if parts.is_empty() || parts.len() != part_crc32cs.len() {
        return Err(permanent(
            OP,
            key,
            "no parts, or not one CRC32C per part (MalformedXML)".into(),
        ));
    }
    let mut part_files = Vec::with_capacity(parts.len());
    for (index, (part, crc)) in parts.iter().zip(part_crc32cs).enumerate() {
        if index > 0 && parts[index - 1].part_number >= part.part_number {
            return Err(permanent(
                OP,
                key,
                "parts must be listed in ascending order (InvalidPartOrder)".into(),
            ));
        }
        if part.etag.trim_matches('"') != format!("{crc:08x}") {
            let message = format!(
                "part {} has ETag {}, not its CRC32C {crc:08x} (InvalidPart)",
                part.part_number, part.etag
            );
            return Err(permanent(OP, key, message));
        }
        let path = part_path(&dir, part.part_number, *crc);
        let label = format!("part {} with CRC32C {crc:08x}", part.part_number);
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
    let temp = concatenate(layout, &part_files).map_err(io_error(OP, key))?;
    let etag = composite_crc32c(part_crc32cs);
    install(layout, key, &temp, &dest, &etag).map_err(io_error(OP, key))?;
    let _ = fs_err::remove_dir_all(&dir);
    Ok(etag)
}

/// The part files joined into a fsynced temp file, copied by the kernel.
fn concatenate(layout: &Layout, part_files: &[PathBuf]) -> std::io::Result<PathBuf> {
    let temp = layout.temp_path();
    create_parent(&temp)?;
    let result = (|| {
        // std's copy between two `std::fs::File`s uses copy_file_range (or sendfile) on Linux.
        let out = fs_err::File::create(&temp)?;
        for path in part_files {
            let part = fs_err::File::open(path)?;
            std::io::copy(&mut part.file(), &mut out.file())?;
        }
        out.sync_all()
    })();
    match result {
        Ok(()) => Ok(temp),
        Err(err) => {
            let _ = fs_err::remove_file(&temp);
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::multipart::{self, MIN_PART_SIZE};
    use super::*;

    fn part(number: u32, etag: &str) -> CompletedPart {
        CompletedPart {
            part_number: number,
            etag: etag.to_string(),
        }
    }

    #[test]
    fn parts_are_checked_by_crc32c_and_joined_byte_for_byte() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout {
            root: tmp.path().to_path_buf(),
        };
        let first = vec![7u8; MIN_PART_SIZE as usize];
        let second = b"the last part may be short".to_vec();
        let id = multipart::create(&layout, "k/obj").unwrap();
        let digest = |body: &[u8]| BodyDigest::of(body, false);

        // A body that is not the one its CRC32C was computed for is refused, and nothing is kept.
        let wrong = BodyDigest {
            crc32c: digest(&first).crc32c ^ 1,
            md5: None,
        };
        let refused = upload_part(&layout, "k/obj", &id, 1, &first, &wrong).unwrap_err();
        assert!(matches!(refused, StoreError::Integrity { .. }), "{refused}");

        let etag1 = upload_part(&layout, "k/obj", &id, 1, &first, &digest(&first)).unwrap();
        let etag2 = upload_part(&layout, "k/obj", &id, 2, &second, &digest(&second)).unwrap();
        let crcs = [digest(&first).crc32c, digest(&second).crc32c];
        // A part listed with an ETag it was not uploaded with is refused.
        let bad = complete(
            &layout,
            "k/obj",
            &id,
            &[part(1, &etag2), part(2, &etag2)],
            &crcs,
        );
        assert!(bad.is_err());

        let etag = complete(
            &layout,
            "k/obj",
            &id,
            &[part(1, &etag1), part(2, &etag2)],
            &crcs,
        )
        .unwrap();
        assert_eq!(etag, composite_crc32c(&crcs));
        let stored = fs_err::read(tmp.path().join("k/obj")).unwrap();
        assert_eq!(stored, [first, second].concat());
        assert_eq!(
            super::super::files::etag_of(&layout, "k/obj", &tmp.path().join("k/obj")).unwrap(),
            etag
        );
    }

    #[test]
    fn a_single_put_is_checked_and_its_etag_is_its_crc32c() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout {
            root: tmp.path().to_path_buf(),
        };
        let body = b"abc";
        let digest = BodyDigest::of(body, false);
        assert_eq!(
            put(&layout, "a", body, &digest).unwrap(),
            single_etag(digest.crc32c)
        );
        let wrong = BodyDigest {
            crc32c: !digest.crc32c,
            md5: None,
        };
        assert!(put(&layout, "b", body, &wrong).is_err());
        assert!(!tmp.path().join("b").exists());
    }
}
