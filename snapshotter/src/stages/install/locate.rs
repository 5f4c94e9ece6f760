//! Which node-push goes to a node: the build for its `uname -m` (learnt in preflight), found without the
//! user copying anything.
//!
//! For a node whose architecture is ARCH, in this order:
//! 1. `--node-push-binary FILE`, for every node (the install stage still refuses an ELF built for another
//!    architecture than the node's);
//! 2. `node-push-ARCH` next to this program: what `cargo xtask dist` puts beside the coordinator in
//!    `target/dist/`, and what a user may drop there to replace a build;
//! 3. the build for ARCH embedded in this program (cargo feature `embed-node-push`, see `build.rs`);
//! 4. a plain `node-push` next to this program when its ELF header says ARCH: a development build
//!    (`target/debug/`) and the tests.
//!
//! Anything else is one error naming the host, its architecture and every place looked at. A build is
//! read and hashed once per architecture, however many nodes share it.

use super::embedded::BUILDS;
use super::{arch_matches, canonical_arch, NodePushBinary};
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A node-push build compiled into this program.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedBuild {
    /// The canonical `uname -m` it runs on (`x86_64`, `aarch64`).
    pub arch: &'static str,
    pub bytes: &'static [u8],
}

/// How builds are chosen.
#[derive(Debug)]
enum Choice {
    /// `--node-push-binary`: one build for every node.
    Given(Arc<NodePushBinary>),
    /// By each node's architecture.
    ByArch {
        /// The directory holding this program; `None` when the OS cannot tell.
        exe_dir: Option<PathBuf>,
        embedded: &'static [EmbeddedBuild],
    },
}

/// The node-push builds this run can install, by node architecture.
#[derive(Debug)]
pub struct NodePushCatalog {
    choice: Choice,
    /// Builds found so far, by canonical architecture.
    found: Mutex<BTreeMap<String, Arc<NodePushBinary>>>,
}

impl NodePushCatalog {
    /// From `--node-push-binary` (read now, so that a wrong path fails before any node is touched), else
    /// the lookup by architecture next to this program and in it.
    pub fn new(node_push_binary: Option<&Path>) -> Result<Self> {
        match node_push_binary {
            Some(path) => Ok(Self::given(NodePushBinary::load(path)?)),
            None => {
                let exe_dir = std::env::current_exe()
                    .ok()
                    .and_then(|exe| exe.parent().map(Path::to_path_buf));
                Ok(Self::by_arch(exe_dir, BUILDS))
            }
        }
    }

    /// One build for every node.
    pub fn given(binary: NodePushBinary) -> Self {
        Self::with(Choice::Given(Arc::new(binary)))
    }

    fn by_arch(exe_dir: Option<PathBuf>, embedded: &'static [EmbeddedBuild]) -> Self {
        Self::with(Choice::ByArch { exe_dir, embedded })
    }

    fn with(choice: Choice) -> Self {
        NodePushCatalog {
            choice,
            found: Mutex::new(BTreeMap::new()),
        }
    }

    /// The build for `host`, whose `uname -m` is `uname`.
    pub fn for_node(&self, host: &str, uname: &str) -> Result<Arc<NodePushBinary>> {
        let (exe_dir, embedded) = match &self.choice {
            Choice::Given(binary) => return Ok(binary.clone()),
            Choice::ByArch { exe_dir, embedded } => (exe_dir.as_deref(), *embedded),
        };
        let arch = canonical_arch(uname);
        let mut found = self.found.lock().expect("not poisoned");
        if let Some(binary) = found.get(arch) {
            return Ok(binary.clone());
        }
        let binary = Arc::new(find(host, uname, exe_dir, embedded)?);
        found.insert(arch.to_string(), binary.clone());
        Ok(binary)
    }
}

/// Steps 2 to 4 of the module's order for one architecture.
fn find(
    host: &str,
    uname: &str,
    exe_dir: Option<&Path>,
    embedded: &[EmbeddedBuild],
) -> Result<NodePushBinary> {
    let arch = canonical_arch(uname);
    let mut looked = Vec::new();
    if let Some(dir) = exe_dir {
        let named = dir.join(format!("node-push-{arch}"));
        if named.is_file() {
            let binary = NodePushBinary::load(&named)?;
            return match binary.arch {
                Some(built) if arch_matches(built, uname) => Ok(binary),
                Some(built) => bail!(
                    "{host}: {} is built for {built}, not {uname}: replace it with a build for {arch} \
                     (cargo xtask dist) or give --node-push-binary",
                    named.display()
                ),
                None => bail!(
                    "{host}: {} is not a Linux executable (no ELF header): replace it with a build for \
                     {arch} (cargo xtask dist) or give --node-push-binary",
                    named.display()
                ),
            };
        }
        looked.push(format!("{} (missing)", named.display()));
    } else {
        looked.push("this program's directory (unknown)".to_string());
    }
    if let Some(build) = embedded.iter().find(|b| arch_matches(b.arch, uname)) {
        return Ok(NodePushBinary::from_bytes(
            PathBuf::from(format!("node-push-{} (embedded)", build.arch)),
            build.bytes.to_vec(),
        ));
    }
    let embedded_arches: Vec<&str> = embedded.iter().map(|b| b.arch).collect();
    looked.push(match embedded_arches.as_slice() {
        [] => "no embedded builds".to_string(),
        arches => format!("embedded builds for {} only", arches.join(", ")),
    });
    if let Some(dir) = exe_dir {
        let plain = dir.join("node-push");
        if plain.is_file() {
            let binary = NodePushBinary::load(&plain)?;
            match binary.arch {
                Some(built) if arch_matches(built, uname) => return Ok(binary),
                Some(built) => looked.push(format!("{} (built for {built})", plain.display())),
                None => looked.push(format!("{} (not a Linux executable)", plain.display())),
            }
        } else {
            looked.push(format!("{} (missing)", plain.display()));
        }
    }
    bail!(
        "{host}: no node-push for its architecture {uname}: looked at {}; put node-push-{arch} next to \
         this program (cargo xtask dist builds it) or give --node-push-binary",
        looked.join(", ")
    )
}

#[cfg(test)]
mod tests;
