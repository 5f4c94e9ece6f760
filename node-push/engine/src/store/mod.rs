//! The object-store abstraction both binaries use.
//!
//! [`ObjectStore`] is the small set of operations a backup needs: single PUTs, multipart uploads with
//! per-part Content-MD5, HEAD, ranged GETs, listing with a delimiter, deletes, and listing open multipart
//! uploads (so that `purge` can abort what a killed agent left behind). Two implementations exist:
//! [`s3::S3Store`] (AWS and S3-compatible stores, through rust-s3) and [`local::LocalStore`] (a directory,
//! for `file://` destinations, tests and NFS users).
//!
//! Every error is a [`StoreError`] that says whether retrying can help ([`StoreError::is_retryable`]);
//! [`retry::with_retry`] applies exponential backoff with jitter to the retryable ones.

pub mod local;
pub mod retry;
pub mod s3;
pub mod url;

use async_trait::async_trait;
use bytes::Bytes;

pub use retry::{with_retry, RetryPolicy};
pub use url::Destination;

/// Server-side encryption requested for new objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ServerSideEncryption {
    /// No `x-amz-server-side-encryption` header.
    #[default]
    None,
    /// `AES256` (the old tool's `--s3-ssenc`).
    Aes256,
    /// `aws:kms`, optionally with a key id.
    Kms { key_id: Option<String> },
}

/// Options applied to every object written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    pub sse: ServerSideEncryption,
    /// S3 storage class such as `STANDARD`, `REDUCED_REDUNDANCY` or `STANDARD_IA`; `None` leaves the default.
    pub storage_class: Option<String>,
    pub content_type: Option<String>,
}

/// What a HEAD or a listing says of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Full key, relative to the bucket (S3) or the root directory (local).
    pub key: String,
    pub size: u64,
    /// ETag without surrounding quotes, e.g. `9b2cf535f27731c974343645a3985328-3`.
    pub etag: String,
}

/// How a store proves that the body of each data request (a single PUT, a part) arrived intact. Decided
/// once per store ([`ObjectStore::transport_check`]); see ARCHITECTURE.md's invariants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportCheck {
    /// `Content-MD5` on every data request: the store refuses a body that does not match (BadDigest), and
    /// the object's ETag is the MD5 (or MD5 of part MD5s) we computed.
    ContentMd5,
    /// `x-amz-checksum-crc32c` on every data request (hardware CRC, several GB/s): the store refuses a body
    /// that does not match and echoes the checksum back; a multipart object carries the CRC32C of its part
    /// CRC32Cs, checked at completion.
    Crc32c,
}

/// The digests of one request body, computed once, when the body was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDigest {
    /// CRC32C (Castagnoli) of the body.
    pub crc32c: u32,
    /// MD5 of the body, when the transport check (or a resume's ETag) needs it.
    pub md5: Option<[u8; 16]>,
}

impl BodyDigest {
    /// Both digests of `body`.
    pub fn of(body: &[u8], with_md5: bool) -> Self {
        use md5::Digest as _;
        BodyDigest {
            crc32c: crc32c::crc32c(body),
            md5: with_md5.then(|| md5::Md5::digest(body).into()),
        }
    }

    /// The MD5, computed from `body` if it was not.
    pub fn md5_of(&self, body: &[u8]) -> [u8; 16] {
        use md5::Digest as _;
        self.md5.unwrap_or_else(|| md5::Md5::digest(body).into())
    }
}

/// The CRC32C S3 reports for a multipart object: the CRC32C of the parts' big-endian CRC32Cs, base64,
/// then `-<parts>`.
pub fn composite_crc32c(part_crc32cs: &[u32]) -> String {
    use base64::Engine as _;
    let joined: Vec<u8> = part_crc32cs
        .iter()
        .flat_map(|crc| crc.to_be_bytes())
        .collect();
    let crc = crc32c::crc32c(&joined);
    format!(
        "{}-{}",
        base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes()),
        part_crc32cs.len()
    )
}

/// One page-merged listing result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub objects: Vec<ObjectMeta>,
    /// With a delimiter: the "directories" directly below the prefix, each ending in the delimiter.
    pub common_prefixes: Vec<String>,
}

/// A part that was uploaded, as needed to complete a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// 1-based, at most 10,000.
    pub part_number: u32,
    /// ETag the server returned for the part, without quotes.
    pub etag: String,
}

/// A multipart upload that was started and neither completed nor aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
    /// When it was initiated, as the store reports it (RFC 3339), if it does.
    pub initiated: Option<String>,
}

