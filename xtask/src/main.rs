//! `cargo xtask`: project tasks that need more than one cargo command.
//!
//! - `setup`: install the real test stack's tools (Debian packages, SeaweedFS, AWS CLI, Cassandra 1.2 jar,
//!   musl targets). Idempotent.
//! - `test [CARGO TEST ARGS]`: setup, build every target, run the suite.
//! - `lint`: `cargo fmt --check`, clippy with `-D warnings`, cargo-deny if installed.
//! - `dist`: static musl node-push for x86_64 and aarch64 and the coordinator embedding both, in target/dist.
//! - `demo`: the local stack (SeaweedFS, 3-node Cassandra 1.2, sshd hosts) and the real CLI against it.
//! - `bench [ARGS]`: node-push against rclone and the AWS CLI on the same SeaweedFS, in one run.

// A developer's task runner: printing progress and results to the terminal is its job.
#![allow(clippy::disallowed_macros)]

mod bench;
mod cmd;
mod demo;
mod dist;
mod lint;
mod setup;
mod test;

use std::process::ExitCode;

const USAGE: &str =
    "usage: cargo xtask <setup | test [CARGO TEST ARGS...] | lint | dist | demo | bench [ARGS...]>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.split_first() {
        Some((task, rest)) if task == "setup" && rest.is_empty() => setup::setup(),
        Some((task, rest)) if task == "test" => test::test(rest),
        Some((task, rest)) if task == "lint" && rest.is_empty() => lint::lint(),
        Some((task, rest)) if task == "demo" && rest.is_empty() => demo::demo(),
        Some((task, rest)) if task == "bench" => bench::bench(rest),
        Some((task, rest)) if task == "dist" && rest.is_empty() => dist::dist(),
        Some((task, _)) if task == "-h" || task == "--help" || task == "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}
