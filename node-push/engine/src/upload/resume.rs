//! Resuming: what an earlier run of the same backup already stored is not sent again.
//!
//! Before it uploads anything, a run lists the objects under the common prefix of its keys (one request
//! per thousand keys; nothing for a new backup). For a file whose key is already there, the file is read
//! and compressed exactly as an upload would do it, but nothing is sent: the object is taken as it is
//! only when the lzop stream computed here has the stored object's size and ETag (the MD5, or the
//! multipart MD5 of MD5s with the same part size). That costs the file's compression CPU but none of its
//! network bytes, and trusts nothing but the bytes: no object metadata, no progress file, no file times.
//! A stored object that differs (another part size, a changed file, a damaged object) is uploaded again.
//!
//! The same survey finds multipart uploads of this run's keys that an earlier run left open (it was
//! killed, or cut off from the store before it could abort them); they are aborted, since this run is
//! about to write those keys itself. The pipeline runs the survey again at the end, to abort uploads
//! whose initiation answer was lost (the store created them, the client never learnt their id).

use super::parts::{multipart_etag, part_size_for, PartProducer};
use super::{Context, FileError, UploadItem};
use crate::store::composite_crc32c;
use crate::store::local::single_crc_etag;
use crate::store::{with_retry, ObjectMeta, ObjectStore, RetryPolicy};
use contract::manifest::ObjectEntry;
use md5::{Digest as _, Md5};
use std::collections::{HashMap, HashSet};

/// The objects already stored under this run's keys.
#[derive(Debug, Default)]
pub struct StoredObjects {
    by_key: HashMap<String, ObjectMeta>,
}

