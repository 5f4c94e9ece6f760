//! Reading a GET's body: no total time limit (a large object on a slow link takes what it takes), but a
//! limit on silence, so that a stalled connection fails and can be retried; and checking that a ranged
//! answer holds exactly the bytes asked for.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::errors::RequestContext;
use crate::store::StoreError;

/// A downloaded body with what its headers said about it.
pub struct Download {
    pub status: u16,
    /// `Content-Range: bytes a-b/<total>`: the object's size, when the server sent one.
    pub total_size: Option<u64>,
    pub body: Bytes,
}

fn transient(ctx: &RequestContext<'_>, message: String) -> StoreError {
    StoreError::Transient {
        op: ctx.op,
        key: ctx.key.to_string(),
        message,
    }
}

/// Reads the whole body, failing if no data arrives for `max_silence`.
pub async fn read_body(
    mut response: reqwest::Response,
    max_silence: Duration,
    ctx: &RequestContext<'_>,
) -> Result<Download, StoreError> {
    let status = response.status().as_u16();
    let total_size = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)
        .and_then(|range| range.to_str().ok())
        .and_then(|range| range.rsplit_once('/'))
        .and_then(|(_, total)| total.trim().parse::<u64>().ok());
    let expected = response.content_length();
    // Capacity from Content-Length, but never trust a header for a huge up-front allocation.
    let mut body = BytesMut::with_capacity(expected.unwrap_or(0).min(64 << 20) as usize);
    loop {
        match tokio::time::timeout(max_silence, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            Ok(Ok(None)) => break,
            Ok(Err(err)) => return Err(ctx.classify_transport(err)),
            Err(_) => {
                return Err(transient(
                    ctx,
                    format!(
                        "download stalled: no data for {max_silence:?} after {} bytes",
                        body.len()
                    ),
                ))
            }
        }
    }
    if let Some(expected) = expected.filter(|&len| len != body.len() as u64) {
        return Err(transient(
            ctx,
            format!("got {} of {expected} bytes (truncated body)", body.len()),
        ));
    }
    Ok(Download {
        status,
        total_size,
        body: body.freeze(),
    })
}

/// Exactly the bytes `[start, end)` from a ranged GET's answer, or an error saying why not.
pub fn ranged(
    ctx: &RequestContext<'_>,
    download: Download,
    start: u64,
    end: u64,
) -> Result<Bytes, StoreError> {
    let wanted = end - start;
    let Download {
        status,
        total_size,
        body,
    } = download;
    let len = body.len() as u64;
    if status == 200 && len >= end {
        // A server that ignores Range sends the whole object.
        return Ok(body.slice(start as usize..end as usize));
    }
    if len == wanted {
        return Ok(body);
    }
    let size = total_size.or((status == 200).then_some(len));
    match size {
        Some(size) if size < end => Err(StoreError::Permanent {
            op: ctx.op,
            key: ctx.key.to_string(),
            message: format!("range [{start}, {end}) is not within the object's {size} bytes"),
        }),
        _ => Err(transient(
            ctx,
            format!("got {len} of the {wanted} bytes asked for (truncated body)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: RequestContext<'static> = RequestContext {
        op: "get",
        key: "k",
        bucket: "b",
        region: "us-east-1",
    };

    fn download(status: u16, total_size: Option<u64>, body: &'static [u8]) -> Download {
        Download {
            status,
            total_size,
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn exact_partial_content_is_returned() {
        let got = ranged(&CTX, download(206, Some(10), b"2345"), 2, 6).unwrap();
        assert_eq!(got, Bytes::from_static(b"2345"));
    }

    #[test]
    fn a_server_ignoring_range_is_sliced() {
        let got = ranged(&CTX, download(200, None, b"0123456789"), 2, 6).unwrap();
        assert_eq!(got, Bytes::from_static(b"2345"));
    }

    #[test]
    fn a_range_past_the_end_is_permanent_and_a_short_body_transient() {
        let past = ranged(&CTX, download(206, Some(10), b"89"), 8, 12).unwrap_err();
        assert!(matches!(past, StoreError::Permanent { .. }), "{past}");
        let short = ranged(&CTX, download(206, Some(100), b"89"), 8, 12).unwrap_err();
        assert!(short.is_retryable(), "{short}");
    }
}
