//! Randomized, model-based workflow tests (issue 9): seeded sequences of writes, flushes, compactions,
//! truncates, table rebuilds, restarts, full/scoped/incremental backups, purges and restores over scripted
//! Cassandra 2.1-5.0 nodes, driven through the real `cassandra-snapshotter` and `node-push` binaries
//! against a real SeaweedFS. After every restore the restored rows must be what the model says
//! (`testkit::model`). A failure prints the seed and the whole history.
//!
//! - `MODEL_SEED=N` runs only sequence N (reproduces a failure);
//! - `MODEL_SEQUENCES=N` sets how many sequences run (default [`DEFAULT_SEQUENCES`]), from seed
//!   `MODEL_FIRST_SEED` (default 1);
//! - `MODEL_STEPS=N` sets the steps per sequence (default [`DEFAULT_STEPS`]);
//! - `MODEL_JOBS=N` runs N sequences at once (default [`DEFAULT_JOBS`]);
//! - `MODEL_TRANSPORT=sshd` runs the coordinator over one real sshd per host instead of the ssh stand-in.
//!
//! Needs `cargo build --workspace` (the binaries) and `cargo xtask setup` (SeaweedFS).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use testkit::model::env::{Env, Transport};
use testkit::model::runner::{run_sequence, SequenceConfig};

const DEFAULT_SEQUENCES: u64 = 150;
const DEFAULT_STEPS: usize = 12;
/// Sequences run at once.
const DEFAULT_JOBS: u64 = 2;

/// What the sequences did, summed.
#[derive(Debug, Default)]
struct Totals {
    runs: usize,
    backups: usize,
    restores: usize,
    coordinator_time: std::time::Duration,
    failures: Vec<u64>,
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    })
}

#[test]
fn random_workflows_restore_what_the_model_says() {
    let transport = match std::env::var("MODEL_TRANSPORT").as_deref() {
        Ok("sshd") => Transport::Sshd,
        _ => Transport::Local,
    };
    let steps = env_number("MODEL_STEPS").map_or(DEFAULT_STEPS, |n| n as usize);
    let seeds: Vec<u64> = match env_number("MODEL_SEED") {
        Some(seed) => vec![seed],
        None => {
            let first = env_number("MODEL_FIRST_SEED").unwrap_or(1);
            let count = env_number("MODEL_SEQUENCES").unwrap_or(DEFAULT_SEQUENCES);
            (first..first + count).collect()
        }
    };
    let env = Env::start(std::path::Path::new(env!(
        "CARGO_BIN_EXE_scripted-nodetool"
    )))
    .expect("test environment");
    let jobs = env_number("MODEL_JOBS").unwrap_or(DEFAULT_JOBS).max(1);
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let totals = Mutex::new(Totals::default());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&seed) = seeds.get(i) else { break };
                let config = SequenceConfig {
                    seed,
                    steps,
                    transport,
                };
                let outcome = run_sequence(&env, config);
                let mut totals = totals.lock().unwrap();
                match outcome {
                    Ok(summary) => {
                        totals.runs += summary.coordinator_runs;
                        totals.backups += summary.backups;
                        totals.restores += summary.restores;
                        totals.coordinator_time += summary.coordinator_time;
                        if seeds.len() == 1 {
                            testkit::log!(
                                "history of seed {seed}:\n  {}",
                                summary.history.join("\n  ")
                            );
                        }
                    }
                    Err(failure) => {
                        testkit::log!("=== sequence {} FAILED\n{}", failure.seed, failure.report);
                        totals.failures.push(failure.seed);
                    }
                }
            });
        }
    });
    let Totals {
        runs,
        backups,
        restores,
        coordinator_time,
        mut failures,
    } = totals.into_inner().unwrap();
    failures.sort_unstable();
    testkit::log!(
        "{} sequences of {steps} steps in {:.1}s ({transport:?}, {jobs} at once): {runs} coordinator runs \
         ({:.1}s, {:.0} ms each), {backups} backups, {restores} restores; failed seeds: {failures:?}",
        seeds.len(),
        started.elapsed().as_secs_f64(),
        coordinator_time.as_secs_f64(),
        coordinator_time.as_secs_f64() * 1000.0 / runs.max(1) as f64,
    );
    assert!(
        failures.is_empty(),
        "{} of {} sequences failed; rerun one with MODEL_SEED=<seed>: {failures:?}",
        failures.len(),
        seeds.len()
    );
}
