//! [`LocalStore`]: an object store in a directory, for `file://` destinations, NFS mounts and tests.
//!
//! Keys map to files below the root (`a/b/c` is `<root>/a/b/c`); keys with `..` components or absolute
//! paths are rejected. Writes are atomic (temp file, fsync, rename). Multipart uploads are staged in the
//! hidden `<root>/.multipart/<upload-id>/` and concatenated on completion, and ETags follow S3's rules
//! (hex MD5 for a single PUT, MD5-of-part-MD5s plus `-N` for multipart; the CRC32C forms S3 reports for
//! the `_checked` requests the pipeline sends, see `local/checked.rs`), stored in the hidden
//! `<root>/.etags/` tree.
//!
//! Where a filesystem differs from S3: a key cannot be both an object and a "directory" of other keys
//! (`a/b` and `a/b/c`); the second write fails with an I/O error. Server-side encryption and storage
//! classes do not apply and are ignored. File I/O runs on tokio's blocking pool.

mod checked;
mod files;
mod listing;
mod multipart;
mod paths;

pub use checked::single_etag as single_crc_etag;
pub use multipart::{multipart_etag, MAX_PART_NUMBER, MIN_PART_SIZE};
pub use paths::{ETAG_DIR, MULTIPART_DIR};

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use md5::{Digest as _, Md5};

use self::files::{etag_of, install, io_error, prune_empty_parents, remove_if_exists, write_temp};
use self::paths::Layout;
use super::{
    BodyDigest, CompletedPart, Listing, ObjectMeta, ObjectStore, PendingUpload, PutOptions,
    StoreError, StoreResult, TransportCheck,
};

/// An object store in a local directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalStore {
    layout: Layout,
}

impl LocalStore {
    /// A store rooted at `root`, which is created if missing. Fails if it exists and is not a directory.
    pub fn new(root: impl Into<PathBuf>) -> StoreResult<Self> {
        let root = root.into();
        let key = root.display().to_string();
        fs_err::create_dir_all(&root).map_err(io_error("open", &key))?;
        if !root.is_dir() {
            return Err(StoreError::Permanent {
                op: "open",
                key,
                message: "not a directory".into(),
            });
        }
        Ok(LocalStore {
            layout: Layout { root },
        })
    }

