//! Installing node-push on a node: copied only when the SHA-256 of what is there differs, checked after the
//! copy, mode 0700 in a directory only the SSH user can read, then asked for its hello (protocol version).
//! Which build goes to which node (by `uname -m`) is [`locate`]'s business.

mod embedded;
mod locate;

pub use locate::NodePushCatalog;

use crate::remote::{Remote, RemoteCommand};
use crate::shell;
use anyhow::{bail, Context, Result};
use contract::message::{Message, PROTOCOL_VERSION};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The local node-push binary that goes to the nodes.
#[derive(Debug, Clone)]
pub struct NodePushBinary {
    pub path: PathBuf,
    pub bytes: Arc<Vec<u8>>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
    /// The `uname -m` it runs on, from its ELF header (`None` when not recognised).
    pub arch: Option<&'static str>,
}

impl NodePushBinary {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = fs_err::read(path).with_context(|| {
            format!(
                "cannot read the node-push binary (give --node-push-binary): {}",
                path.display()
            )
        })?;
        Ok(Self::from_bytes(path.to_path_buf(), bytes))
    }

    /// A build already in memory; `path` names it in messages.
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Self {
        NodePushBinary {
            path,
            sha256: hex::encode(Sha256::digest(&bytes)),
            arch: elf_arch(&bytes),
            bytes: Arc::new(bytes),
        }
    }

    /// Where it goes on a node: `--node-push-path` (a leading `~/` is the SSH user's home), else
    /// `~/.cache/cassandra-snapshotter/node-push-<first 16 hex of its SHA-256>`.
    pub fn remote_path(&self, flag: Option<&str>, home: &str) -> String {
        let home = home.trim_end_matches('/');
        match flag {
            Some(path) => match path.strip_prefix("~/") {
                Some(rest) => format!("{home}/{rest}"),
                None => path.to_string(),
            },
            None => format!(
                "{home}/.cache/cassandra-snapshotter/node-push-{}",
                &self.sha256[..16]
            ),
        }
    }
}

/// The architecture an ELF executable is for, in `uname -m` words.
fn elf_arch(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return None;
    }
    let machine = match bytes[5] {
        1 => u16::from_le_bytes([bytes[18], bytes[19]]),
        _ => u16::from_be_bytes([bytes[18], bytes[19]]),
    };
    match machine {
        62 => Some("x86_64"),
        183 => Some("aarch64"),
        40 => Some("armv7l"),
        3 => Some("i686"),
        _ => None,
    }
}

/// The one name of an architecture that `uname -m` (or a package manager) spells several ways: the name
/// node-push builds carry (`node-push-aarch64`).
fn canonical_arch(arch: &str) -> &str {
    match arch {
        "arm64" => "aarch64",
        "amd64" => "x86_64",
        "i386" | "i586" => "i686",
        a if a.starts_with("armv7") => "armv7l",
        a => a,
    }
}

/// Whether a node's `uname -m` can run a binary for `arch`.
fn arch_matches(arch: &str, uname: &str) -> bool {
    canonical_arch(arch) == canonical_arch(uname)
}

/// What installing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    AlreadyThere,
    Copied,
}

fn remote_sha_command(path: &str) -> RemoteCommand {
    RemoteCommand::new(format!(
        r#"f={}; if [ -f "$f" ]; then if command -v sha256sum >/dev/null 2>&1; then sha256sum -- "$f"; else shasum -a 256 -- "$f"; fi; fi"#,
        shell::quote(path)
    ))
}

fn parse_sha(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
}

