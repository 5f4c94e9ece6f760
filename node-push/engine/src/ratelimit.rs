//! One bandwidth budget for the whole node, shared by every transfer.
//!
//! The old tool's `--rate-limit` throttled each `pv` pipe separately, so N parallel uploads used N times the
//! budget. Here a single [`RateLimiter`] (a token bucket, shared through an `Arc`) meters every byte sent.
//!
//! The bucket holds at most one second of tokens, so an idle node may send one second's worth at full
//! speed and then settles to the rate. Tokens may go negative: an acquirer takes what it needs at once and
//! sleeps off the debt. Whoever comes next sees the larger debt and sleeps longer, so waiters are served
//! roughly in arrival order, and a request bigger than the bucket (a 64 MiB part at 1 MiB/s) simply waits
//! its 64 seconds instead of starving.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A node-wide token bucket measured in KiB per second; 0 means unlimited.
#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_sec: u64,
    state: Mutex<TokenBucket>,
}

#[derive(Debug)]
struct TokenBucket {
    /// Bytes that may be sent right now; negative while acquirers are sleeping off a debt.
    tokens: f64,
    last_refill: Instant,
}

impl RateLimiter {
    /// A limiter allowing `kib_per_sec` KiB per second across all its users (0 = unlimited).
    pub fn new(kib_per_sec: u64) -> Arc<Self> {
        let bytes_per_sec = kib_per_sec.saturating_mul(1024);
        Arc::new(RateLimiter {
            bytes_per_sec,
            state: Mutex::new(TokenBucket {
                tokens: bytes_per_sec as f64,
                last_refill: Instant::now(),
            }),
        })
    }

    /// A limiter that never waits.
    pub fn unlimited() -> Arc<Self> {
        Self::new(0)
    }

    /// The configured rate in KiB/s (0 = unlimited).
    pub fn kib_per_sec(&self) -> u64 {
        self.bytes_per_sec / 1024
    }

    pub fn is_unlimited(&self) -> bool {
        self.bytes_per_sec == 0
    }

    /// Waits until `bytes` may be sent. Call it before sending them.
    pub async fn acquire(&self, bytes: usize) {
        if self.is_unlimited() || bytes == 0 {
            return;
        }
        let wait = self.take(bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes `bytes` tokens (possibly into debt) and returns how long the caller must wait for them.
    fn take(&self, bytes: usize) -> Duration {
        let rate = self.bytes_per_sec as f64;
        // A poisoned lock only means another acquirer panicked between two float updates; the state is
        // still a usable number.
        let mut bucket = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let elapsed = now
            .saturating_duration_since(bucket.last_refill)
            .as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.last_refill = now;
        bucket.tokens -= bytes as f64;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: usize = 1024;

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let limiter = RateLimiter::unlimited();
        let start = Instant::now();
        for _ in 0..1000 {
            limiter.acquire(1 << 30).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_rate_matches_the_limit_after_one_second_of_burst() {
        // 100 KiB/s; 1100 KiB in 10 KiB pieces: 100 KiB of burst, then 1000 KiB at the rate = 10 s.
        let limiter = RateLimiter::new(100);
        let start = Instant::now();
        for _ in 0..110 {
            limiter.acquire(10 * KIB).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((9.9..=10.1).contains(&elapsed), "took {elapsed} s");
    }

    #[tokio::test(start_paused = true)]
    async fn burst_is_at_most_one_second_even_after_a_long_idle_time() {
        let limiter = RateLimiter::new(100);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let start = Instant::now();
        limiter.acquire(100 * KIB).await; // the full bucket: no wait
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(50 * KIB).await; // nothing saved up beyond one second
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.49..=0.51).contains(&elapsed), "took {elapsed} s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_larger_than_the_bucket_waits_proportionally() {
        let limiter = RateLimiter::new(64);
        limiter.acquire(64 * KIB).await; // drain the burst
        let start = Instant::now();
        limiter.acquire(640 * KIB).await;
        let elapsed = start.elapsed().as_secs_f64();
        assert!((9.99..=10.01).contains(&elapsed), "took {elapsed} s");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_users_share_the_budget_fairly() {
        // Four transfers share 200 KiB/s and send 2000 KiB together: 10 s at the rate. The burst is used up
        // first: whoever runs first would otherwise take it all before the others start.
        let limiter = RateLimiter::new(200);
        limiter.acquire(200 * KIB).await;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..50 {
                    limiter.acquire(10 * KIB).await;
                }
                start.elapsed().as_secs_f64()
            }));
        }
        let mut finished = Vec::new();
        for task in tasks {
            finished.push(task.await.unwrap());
        }
        let last = finished.iter().cloned().fold(0.0, f64::max);
        let first = finished.iter().cloned().fold(f64::MAX, f64::min);
        assert!((9.9..=10.1).contains(&last), "all done after {last} s");
        // Served in turn: nobody finishes much before the others (one round of 4 x 10 KiB = 0.2 s).
        assert!(last - first <= 0.25, "finish times {finished:?}");
    }
}
