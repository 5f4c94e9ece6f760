//! PUTs of object bodies (single objects and multipart parts), signed here rather than by rust-s3.
//!
//! rust-s3 computes its own Content-MD5 from the bytes it holds (so it could never detect that they were
//! damaged after we hashed them), copies every body into a new `Vec`, hashes it a second time for
//! SigV4, and aborts the whole multipart upload when one part fails. For the request that carries the data
//! we therefore build a SigV4 request ourselves, with rust-s3's signing helpers and HTTP client:
//! - `Content-MD5` is the digest the caller computed when it read the data, so the server rejects a body
//!   that changed since (`BadDigest`);
//! - the payload is declared `UNSIGNED-PAYLOAD` (its integrity is what Content-MD5 is for), so the body is
//!   never hashed twice and goes out as the caller's `Bytes`, without a copy.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hmac::Mac as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, HOST};
use s3::signing;
use s3::Bucket;

use super::errors::RequestContext;
use crate::store::StoreError;

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// One PUT of a body.
pub struct SignedPut<'a> {
    pub key: &'a str,
    /// Query parameters, e.g. `partNumber` and `uploadId` for a part.
    pub query: &'a [(&'a str, String)],
    /// Headers besides the ones every request gets (content type, encryption, storage class).
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Raw MD5 of `body` as the caller computed it.
    pub md5: [u8; 16],
    pub timeout: Duration,
}

/// `YYYYMMDDTHHMMSSZ`, the SigV4 timestamp format, for a Unix time in seconds.
fn amz_date(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

fn header(
    name: &'static str,
    value: &str,
    ctx: &RequestContext<'_>,
) -> Result<(HeaderName, HeaderValue), StoreError> {
    let value = HeaderValue::from_str(value).map_err(|_| StoreError::Permanent {
        op: ctx.op,
        key: ctx.key.to_string(),
        message: format!("{name} header value {value:?} is not valid in HTTP"),
    })?;
    Ok((HeaderName::from_static(name), value))
}

/// Sends the PUT and returns the ETag the server answered with, without quotes.
pub async fn send(
    bucket: &Bucket,
    put: SignedPut<'_>,
    ctx: RequestContext<'_>,
) -> Result<String, StoreError> {
    bucket
        .credentials_refresh()
        .await
        .map_err(|e| ctx.classify_s3(e))?;
    let credentials = bucket.credentials().await.map_err(|e| ctx.classify_s3(e))?;

    let mut url = reqwest::Url::parse(&format!(
        "{}/{}",
        bucket.url(),
        signing::uri_encode(put.key, false)
    ))
    .map_err(|err| StoreError::Permanent {
        op: ctx.op,
        key: ctx.key.to_string(),
        message: format!("cannot build the request URL: {err}"),
    })?;
    if !put.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in put.query {
            pairs.append_pair(name, value);
        }
    }

    let now = s3::utils::now_utc();
    // The same instant goes into the header and the signature (rust-s3's clock has whole seconds).
    let date = amz_date(now.unix_timestamp());
    let mut headers = put.headers;
    let host = bucket.host();
    // A custom endpoint may carry a path; the Host header is only the authority.
    let authority = host.split('/').next().unwrap_or(&host).to_string();
    let md5_base64 = base64::engine::general_purpose::STANDARD.encode(put.md5);
    for (name, value) in [
        header("x-amz-date", &date, &ctx)?,
        header("x-amz-content-sha256", UNSIGNED_PAYLOAD, &ctx)?,
        header("content-md5", &md5_base64, &ctx)?,
    ] {
        headers.insert(name, value);
    }
    headers.insert(HOST, header("host", &authority, &ctx)?.1);
    let token = credentials
        .session_token
        .as_ref()
        .or(credentials.security_token.as_ref());
    if let Some(token) = token {
        let (name, mut value) = header("x-amz-security-token", token, &ctx)?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }

    if let (Some(access_key), Some(secret_key)) = (&credentials.access_key, &credentials.secret_key)
    {
        let region = bucket.region();
        let signature = (|| {
            let canonical = signing::canonical_request("PUT", &url, &headers, UNSIGNED_PAYLOAD)?;
            let string_to_sign = signing::string_to_sign(&now, &region, &canonical)?;
            let signing_key = signing::signing_key(&now, secret_key, &region, "s3")?;
            let mut mac = signing::HmacSha256::new_from_slice(&signing_key)?;
            mac.update(string_to_sign.as_bytes());
            let signature = hex::encode(mac.finalize().into_bytes());
            signing::authorization_header(
                access_key,
                &now,
                &region,
                &signing::signed_header_string(&headers),
                &signature,
            )
        })()
        .map_err(|e| ctx.classify_s3(e))?;
        let mut value = HeaderValue::from_str(&signature).map_err(|_| StoreError::Permanent {
            op: ctx.op,
            key: ctx.key.to_string(),
            message: "the access key id is not valid in an HTTP header".into(),
        })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }

    let response = bucket
        .http_client()
        .put(url)
        .headers(headers)
        .body(put.body)
        .timeout(put.timeout)
        .send()
        .await
        .map_err(|err| ctx.classify_transport(err))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(ctx.classify_response(status.as_u16(), &body));
    }
    match response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
    {
        Some(etag) => Ok(etag.trim().trim_matches('"').to_string()),
        None => Err(StoreError::Transient {
            op: ctx.op,
            key: ctx.key.to_string(),
            message: format!("HTTP {status} without an ETag header"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_is_sigv4_basic_format() {
        assert_eq!(amz_date(1_709_787_849), "20240307T050409Z");
    }
}
