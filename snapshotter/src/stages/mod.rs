//! The stages of a backup, each a small function over one host (or over the store), so that the order and
//! the failure rules live in one place ([`crate::backup`]):
//!
//! 1. [`preflight`]: SSH works, `uname -m`, where cassandra.yaml and nodetool are, the data dirs exist,
//!    nodetool answers (and its Cassandra version), `incremental_backups` when an incremental is due.
//! 2. [`install`]: node-push copied to the node when its SHA-256 differs, verified, mode 0700.
//! 3. [`snapshot`]: `nodetool snapshot` (or `flush` for an incremental); `clearsnapshot` afterwards.
//! 4. [`upload`]: node-push on each host (one [`session`] each: request and credentials on stdin, JSON
//!    lines back), its messages turned into progress and manifest entries.
//! 5. [`finish`]: ring, schema, and the manifest last; then [`streams`] commits the batch on each node,
//!    the only point where `backups/` links are deleted (registered before the snapshot, checked before
//!    an incremental).

pub mod finish;
pub mod install;
pub mod preflight;
pub mod session;
pub mod snapshot;
pub mod streams;
pub mod upload;

use futures_util::stream::{self, StreamExt};
use std::future::Future;

/// Run `work` for every item with at most `limit` at a time; results come back in the items' order.
pub async fn bounded<'a, T, R, F, Fut>(items: &'a [T], limit: usize, work: F) -> Vec<R>
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = R>,
{
    stream::iter(items.iter().map(&work))
        .buffered(limit.max(1))
        .collect()
        .await
}

#[cfg(test)]
pub mod fake;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn bounded_keeps_order_and_limit() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let items: Vec<u64> = (0..10).collect();
        let out = bounded(&items, 3, |i| {
            let (running, peak) = (running.clone(), peak.clone());
            let i = *i;
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(10 * (10 - i))).await;
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        assert_eq!(out, (0..10).map(|i| i * 2).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 3);
    }
}
