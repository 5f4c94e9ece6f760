//! `cargo xtask bench`: node-push against rclone, the AWS CLI and `lzop -1`, on this machine, in one run.
//!
//! 1. builds node-push in release;
//! 2. writes a deterministic Cassandra-like snapshot tree (about 1 GiB, a few hundred files, `Data.db`
//!    incompressible like LZ4-compressed SSTables, Index/Summary/Statistics compressible) under
//!    `target/bench/tree` (kept between runs while its spec is unchanged);
//! 3. starts SeaweedFS on 127.0.0.1 and uploads the tree with node-push, `rclone copy --transfers 4` and
//!    `aws s3 cp --recursive`, one after another, each to its own bucket;
//! 4. compresses the tree to the local store with node-push and with `lzop -1` on all cores;
//! 5. pushes one 8 GiB file to the local store to check node-push's memory does not grow with file size;
//! 6. prints Markdown tables (wall time, client CPU seconds and peak RSS from the kernel's rusage via GNU
//!    time, bytes stored, ratios to rclone and to lzop) and which targets are met, and writes them to
//!    `target/bench/results.md`.
//!
//! The measuring code needs testkit (SeaweedFS and the tree generator). The everyday xtask build leaves it
//! out, so that `cargo xtask setup` builds on a fresh clone even when testkit does not compile; `cargo xtask
//! bench` therefore runs `cargo run --release -p xtask --features bench -- bench ARGS`, which is also
//! what makes the 1 GiB tree generator fast.

// Used only by the measuring build; unit-tested in every build (where the tests use only part of them).
#[cfg(any(feature = "bench", test))]
#[cfg_attr(not(feature = "bench"), allow(dead_code))]
mod measure;
#[cfg(any(feature = "bench", test))]
#[cfg_attr(not(feature = "bench"), allow(dead_code))]
mod report;
#[cfg(feature = "bench")]
mod run;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// Command-line options of `cargo xtask bench`. Parsed in both builds so that a typo fails before the
/// release build starts; read only by the measuring one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "bench"), allow(dead_code))]
pub struct Options {
    /// Approximate size of the generated snapshot tree.
    pub tree_mib: u64,
    /// Size of the single-file memory check; 0 skips it.
    pub big_file_gib: u64,
    /// Longest any one tool may run before the benchmark gives up on it.
    pub tool_timeout_secs: u64,
    /// A node-push binary to measure instead of building `target/release/node-push` (e.g. the static
    /// musl build of `cargo xtask dist`, which is what nodes run).
    pub node_push: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tree_mib: 1024,
            big_file_gib: 8,
            tool_timeout_secs: 900,
            node_push: None,
        }
    }
}

pub const USAGE: &str = "cargo xtask bench [--tree-mib N (1024)] [--big-file-gib N (8; 0 skips)] \
                         [--tool-timeout-secs N (900)] [--node-push BINARY (target/release/node-push)]";

impl Options {
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            if flag == "--node-push" {
                let path = args
                    .next()
                    .with_context(|| format!("--node-push needs a path; usage: {USAGE}"))?;
                // Absolute, because the measuring build runs from the workspace root.
                options.node_push = Some(std::path::absolute(path)?);
                continue;
            }
            let slot = match flag.as_str() {
                "--tree-mib" => &mut options.tree_mib,
                "--big-file-gib" => &mut options.big_file_gib,
                "--tool-timeout-secs" => &mut options.tool_timeout_secs,
                other => bail!("unknown bench option {other:?}; usage: {USAGE}"),
            };
            let value = args
                .next()
                .with_context(|| format!("{flag} needs a number; usage: {USAGE}"))?;
            *slot = value
                .parse()
                .with_context(|| format!("{flag} {value:?} is not a whole number"))?;
        }
        if options.tree_mib < 16 {
            bail!(
                "--tree-mib {} is too small to measure anything (at least 16)",
                options.tree_mib
            );
        }
        Ok(options)
    }
}

/// `cargo xtask bench ARGS`.
pub fn bench(args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
    measure_or_delegate(args, &options)
}

#[cfg(feature = "bench")]
fn measure_or_delegate(_args: &[String], options: &Options) -> Result<()> {
    run::run(options)
}

/// Re-runs xtask in release with testkit compiled in (see the module doc).
#[cfg(not(feature = "bench"))]
fn measure_or_delegate(args: &[String], _options: &Options) -> Result<()> {
    crate::cmd::run(
        crate::cmd::cargo()
            .args(["run", "--release", "--quiet", "--package", "xtask"])
            .args(["--features", "bench", "--", "bench"])
            .args(args),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn options_have_defaults_and_reject_bad_values() {
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        let options =
            Options::parse(&strings(&["--tree-mib", "64", "--big-file-gib", "0"])).unwrap();
        assert_eq!((options.tree_mib, options.big_file_gib), (64, 0));
        let other = Options::parse(&strings(&["--node-push", "/opt/node-push"])).unwrap();
        assert_eq!(other.node_push, Some(PathBuf::from("/opt/node-push")));
        for bad in [
            &["--tree-mib"][..],
            &["--tree-mib", "lots"],
            &["--tree-mib", "1"],
            &["--fast"],
            &["--node-push"],
        ] {
            assert!(Options::parse(&strings(bad)).is_err(), "{bad:?}");
        }
    }
}
