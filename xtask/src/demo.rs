//! `cargo xtask demo`: the README's first command. Installs the stack (setup), builds the two binaries the
//! demo runs, and runs the demo itself, `tests/examples/demo/`, which starts SeaweedFS, a 3-node Cassandra
//! ring and one sshd per node and runs backup, list, incremental backup, list (and verify and restore where
//! the coordinator has them) against it.
//!
//! The demo lives in testkit rather than here because it needs testkit's fixtures, and xtask must not
//! depend on testkit (setup has to build even when testkit does not).

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Result};

use crate::cmd;

pub fn demo() -> Result<()> {
    let started = Instant::now();
    // Setup installs Debian packages, and every simulated host is an sshd that lets root log in.
    let uid = cmd::read(Command::new("id").arg("-u"))?;
    if uid.trim() != "0" {
        bail!("the demo starts sshd and installs packages: run `cargo xtask demo` as root");
    }
    crate::setup::setup()?;
    cmd::run(cmd::cargo().args(["build", "-p", "node-push", "-p", "cassandra-snapshotter"]))?;
    cmd::run(cmd::cargo().args(["run", "--quiet", "-p", "testkit", "--example", "demo"]))?;
    println!(
        "xtask demo: done in {:.0}s (setup, build and demo)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
