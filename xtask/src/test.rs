//! `cargo xtask test`: the whole suite against the real stack, as CI runs it.
//!
//! Installs the stack (setup), builds every target first (the end-to-end tests run the built
//! `node-push` and `cassandra-snapshotter` binaries), then runs `cargo test`. Extra arguments go to
//! `cargo test`: `cargo xtask test -p testkit --test stack_smoke`.

use std::time::Instant;

use anyhow::Result;

use crate::cmd;

/// Retry back-off base for node-push in tests: retries are exercised, not waited for.
const RETRY_BASE_ENV: (&str, &str) = ("NODE_PUSH_RETRY_BASE_MS", "1");

pub fn test(cargo_test_args: &[String]) -> Result<()> {
    let started = Instant::now();
    crate::setup::setup()?;
    let build_started = Instant::now();
    cmd::run(cmd::cargo().args(["build", "--workspace", "--all-targets"]))?;
    let build_time = build_started.elapsed();
    let test_started = Instant::now();
    let names_a_package = cargo_test_args
        .iter()
        .any(|arg| arg == "-p" || arg.starts_with("--package"));
    let mut cargo_test = cmd::cargo();
    cargo_test.arg("test");
    if !names_a_package {
        cargo_test.arg("--workspace");
    }
    cargo_test
        .args(cargo_test_args)
        .env(RETRY_BASE_ENV.0, RETRY_BASE_ENV.1);
    let outcome = cmd::run(&mut cargo_test);
    println!(
        "xtask test: build {:.0}s, tests {:.0}s, total {:.0}s",
        build_time.as_secs_f64(),
        test_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    outcome
}
