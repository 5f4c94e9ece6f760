//! `cargo xtask dist`: the release binaries an operator copies around, in `<target>/dist/`:
//!
//! - `node-push-x86_64`, `node-push-aarch64`: the node agent, static musl executables named by the node's
//!   `uname -m`, so the coordinator picks one per node without asking the user;
//! - `cassandra-snapshotter`: the coordinator, a static musl executable for this machine's architecture;
//! - `SHA256SUMS`, in `sha256sum -c` format.
//!
//! Built with `cargo zigbuild --release --locked` (see [`toolchain`] for why Zig), so every binary has the
//! release profile (thin LTO, stripped, panic=abort) and node-push has mimalloc as its allocator (see
//! node-push/Cargo.toml). node-push is built first, so that the coordinator can then embed both builds
//! (its cargo feature `embed-node-push`, reading `$NODE_PUSH_EMBED_DIR`) and install on any node by
//! itself. Each binary is checked with `file` (static, stripped, right machine) before the directory is
//! published: it is assembled in `dist.partial/` and renamed, so an interrupted or failed run never leaves
//! a `dist/` that looks complete.

mod check;
pub mod toolchain;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::cmd;

const NODE_PUSH: &str = "node-push";
const COORDINATOR: &str = "cassandra-snapshotter";
/// The coordinator's cargo feature that compiles in the node-push builds found in [`EMBED_DIR_ENV`]
/// (`node-push-<uname -m>`, the names used here); see snapshotter/build.rs.
const EMBED_FEATURE: &str = "embed-node-push";
const EMBED_DIR_ENV: &str = "NODE_PUSH_EMBED_DIR";
/// Selected in every build, whichever binary it makes: cargo then gives the dependencies the two share the
/// same features each time, so the coordinator's build reuses what node-push's compiled instead of
/// compiling it all again with other features.
const RELEASED_PACKAGES: [&str; 2] = [NODE_PUSH, COORDINATOR];

/// A CPU architecture of the release binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The machine name Linux's `uname -m` prints, which is also Rust's `target_arch` for these two.
    fn uname(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    fn musl_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// How `file` names the ELF machine.
    fn file_machine(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86-64",
            Arch::Aarch64 => "ARM aarch64",
        }
    }

    /// The architecture xtask itself was built for, i.e. the machine running the build.
    fn host() -> Result<Arch> {
        Arch::ALL
            .into_iter()
            .find(|arch| arch.uname() == std::env::consts::ARCH)
            .with_context(|| {
                format!(
                    "cargo xtask dist builds the coordinator for x86_64 or aarch64 Linux, not for {}",
                    std::env::consts::ARCH
                )
            })
    }
}

/// One file of the dist directory: which binary of which build, under which name.
#[derive(Debug)]
struct Artifact {
    binary: &'static str,
    arch: Arch,
    dist_name: String,
}

impl Artifact {
    fn built_path(&self, target_dir: &Path) -> PathBuf {
        target_dir
            .join(self.arch.musl_target())
            .join("release")
            .join(self.binary)
    }
}

