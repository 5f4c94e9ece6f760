//! The cross toolchain `cargo xtask dist` builds with: cargo-zigbuild and Zig, both from PyPI, in the test
//! stack's venv.
//!
//! Why Zig: `ring` (rustls) and mimalloc contain C, so a static aarch64 build needs a C compiler and libc
//! headers for aarch64 musl. `zig cc` carries both for every target, the PyPI wheels install it in seconds
//! without Docker or any download outside the package registries, and cargo-zigbuild wires it in as the C
//! compiler and linker per target. The versions are pinned so a new upload cannot change the release build
//! unnoticed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Result};

use crate::cmd;

const CARGO_ZIGBUILD_VERSION: &str = "0.24.1";
const ZIGLANG_VERSION: &str = "0.17.1";

/// Installs cargo-zigbuild and ziglang into `<stack>/venv` unless the pinned versions are already there.
/// Needs the venv, which setup creates just before.
pub fn install(stack: &Path) -> Result<()> {
    let venv = stack.join("venv");
    if installed_versions_match(&venv) {
        println!("setup: cross toolchain: ok (cargo-zigbuild {CARGO_ZIGBUILD_VERSION}, zig {ZIGLANG_VERSION})");
        return Ok(());
    }
    let pip = venv.join("bin/pip");
    if !pip.is_file() {
        bail!(
            "{} is missing: run `cargo xtask setup` to create the stack's venv",
            pip.display()
        );
    }
    cmd::run(
        Command::new(&pip)
            .args(["install", "--disable-pip-version-check", "--quiet"])
            .arg(format!("cargo-zigbuild=={CARGO_ZIGBUILD_VERSION}"))
            .arg(format!("ziglang=={ZIGLANG_VERSION}")),
    )?;
    if !installed_versions_match(&venv) {
        bail!(
            "pip installed cargo-zigbuild {CARGO_ZIGBUILD_VERSION} and ziglang {ZIGLANG_VERSION} into {} \
             but they do not report those versions",
            venv.display()
        );
    }
    Ok(())
}

/// Fails with the fix to run when the toolchain is not installed (dist does not run the whole setup).
pub fn require(stack: &Path) -> Result<()> {
    let venv = stack.join("venv");
    if !installed_versions_match(&venv) {
        bail!(
            "cargo-zigbuild {CARGO_ZIGBUILD_VERSION} and zig {ZIGLANG_VERSION} are not in {}: run `cargo xtask setup`",
            venv.display()
        );
    }
    Ok(())
}

/// PATH for running `cargo zigbuild`: the venv's bin first, so cargo finds the `cargo-zigbuild`
/// subcommand and cargo-zigbuild finds Zig through the venv's `python3 -m ziglang`.
pub fn search_path(stack: &Path) -> Result<OsString> {
    let mut dirs: Vec<PathBuf> = vec![venv_bin(stack)];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    Ok(std::env::join_paths(dirs)?)
}

fn venv_bin(stack: &Path) -> PathBuf {
    stack.join("venv").join("bin")
}

fn installed_versions_match(venv: &Path) -> bool {
    let zigbuild = venv.join("bin/cargo-zigbuild");
    let python = venv.join("bin/python3");
    let zigbuild_ok = zigbuild.is_file()
        && cmd::read(Command::new(&zigbuild).arg("--version"))
            .is_ok_and(|text| text.trim() == format!("cargo-zigbuild {CARGO_ZIGBUILD_VERSION}"));
    let zig_ok = python.is_file()
        && cmd::read(Command::new(&python).args(["-m", "ziglang", "version"]))
            .is_ok_and(|text| text.trim() == ZIGLANG_VERSION);
    zigbuild_ok && zig_ok
}
