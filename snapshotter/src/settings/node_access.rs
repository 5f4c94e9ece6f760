//! The node-access flags ([`NodeAccessArgs`], shared by `backup` and `restore`) checked once: the ssh
//! options, sudo, nodetool's place and extra words, where node-push goes, how many hosts at once.

use crate::cli::NodeAccessArgs;
use crate::nodetool::Privilege;
use crate::shell;
use crate::ssh::SshOptions;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Seconds ssh waits for a TCP connection.
const CONNECT_TIMEOUT_SECS: u32 = 15;

/// How the nodes are reached and what runs there.
#[derive(Debug, Clone)]
pub struct NodeAccessSettings {
    pub ssh: SshOptions,
    pub privilege: Privilege,
    /// `--cassandra-conf-path`: where cassandra.yaml is (default: found per node).
    pub conf_path: Option<String>,
    /// `--nodetool-path` (default: found per node).
    pub nodetool_path: Option<String>,
    /// `--nodetool-args`, split into words. Sensitive: never logged.
    pub nodetool_args: Vec<String>,
    pub node_push_path: Option<String>,
    pub node_push_binary: Option<PathBuf>,
    /// `--connection-pool-size`: hosts worked on at the same time.
    pub pool_size: usize,
}

impl NodeAccessSettings {
    pub fn resolve(args: &NodeAccessArgs) -> Result<Self> {
        if args.connection_pool_size == 0 {
            bail!("--connection-pool-size must be at least 1");
        }
        let nodetool_args = match &args.nodetool_args {
            Some(value) => shell::split(value.expose()).map_err(|e| {
                anyhow::anyhow!("--nodetool-args cannot be read as shell words: {e}")
            })?,
            None => Vec::new(),
        };
        if let Some(path) = &args.node_push_path {
            if path.is_empty() || path.contains('\n') {
                bail!("invalid --node-push-path {path:?}");
            }
        }
        check_file("--ssh-config", args.ssh_config.as_deref())?;
        check_file("--sshkey", args.sshkey.as_deref())?;
        Ok(NodeAccessSettings {
            ssh: SshOptions {
                config_file: args.ssh_config.clone(),
                port: args.sshport,
                identity: args.sshkey.clone(),
                user: args.user.clone(),
                password: args.password.clone(),
                connect_timeout: CONNECT_TIMEOUT_SECS,
            },
            privilege: if args.use_sudo {
                Privilege::Sudo
            } else {
                Privilege::LoginUser
            },
            conf_path: args.cassandra_conf_path.clone(),
            nodetool_path: args.nodetool_path.clone(),
            nodetool_args,
            node_push_path: args.node_push_path.clone(),
            node_push_binary: args.node_push_binary.clone(),
            pool_size: args.connection_pool_size,
        })
    }
}

/// A file flag's file must exist here: ssh would otherwise fail on every host with a vaguer message.
fn check_file(flag: &str, file: Option<&Path>) -> Result<()> {
    match file {
        Some(file) if !file.is_file() => bail!("{flag} {}: no such file", file.display()),
        _ => Ok(()),
    }
}
