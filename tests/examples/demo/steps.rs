//! The demo's numbered steps: each prints a heading, is timed, and on failure is named in the error, so a
//! failed demo says which step broke.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// One finished step, for the summary.
#[derive(Debug)]
pub struct StepRecord {
    pub name: String,
    pub elapsed: Duration,
}

/// Runs and records the steps in order.
#[derive(Debug)]
pub struct Steps {
    started: Instant,
    done: Vec<StepRecord>,
}

impl Steps {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Runs `work` as the next step. Its error comes back with the step's number and name in front.
    pub fn run<T>(&mut self, name: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let number = self.done.len() + 1;
        println!("\n=== {number}. {name}");
        let started = Instant::now();
        let outcome = work().with_context(|| format!("step {number} ({name}) failed"))?;
        let elapsed = started.elapsed();
        println!("--- {name}: ok in {}", seconds(elapsed));
        self.done.push(StepRecord {
            name: name.to_string(),
            elapsed,
        });
        Ok(outcome)
    }

    pub fn done(&self) -> &[StepRecord] {
        &self.done
    }

    /// Since the first step started.
    pub fn total(&self) -> Duration {
        self.started.elapsed()
    }
}

/// `12.3s`, or `2m05s` from a minute on.
pub fn seconds(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = elapsed.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}
