//! Requests signed here (SigV4) rather than by rust-s3: the ones that carry data or object options.
//!
//! Three reasons, each found the hard way:
//! - rust-s3 computes its own Content-MD5 from the bytes it holds, so it could never notice that they were
//!   damaged after we hashed them; here `Content-MD5` is the digest the caller computed when it read the
//!   data, and the server rejects a body that changed since (`BadDigest`).
//! - rust-s3 copies every body into a new `Vec` and hashes it once more for the signature; here the body
//!   goes out as the caller's `Bytes` and is declared `UNSIGNED-PAYLOAD` (its integrity is what
//!   Content-MD5 is for).
//! - rust-s3 0.38 sorts canonical headers as `name:value` strings, so `x-amz-server-side-encryption` and
//!   `x-amz-server-side-encryption-aws-kms-key-id` come out in a different order than its SignedHeaders
//!   list, and every request with a KMS key id fails with SignatureDoesNotMatch. Here headers are sorted
//!   by name, as SigV4 requires.
//!
//! rust-s3 still provides the HTTP client, the credentials (refreshed when they expire), the URL and its
//! canonical form.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, HOST};
use reqwest::{Method, Url};
use s3::signing;
use s3::Bucket;
use sha2::{Digest as _, Sha256};

use super::errors::RequestContext;
use crate::store::StoreError;

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The additional-checksum header a store verifies a body against (and echoes back).
pub const CHECKSUM_CRC32C: &str = "x-amz-checksum-crc32c";

/// A CRC32C as S3 writes it in headers and XML: base64 of its 4 big-endian bytes.
pub fn crc32c_header(crc: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

/// Checks the CRC32C a store echoed for a body we sent with `crc`: an echo that differs means the store
/// holds other bytes. A store that verifies the header (see `checksum.rs`' probe) but does not echo it
/// has already refused any mismatch.
pub fn check_crc32c_echo(
    response: &reqwest::Response,
    crc: u32,
    ctx: &RequestContext<'_>,
) -> Result<(), StoreError> {
    let Some(echo) = response.headers().get(CHECKSUM_CRC32C) else {
        return Ok(());
    };
    let sent = crc32c_header(crc);
    if echo.as_bytes() == sent.as_bytes() {
        return Ok(());
    }
    Err(StoreError::Integrity {
        op: ctx.op,
        key: ctx.key.to_string(),
        message: format!(
            "the store answered with CRC32C {}, the body sent has {sent}",
            String::from_utf8_lossy(echo.as_bytes())
        ),
    })
}

/// One request to sign and send.
pub struct SignedRequest<'a> {
    pub method: Method,
    pub key: &'a str,
    /// Query parameters, e.g. `partNumber` and `uploadId` for a part, `uploads` for initiation.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers besides the ones every request gets (content type, encryption, storage class).
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Raw MD5 of `body` as the caller computed it; sent as `Content-MD5`.
    pub md5: Option<[u8; 16]>,
    /// CRC32C of `body` as the caller computed it; sent as `x-amz-checksum-crc32c`.
    pub crc32c: Option<u32>,
    pub time_limit: TimeLimit,
}

/// How long a request may take.
#[derive(Debug, Clone, Copy)]
pub enum TimeLimit {
    /// The whole exchange, body included (requests whose size we know).
    Total(Duration),
    /// Until the response headers arrive; the caller bounds the silences while reading the body
    /// (downloads of unknown size, which may legitimately take long but must not stall).
    UntilHeaders(Duration),
}

