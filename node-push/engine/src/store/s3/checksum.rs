//! S3 additional checksums: `x-amz-checksum-crc32c` instead of `Content-MD5` where the store verifies it.
//!
//! MD5 cannot use the CPU's instructions and cost about 40% of node-push's CPU; CRC32C runs on SSE4.2
//! (or ARMv8 CRC) at several GB/s. Which one a store gets is decided once per [`S3Store`], on the first
//! upload, by a probe: a PUT of a few bytes with a deliberately wrong CRC32C. A store that verifies the
//! checksum refuses it (BadDigest) and then gets CRC32C on every data request; one that accepts it (it
//! ignores the header) gets the probe deleted and Content-MD5 as before. Any other answer keeps
//! Content-MD5: the check we know works everywhere.
//!
//! With CRC32C, multipart uploads declare the algorithm at initiation, every part carries its CRC32C
//! (the store refuses a damaged part and echoes the value, which must equal ours), the completion lists
//! each part's CRC32C, and the CRC32C of the part CRC32Cs the store reports for the object must equal the
//! one computed here.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde::Deserialize;

use super::signed::{self, crc32c_header, SignedRequest, TimeLimit};
use super::{object_headers, unquote, S3Store};
use crate::store::{
    composite_crc32c, BodyDigest, CompletedPart, ObjectStore as _, PutOptions, StoreError,
    StoreResult, TransportCheck,
};

/// What the probe PUT carries (never stored by a store that verifies checksums).
const PROBE_BODY: &[u8] = b"node-push: does this store verify x-amz-checksum-crc32c?\n";

/// The CompleteMultipartUpload answer with the object's checksum.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteResult {
    e_tag: String,
    #[serde(rename = "ChecksumCRC32C")]
    checksum_crc32c: Option<String>,
}

impl S3Store {
    /// The probe described in the module doc; runs once per store.
    pub(super) async fn probe_transport_check(
        &self,
        near_key: &str,
        opts: &PutOptions,
    ) -> TransportCheck {
        let key = format!("{near_key}.node-push-checksum-probe");
        let ctx = self.context("checksum probe", &key);
        let Ok(headers) = object_headers(opts, &ctx) else {
            return TransportCheck::ContentMd5;
        };
        let wrong = !crc32c::crc32c(PROBE_BODY);
        let request = SignedRequest {
            method: Method::PUT,
            key: &key,
            query: &[],
            headers,
            time_limit: TimeLimit::Total(self.timeout),
            body: Bytes::from_static(PROBE_BODY),
            md5: None,
            crc32c: Some(wrong),
        };
        let Ok(bucket) = self.bucket().await else {
            return TransportCheck::ContentMd5;
        };
        match signed::send(&bucket, request, ctx).await {
            Err(StoreError::Integrity { .. }) => TransportCheck::Crc32c,
            Err(err) if err.to_string().contains("XAmzContentChecksumMismatch") => {
                TransportCheck::Crc32c
            }
            Ok(_) => {
                // Stored despite the wrong checksum: the store ignores the header.
                let _ = self.delete(&key).await;
                TransportCheck::ContentMd5
            }
            Err(_) => TransportCheck::ContentMd5,
        }
    }

