//! [`FreshBucket`]: the rust-s3 bucket with keys that are always valid for the next request.
//!
//! Temporary keys (STS, SSO, container, instance role, `credential_process` with an expiry) are resolved
//! again from their source before they expire: when less than a third of their lifetime is left, at most
//! five minutes before the end (the AWS SDKs' margin), so that 15-second test keys and 1-hour role
//! sessions both turn over in time. Explicit keys follow [`super::credentials::subscribe_keys`]: a new
//! credentials line on stdin (or the coordinator's own refresh) takes effect from the next request.
//! Requests already in flight finish with the keys they were signed with.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use s3::Bucket;
use tokio::sync::{watch, Mutex};

use super::credentials::{self, renew_at, CredentialSource, Keys};
use crate::store::StoreError;

struct Current {
    bucket: Arc<Bucket>,
    keys: Keys,
    fetched: DateTime<Utc>,
}

/// A bucket whose keys are renewed before they expire.
pub struct FreshBucket {
    source: CredentialSource,
    current: Mutex<Current>,
    pushed: watch::Receiver<Option<Keys>>,
}

fn with_keys(template: &Bucket, keys: &Keys) -> Result<Arc<Bucket>, StoreError> {
    let mut bucket = template.clone();
    bucket.set_credentials(keys.to_rust_s3()?);
    Ok(Arc::new(bucket))
}

impl FreshBucket {
    /// `bucket` was built with `keys`, which came from `source`.
    pub fn new(bucket: Bucket, keys: Keys, source: CredentialSource) -> Self {
        let mut pushed = credentials::subscribe_keys();
        // Only keys pushed after this point replace ours.
        pushed.mark_unchanged();
        FreshBucket {
            source,
            current: Mutex::new(Current {
                bucket: Arc::new(bucket),
                keys,
                fetched: Utc::now(),
            }),
            pushed,
        }
    }

    /// The bucket with valid keys, renewing them first when due.
    pub async fn get(&self) -> Result<Arc<Bucket>, StoreError> {
        let mut current = self.current.lock().await;
        if matches!(self.source, CredentialSource::Explicit { .. }) {
            let mut pushed = self.pushed.clone();
            if pushed.has_changed().unwrap_or(false) {
                if let Some(keys) = pushed.borrow_and_update().clone() {
                    current.bucket = with_keys(&current.bucket, &keys)?;
                    current.keys = keys;
                    current.fetched = Utc::now();
                }
            }
            return Ok(current.bucket.clone());
        }
        let Some(expires) = current.keys.expires else {
            return Ok(current.bucket.clone());
        };
        if Utc::now() < renew_at(current.fetched, expires) {
            return Ok(current.bucket.clone());
        }
        match credentials::resolve(&self.source).await {
            Ok(resolved) => {
                current.bucket = with_keys(&current.bucket, &resolved.keys)?;
                current.keys = resolved.keys;
                current.fetched = Utc::now();
            }
            // Keys that still work are used until they do not; then the renewal's error is the answer.
            Err(err) if Utc::now() >= expires => return Err(err),
            Err(_) => {}
        }
        Ok(current.bucket.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_leaves_a_third_of_short_lifetimes_and_five_minutes_of_long_ones() {
        let t0: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        let short = renew_at(t0, t0 + chrono::Duration::seconds(15));
        assert_eq!(short, t0 + chrono::Duration::seconds(10));
        let hour = renew_at(t0, t0 + chrono::Duration::hours(1));
        assert_eq!(hour, t0 + chrono::Duration::minutes(55));
    }
}