pub fn dist() -> Result<()> {
    let started = Instant::now();
    let stack = cmd::stack_dir();
    toolchain::require(&stack)?;
    let host = Arch::host()?;
    for arch in Arch::ALL {
        require_rust_target(arch)?;
    }
    let target_dir = cmd::target_dir();
    let artifacts = artifacts(host);
    for arch in Arch::ALL {
        build(&stack, arch, NODE_PUSH, Embedding::None)?;
    }
    let embed_dir = stage_for_embedding(&target_dir, &artifacts)?;
    build(
        &stack,
        host,
        COORDINATOR,
        Embedding::NodePushBuildsIn(embed_dir),
    )?;

    let staging = target_dir.join("dist.partial");
    if staging.exists() {
        fs_err::remove_dir_all(&staging)?;
    }
    fs_err::create_dir_all(&staging)?;
    for artifact in &artifacts {
        let staged = staging.join(&artifact.dist_name);
        fs_err::copy(artifact.built_path(&target_dir), &staged)?;
        check::static_executable(&staged, artifact.arch)?;
    }
    let checksums = check::write_checksums(&staging, &artifacts)?;
    let dist_dir = target_dir.join("dist");
    if dist_dir.exists() {
        fs_err::remove_dir_all(&dist_dir)?;
    }
    fs_err::rename(&staging, &dist_dir)?;
    check::print_summary(&dist_dir, &artifacts, &checksums)?;
    println!(
        "xtask dist: done in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Whether a build compiles node-push builds into the coordinator.
#[derive(Debug)]
enum Embedding {
    None,
    /// With the coordinator's embed feature, from this absolute directory.
    NodePushBuildsIn(PathBuf),
}

/// node-push for every architecture, the coordinator for the build machine's.
fn artifacts(host: Arch) -> Vec<Artifact> {
    let mut artifacts: Vec<Artifact> = Arch::ALL
        .into_iter()
        .map(|arch| Artifact {
            binary: NODE_PUSH,
            arch,
            dist_name: format!("{NODE_PUSH}-{}", arch.uname()),
        })
        .collect();
    artifacts.push(Artifact {
        binary: COORDINATOR,
        arch: host,
        dist_name: COORDINATOR.to_string(),
    });
    artifacts
}

/// A missing rustup target otherwise shows up as "can't find crate for `core`" deep in a build log.
fn require_rust_target(arch: Arch) -> Result<()> {
    let libdir = cmd::read(Command::new("rustc").args([
        "--print",
        "target-libdir",
        "--target",
        arch.musl_target(),
    ]))?;
    let libdir = Path::new(libdir.trim());
    let has_core = libdir.is_dir()
        && fs_err::read_dir(libdir)?.any(|entry| {
            entry.is_ok_and(|entry| entry.file_name().to_string_lossy().starts_with("libcore-"))
        });
    if !has_core {
        bail!(
            "the Rust target {} is not installed: run `cargo xtask setup` (or `rustup target add {}`)",
            arch.musl_target(),
            arch.musl_target()
        );
    }
    Ok(())
}

fn build(stack: &Path, arch: Arch, binary: &str, embedding: Embedding) -> Result<()> {
    let mut command = cmd::cargo();
    command
        .args(["zigbuild", "--release", "--locked", "--target"])
        .arg(arch.musl_target())
        .env("PATH", toolchain::search_path(stack)?);
    for package in RELEASED_PACKAGES {
        command.args(["-p", package]);
    }
    command.args(["--bin", binary]);
    if let Embedding::NodePushBuildsIn(dir) = &embedding {
        command
            .arg("--features")
            .arg(format!("{COORDINATOR}/{EMBED_FEATURE}"))
            .env(EMBED_DIR_ENV, dir);
    }
    let started = Instant::now();
    cmd::run(&mut command)?;
    println!(
        "xtask dist: {binary} for {} built in {:.0}s",
        arch.uname(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Copies the node-push builds to `<target>/dist-embed/`, leaving unchanged files untouched: the
/// coordinator's build script watches them, and a fresh copy would relink it on every run.
fn stage_for_embedding(target_dir: &Path, artifacts: &[Artifact]) -> Result<PathBuf> {
    let dir = target_dir.join("dist-embed");
    fs_err::create_dir_all(&dir)?;
    for artifact in artifacts
        .iter()
        .filter(|artifact| artifact.binary == NODE_PUSH)
    {
        let built = artifact.built_path(target_dir);
        let staged = dir.join(&artifact.dist_name);
        let unchanged = staged.is_file() && fs_err::read(&staged)? == fs_err::read(&built)?;
        if !unchanged {
            fs_err::copy(&built, &staged)?;
        }
    }
    Ok(dir)
}
