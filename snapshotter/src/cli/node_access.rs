//! The node-access flag group: how `backup` and `restore` reach the nodes over ssh and run nodetool and
//! node-push there. Flattened into both commands; [`crate::settings::NodeAccessSettings`] checks it.
//! The help is `backup`'s wording (the old tool's flags); `restore` rewords a few for its modes.

use crate::secret::Secret;
use clap::Args;
use std::path::PathBuf;

/// SSH, sudo, nodetool and node-push on the nodes.
#[derive(Debug, Args)]
pub struct NodeAccessArgs {
    /// SSH user (overrides the ssh config).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// SSH password, for hosts without key authentication (prefer keys or an agent).
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<Secret>,
    /// SSH private key file (overrides the ssh config).
    #[arg(long, value_name = "FILE")]
    pub sshkey: Option<PathBuf>,
    /// SSH port (overrides the ssh config).
    #[arg(long, value_name = "PORT")]
    pub sshport: Option<u16>,
    /// An ssh config file to use instead of ~/.ssh/config (ssh -F).
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Run nodetool and node-push with `sudo -n` (`--use-sudo` or `--use-sudo=true|false`).
    #[arg(long, num_args = 0..=1, default_value = "false", default_missing_value = "true",
          value_parser = parse_bool_word, value_name = "BOOL")]
    pub use_sudo: bool,
    /// Directory holding cassandra.yaml (default per node: $CASSANDRA_CONF, else /etc/cassandra/conf/,
    /// else /etc/cassandra/).
    #[arg(long, value_name = "DIR")]
    pub cassandra_conf_path: Option<String>,
    /// nodetool on the nodes (default per node: `nodetool` on PATH, else <cassandra-bin-dir>/nodetool).
    #[arg(long, value_name = "PATH")]
    pub nodetool_path: Option<String>,
    /// Extra arguments for every nodetool call, e.g. JMX credentials: '-u jmx -pw secret'. They are never
    /// shown in logs.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub nodetool_args: Option<Secret>,
    /// Where node-push goes on each node (default: ~/.cache/cassandra-snapshotter/node-push-<sha256>).
    #[arg(long, value_name = "PATH")]
    pub node_push_path: Option<String>,
    /// The node-push binary to copy to the nodes (default: `node-push` next to this program).
    #[arg(long, value_name = "FILE")]
    pub node_push_binary: Option<PathBuf>,
    /// Hosts worked on at the same time.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub connection_pool_size: usize,
}

/// The old tool's boolean words, for `--use-sudo=true`.
fn parse_bool_word(word: &str) -> Result<bool, String> {
    match word.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(format!("{word:?} is not true or false")),
    }
}