/// Why an object-store operation failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// 5xx, `SlowDown`, throttling, timeouts, connection resets, truncated bodies: worth a retry.
    #[error("{op} {key}: transient error: {message}")]
    Transient {
        op: &'static str,
        key: String,
        message: String,
    },
    /// The object (or upload id) does not exist.
    #[error("{op} {key}: not found")]
    NotFound { op: &'static str, key: String },
    /// Credentials rejected, access denied, wrong region, bucket missing, bad request: retrying won't help.
    #[error("{op} {key}: {message}")]
    Permanent {
        op: &'static str,
        key: String,
        message: String,
    },
    /// The data read back does not match what was expected (size, ETag, MD5).
    #[error("{op} {key}: integrity check failed: {message}")]
    Integrity {
        op: &'static str,
        key: String,
        message: String,
    },
    /// Local filesystem error (local store, or reading the source).
    #[error("{op} {key}: {source}")]
    Io {
        op: &'static str,
        key: String,
        source: std::io::Error,
    },
}

impl StoreError {
    /// True when the same request may succeed if sent again.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Transient { .. } | StoreError::Integrity { .. } => true,
            StoreError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            ),
            StoreError::NotFound { .. } | StoreError::Permanent { .. } => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The operations a backup, verify, restore and purge need from an object store.
///
/// Keys are full keys (the store adds nothing). Implementations are cheap to share behind an `Arc`.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// A short human description, e.g. `s3://bucket` or `file:///backups`, for messages. Never secrets.
    fn describe(&self) -> String;

    /// Write a whole object in one request; returns its ETag.
    async fn put_object(&self, key: &str, body: Bytes, opts: &PutOptions) -> StoreResult<String>;

    /// Start a multipart upload; returns the upload id.
    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> StoreResult<String>;

    /// Upload one part with its Content-MD5 (`md5` is the raw digest of `body`); returns the part's ETag.
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        md5: [u8; 16],
    ) -> StoreResult<String>;

    /// Complete a multipart upload; returns the object's ETag as the server reports it.
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> StoreResult<String>;

    /// Abort a multipart upload, discarding its parts. Aborting an unknown upload is not an error.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> StoreResult<()>;

    /// Size and ETag of an object, or `None` if it does not exist.
    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>>;

    /// The bytes `[start, end)` of an object, or the whole object when `range` is `None`.
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Bytes>;

    /// Every object whose key starts with `prefix` (all pages merged). With `delimiter`, keys containing
    /// it after the prefix are folded into `common_prefixes`.
    async fn list(&self, prefix: &str, delimiter: Option<&str>) -> StoreResult<Listing>;

    /// Delete one object. Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> StoreResult<()>;

    /// Open multipart uploads whose key starts with `prefix`.
    async fn list_multipart_uploads(&self, prefix: &str) -> StoreResult<Vec<PendingUpload>>;

    /// How this store checks data requests. Decided once per store: S3 probes the server on the first
    /// call (a PUT of a few bytes next to `probe_key`, with `opts`); the default is Content-MD5.
    async fn transport_check(&self, _probe_key: &str, _opts: &PutOptions) -> TransportCheck {
        TransportCheck::ContentMd5
    }

    /// [`ObjectStore::put_object`] with the body's digests computed by the caller, checked the way
    /// [`ObjectStore::transport_check`] said.
    async fn put_object_checked(
        &self,
        key: &str,
        body: Bytes,
        _digest: BodyDigest,
        opts: &PutOptions,
    ) -> StoreResult<String> {
        self.put_object(key, body, opts).await
    }

    /// [`ObjectStore::create_multipart`] for parts that will be checked with `check`.
    async fn create_multipart_checked(
        &self,
        key: &str,
        opts: &PutOptions,
        _check: TransportCheck,
    ) -> StoreResult<String> {
        self.create_multipart(key, opts).await
    }

    /// [`ObjectStore::upload_part`] with the body's digests computed by the caller.
    async fn upload_part_checked(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        digest: BodyDigest,
    ) -> StoreResult<String> {
        let md5 = digest.md5_of(&body);
        self.upload_part(key, upload_id, part_number, body, md5)
            .await
    }

    /// [`ObjectStore::complete_multipart`] of an upload created with `check`; `part_crc32cs` are the parts'
    /// CRC32Cs in the order of `parts`.
    async fn complete_multipart_checked(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        _part_crc32cs: &[u32],
        _check: TransportCheck,
    ) -> StoreResult<String> {
        self.complete_multipart(key, upload_id, parts).await
    }
}
