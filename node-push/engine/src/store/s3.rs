//! [`S3Store`]: AWS S3 and S3-compatible stores (SeaweedFS, MinIO, ...) through rust-s3.
//!
//! rust-s3 signs and sends the metadata requests (HEAD, GET, list, multipart complete/abort, delete). The
//! requests that carry data or object options (a single PUT, a part upload, multipart initiation) are
//! signed here ([`signed`]): Content-MD5 is the digest computed when the data was read, bodies are sent
//! without copies, and a KMS key id does not break the signature as it does in rust-s3 0.38.
//! rust-s3's own retries are switched off: [`crate::store::retry`] decides.
//!
//! Addressing: with a custom endpoint, path-style (`http://host:port/bucket/key`), which every
//! S3-compatible server understands. On AWS, virtual-hosted style, except for bucket names with dots,
//! which do not match the `*.s3.amazonaws.com` certificate and so need path-style too.
//!
//! [`S3Store::connect`] lists one key to check the bucket, region and credentials up front, so that a typo
//! fails at once with a message saying what to fix instead of after the first file was compressed.

mod checksum;
mod credentials;
mod download;
mod errors;
mod fresh;
mod listing;
mod signed;

pub use credentials::{
    publish_keys, renew_at, resolve as resolve_credentials, subscribe_keys, CredentialSource, Keys,
    Resolved, NOTHING_FOUND,
};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName};
use reqwest::Method;
use s3::serde_types::Part;
use s3::{Bucket, Region};
use serde::Deserialize;

use self::errors::RequestContext;
use self::signed::{header_value, SignedRequest, TimeLimit};
use super::{
    BodyDigest, CompletedPart, Listing, ObjectMeta, ObjectStore, PendingUpload, PutOptions,
    ServerSideEncryption, StoreError, StoreResult, TransportCheck,
};

/// How to reach a bucket.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// The bucket's region, e.g. `us-east-1` (S3-compatible servers mostly accept any).
    pub region: String,
    /// A custom endpoint such as `http://127.0.0.1:8333`; implies path-style addressing.
    pub endpoint: Option<String>,
    pub credentials: CredentialSource,
    /// Time limit of one request without a body. Uploads get one extra second per 64 KiB, so a slow
    /// link finishes a large part while a stalled one is still cut off; downloads may take as long as
    /// they need but fail when no data arrives for this long.
    pub timeout: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // CredentialSource's Debug redacts the secrets.
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An S3 bucket. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct S3Store {
    /// Renews temporary keys before they expire (see `fresh.rs`).
    bucket: fresh::FreshBucket,
    name: String,
    region: String,
    endpoint: Option<String>,
    timeout: Duration,
    /// Keys or uploads per listing page; `None` leaves the server's default (1000 on AWS).
    page_size: Option<usize>,
    /// How data requests are checked, probed on the first upload (`checksum.rs`).
    transport: tokio::sync::OnceCell<TransportCheck>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.name)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Bytes per second a body must at least move at before its request times out (see [`S3Config::timeout`]).
const SLOWEST_TRANSFER: u64 = 64 * 1024;

fn config_error(cfg: &S3Config, message: String) -> StoreError {
    StoreError::Permanent {
        op: "connect",
        key: format!("s3://{}", cfg.bucket),
        message,
    }
}

/// The rust-s3 region for a config: the custom endpoint, a region rust-s3 knows, or AWS's regular
/// endpoint scheme for a region it does not know yet.
fn region_of(cfg: &S3Config) -> Result<Region, StoreError> {
    if cfg.region.is_empty() {
        return Err(config_error(cfg, "the region must not be empty".into()));
    }
    if let Some(endpoint) = &cfg.endpoint {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(config_error(
                cfg,
                format!("endpoint {endpoint:?} must be a URL such as https://s3.example.com:9000"),
            ));
        }
        return Ok(Region::Custom {
            region: cfg.region.clone(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
        });
    }
    match cfg.region.parse::<Region>() {
        // rust-s3 turns names it does not know into an endpoint equal to the name, which cannot work.
        Ok(Region::Custom { region, .. }) => Ok(Region::Custom {
            endpoint: format!("https://s3.{region}.amazonaws.com"),
            region,
        }),
        Ok(region) => Ok(region),
        Err(err) => Err(config_error(
            cfg,
            format!("invalid region {:?}: {err}", cfg.region),
        )),
    }
}