/// The credentials and place a signature is for.
pub struct SigningKey<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// SigV4's canonical request and its signed-headers list. Headers are sorted by name (not by `name:value`,
/// which orders `x-amz-server-side-encryption-aws-kms-key-id` before `x-amz-server-side-encryption`).
fn canonical_request(method: &Method, url: &Url, headers: &HeaderMap) -> (String, String) {
    let mut canonical_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes());
            // Sequential spaces inside a value count as one.
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            (name.as_str().to_ascii_lowercase(), value)
        })
        .collect();
    canonical_headers.sort_by(|a, b| a.0.cmp(&b.0));
    let signed_headers = canonical_headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let payload_hash = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(UNSIGNED_PAYLOAD);
    let mut request = format!(
        "{method}\n{}\n{}\n",
        signing::canonical_uri_string(url),
        signing::canonical_query_string(url)
    );
    for (name, value) in &canonical_headers {
        request.push_str(&format!("{name}:{value}\n"));
    }
    request.push_str(&format!("\n{signed_headers}\n{payload_hash}"));
    (request, signed_headers)
}

/// The `Authorization` header value for a request (AWS Signature Version 4, service `s3`). `headers`
/// must hold every header to sign, `x-amz-date` (matching `when`) and `x-amz-content-sha256` included.
pub fn authorization(
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    when: DateTime<Utc>,
    key: &SigningKey<'_>,
) -> String {
    let (canonical_request, signed_headers) = canonical_request(method, url, headers);
    let date = when.format("%Y%m%d").to_string();
    let scope = format!("{date}/{}/s3/aws4_request", key.region);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        when.format("%Y%m%dT%H%M%SZ"),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut signing_key = hmac_sha256(
        format!("AWS4{}", key.secret_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [key.region, "s3", "aws4_request"] {
        signing_key = hmac_sha256(&signing_key, part.as_bytes());
    }
    let signature = hex::encode(hmac_sha256(&signing_key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        key.access_key
    )
}

fn permanent(ctx: &RequestContext<'_>, message: String) -> StoreError {
    StoreError::Permanent {
        op: ctx.op,
        key: ctx.key.to_string(),
        message,
    }
}

/// A header value, or a Permanent error naming the header (values come from user options).
pub fn header_value(
    ctx: &RequestContext<'_>,
    name: &str,
    value: &str,
) -> Result<HeaderValue, StoreError> {
    HeaderValue::from_str(value).map_err(|_| {
        permanent(
            ctx,
            format!("{name} value {value:?} is not valid in an HTTP header"),
        )
    })
}

/// Signs and sends `request`. Returns the response if its status is a success, else the classified error.
pub async fn send(
    bucket: &Bucket,
    request: SignedRequest<'_>,
    ctx: RequestContext<'_>,
) -> Result<reqwest::Response, StoreError> {
    bucket
        .credentials_refresh()
        .await
        .map_err(|e| ctx.classify_s3(e))?;
    let credentials = bucket.credentials().await.map_err(|e| ctx.classify_s3(e))?;

    let mut url = Url::parse(&format!(
        "{}/{}",
        bucket.url(),
        signing::uri_encode(request.key, false)
    ))
    .map_err(|err| permanent(&ctx, format!("cannot build the request URL: {err}")))?;
    for (name, value) in request.query {
        // `uploads` is a bare flag; `uploads=` means the same to S3 and signs the same.
        url.query_pairs_mut().append_pair(name, value);
    }

    // Whole seconds: the same instant goes into x-amz-date and the signature.
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
    let mut headers = request.headers;
    let host = bucket.host();
    // A custom endpoint may carry a path; the Host header is only the authority.
    let authority = host.split('/').next().unwrap_or(&host);
    headers.insert(HOST, header_value(&ctx, "host", authority)?);
    headers.insert(
        HeaderName::from_static("x-amz-date"),
        header_value(
            &ctx,
            "x-amz-date",
            &now.format("%Y%m%dT%H%M%SZ").to_string(),
        )?,
    );
    headers.insert(
        HeaderName::from_static("x-amz-content-sha256"),
        HeaderValue::from_static(UNSIGNED_PAYLOAD),
    );
    if let Some(md5) = request.md5 {
        let encoded = base64::engine::general_purpose::STANDARD.encode(md5);
        headers.insert(
            HeaderName::from_static("content-md5"),
            header_value(&ctx, "content-md5", &encoded)?,
        );
    }
    if let Some(crc) = request.crc32c {
        headers.insert(
            HeaderName::from_static(CHECKSUM_CRC32C),
            header_value(&ctx, CHECKSUM_CRC32C, &crc32c_header(crc))?,
        );
    }
    if let Some(token) = credentials
        .session_token
        .as_ref()
        .or(credentials.security_token.as_ref())
    {
        let mut value = header_value(&ctx, "x-amz-security-token", token).map_err(|_| {
            permanent(
                &ctx,
                "the session token is not valid in an HTTP header".into(),
            )
        })?;
        value.set_sensitive(true);
        headers.insert(HeaderName::from_static("x-amz-security-token"), value);
    }
    if let (Some(access_key), Some(secret_key)) = (&credentials.access_key, &credentials.secret_key)
    {
        let region = bucket.region().to_string();
        let key = SigningKey {
            access_key,
            secret_key,
            region: &region,
        };
        let signature = authorization(&request.method, &url, &headers, now, &key);
        let mut value = HeaderValue::from_str(&signature).map_err(|_| {
            permanent(
                &ctx,
                "the access key id is not valid in an HTTP header".into(),
            )
        })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }

    let builder = bucket
        .http_client()
        .request(request.method, url)
        .headers(headers)
        .body(request.body);
    let response = match request.time_limit {
        TimeLimit::Total(limit) => builder.timeout(limit).send().await,
        TimeLimit::UntilHeaders(limit) => match tokio::time::timeout(limit, builder.send()).await {
            Ok(result) => result,
            Err(_) => {
                return Err(StoreError::Transient {
                    op: ctx.op,
                    key: ctx.key.to_string(),
                    message: format!("no answer within {limit:?}"),
                })
            }
        },
    }
    .map_err(|err| ctx.classify_transport(err))?;
    let status = response.status();
    if status.is_success() {
        Ok(response)
    } else {
        let body = response.text().await.unwrap_or_default();
        Err(ctx.classify_response(status.as_u16(), &body))
    }
}

/// The ETag of a successful PUT, without quotes.
pub fn etag_of(
    response: &reqwest::Response,
    ctx: &RequestContext<'_>,
) -> Result<String, StoreError> {
    match response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
    {
        Some(etag) => Ok(etag.trim().trim_matches('"').to_string()),
        None => Err(StoreError::Transient {
            op: ctx.op,
            key: ctx.key.to_string(),
            message: format!("HTTP {} without an ETag header", response.status()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE_KEY: SigningKey<'static> = SigningKey {
        access_key: "AKIAIOSFODNN7EXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
    };

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    /// The "GET Object" example of AWS's SigV4 documentation for S3 (header-based authentication).
    #[test]
    fn matches_the_aws_documentation_example() {
        let when = DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let url = Url::parse("https://examplebucket.s3.amazonaws.com/test.txt").unwrap();
        let headers = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            (
                "x-amz-content-sha256",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let auth = authorization(&Method::GET, &url, &headers, when, &EXAMPLE_KEY);
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn headers_sort_by_name_even_when_one_name_prefixes_another() {
        let url = Url::parse("http://127.0.0.1:8333/bucket/key?uploads=").unwrap();
        let headers = headers(&[
            (
                "x-amz-server-side-encryption-aws-kms-key-id",
                "alias/backups",
            ),
            ("x-amz-server-side-encryption", "aws:kms"),
            ("host", "127.0.0.1:8333"),
            ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
            ("x-amz-date", "20240101T000000Z"),
        ]);
        let (request, signed) = canonical_request(&Method::POST, &url, &headers);
        assert!(
            request.contains(
                "\nx-amz-server-side-encryption:aws:kms\nx-amz-server-side-encryption-aws-kms-key-id:alias/backups\n"
            ),
            "{request}"
        );
        assert_eq!(
            signed,
            "host;x-amz-content-sha256;x-amz-date;x-amz-server-side-encryption;x-amz-server-side-encryption-aws-kms-key-id"
        );
        assert!(
            request.starts_with("POST\n/bucket/key\nuploads=\n"),
            "{request}"
        );
    }
}
