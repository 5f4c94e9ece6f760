//! `cargo xtask bench [PART]`: node-push against rclone, the AWS CLI and `lzop -1`, on this machine, in one
//! run. Every tool runs `--runs` times (3), round after round so that a burst of other load hits every tool
//! alike, each run into a fresh bucket or directory; the tables show the median of each figure.
//!
//! 1. builds node-push in release;
//! 2. writes a deterministic Cassandra-like snapshot tree (about 1 GiB, a few hundred files, `Data.db`
//!    incompressible like LZ4-compressed SSTables, Index/Summary/Statistics compressible) under
//!    `target/bench/tree` (kept between runs while its spec is unchanged);
//! 3. `s3`: starts SeaweedFS on 127.0.0.1 and uploads the tree with node-push, `rclone copy --transfers 4`
//!    and `aws s3 cp --recursive`, one after another, each to its own bucket;
//! 4. `local`: compresses the tree to the local store with node-push and with `lzop -1` on all cores;
//! 5. `big-file`: pushes one 8 GiB file to the local store to check node-push's memory does not grow with
//!    file size;
//! 6. `restore`: backs the tree up once with node-push and once uncompressed with rclone, then restores it
//!    with `node-push restore` (download, lzop decode, digest and size checks, fsync, rename) into a fresh
//!    staging directory, against `rclone copy` of the uncompressed tree back from the same store;
//! 7. prints Markdown tables (wall time, client CPU seconds and peak RSS from the kernel's rusage via GNU
//!    time, bytes stored, ratios to rclone and to lzop) and which targets are met, and writes them to
//!    `target/bench/results.md` (`results-PART.md` when only one part ran).
//!
//! Without PART every part runs.
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
mod scale;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// A part of the benchmark that can run alone (`cargo xtask bench PART`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    S3,
    Local,
    BigFile,
    Restore,
}

impl Part {
    /// Every part, in the order a whole run measures them.
    pub const ALL: [Part; 4] = [Part::S3, Part::Local, Part::BigFile, Part::Restore];

    pub fn name(self) -> &'static str {
        match self {
            Part::S3 => "s3",
            Part::Local => "local",
            Part::BigFile => "big-file",
            Part::Restore => "restore",
        }
    }

    fn from_name(name: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|part| part.name() == name)
    }
}

/// Command-line options of `cargo xtask bench [PART]`. Parsed in both builds so that a typo fails before
/// the release build starts; read only by the measuring one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "bench"), allow(dead_code))]
pub struct Options {
    /// The parts to measure, in [`Part::ALL`]'s order.
    pub parts: Vec<Part>,
    /// Runs of every tool; the tables show medians.
    pub runs: usize,
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
            parts: Part::ALL.to_vec(),
            runs: 3,
            tree_mib: 1024,
            big_file_gib: 8,
            tool_timeout_secs: 900,
            node_push: None,
        }
    }
}

pub const USAGE: &str = "cargo xtask bench [s3 | local | big-file | restore] [--runs N (3)] \
                         [--tree-mib N (1024)] [--big-file-gib N (8; 0 skips)] \
                         [--tool-timeout-secs N (900)] [--node-push BINARY (target/release/node-push)]";

impl Options {
    /// `args` after `bench`: an optional part, then flags.
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options::default();
        let mut args = args.iter().peekable();
        if let Some(name) = args.next_if(|arg| !arg.starts_with('-')) {
            let part = Part::from_name(name)
                .with_context(|| format!("unknown bench part {name:?}; usage: {USAGE}"))?;
            options.parts = vec![part];
        }
        while let Some(flag) = args.next() {
            if flag == "--node-push" {
                let path = args
                    .next()
                    .with_context(|| format!("--node-push needs a path; usage: {USAGE}"))?;
                // Absolute, because the measuring build runs from the workspace root.
                options.node_push = Some(std::path::absolute(path)?);
                continue;
            }
            let value = |args: &mut dyn Iterator<Item = &String>| -> Result<u64> {
                let value = args
                    .next()
                    .with_context(|| format!("{flag} needs a number; usage: {USAGE}"))?;
                value
                    .parse()
                    .with_context(|| format!("{flag} {value:?} is not a whole number"))
            };
            match flag.as_str() {
                "--runs" => options.runs = value(&mut args)? as usize,
                "--tree-mib" => options.tree_mib = value(&mut args)?,
                "--big-file-gib" => options.big_file_gib = value(&mut args)?,
                "--tool-timeout-secs" => options.tool_timeout_secs = value(&mut args)?,
                other => bail!("unknown bench option {other:?}; usage: {USAGE}"),
            }
        }
        if options.tree_mib < 16 {
            bail!(
                "--tree-mib {} is too small to measure anything (at least 16)",
                options.tree_mib
            );
        }
        if options.runs == 0 {
            bail!("--runs 0 measures nothing");
        }
        if options.big_file_gib == 0 {
            options.parts.retain(|part| *part != Part::BigFile);
            if options.parts.is_empty() {
                bail!("bench big-file with --big-file-gib 0 measures nothing");
            }
        }
        Ok(options)
    }
}

/// `cargo xtask bench ARGS`.
pub fn bench(args: &[String]) -> Result<()> {
    // Subcommands with options and code of their own (e.g. `scale`, in bench/scale.rs) are dispatched
    // here, before the parts of the main benchmark, whose parser rejects any other first word.
    if args.first().is_some_and(|arg| arg == "scale") {
        return scale::run(args);
    }
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
        assert_eq!(options.parts, [Part::S3, Part::Local, Part::Restore]);
        let restore = Options::parse(&strings(&["restore", "--runs", "1"])).unwrap();
        assert_eq!((restore.parts, restore.runs), (vec![Part::Restore], 1));
        let local = Options::parse(&strings(&["local", "--big-file-gib", "0"])).unwrap();
        assert_eq!(local.parts, [Part::Local]);
        let other = Options::parse(&strings(&["--node-push", "/opt/node-push"])).unwrap();
        assert_eq!(other.node_push, Some(PathBuf::from("/opt/node-push")));
        for bad in [
            &["--tree-mib"][..],
            &["--tree-mib", "lots"],
            &["--tree-mib", "1"],
            &["--fast"],
            &["--node-push"],
            &["--runs", "0"],
            &["uploads"],
            &["big-file", "--big-file-gib", "0"],
            &["--runs", "3", "s3"],
        ] {
            assert!(Options::parse(&strings(bad)).is_err(), "{bad:?}");
        }
    }
}
