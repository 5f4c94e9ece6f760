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
        // Licences, bans and sources need no network; the advisory database is fetched from the network,
        // which this workplace does not reach, so advisories are checked only where it can be.
        cmd::run(cmd::cargo().args(["deny", "check", "licenses", "bans", "sources"]))?;
        if !cmd::succeeds(cmd::cargo().args(["deny", "check", "advisories"])) {
            println!("xtask lint: cargo deny could not check advisories (advisory database unreachable?)");
        }
    } else {
        println!("xtask lint: cargo-deny is not installed, skipping licence and advisory checks");
    }
    Ok(())
}
