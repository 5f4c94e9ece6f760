//! `cargo xtask test`: the whole suite against the real stack, as CI runs it.
//!
//! Installs the stack (setup), builds every target first (the end-to-end tests run the built
//! `node-push` and `cassandra-snapshotter` binaries), then runs `cargo test`. Extra arguments go to
//! `cargo test`: `cargo xtask test -p testkit --test stack_smoke`. The last line is a total over every
//! test binary ("total: N passed, N failed, N skipped"), because cargo's own last line is that of the
//! final binary, often a doc-test run with nothing in it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::cmd;

/// Retry back-off base for node-push in tests: retries are exercised, not waited for.
const RETRY_BASE_ENV: (&str, &str) = ("NODE_PUSH_RETRY_BASE_MS", "1");

pub fn test(cargo_test_args: &[String]) -> Result<()> {
    let started = Instant::now();
    crate::setup::setup()?;
    let build_started = Instant::now();
    cmd::run(cmd::cargo().args(["build", "--workspace", "--all-targets"]))?;
    // The release binaries too: tests/tests/dist_static.rs checks and runs them (a few minutes the first
    // time, seconds when nothing changed).
    crate::dist::dist()?;
    let build_time = build_started.elapsed();
    let test_started = Instant::now();
    let names_a_package = cargo_test_args
        .iter()
        .any(|arg| arg == "-p" || arg.starts_with("--package"));
    let mut cargo_test = cmd::cargo();
    // Every test binary runs even after one fails, so one report shows every failure.
    cargo_test.args(["test", "--no-fail-fast"]);
    if !names_a_package {
        cargo_test.arg("--workspace");
    }
    cargo_test
        .args(cargo_test_args)
        .env(RETRY_BASE_ENV.0, RETRY_BASE_ENV.1);
    let shown_args: Vec<String> = cargo_test
        .get_args()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    println!("$ cargo {}", shown_args.join(" "));
    let mut child = cargo_test
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start cargo test")?;
    let mut totals = Totals::default();
    // libtest writes its results on stdout; pass them through and count them.
    for line in BufReader::new(child.stdout.take().expect("stdout was piped")).lines() {
        let line = line.context("cannot read cargo test's output")?;
        println!("{line}");
        totals.add_result_line(&line);
    }
    let status = child.wait()?;
    println!(
        "xtask test: build {:.0}s, tests {:.0}s, total {:.0}s",
        build_time.as_secs_f64(),
        test_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "total: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    if !status.success() {
        bail!("cargo test failed: {status}");
    }
    Ok(())
}

/// Counts summed over libtest's `test result:` lines.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds `test result: ok. 30 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; ...`.
    fn add_result_line(&mut self, line: &str) {
        let Some(counts) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in counts.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(number)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn sums_libtest_result_lines() {
        let mut totals = Totals::default();
        totals.add_result_line("test result: ok. 30 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.02s");
        totals.add_result_line("test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 16.35s");
        totals.add_result_line("test three_node ... ok");
        assert_eq!(
            totals,
            Totals {
                passed: 33,
                failed: 1,
                ignored: 2
            }
        );
    }
}