/// Put `binary` at `path` on the node (unless it is there already), verify it, and check it runs.
pub async fn install(
    remote: &dyn Remote,
    binary: &NodePushBinary,
    path: &str,
    node_arch: &str,
) -> Result<Installed> {
    let host = remote.host();
    if let Some(arch) = binary.arch {
        if !arch_matches(arch, node_arch) {
            bail!(
                "{host}: the node is {node_arch} but {} is built for {arch}; give --node-push-binary \
                 with a build for {node_arch}",
                binary.path.display()
            );
        }
    }
    let existing = remote.run(&remote_sha_command(path), None).await?;
    let installed = if parse_sha(&existing.stdout).as_deref() == Some(binary.sha256.as_str()) {
        Installed::AlreadyThere
    } else {
        let copy = format!(
            r#"set -e; f={}; umask 077; mkdir -p -- "$(dirname -- "$f")"; t="$f.tmp.$$"; cat > "$t"; chmod 700 "$t"; mv -f -- "$t" "$f""#,
            shell::quote(path)
        );
        let out = remote
            .run(&RemoteCommand::new(copy), Some(binary.bytes.as_slice()))
            .await?;
        if !out.success() {
            bail!("{host}: cannot copy node-push to {path}: {}", out.reason());
        }
        let after = remote.run(&remote_sha_command(path), None).await?;
        match parse_sha(&after.stdout) {
            Some(sha) if sha == binary.sha256 => {}
            Some(sha) => bail!(
                "{host}: node-push at {path} has SHA-256 {sha} after copying, expected {}",
                binary.sha256
            ),
            None => bail!(
                "{host}: cannot compute the SHA-256 of {path}: {}",
                after.reason()
            ),
        }
        Installed::Copied
    };
    let hello = remote
        .run(
            &RemoteCommand::new(format!("{} hello", shell::quote(path))),
            None,
        )
        .await?;
    let greeting = hello
        .stdout
        .lines()
        .find_map(|line| Message::parse_line(line).ok().flatten());
    match greeting {
        Some(Message::Hello { protocol, .. }) if protocol == PROTOCOL_VERSION => Ok(installed),
        Some(Message::Hello { protocol, tool_version, .. }) => bail!(
            "{host}: node-push {tool_version} at {path} speaks protocol {protocol}, this coordinator {PROTOCOL_VERSION}"
        ),
        _ => bail!(
            "{host}: node-push at {path} does not run: {} (is the directory on a noexec mount? try --node-push-path)",
            hello.reason()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fake::FakeRemote;

    fn binary() -> NodePushBinary {
        let bytes = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0rest".to_vec();
        NodePushBinary {
            path: "/local/node-push".into(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            arch: elf_arch(&bytes),
            bytes: Arc::new(bytes),
        }
    }

    fn hello() -> String {
        Message::Hello {
            protocol: PROTOCOL_VERSION,
            tool_version: "0.1.0".into(),
            hostname: "n".into(),
            arch: "x86_64".into(),
        }
        .to_line()
    }

    #[test]
    fn reads_the_elf_machine_and_default_path() {
        let b = binary();
        assert_eq!(b.arch, Some("x86_64"));
        assert!(arch_matches("aarch64", "arm64"));
        assert!(!arch_matches("x86_64", "aarch64"));
        let path = b.remote_path(None, "/home/c/");
        assert_eq!(
            path,
            format!(
                "/home/c/.cache/cassandra-snapshotter/node-push-{}",
                &b.sha256[..16]
            )
        );
        assert_eq!(b.remote_path(Some("~/bin/np"), "/root"), "/root/bin/np");
        assert_eq!(b.remote_path(Some("/opt/np"), "/root"), "/opt/np");
    }

    #[tokio::test]
    async fn copies_only_when_the_hash_differs() {
        let b = binary();
        let same = FakeRemote::new("n1")
            .on("sha256sum", 0, &format!("{}  /p\n", b.sha256))
            .on("hello", 0, &hello());
        assert_eq!(
            install(&same, &b, "/p", "x86_64").await.unwrap(),
            Installed::AlreadyThere
        );
        assert!(!same.scripts().iter().any(|s| s.contains("cat >")));

        // First hash check finds an old build; the one after the copy finds the right hash.
        let fresh = FakeRemote::new("n2")
            .once("sha256sum", 0, &format!("{}  /p\n", "1".repeat(64)))
            .on("sha256sum", 0, &format!("{}  /p\n", b.sha256))
            .on("cat >", 0, "")
            .on("hello", 0, &hello());
        assert_eq!(
            install(&fresh, &b, "/p", "x86_64").await.unwrap(),
            Installed::Copied
        );
        let log = fresh.log.lock().unwrap();
        let (script, stdin) = log.iter().find(|(s, _)| s.contains("cat >")).unwrap();
        assert!(script.contains("chmod 700") && script.contains("umask 077"));
        assert_eq!(stdin, b.bytes.as_ref());
    }

    #[tokio::test]
    async fn refuses_a_wrong_architecture_or_a_bad_copy() {
        let b = binary();
        let remote = FakeRemote::new("arm1");
        let err = install(&remote, &b, "/p", "aarch64")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("arm1: the node is aarch64"), "{err}");
        assert!(remote.scripts().is_empty());

        let corrupt = FakeRemote::new("n3").on("cat >", 0, "").on(
            "sha256sum",
            0,
            &format!("{}  /p\n", "0".repeat(64)),
        );
        let err = install(&corrupt, &b, "/p", "x86_64")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("after copying"), "{err}");

        let noexec = FakeRemote::new("n4")
            .on("sha256sum", 0, &format!("{}  /p\n", b.sha256))
            .on_err("hello", 126, "", "sh: /p: Permission denied\n");
        let err = install(&noexec, &b, "/p", "x86_64")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("noexec"), "{err}");
    }
}