impl S3Store {
    /// Loads the credentials, builds the client, and checks that the bucket can be listed.
    pub async fn connect(cfg: S3Config) -> Result<Self, StoreError> {
        if cfg.bucket.is_empty() {
            return Err(config_error(
                &cfg,
                "the bucket name must not be empty".into(),
            ));
        }
        let region = region_of(&cfg)?;
        let resolved = credentials::resolve(&cfg.credentials).await?;
        let credentials = resolved.keys.to_rust_s3()?;
        let path_style = cfg.endpoint.is_some() || cfg.bucket.contains('.');
        let build = || -> Result<Box<Bucket>, s3::error::S3Error> {
            let mut bucket = Bucket::new(&cfg.bucket, region, credentials)?;
            if path_style {
                bucket = bucket.with_path_style();
            }
            bucket.with_request_timeout(cfg.timeout)
        };
        let bucket = build()
            .map_err(|err| config_error(&cfg, format!("cannot set up the S3 client: {err}")))?;
        // Retries are ours (with backoff and jitter, and only for what is worth retrying).
        s3::set_retries(0);
        let store = S3Store {
            name: bucket.name.clone(),
            bucket: fresh::FreshBucket::new(*bucket, resolved.keys, cfg.credentials.clone()),
            region: cfg.region.clone(),
            endpoint: cfg.endpoint.clone(),
            timeout: cfg.timeout,
            page_size: None,
            transport: tokio::sync::OnceCell::new(),
        };
        store.check_bucket().await?;
        Ok(store)
    }

    /// Asks for at most `keys` entries per listing page (objects and multipart uploads). Listings still
    /// return everything; small pages let tests cover pagination without thousands of objects.
    pub fn with_page_size(mut self, keys: usize) -> Self {
        self.page_size = Some(keys.max(1));
        self
    }

    /// The rust-s3 bucket, with keys valid for the next request.
    async fn bucket(&self) -> StoreResult<Arc<Bucket>> {
        self.bucket.get().await
    }

    /// The bucket name.
    pub fn bucket_name(&self) -> &str {
        &self.name
    }

    fn context<'a>(&'a self, op: &'static str, key: &'a str) -> RequestContext<'a> {
        RequestContext {
            op,
            key,
            bucket: &self.name,
            region: &self.region,
        }
    }

    /// Lists at most one key: fails if the bucket is missing, in another region, or not ours to read.
    async fn check_bucket(&self) -> StoreResult<()> {
        let name = format!("s3://{}", self.name);
        let ctx = self.context("connect", &name);
        self.bucket()
            .await?
            .list_page(String::new(), None, None, None, Some(1))
            .await
            .map(|_| ())
            .map_err(|err| ctx.classify_s3(err))
    }

    fn body_timeout(&self, len: usize) -> Duration {
        self.timeout + Duration::from_secs(len as u64 / SLOWEST_TRANSFER)
    }

    /// InitiateMultipartUpload with `headers` (encryption, storage class, checksum algorithm).
    async fn initiate(
        &self,
        key: &str,
        opts: &PutOptions,
        mut headers: HeaderMap,
    ) -> StoreResult<String> {
        let ctx = self.context("create_multipart", key);
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            header_value(&ctx, "content-type", content_type(opts))?,
        );
        let request = SignedRequest {
            method: Method::POST,
            key,
            query: &[("uploads", "")],
            headers,
            body: Bytes::new(),
            md5: None,
            crc32c: None,
            time_limit: TimeLimit::Total(self.timeout),
        };
        let response = signed::send(&*self.bucket().await?, request, ctx).await?;
        let body = response
            .text()
            .await
            .map_err(|err| ctx.classify_transport(err))?;
        let initiated: InitiateResult =
            quick_xml::de::from_str(&body).map_err(|_| StoreError::Transient {
                op: ctx.op,
                key: key.to_string(),
                message: "the answer to the initiation has no UploadId".into(),
            })?;
        Ok(initiated.upload_id)
    }

    /// The check data requests get: the probed one, Content-MD5 before the probe.
    fn checked_with(&self) -> TransportCheck {
        self.transport
            .get()
            .copied()
            .unwrap_or(TransportCheck::ContentMd5)
    }
}

/// The headers that set encryption and storage class (on single PUTs and on multipart initiation).
fn object_headers(opts: &PutOptions, ctx: &RequestContext<'_>) -> StoreResult<HeaderMap> {
    let mut headers = HeaderMap::new();
    let mut add = |name: &'static str, value: &str| -> StoreResult<()> {
        headers.insert(
            HeaderName::from_static(name),
            header_value(ctx, name, value)?,
        );
        Ok(())
    };
    match &opts.sse {
        ServerSideEncryption::None => {}
        ServerSideEncryption::Aes256 => add("x-amz-server-side-encryption", "AES256")?,
        ServerSideEncryption::Kms { key_id } => {
            add("x-amz-server-side-encryption", "aws:kms")?;
            if let Some(key_id) = key_id {
                add("x-amz-server-side-encryption-aws-kms-key-id", key_id)?;
            }
        }
    }
    if let Some(class) = &opts.storage_class {
        add("x-amz-storage-class", class)?;
    }
    Ok(headers)
}