impl StoredObjects {
    pub fn get(&self, key: &str) -> Option<&ObjectMeta> {
        self.by_key.get(key)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// The longest common prefix of `keys` that ends in `/` (or is empty): what one listing must cover.
pub fn listing_prefix<'a>(keys: impl IntoIterator<Item = &'a str>) -> String {
    let mut keys = keys.into_iter();
    let Some(first) = keys.next() else {
        return String::new();
    };
    let mut common = first.len();
    for key in keys {
        common = first
            .bytes()
            .zip(key.bytes())
            .take(common)
            .take_while(|(a, b)| a == b)
            .count();
    }
    match first.as_bytes()[..common].iter().rposition(|&b| b == b'/') {
        // A '/' is ASCII, so the cut after it is a char boundary.
        Some(slash) => first[..=slash].to_string(),
        None => String::new(),
    }
}

/// List what is stored under `items`' keys. A listing that fails leaves the map empty: every file is
/// then uploaded, and the uploads report the store's trouble file by file.
pub async fn stored_objects(
    store: &dyn ObjectStore,
    retry: &RetryPolicy,
    items: &[UploadItem],
) -> StoredObjects {
    if items.is_empty() {
        return StoredObjects::default();
    }
    let keys: HashSet<&str> = items.iter().map(|i| i.key.as_str()).collect();
    let prefix = listing_prefix(keys.iter().copied());
    match with_retry(retry, || store.list(&prefix, None)).await {
        Ok(listing) => StoredObjects {
            by_key: listing
                .objects
                .into_iter()
                .filter(|o| keys.contains(o.key.as_str()))
                .map(|o| (o.key.clone(), o))
                .collect(),
        },
        Err(error) => {
            log!("cannot list what is already stored, uploading everything: {error}");
            StoredObjects::default()
        }
    }
}

/// Abort the open multipart uploads of `items`' keys; returns how many were aborted. Best effort: an
/// upload that cannot be aborted now stays for `purge`.
pub async fn abort_leftover_uploads(
    store: &dyn ObjectStore,
    retry: &RetryPolicy,
    items: &[UploadItem],
) -> usize {
    if items.is_empty() {
        return 0;
    }
    let keys: HashSet<&str> = items.iter().map(|i| i.key.as_str()).collect();
    let prefix = listing_prefix(keys.iter().copied());
    let Ok(pending) = with_retry(retry, || store.list_multipart_uploads(&prefix)).await else {
        return 0;
    };
    let mut aborted = 0;
    for upload in pending.iter().filter(|u| keys.contains(u.key.as_str())) {
        let done = with_retry(retry, || {
            store.abort_multipart(&upload.key, &upload.upload_id)
        })
        .await;
        if done.is_ok() {
            aborted += 1;
        }
    }
    aborted
}

/// What the upload of a file would store, computed without sending anything.
struct Computed {
    source_bytes: u64,
    /// Hex BLAKE3 of the source bytes.
    blake3: String,
    compressed_bytes: u64,
    etag: String,
    /// The ETag a store checking CRC32C gives it (the local store's, see `store/local/checked.rs`).
    crc_etag: String,
}

/// The file's manifest entry when `stored` is exactly the object an upload of it would write now; `None`
/// when it differs (then the file is uploaded).
pub(super) async fn already_stored(
    ctx: &Context,
    item: &UploadItem,
    stored: &ObjectMeta,
) -> Result<Option<ObjectEntry>, FileError> {
    // With SSE-KMS the ETag is not an MD5 of the bytes: nothing to compare with, so upload again.
    if !ctx.config.etag_is_md5 {
        return Ok(None);
    }
    let size = match fs_err::metadata(&item.path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FileError::Vanished(item.path.clone()))
        }
        Err(source) => {
            return Err(FileError::Read {
                path: item.path.clone(),
                source,
            })
        }
    };
    let part_size = part_size_for(size, ctx.config.part_size);
    let single_put = size < part_size / 2;
    let permit = ctx.memory_permit().await;
    let path = item.path.clone();
    let options = ctx.encoder_options(&item.path);
    let pool = ctx.pool.clone();
    let buffers = ctx.buffers.clone();
    let computed = tokio::task::spawn_blocking(move || -> Result<Computed, FileError> {
        let file = super::file::open_source(&path)?;
        // MD5s always: the stored ETag is the one to compare with.
        let mut producer = PartProducer::new(file, part_size, options, Some(pool), true, buffers);
        let mut whole = Md5::new();
        let mut part_md5s = Vec::new();
        let mut part_crcs = Vec::new();
        let mut whole_crc = 0u32;
        while let Some(part) = producer
            .next_part()
            .map_err(|source| super::file::read_error(&path, source))?
        {
            whole.update(&part.body);
            part_md5s.push(part.digest.md5_of(&part.body));
            part_crcs.push(part.digest.crc32c);
            if single_put {
                whole_crc = crc32c::crc32c_append(whole_crc, &part.body);
            }
        }
        let compressed_bytes = producer.compressed_bytes();
        let (source_bytes, blake3) = producer.finish();
        let (etag, crc_etag) = if single_put {
            (hex::encode(whole.finalize()), single_crc_etag(whole_crc))
        } else {
            (multipart_etag(&part_md5s), composite_crc32c(&part_crcs))
        };
        Ok(Computed {
            source_bytes,
            blake3,
            compressed_bytes,
            etag,
            crc_etag,
        })
    })
    .await
    .expect("compression task panicked")?;
    drop(permit);
    let unchanged = fs_err::metadata(&item.path).map(|m| m.len()).ok() == Some(size)
        && computed.source_bytes == size;
    if !unchanged
        || computed.compressed_bytes != stored.size
        || (computed.etag != stored.etag && computed.crc_etag != stored.etag)
    {
        if ctx.config.verbose {
            log!(
                "{} is stored, but not as this run would store it: uploading it again",
                item.key
            );
        }
        return Ok(None);
    }
    Ok(Some(ObjectEntry {
        key: item.key.clone(),
        host: ctx.config.host_label.clone(),
        source_path: item.path.display().to_string(),
        keyspace: item.keyspace.clone(),
        table: item.table.clone(),
        size: computed.source_bytes,
        compressed_size: stored.size,
        sha256: String::new(),
        blake3: computed.blake3,
        etag: stored.etag.clone(),
        variant: item.variant,
        source_id: crate::sstable::source_id_of(&item.path).ok(),
    }))
}

#[cfg(test)]
mod tests {
    use super::listing_prefix;

    #[test]
    fn the_listing_prefix_is_the_common_directory() {
        assert_eq!(
            listing_prefix([
                "b/20240101000000/node1/d/ks/t/snapshots/n/ks-t-ia-1-Data.db.lzo",
                "b/20240101000000/node1/d/ks/u/snapshots/n/ks-u-ia-1-Data.db.lzo",
            ]),
            "b/20240101000000/node1/d/ks/"
        );
        assert_eq!(listing_prefix(["b/n/h/d/f.lzo"]), "b/n/h/d/");
        assert_eq!(listing_prefix(["a.lzo", "b.lzo"]), "");
        assert_eq!(listing_prefix(["dir/a.lzo", "dir/ab.lzo"]), "dir/");
        assert_eq!(listing_prefix(Vec::<&str>::new()), "");
    }
}
