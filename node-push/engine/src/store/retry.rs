//! Retry with exponential backoff and full jitter for retryable [`StoreError`]s.
//!
//! Only errors whose [`StoreError::is_retryable`] is true are retried: a 503 or a reset connection may go
//! away, a missing bucket or rejected credentials will not. The delay before retry `n` (1-based) is drawn
//! uniformly from `[0, min(max_delay, base_delay * 2^(n-1))]` ("full jitter"), which spreads the retries of
//! many parallel transfers instead of having them hit a struggling server in lockstep.
//!
//! Tests set `NODE_PUSH_RETRY_BASE_MS` (e.g. to `1`) to override the base delay so that retries cost
//! nothing; the override applies to every policy, since tests exercise the real binaries.

use super::StoreError;
use std::future::Future;
use std::time::Duration;

/// Environment variable that overrides [`RetryPolicy::base_delay`], in milliseconds.
pub const RETRY_BASE_ENV: &str = "NODE_PUSH_RETRY_BASE_MS";

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (0 is treated as 1).
    pub max_attempts: u32,
    /// Upper bound of the first backoff; doubled for every further retry.
    pub base_delay: Duration,
    /// No single backoff is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The base delay after applying the `NODE_PUSH_RETRY_BASE_MS` override, if set and valid.
    pub fn effective_base_delay(&self) -> Duration {
        base_delay_override(std::env::var(RETRY_BASE_ENV).ok().as_deref())
            .unwrap_or(self.base_delay)
    }

    /// The longest backoff before retry number `retry` (1-based), before jitter.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        backoff_ceiling(self.effective_base_delay(), self.max_delay, retry)
    }

    /// A jittered backoff before retry number `retry`: uniform in `[0, backoff_ceiling(retry)]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .backoff_ceiling(retry)
            .as_micros()
            .min(u64::MAX as u128) as u64;
        Duration::from_micros(fastrand::u64(0..=ceiling))
    }
}

/// The base delay `NODE_PUSH_RETRY_BASE_MS` asks for: a whole number of milliseconds, else no override.
fn base_delay_override(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_millis)
}

/// `base * 2^(retry-1)`, capped at `max` (but never below `base`).
fn backoff_ceiling(base: Duration, max: Duration, retry: u32) -> Duration {
    // 2^20 times any sane base already exceeds any sane max_delay; capping the shift avoids overflow.
    let factor = 1u32 << retry.saturating_sub(1).min(20);
    base.saturating_mul(factor).min(max.max(base))
}

/// What [`with_retry_notify`] tells its observer before sleeping and trying again.
#[derive(Debug)]
pub struct RetryEvent<'a> {
    /// The error that made the attempt fail.
    pub error: &'a StoreError,
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// How long we wait before the next attempt.
    pub delay: Duration,
}

/// Run `op` until it succeeds, fails with a non-retryable error, or attempts run out.
pub async fn with_retry<T, F, Fut>(policy: &RetryPolicy, op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    with_retry_notify(policy, op, |_| {}).await
}

/// Like [`with_retry`], and calls `notify` before every backoff (for progress messages and logs).
pub async fn with_retry_notify<T, F, Fut, N>(
    policy: &RetryPolicy,
    mut op: F,
    mut notify: N,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
    N: FnMut(RetryEvent<'_>),
{
    let max_attempts = policy.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(error) if error.is_retryable() && attempt < max_attempts => {
                let delay = policy.backoff(attempt);
                notify(RetryEvent {
                    error: &error,
                    attempt,
                    delay,
                });
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient() -> StoreError {
        StoreError::Transient {
            op: "put",
            key: "k".into(),
            message: "HTTP 503 SlowDown".into(),
        }
    }

    fn permanent() -> StoreError {
        StoreError::Permanent {
            op: "put",
            key: "k".into(),
            message: "credentials rejected".into(),
        }
    }

    /// A fake operation that fails with `error()` `failures` times, then succeeds with the attempt number.
    async fn run_failing(
        policy: &RetryPolicy,
        failures: u32,
        error: fn() -> StoreError,
    ) -> (Result<u32, StoreError>, u32) {
        let calls = AtomicU32::new(0);
        let result = with_retry(policy, || async {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if call <= failures {
                Err(error())
            } else {
                Ok(call)
            }
        })
        .await;
        (result, calls.load(Ordering::SeqCst))
    }

    fn fast_policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_until_success() {
        let (result, calls) = run_failing(&fast_policy(6), 3, transient).await;
        assert_eq!(result.unwrap(), 4);
        assert_eq!(calls, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_with_the_last_error() {
        let (result, calls) = run_failing(&fast_policy(3), 10, transient).await;
        assert!(matches!(result, Err(StoreError::Transient { .. })));
        assert_eq!(calls, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_permanent_errors() {
        let (result, calls) = run_failing(&fast_policy(6), 1, permanent).await;
        assert!(matches!(result, Err(StoreError::Permanent { .. })));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_attempts_still_tries_once() {
        let (result, calls) = run_failing(&fast_policy(0), 0, transient).await;
        assert_eq!(result.unwrap(), 1);
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn notifies_each_retry_with_increasing_attempts() {
        let policy = fast_policy(5);
        let mut seen = Vec::new();
        let calls = AtomicU32::new(0);
        let result: Result<(), StoreError> = with_retry_notify(
            &policy,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(transient())
            },
            |event| {
                assert!(event.delay <= policy.backoff_ceiling(event.attempt));
                seen.push(event.attempt);
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(seen, vec![1, 2, 3, 4]);
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let ms = Duration::from_millis;
        assert_eq!(backoff_ceiling(ms(100), ms(1000), 1), ms(100));
        assert_eq!(backoff_ceiling(ms(100), ms(1000), 2), ms(200));
        assert_eq!(backoff_ceiling(ms(100), ms(1000), 4), ms(800));
        assert_eq!(backoff_ceiling(ms(100), ms(1000), 5), ms(1000));
        assert_eq!(backoff_ceiling(ms(100), ms(1000), 60), ms(1000));
        // A base above the cap wins: the cap never makes the first backoff shorter than asked.
        assert_eq!(backoff_ceiling(ms(100), ms(10), 3), ms(100));
        let policy = fast_policy(10);
        for retry in 1..40 {
            assert!(policy.backoff(retry) <= policy.backoff_ceiling(retry));
        }
    }

    #[test]
    fn environment_override_is_whole_milliseconds() {
        assert_eq!(
            base_delay_override(Some("1")),
            Some(Duration::from_millis(1))
        );
        assert_eq!(
            base_delay_override(Some(" 250 ")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(base_delay_override(Some("fast")), None);
        assert_eq!(base_delay_override(None), None);
    }
}
