//! Turning S3 failures into [`StoreError`]s that say whether to retry and what the user should do.
//!
//! Only the `Code`, `Message`, `Region` and `Endpoint` of an S3 error document are used: a
//! `SignatureDoesNotMatch` document also carries the string-to-sign and the signature sent, and those must
//! never reach a log. Transport errors are shown without their URL for the same reason.

use serde::Deserialize;

use crate::store::StoreError;

/// What an error message needs to know about the request that failed.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    pub op: &'static str,
    pub key: &'a str,
    pub bucket: &'a str,
    /// The region the store was configured with (for "wrong region" advice).
    pub region: &'a str,
}

/// The useful fields of an S3 `<Error>` document.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDocument {
    code: Option<String>,
    message: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
}

/// Longest server message we quote; a misbehaving endpoint could send a whole web page.
const MAX_QUOTED: usize = 200;

fn quoted(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

impl RequestContext<'_> {
    fn transient(&self, message: String) -> StoreError {
        StoreError::Transient {
            op: self.op,
            key: self.key.to_string(),
            message,
        }
    }

    fn permanent(&self, message: String) -> StoreError {
        StoreError::Permanent {
            op: self.op,
            key: self.key.to_string(),
            message,
        }
    }

    fn not_found(&self) -> StoreError {
        StoreError::NotFound {
            op: self.op,
            key: self.key.to_string(),
        }
    }

    /// Maps an HTTP error response (status and body) to a [`StoreError`].
    pub fn classify_response(&self, status: u16, body: &str) -> StoreError {
        let doc: ErrorDocument = quick_xml::de::from_str(body).unwrap_or_default();
        let code = doc.code.as_deref().unwrap_or("");
        let message = doc.message.as_deref().map(quoted).unwrap_or_default();
        let detail = if code.is_empty() {
            format!("HTTP {status}")
        } else if message.is_empty() {
            format!("HTTP {status} {code}")
        } else {
            format!("HTTP {status} {code}: {message}")
        };
        let bucket = self.bucket;
        match code {
            "NoSuchBucket" => self.permanent(format!(
                "bucket {bucket} does not exist (check the bucket name and the endpoint) ({detail})"
            )),
            "NoSuchKey" | "NoSuchUpload" => self.not_found(),
            "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException"
            | "TemporaryRedirect" => self.wrong_region(&doc, &detail),
            "InvalidAccessKeyId" => self.permanent(format!(
                "credentials rejected: the server does not know this access key id ({detail})"
            )),
            "SignatureDoesNotMatch" => self.permanent(format!(
                "credentials rejected: the secret key does not match the access key id ({detail})"
            )),
            "ExpiredToken" | "TokenRefreshRequired" | "InvalidToken" => self.permanent(format!(
                "credentials rejected: the session token is expired or invalid ({detail})"
            )),
            "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => self.permanent(format!(
                "access denied to bucket {bucket}: the credentials lack permission for this {} ({detail})",
                self.op
            )),
            "RequestTimeTooSkewed" => self.permanent(format!(
                "the local clock is too far from the server's: fix the system time ({detail})"
            )),
            // The body that arrived is not the one whose MD5 we sent: damaged in transit, worth a retry.
            "BadDigest" | "XAmzContentSHA256Mismatch" => StoreError::Integrity {
                op: self.op,
                key: self.key.to_string(),
                message: format!("the server rejected the body: it does not match its checksum ({detail})"),
            },
            "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable" | "Throttling"
            | "ThrottlingException" | "RequestThrottled" | "OperationAborted" | "IncompleteBody" => {
                self.transient(detail)
            }
            _ => self.classify_status(status, &doc, detail),
        }
    }

    /// Classification by status alone: HEAD responses have no body, and unknown codes need a default.
    fn classify_status(&self, status: u16, doc: &ErrorDocument, detail: String) -> StoreError {
        match status {
            408 | 429 | 500..=599 => self.transient(detail),
            404 => self.not_found(),
            301 | 307 => self.wrong_region(doc, &detail),
            403 => self.permanent(format!(
                "access denied to bucket {}: check the credentials and the bucket policy ({detail})",
                self.bucket
            )),
            _ => self.permanent(detail),
        }
    }

    fn wrong_region(&self, doc: &ErrorDocument, detail: &str) -> StoreError {
        let bucket = self.bucket;
        let configured = self.region;
        match bucket_region(doc) {
            Some(region) if region != configured => self.permanent(format!(
                "bucket {bucket} is in region {region}, not {configured}: pass --s3-bucket-region {region} ({detail})"
            )),
            _ => self.permanent(format!(
                "bucket {bucket} is not in region {configured}: pass --s3-bucket-region with the bucket's region ({detail})"
            )),
        }
    }

    /// Maps a failure of rust-s3 (transport, XML, credentials) to a [`StoreError`].
    pub fn classify_s3(&self, error: s3::error::S3Error) -> StoreError {
        use s3::error::S3Error as E;
        match error {
            E::HttpFailWithBody(status, body) => self.classify_response(status, &body),
            E::Reqwest(error) => self.classify_transport(error),
            E::Credentials(error) => self.permanent(format!("cannot load credentials: {error}")),
            E::Io(error) => self.classify_io(error),
            E::HttpFail => self.transient("the request failed".into()),
            E::SerdeXml(_) | E::Utf8(_) | E::FromUtf8(_) | E::XmlSeError(_) => {
                // Usually a body cut short; the parser's message could quote the body, so it is not shown.
                self.transient("the response is not the XML document S3 sends (truncated?)".into())
            }
            E::InvalidMultipartUploadsPagination(reason) => self.transient(format!(
                "inconsistent listing of multipart uploads: {reason}"
            )),
            other => self.permanent(other.to_string()),
        }
    }

    /// Maps a transport error (connection, timeout, truncated body) to a [`StoreError`].
    pub fn classify_transport(&self, error: reqwest::Error) -> StoreError {
        let builder_error = error.is_builder();
        let message = error_chain(&error.without_url());
        if builder_error {
            self.permanent(format!("invalid request: {message}"))
        } else {
            self.transient(message)
        }
    }

    fn classify_io(&self, error: std::io::Error) -> StoreError {
        StoreError::Io {
            op: self.op,
            key: self.key.to_string(),
            source: error,
        }
    }
}