fn content_type(opts: &PutOptions) -> &str {
    opts.content_type
        .as_deref()
        .unwrap_or("application/octet-stream")
}

fn unquote(etag: &str) -> String {
    etag.trim().trim_matches('"').to_string()
}

/// The part of an InitiateMultipartUpload answer we need.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateResult {
    upload_id: String,
}

/// The part of a CompleteMultipartUpload answer we need.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteResult {
    e_tag: String,
}

#[async_trait]
impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("s3://{} at {endpoint}", self.name),
            None => format!("s3://{}", self.name),
        }
    }

    async fn put_object(&self, key: &str, body: Bytes, opts: &PutOptions) -> StoreResult<String> {
        let digest = BodyDigest::of(&body, true);
        self.put_checked(key, body, digest, opts, TransportCheck::ContentMd5)
            .await
    }

    async fn create_multipart(&self, key: &str, opts: &PutOptions) -> StoreResult<String> {
        let headers = object_headers(opts, &self.context("create_multipart", key))?;
        self.initiate(key, opts, headers).await
    }

    async fn transport_check(&self, probe_key: &str, opts: &PutOptions) -> TransportCheck {
        *self
            .transport
            .get_or_init(|| self.probe_transport_check(probe_key, opts))
            .await
    }

    async fn put_object_checked(
        &self,
        key: &str,
        body: Bytes,
        digest: BodyDigest,
        opts: &PutOptions,
    ) -> StoreResult<String> {
        self.put_checked(key, body, digest, opts, self.checked_with())
            .await
    }

    async fn create_multipart_checked(
        &self,
        key: &str,
        opts: &PutOptions,
        check: TransportCheck,
    ) -> StoreResult<String> {
        match check {
            TransportCheck::ContentMd5 => self.create_multipart(key, opts).await,
            TransportCheck::Crc32c => self.create_crc32c(key, opts).await,
        }
    }

    async fn upload_part_checked(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        digest: BodyDigest,
    ) -> StoreResult<String> {
        let check = self.checked_with();
        self.part_checked(key, upload_id, part_number, body, digest, check)
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
        match check {
            TransportCheck::ContentMd5 => self.complete_multipart(key, upload_id, parts).await,
            TransportCheck::Crc32c => {
                self.complete_crc32c(key, upload_id, parts, part_crc32cs)
                    .await
            }
        }
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        md5: [u8; 16],
    ) -> StoreResult<String> {
        let digest = BodyDigest {
            crc32c: crc32c::crc32c(&body),
            md5: Some(md5),
        };
        let check = TransportCheck::ContentMd5;
        self.part_checked(key, upload_id, part_number, body, digest, check)
            .await
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> StoreResult<String> {
        let ctx = self.context("complete_multipart", key);
        let parts: Vec<Part> = parts
            .iter()
            .map(|part| Part {
                part_number: part.part_number,
                etag: format!("\"{}\"", unquote(&part.etag)),
            })
            .collect();
        let response = self
            .bucket()
            .await?
            .complete_multipart_upload(key, upload_id, parts)
            .await
            .map_err(|e| ctx.classify_s3(e))?;
        let status = response.status_code();
        let body = response.as_str().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(ctx.classify_response(status, body));
        }
        let result: CompleteResult =
            quick_xml::de::from_str(body).map_err(|_| StoreError::Transient {
                op: ctx.op,
                key: key.to_string(),
                message: "the completion answer has no ETag".into(),
            })?;
        Ok(unquote(&result.e_tag))
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> StoreResult<()> {
        let ctx = self.context("abort_multipart", key);
        match self.bucket().await?.abort_upload(key, upload_id).await {
            Ok(()) => Ok(()),
            Err(err) => match ctx.classify_s3(err) {
                StoreError::NotFound { .. } => Ok(()),
                err => Err(err),
            },
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        let ctx = self.context("head", key);
        match self.bucket().await?.head_object(key).await {
            Ok((head, _status)) => Ok(Some(ObjectMeta {
                key: key.to_string(),
                size: head.content_length.unwrap_or(0).max(0) as u64,
                etag: head.e_tag.as_deref().map(unquote).unwrap_or_default(),
            })),
            Err(err) => match ctx.classify_s3(err) {
                StoreError::NotFound { .. } => Ok(None),
                err => Err(err),
            },
        }
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Bytes> {
        let ctx = self.context("get", key);
        let mut headers = HeaderMap::new();
        if let Some((start, end)) = range {
            if start > end {
                return Err(StoreError::Permanent {
                    op: ctx.op,
                    key: key.to_string(),
                    message: format!("invalid range [{start}, {end})"),
                });
            }
            if start == end {
                // HTTP ranges cannot be empty.
                return Ok(Bytes::new());
            }
            let value = format!("bytes={start}-{}", end - 1);
            headers.insert(reqwest::header::RANGE, header_value(&ctx, "range", &value)?);
        }
        let request = SignedRequest {
            method: Method::GET,
            key,
            query: &[],
            headers,
            body: Bytes::new(),
            md5: None,
            crc32c: None,
            time_limit: TimeLimit::UntilHeaders(self.timeout),
        };
        let response = signed::send(&*self.bucket().await?, request, ctx).await?;
        let download = download::read_body(response, self.timeout, &ctx).await?;
        match range {
            None => Ok(download.body),
            Some((start, end)) => download::ranged(&ctx, download, start, end),
        }
    }

    async fn list(&self, prefix: &str, delimiter: Option<&str>) -> StoreResult<Listing> {
        listing::list(self, prefix, delimiter).await
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        let ctx = self.context("delete", key);
        match self.bucket().await?.delete_object(key).await {
            Ok(_) => Ok(()),
            Err(err) => match ctx.classify_s3(err) {
                StoreError::NotFound { .. } => Ok(()),
                err => Err(err),
            },
        }
    }

    async fn list_multipart_uploads(&self, prefix: &str) -> StoreResult<Vec<PendingUpload>> {
        listing::list_multipart_uploads(self, prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(region: &str, endpoint: Option<&str>) -> S3Config {
        S3Config {
            bucket: "b".into(),
            region: region.into(),
            endpoint: endpoint.map(str::to_string),
            credentials: CredentialSource::Environment,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn regions_and_endpoints() {
        assert_eq!(region_of(&cfg("eu-west-1", None)).unwrap(), Region::EuWest1);
        let future = region_of(&cfg("xx-future-9", None)).unwrap();
        assert_eq!(future.host(), "s3.xx-future-9.amazonaws.com");
        assert_eq!(future.to_string(), "xx-future-9");
        let custom = region_of(&cfg("us-east-1", Some("http://127.0.0.1:8333/"))).unwrap();
        assert_eq!(
            (custom.scheme().as_str(), custom.host().as_str()),
            ("http", "127.0.0.1:8333")
        );
        assert!(region_of(&cfg("us-east-1", Some("127.0.0.1:8333"))).is_err());
        assert!(region_of(&cfg("", None)).is_err());
    }

    #[test]
    fn object_options_become_headers() {
        let ctx = RequestContext {
            op: "put",
            key: "k",
            bucket: "b",
            region: "us-east-1",
        };
        let kms = PutOptions {
            sse: ServerSideEncryption::Kms {
                key_id: Some("arn:aws:kms:us-east-1:1:key/abc".into()),
            },
            storage_class: Some("STANDARD_IA".into()),
            content_type: None,
        };
        let headers = object_headers(&kms, &ctx).unwrap();
        assert_eq!(headers["x-amz-server-side-encryption"], "aws:kms");
        assert_eq!(
            headers["x-amz-server-side-encryption-aws-kms-key-id"],
            "arn:aws:kms:us-east-1:1:key/abc"
        );
        assert_eq!(headers["x-amz-storage-class"], "STANDARD_IA");
        let aes = PutOptions {
            sse: ServerSideEncryption::Aes256,
            ..PutOptions::default()
        };
        let headers = object_headers(&aes, &ctx).unwrap();
        assert_eq!(headers["x-amz-server-side-encryption"], "AES256");
        assert_eq!(headers.len(), 1);
        assert!(object_headers(&PutOptions::default(), &ctx)
            .unwrap()
            .is_empty());
        let bad = PutOptions {
            storage_class: Some("BAD\nCLASS".into()),
            ..PutOptions::default()
        };
        assert!(matches!(
            object_headers(&bad, &ctx),
            Err(StoreError::Permanent { .. })
        ));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let mut config = cfg("us-east-1", None);
        config.credentials = CredentialSource::Explicit {
            access_key: "AKIAEXAMPLEEXAMPLE".into(),
            secret_key: "very-secret-value".into(),
            session_token: None,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(shown.contains("bucket: \"b\""), "{shown}");
    }
}
