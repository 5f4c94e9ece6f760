//! Build script: with the cargo feature `embed-node-push`, writes the list of node-push builds to embed
//! (`$NODE_PUSH_EMBED_DIR/node-push-<arch>`, as `cargo xtask dist` names them) for
//! `src/stages/install/embedded.rs`; without the feature, an empty list, so normal builds never need a
//! cross-compiled node-push.

// A build script talks to cargo on stdout (`cargo:` lines): printing is its job.
#![allow(clippy::disallowed_macros)]

use std::path::PathBuf;

/// The architectures a release ships node-push for, in `uname -m` words.
const ARCHES: [&str; 2] = ["x86_64", "aarch64"];
const DIR_ENV: &str = "NODE_PUSH_EMBED_DIR";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={DIR_ENV}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut entries = String::new();
    if std::env::var_os("CARGO_FEATURE_EMBED_NODE_PUSH").is_some() {
        let dir = match std::env::var_os(DIR_ENV) {
            Some(dir) if PathBuf::from(&dir).is_absolute() => PathBuf::from(dir),
            Some(dir) => fail(&format!(
                "{DIR_ENV}={} must be an absolute path (build scripts run in the package directory)",
                PathBuf::from(dir).display()
            )),
            None => fail(&format!(
                "the embed-node-push feature needs {DIR_ENV}: the directory holding node-push-x86_64 \
                 and/or node-push-aarch64 (cargo xtask dist builds them into target/dist)"
            )),
        };
        // The directory changes when a build is added or replaced there.
        println!("cargo:rerun-if-changed={}", dir.display());
        for arch in ARCHES {
            let file = dir.join(format!("node-push-{arch}"));
            if !file.is_file() {
                continue;
            }
            println!("cargo:rerun-if-changed={}", file.display());
            let Some(path) = file.to_str() else {
                fail(&format!("{} is not a UTF-8 path", file.display()))
            };
            entries.push_str(&format!(
                "    EmbeddedBuild {{ arch: {arch:?}, bytes: include_bytes!({path:?}) }},\n"
            ));
        }
        if entries.is_empty() {
            fail(&format!(
                "{DIR_ENV}={} holds none of node-push-{}",
                dir.display(),
                ARCHES.join(", node-push-")
            ));
        }
    }
    let code = format!(
        "/// The builds embedded at compile time.\npub static BUILDS: &[EmbeddedBuild] = &[\n{entries}];\n"
    );
    let target = out_dir.join("embedded_node_push.rs");
    if let Err(error) = fs_err::write(&target, code) {
        fail(&error.to_string());
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