/// An error and its sources, joined with ": " (reqwest's own message is only the outermost layer).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The bucket's real region, from an error document: `<Region>`, "expecting 'eu-west-1'" in the message,
/// or the regional host in `<Endpoint>`.
fn bucket_region(doc: &ErrorDocument) -> Option<String> {
    if let Some(region) = doc.region.as_deref().filter(|r| !r.is_empty()) {
        return Some(region.to_string());
    }
    if let Some(message) = doc.message.as_deref() {
        if let Some((_, rest)) = message.split_once("expecting '") {
            if let Some((region, _)) = rest.split_once('\'') {
                return Some(region.to_string());
            }
        }
    }
    region_from_endpoint(doc.endpoint.as_deref()?)
}

/// `bucket.s3.eu-west-1.amazonaws.com` and `s3-eu-west-1.amazonaws.com` name eu-west-1;
/// the global `s3.amazonaws.com` is us-east-1.
fn region_from_endpoint(endpoint: &str) -> Option<String> {
    let host = endpoint.split_once(".amazonaws.com")?.0;
    let labels: Vec<&str> = host.split('.').collect();
    let s3_at = labels
        .iter()
        .rposition(|l| *l == "s3" || l.starts_with("s3-"))?;
    if let Some(region) = labels[s3_at].strip_prefix("s3-") {
        return Some(region.to_string());
    }
    match labels.get(s3_at + 1..).unwrap_or_default() {
        [] => Some("us-east-1".to_string()),
        [.., region] => Some(region.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: RequestContext<'static> = RequestContext {
        op: "put",
        key: "backups/x.lzo",
        bucket: "my.bucket",
        region: "us-east-1",
    };

    fn doc(code: &str, message: &str, extra: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>R</RequestId></Error>"
        )
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for (status, code) in [
            (503, "SlowDown"),
            (400, "RequestTimeout"),
            (500, "InternalError"),
            (502, ""),
            (429, ""),
        ] {
            let err = CONTEXT.classify_response(status, &doc(code, "m", ""));
            assert!(err.is_retryable(), "{status} {code}: {err}");
        }
    }

    #[test]
    fn missing_things() {
        let err = CONTEXT.classify_response(
            404,
            &doc("NoSuchBucket", "The specified bucket does not exist", ""),
        );
        assert!(matches!(err, StoreError::Permanent { .. }));
        assert!(
            err.to_string().contains("bucket my.bucket does not exist"),
            "{err}"
        );
        for code in ["NoSuchKey", "NoSuchUpload"] {
            assert!(matches!(
                CONTEXT.classify_response(404, &doc(code, "", "")),
                StoreError::NotFound { .. }
            ));
        }
        // HEAD: no body at all.
        assert!(matches!(
            CONTEXT.classify_response(404, ""),
            StoreError::NotFound { .. }
        ));
    }

    #[test]
    fn wrong_region_names_the_right_one() {
        let malformed = doc(
            "AuthorizationHeaderMalformed",
            "the region 'us-east-1' is wrong; expecting 'eu-west-1'",
            "<Region>eu-west-1</Region>",
        );
        let redirect = doc(
            "PermanentRedirect",
            "The bucket you are attempting to access must be addressed using the specified endpoint.",
            "<Endpoint>my.bucket.s3.ap-southeast-2.amazonaws.com</Endpoint>",
        );
        for (body, region) in [(malformed, "eu-west-1"), (redirect, "ap-southeast-2")] {
            let err = CONTEXT.classify_response(301, &body).to_string();
            assert!(
                err.contains(&format!("pass --s3-bucket-region {region}")),
                "{err}"
            );
        }
        let bare = CONTEXT.classify_response(301, "").to_string();
        assert!(bare.contains("--s3-bucket-region"), "{bare}");
    }

    #[test]
    fn endpoints_name_regions() {
        assert_eq!(
            region_from_endpoint("b.s3.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_from_endpoint("s3-us-west-2.amazonaws.com").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            region_from_endpoint("b.s3.amazonaws.com").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(region_from_endpoint("minio.local:9000"), None);
    }

    #[test]
    fn signature_details_never_reach_the_message() {
        let body = doc(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            "<AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256 secret-ish</StringToSign>\
             <SignatureProvided>deadbeefcafe</SignatureProvided><CanonicalRequest>PUT /x</CanonicalRequest>",
        );
        let err = CONTEXT.classify_response(403, &body);
        let text = err.to_string();
        assert!(matches!(err, StoreError::Permanent { .. }));
        assert!(text.contains("credentials rejected"), "{text}");
        for secret in ["deadbeefcafe", "AKIAEXAMPLE", "StringToSign", "secret-ish"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn bad_digest_is_an_integrity_error() {
        let err = CONTEXT.classify_response(
            400,
            &doc(
                "BadDigest",
                "The Content-MD5 you specified did not match",
                "",
            ),
        );
        assert!(matches!(err, StoreError::Integrity { .. }), "{err}");
    }

    #[test]
    fn other_client_errors_are_permanent_and_quote_the_server() {
        let err = CONTEXT.classify_response(
            400,
            &doc("EntityTooSmall", "Your proposed upload is smaller", ""),
        );
        assert!(matches!(err, StoreError::Permanent { .. }));
        assert!(err.to_string().contains("EntityTooSmall"), "{err}");
        let page = format!("<html>{}</html>", "x".repeat(10_000));
        assert!(CONTEXT.classify_response(418, &page).to_string().len() < 400);
    }
}