    /// A single PUT checked with `check`'s header.
    pub(super) async fn put_checked(
        &self,
        key: &str,
        body: Bytes,
        digest: BodyDigest,
        opts: &PutOptions,
        check: TransportCheck,
    ) -> StoreResult<String> {
        let ctx = self.context("put", key);
        let mut headers = object_headers(opts, &ctx)?;
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            signed::header_value(&ctx, "content-type", super::content_type(opts))?,
        );
        let (md5, crc32c) = match check {
            TransportCheck::ContentMd5 => (Some(digest.md5_of(&body)), None),
            TransportCheck::Crc32c => (None, Some(digest.crc32c)),
        };
        let request = SignedRequest {
            method: Method::PUT,
            key,
            query: &[],
            headers,
            time_limit: TimeLimit::Total(self.body_timeout(body.len())),
            body,
            md5,
            crc32c,
        };
        let response = signed::send(&*self.bucket().await?, request, ctx).await?;
        if let Some(crc) = crc32c {
            signed::check_crc32c_echo(&response, crc, &ctx)?;
        }
        signed::etag_of(&response, &ctx)
    }

    /// One part checked with `check`'s header.
    pub(super) async fn part_checked(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        digest: BodyDigest,
        check: TransportCheck,
    ) -> StoreResult<String> {
        let ctx = self.context("upload_part", key);
        let part_number = part_number.to_string();
        let (md5, crc32c) = match check {
            TransportCheck::ContentMd5 => (Some(digest.md5_of(&body)), None),
            TransportCheck::Crc32c => (None, Some(digest.crc32c)),
        };
        let request = SignedRequest {
            method: Method::PUT,
            key,
            query: &[("partNumber", &part_number), ("uploadId", upload_id)],
            headers: HeaderMap::new(),
            time_limit: TimeLimit::Total(self.body_timeout(body.len())),
            body,
            md5,
            crc32c,
        };
        let response = signed::send(&*self.bucket().await?, request, ctx).await?;
        if let Some(crc) = crc32c {
            signed::check_crc32c_echo(&response, crc, &ctx)?;
        }
        signed::etag_of(&response, &ctx)
    }

    /// Initiation that declares CRC32C for the parts.
    pub(super) async fn create_crc32c(&self, key: &str, opts: &PutOptions) -> StoreResult<String> {
        let mut headers = object_headers(opts, &self.context("create_multipart", key))?;
        headers.insert(
            HeaderName::from_static("x-amz-checksum-algorithm"),
            HeaderValue::from_static("CRC32C"),
        );
        self.initiate(key, opts, headers).await
    }

    /// Completion listing every part's CRC32C; the store's composite CRC32C must equal ours.
    pub(super) async fn complete_crc32c(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        part_crc32cs: &[u32],
    ) -> StoreResult<String> {
        let ctx = self.context("complete_multipart", key);
        let integrity = |message: String| StoreError::Integrity {
            op: ctx.op,
            key: key.to_string(),
            message,
        };
        if parts.len() != part_crc32cs.len() {
            return Err(integrity(format!(
                "{} parts but {} CRC32Cs",
                parts.len(),
                part_crc32cs.len()
            )));
        }
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (part, crc) in parts.iter().zip(part_crc32cs) {
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>\"{}\"</ETag><ChecksumCRC32C>{}</ChecksumCRC32C></Part>",
                part.part_number,
                unquote(&part.etag),
                crc32c_header(*crc)
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let request = SignedRequest {
            method: Method::POST,
            key,
            query: &[("uploadId", upload_id)],
            headers: HeaderMap::new(),
            time_limit: TimeLimit::Total(self.timeout),
            body: Bytes::from(xml),
            md5: None,
            crc32c: None,
        };
        let response = signed::send(&*self.bucket().await?, request, ctx).await?;
        let body = response
            .text()
            .await
            .map_err(|err| ctx.classify_transport(err))?;
        // S3 may answer 200 and put an error in the body.
        let result: CompleteResult = match quick_xml::de::from_str(&body) {
            Ok(result) => result,
            Err(_) => return Err(ctx.classify_response(500, &body)),
        };
        let expected = composite_crc32c(part_crc32cs);
        match result.checksum_crc32c {
            Some(got) if got != expected => Err(integrity(format!(
                "the store reports CRC32C {got} for the object, its parts give {expected}"
            ))),
            _ => Ok(unquote(&result.e_tag)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_crc32c_matches_seaweedfs() {
        // Two parts whose CRC32Cs SeaweedFS 4.48 echoed as uj+bZw== and pfqLHQ==; it reported the
        // object's as a9tGUQ==-2.
        assert_eq!(composite_crc32c(&[0xba3f_9b67, 0xa5fa_8b1d]), "a9tGUQ==-2");
        assert_eq!(crc32c_header(0xba3f_9b67), "uj+bZw==");
    }
}
