//! Listings that follow every page: objects (ListObjectsV2 continuation tokens) and open multipart
//! uploads (key and upload-id markers).
//!
//! A server that claims more pages but gives no way to fetch them, or hands out the same cursor twice,
//! would make a naive loop spin forever or silently return a partial listing; both are errors here.

use std::collections::HashSet;

use super::{unquote, S3Store};
use crate::store::{Listing, ObjectMeta, PendingUpload, StoreError, StoreResult};

pub async fn list(store: &S3Store, prefix: &str, delimiter: Option<&str>) -> StoreResult<Listing> {
    let ctx = store.context("list", prefix);
    let inconsistent = |message: &str| StoreError::Transient {
        op: ctx.op,
        key: prefix.to_string(),
        message: format!("inconsistent listing: {message}"),
    };
    let mut listing = Listing::default();
    let mut token: Option<String> = None;
    let mut seen_tokens = HashSet::new();
    loop {
        let (page, _status) = store
            .bucket
            .list_page(
                prefix.to_string(),
                delimiter.map(str::to_string),
                token.clone(),
                None,
                None,
            )
            .await
            .map_err(|err| ctx.classify_s3(err))?;
        listing
            .objects
            .extend(page.contents.into_iter().map(|object| ObjectMeta {
                etag: object.e_tag.as_deref().map(unquote).unwrap_or_default(),
                key: object.key,
                size: object.size,
            }));
        listing.common_prefixes.extend(
            page.common_prefixes
                .unwrap_or_default()
                .into_iter()
                .map(|common| common.prefix),
        );
        // Some servers omit IsTruncated; a fresh continuation token means there is more either way.
        match page.next_continuation_token.filter(|next| !next.is_empty()) {
            Some(next) if seen_tokens.insert(next.clone()) => token = Some(next),
            Some(_) if page.is_truncated => {
                return Err(inconsistent("the server repeated a continuation token"))
            }
            None if page.is_truncated => {
                return Err(inconsistent(
                    "a truncated page without a continuation token",
                ))
            }
            _ => break,
        }
    }
    // Pages are each sorted and follow each other, but a common prefix can recur across pages.
    listing.common_prefixes.dedup();
    Ok(listing)
}

pub async fn list_multipart_uploads(
    store: &S3Store,
    prefix: &str,
) -> StoreResult<Vec<PendingUpload>> {
    let ctx = store.context("list_multipart_uploads", prefix);
    let mut uploads = Vec::new();
    let mut key_marker: Option<String> = None;
    let mut upload_id_marker: Option<String> = None;
    let mut seen_markers = HashSet::new();
    loop {
        let (page, _status) = store
            .bucket
            .list_multiparts_uploads_page(
                Some(prefix),
                None,
                key_marker.clone(),
                upload_id_marker.clone(),
                None,
            )
            .await
            .map_err(|err| ctx.classify_s3(err))?;
        uploads.extend(page.uploads.into_iter().map(|upload| PendingUpload {
            key: upload.key,
            upload_id: upload.id,
            initiated: Some(upload.initiated).filter(|when| !when.is_empty()),
        }));
        if !page.is_truncated {
            break;
        }
        let markers = (page.next_marker, page.next_upload_id_marker);
        if markers.0.is_none() || !seen_markers.insert(markers.clone()) {
            return Err(StoreError::Transient {
                op: ctx.op,
                key: prefix.to_string(),
                message: "inconsistent listing: a truncated page without new markers".into(),
            });
        }
        (key_marker, upload_id_marker) = markers;
    }
    Ok(uploads)
}
