//! What `cargo xtask dist` checks and writes about the binaries once they are built: `file`'s verdict,
//! `SHA256SUMS`, the size table.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{Arch, Artifact};
use crate::cmd;

pub const CHECKSUMS: &str = "SHA256SUMS";

/// What the operator relies on: the binary runs on any Linux of its architecture, with no libc to match,
/// and carries no symbol tables.
pub fn static_executable(path: &Path, arch: Arch) -> Result<()> {
    let description = cmd::read(Command::new("file").arg("-b").arg(path))
        .context("cannot run `file` (installed by `cargo xtask setup`)")?;
    let description = description.trim();
    let is_static =
        description.contains("statically linked") || description.contains("static-pie linked");
    let is_stripped = description.contains(", stripped");
    let right_machine = description.contains(arch.file_machine());
    if !(is_static && is_stripped && right_machine) {
        bail!(
            "{} is not a stripped static {} executable; `file` says: {description}",
            path.display(),
            arch.uname()
        );
    }
    Ok(())
}

/// Writes `SHA256SUMS` with names relative to `dir`, as `sha256sum -c` wants them, and returns its text.
pub fn write_checksums(dir: &Path, artifacts: &[Artifact]) -> Result<String> {
    let mut sha256sum = Command::new("sha256sum");
    sha256sum.current_dir(dir).arg("--");
    for artifact in artifacts {
        sha256sum.arg(&artifact.dist_name);
    }
    let checksums = cmd::read(&mut sha256sum)?;
    fs_err::write(dir.join(CHECKSUMS), &checksums)?;
    Ok(checksums)
}

pub fn print_summary(dist_dir: &Path, artifacts: &[Artifact], checksums: &str) -> Result<()> {
    println!("xtask dist: {}", dist_dir.display());
    for artifact in artifacts {
        let size = fs_err::metadata(dist_dir.join(&artifact.dist_name))?.len();
        println!(
            "  {:<24} {:>10} bytes  {:>5.1} MiB",
            artifact.dist_name,
            size,
            size as f64 / (1024.0 * 1024.0)
        );
    }
    println!("  {CHECKSUMS}:");
    for line in checksums.lines() {
        println!("    {line}");
    }
    Ok(())
}
