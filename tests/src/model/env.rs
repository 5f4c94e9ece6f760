//! What every sequence shares: one SeaweedFS with one bucket, the built binaries, and the transport to the
//! scripted nodes.
//!
//! Transport: by default an `ssh` stand-in first on the coordinator's PATH runs each remote command with
//! `sh -c` locally, in the host's environment (PATH with the node's `bin/` first, CASSANDRA_CONF, a HOME
//! per host), so the real coordinator and the real node-push run unchanged and only sshd is left out.
//! With [`Transport::Sshd`] every host is a real sshd (testkit's [`crate::sshd`]), as on a cluster.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::seaweed::SeaweedFs;

/// The bucket every sequence writes into (each under its own base path).
pub const BUCKET: &str = "model";

/// The ssh stand-in: `__HOSTS__` is the directory of host dirs (one per alias, a symlink to the node).
const FAKE_SSH: &str = r#"#!/bin/sh
# ssh stand-in for the model tests: runs the remote command here, in the host's environment.
hosts="${SCRIPTED_SSH_HOSTS:?SCRIPTED_SSH_HOSTS is not set}"
host=; op=
while [ $# -gt 0 ]; do
  case "$1" in
    -F|-p|-i|-l|-o|-E|-S|-J) shift 2 ;;
    -O) op="$2"; shift 2 ;;
    --) shift; host="$1"; shift; break ;;
    -*) shift ;;
    *) host="$1"; shift; break ;;
  esac
done
[ -n "$op" ] && exit 0
node="$hosts/$host"
[ -d "$node" ] || { echo "ssh: Could not resolve hostname $host: Name or service not known" >&2; exit 255; }
[ $# -eq 0 ] && exit 0
mkdir -p "$hosts/.home-$host"
exec env PATH="$node/bin:$PATH" CASSANDRA_CONF="$node/conf" HOME="$hosts/.home-$host" sh -c "$*"
"#;

/// How the coordinator reaches the scripted nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The `ssh` stand-in (no sshd).
    Local,
    /// One real sshd per host.
    Sshd,
}

/// One run of the coordinator.
#[derive(Debug, Clone)]
pub struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.stdout).with_context(|| {
            format!(
                "stdout is not JSON: {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    /// A short account for failure reports.
    pub fn describe(&self) -> String {
        format!(
            "cassandra-snapshotter {} -> {:?} in {:.2}s\nstdout: {}\nstderr: {}",
            self.args.join(" "),
            self.code,
            self.took.as_secs_f64(),
            self.stdout.trim(),
            self.stderr.trim()
        )
    }
}

/// The shared test environment.
#[derive(Debug)]
pub struct Env {
    // Field order is drop order: the store stops before the dir goes.
    pub weed: SeaweedFs,
    dir: tempfile::TempDir,
    coordinator: PathBuf,
    node_push: PathBuf,
    pub nodetool: PathBuf,
}

impl Env {
    /// Starts SeaweedFS and prepares private copies of the binaries (a concurrent `cargo build` cannot
    /// pull them away) and the ssh stand-in. `nodetool` is the `scripted-nodetool` binary.
    pub fn start(nodetool: &Path) -> Result<Env> {
        let weed = SeaweedFs::start()?;
        weed.create_bucket(BUCKET)?;
        let dir = tempfile::Builder::new().prefix("model-env-").tempdir()?;
        let bin = dir.path().join("bin");
        fs_err::create_dir_all(&bin)?;
        let copy = |name: &str, from: &Path| -> Result<PathBuf> {
            let to = bin.join(name);
            fs_err::copy(from, &to)?;
            Ok(to)
        };
        let coordinator = copy(
            "cassandra-snapshotter",
            &crate::workspace_bin("cassandra-snapshotter")?,
        )?;
        let node_push = copy("node-push", &crate::workspace_bin("node-push")?)?;
        // Stripped, node-push is copied and hashed on every host much faster.
        let _ = Command::new("strip").arg(&node_push).status();
        let nodetool = copy("scripted-nodetool", nodetool)?;
        let ssh_dir = dir.path().join("ssh-bin");
        fs_err::create_dir_all(&ssh_dir)?;
        let ssh = ssh_dir.join("ssh");
        fs_err::write(&ssh, FAKE_SSH)?;
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755))?;
        Ok(Env {
            weed,
            dir,
            coordinator,
            node_push,
            nodetool,
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn node_push(&self) -> &Path {
        &self.node_push
    }

    /// Runs the coordinator with the store's flags, base path `base`, then `args`. `hosts_dir` holds one
    /// entry per host alias for the ssh stand-in; `ssh_config` (sshd transport) is added to commands
    /// that reach nodes.
    pub fn coordinator(
        &self,
        base: &str,
        args: &[String],
        hosts_dir: &Path,
        transport: Transport,
    ) -> Result<Run> {
        let mut full: Vec<String> = vec![
            "--s3-bucket-name".into(),
            BUCKET.into(),
            "--s3-base-path".into(),
            base.into(),
            "--s3-endpoint".into(),
            self.weed.endpoint.clone(),
            "--s3-bucket-region".into(),
            self.weed.region().into(),
        ];
        full.extend(args.iter().cloned());
        let mut command = Command::new(&self.coordinator);
        command
            .args(&full)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .envs(self.weed.aws_env())
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("SCRIPTED_SSH_HOSTS", hosts_dir)
            .stdin(Stdio::null());
        if transport == Transport::Local {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut paths = vec![self.dir.path().join("ssh-bin")];
            paths.extend(std::env::split_paths(&path));
            command.env("PATH", std::env::join_paths(paths)?);
        }
        let started = Instant::now();
        let output = command
            .output()
            .context("cannot run cassandra-snapshotter")?;
        Ok(Run {
            args: full[8..].to_vec(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            took: started.elapsed(),
        })
    }
}
