//! Waiting on conditions, never on the clock: every wait of the tests and the stack polls what it waits
//! for (a server answering, a file appearing, a process ending) until a deadline, and fails naming it.
//!
//! The poll interval below is the only sleep a wait needs; a test that sleeps for any other reason does so
//! because the passing time is the behaviour under test (an upload's age, a server's outage), and says so.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// How often a condition is checked: short next to anything the tests wait for, long next to a check.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Checks `done` every [`POLL_INTERVAL`] for at most `limit`; whether it became true.
pub fn poll(limit: Duration, done: impl FnMut() -> bool) -> bool {
    poll_every(POLL_INTERVAL, limit, done)
}

/// [`poll`] at another interval, for conditions that are costly to check (a query to the ring).
pub fn poll_every(interval: Duration, limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(interval);
    }
}

/// Waits until `done` holds; after `limit`, an error saying that `what` did not happen.
pub fn until(what: &str, limit: Duration, done: impl FnMut() -> bool) -> Result<()> {
    if poll(limit, done) {
        Ok(())
    } else {
        bail!("{what}: still not the case after {limit:?}")
    }
}

/// Waits until `found` returns something and returns it; after `limit`, an error naming `what`.
pub fn until_some<T>(
    what: &str,
    limit: Duration,
    mut found: impl FnMut() -> Option<T>,
) -> Result<T> {
    let mut value = None;
    until(what, limit, || {
        value = found();
        value.is_some()
    })?;
    Ok(value.expect("set when the wait ended"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_that_holds_ends_the_wait_and_one_that_never_does_fails_by_name() {
        let mut calls = 0;
        assert_eq!(
            until_some("three calls", Duration::from_secs(5), || {
                calls += 1;
                (calls == 3).then_some(calls)
            })
            .unwrap(),
            3
        );
        let err = until("the impossible", Duration::from_millis(120), || false).unwrap_err();
        assert!(
            err.to_string().starts_with("the impossible: still not"),
            "{err}"
        );
    }
}
