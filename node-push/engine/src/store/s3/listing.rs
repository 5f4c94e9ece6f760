//! Listings that follow every page: objects (ListObjectsV2 continuation tokens) and open multipart
//! uploads (key and upload-id markers).
//!
//! A server that claims more pages but gives no way to fetch them, or hands out the same cursor twice,
//! would make a naive loop spin forever or silently return a partial listing; both are errors here.

use std::collections::HashSet;

use s3::command::Command;
use s3::request::tokio_backend::ReqwestRequest;
use s3::request::Request as _;
use serde::Deserialize;

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
            .bucket()
            .await?
            .list_page(
                prefix.to_string(),
                delimiter.map(str::to_string),
                token.clone(),
                None,
                store.page_size,
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

/// One page of ListMultipartUploads, parsed leniently: SeaweedFS leaves out `StorageClass` (which
/// rust-s3's own type requires) and pages with `NextUploadIdMarker` alone.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadsPage {
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
    #[serde(default, rename = "Upload")]
    uploads: Vec<UploadEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadEntry {
    key: String,
    upload_id: String,
    initiated: Option<String>,
}

/// Where the next page of uploads starts: `(key-marker, upload-id-marker)`.
type UploadsCursor = (Option<String>, Option<String>);

/// The cursor for the page after `page`. AWS gives both markers; SeaweedFS gives only the upload id
/// marker and reads it alone (sending its key marker as well would skip uploads there).
fn next_uploads_cursor(page: &UploadsPage) -> Option<UploadsCursor> {
    let non_empty = |marker: &Option<String>| marker.clone().filter(|m| !m.is_empty());
    match (
        non_empty(&page.next_key_marker),
        non_empty(&page.next_upload_id_marker),
    ) {
        (None, None) => None,
        (key, upload_id) => Some((key, upload_id)),
    }
}

pub async fn list_multipart_uploads(
    store: &S3Store,
    prefix: &str,
) -> StoreResult<Vec<PendingUpload>> {
    let ctx = store.context("list_multipart_uploads", prefix);
    let inconsistent = |message: &str| StoreError::Transient {
        op: ctx.op,
        key: prefix.to_string(),
        message: format!("inconsistent listing of multipart uploads: {message}"),
    };
    let mut uploads = Vec::new();
    let mut seen_ids = HashSet::new();
    let mut cursor: UploadsCursor = (None, None);
    let mut seen_cursors = HashSet::new();
    loop {
        let command = Command::ListMultipartUploads {
            prefix: Some(prefix),
            delimiter: None,
            key_marker: cursor.0.clone(),
            upload_id_marker: cursor.1.clone(),
            max_uploads: store.page_size,
        };
        let bucket = store.bucket().await?;
        let request = ReqwestRequest::new(&bucket, "/", command)
            .await
            .map_err(|err| ctx.classify_s3(err))?;
        let response = request
            .response_data(false)
            .await
            .map_err(|err| ctx.classify_s3(err))?;
        let body = response.as_str().unwrap_or_default();
        if !(200..300).contains(&response.status_code()) {
            return Err(ctx.classify_response(response.status_code(), body));
        }
        let page: UploadsPage = quick_xml::de::from_str(body)
            .map_err(|_| inconsistent("the answer is not a ListMultipartUploadsResult"))?;
        for upload in &page.uploads {
            // A server that pages by one marker only could repeat an upload at a page boundary.
            if seen_ids.insert(upload.upload_id.clone()) {
                uploads.push(PendingUpload {
                    key: upload.key.clone(),
                    upload_id: upload.upload_id.clone(),
                    initiated: upload.initiated.clone().filter(|when| !when.is_empty()),
                });
            }
        }
        if !page.is_truncated {
            break;
        }
        match next_uploads_cursor(&page) {
            Some(next) if seen_cursors.insert(next.clone()) => cursor = next,
            Some(_) => return Err(inconsistent("the server repeated a page marker")),
            None => return Err(inconsistent("a truncated page without a next marker")),
        }
    }
    Ok(uploads)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(xml: &str) -> UploadsPage {
        quick_xml::de::from_str(xml).unwrap()
    }

    #[test]
    fn seaweedfs_pages_by_upload_id_alone() {
        let seaweed = page(
            "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><KeyMarker></KeyMarker>\
             <NextUploadIdMarker>id1</NextUploadIdMarker><Upload><Initiated>2026-01-01T00:00:00Z</Initiated>\
             <Key>x/y</Key><UploadId>id1</UploadId></Upload></ListMultipartUploadsResult>",
        );
        assert_eq!(seaweed.uploads.len(), 1);
        assert_eq!(
            next_uploads_cursor(&seaweed),
            Some((None, Some("id1".into())))
        );
    }

    #[test]
    fn aws_pages_by_both_markers() {
        let aws = page(
            "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker>\
             <NextUploadIdMarker>id</NextUploadIdMarker><Upload><Key>k</Key><UploadId>id</UploadId>\
             <StorageClass>STANDARD</StorageClass><Initiated>2026-01-01T00:00:00.000Z</Initiated></Upload>\
             </ListMultipartUploadsResult>",
        );
        assert_eq!(
            next_uploads_cursor(&aws),
            Some((Some("k".into()), Some("id".into())))
        );
        let last = page("<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>");
        assert!(last.uploads.is_empty());
        assert_eq!(next_uploads_cursor(&last), None);
    }
}
