//! `cargo xtask lint`: formatting, clippy with warnings as errors, and cargo-deny when it is installed.

use anyhow::Result;

use crate::cmd;

pub fn lint() -> Result<()> {
    cmd::run(cmd::cargo().args(["fmt", "--all", "--", "--check"]))?;
    cmd::run(cmd::cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    if cmd::succeeds(cmd::cargo().args(["deny", "--version"])) {
        cmd::run(cmd::cargo().args(["deny", "check"]))?;
    } else {
        println!("xtask lint: cargo-deny is not installed, skipping licence and advisory checks");
    }
    Ok(())
}