    /// The directory objects are stored in.
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// Runs blocking file work on tokio's blocking pool.
    async fn blocking<T, F>(&self, op: &'static str, key: &str, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Layout) -> StoreResult<T> + Send + 'static,
    {
        let layout = self.layout.clone();
        match tokio::task::spawn_blocking(move || work(layout)).await {
            Ok(result) => result,
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(_) => Err(StoreError::Io {
                op,
                key: key.to_string(),
                source: std::io::Error::other("the runtime is shutting down"),
            }),
        }
    }
}

/// The bytes `[start, end)` of the file at `path`, which must lie within it.
fn read_range(path: &Path, key: &str, range: Option<(u64, u64)>) -> StoreResult<Bytes> {
    const OP: &str = "get";
    let mut file = match fs_err::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::NotFound {
                op: OP,
                key: key.to_string(),
            })
        }
        Err(err) => return Err(io_error(OP, key)(err)),
    };
    let size = file.metadata().map_err(io_error(OP, key))?.len();
    let (start, end) = range.unwrap_or((0, size));
    if start > end || end > size {
        return Err(StoreError::Permanent {
            op: OP,
            key: key.to_string(),
            message: format!("range [{start}, {end}) is not within the object's {size} bytes"),
        });
    }
    let mut data = vec![0u8; (end - start) as usize];
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_exact(&mut data))
        .map_err(io_error(OP, key))?;
    Ok(Bytes::from(data))
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn describe(&self) -> String {
        format!("file://{}", self.layout.root.display())
    }

    async fn put_object(&self, key: &str, body: Bytes, _opts: &PutOptions) -> StoreResult<String> {
        const OP: &str = "put";
        let owned_key = key.to_string();
        self.blocking(OP, key, move |layout| {
            let key = owned_key.as_str();
            let dest = layout.object_path(OP, key)?;
            let etag = hex::encode(Md5::digest(&body));
            let temp = write_temp(&layout, [&body[..]]).map_err(io_error(OP, key))?;
            install(&layout, key, &temp, &dest, &etag).map_err(io_error(OP, key))?;
            Ok(etag)
        })
        .await
    }

    async fn create_multipart(&self, key: &str, _opts: &PutOptions) -> StoreResult<String> {
        let owned_key = key.to_string();
        self.blocking("create_multipart", key, move |layout| {
            multipart::create(&layout, &owned_key)
        })
        .await
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        md5: [u8; 16],
    ) -> StoreResult<String> {
        let (owned_key, upload_id) = (key.to_string(), upload_id.to_string());
        self.blocking("upload_part", key, move |layout| {
            multipart::upload_part(&layout, &owned_key, &upload_id, part_number, &body, md5)
        })
        .await
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> StoreResult<String> {
        let (owned_key, upload_id, parts) =
            (key.to_string(), upload_id.to_string(), parts.to_vec());
        self.blocking("complete_multipart", key, move |layout| {
            multipart::complete(&layout, &owned_key, &upload_id, &parts)
        })
        .await
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> StoreResult<()> {
        let (owned_key, upload_id) = (key.to_string(), upload_id.to_string());
        self.blocking("abort_multipart", key, move |layout| {
            multipart::abort(&layout, &owned_key, &upload_id)
        })
        .await
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        const OP: &str = "head";
        let owned_key = key.to_string();
        self.blocking(OP, key, move |layout| {
            let key = owned_key;
            let path = layout.object_path(OP, &key)?;
            let meta = match fs_err::metadata(&path) {
                Ok(meta) if meta.is_file() => meta,
                Ok(_) => return Ok(None),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                // "a/b/c" when "a/b" is a file: nothing can be stored there, so nothing is.
                Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => return Ok(None),
                Err(err) => return Err(io_error(OP, &key)(err)),
            };
            let etag = etag_of(&layout, &key, &path).map_err(io_error(OP, &key))?;
            Ok(Some(ObjectMeta {
                size: meta.len(),
                etag,
                key,
            }))
        })
        .await
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Bytes> {
        let owned_key = key.to_string();
        self.blocking("get", key, move |layout| {
            let path = layout.object_path("get", &owned_key)?;
            read_range(&path, &owned_key, range)
        })
        .await
    }

    async fn list(&self, prefix: &str, delimiter: Option<&str>) -> StoreResult<Listing> {
        let (owned_prefix, delimiter) = (prefix.to_string(), delimiter.map(str::to_string));
        self.blocking("list", prefix, move |layout| {
            listing::list(&layout, &owned_prefix, delimiter.as_deref())
        })
        .await
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        const OP: &str = "delete";
        let owned_key = key.to_string();
        self.blocking(OP, key, move |layout| {
            let key = owned_key;
            let path = layout.object_path(OP, &key)?;
            let etag_path = layout.etag_path(&key);
            remove_if_exists(&path).map_err(io_error(OP, &key))?;
            remove_if_exists(&etag_path).map_err(io_error(OP, &key))?;
            prune_empty_parents(&path, &layout.root);
            prune_empty_parents(&etag_path, &layout.root.join(ETAG_DIR));
            Ok(())
        })
        .await
    }

    async fn list_multipart_uploads(&self, prefix: &str) -> StoreResult<Vec<PendingUpload>> {
        let owned_prefix = prefix.to_string();
        self.blocking("list_multipart_uploads", prefix, move |layout| {
            multipart::list(&layout, &owned_prefix)
        })
        .await
    }

    /// CRC32C: see `local/checked.rs`.
    async fn transport_check(&self, _probe_key: &str, _opts: &PutOptions) -> TransportCheck {
        TransportCheck::Crc32c
    }

    async fn put_object_checked(
        &self,
        key: &str,
        body: Bytes,
        digest: BodyDigest,
        _opts: &PutOptions,
    ) -> StoreResult<String> {
        let owned_key = key.to_string();
        self.blocking("put", key, move |layout| {
            checked::put(&layout, &owned_key, &body, &digest)
        })
        .await
    }

    async fn upload_part_checked(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        digest: BodyDigest,
    ) -> StoreResult<String> {
        let (owned_key, upload_id) = (key.to_string(), upload_id.to_string());
        self.blocking("upload_part", key, move |layout| {
            checked::upload_part(&layout, &owned_key, &upload_id, part_number, &body, &digest)
        })
        .await
    }

    async fn complete_multipart_checked(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        part_crc32cs: &[u32],
        check: TransportCheck,
    ) -> StoreResult<String> {
        if check == TransportCheck::ContentMd5 {
            return self.complete_multipart(key, upload_id, parts).await;
        }
        let (owned_key, upload_id, parts, crcs) = (
            key.to_string(),
            upload_id.to_string(),
            parts.to_vec(),
            part_crc32cs.to_vec(),
        );
        self.blocking("complete_multipart", key, move |layout| {
            checked::complete(&layout, &owned_key, &upload_id, &parts, &crcs)
        })
        .await
    }
}
