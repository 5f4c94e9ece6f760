//! A Cassandra ring whose nodes are also ssh hosts: node `i` and host `i` share the address 127.0.0.<i+2>,
//! and every ssh session on host `i` has node `i`'s `bin/` first on PATH and its conf dir as
//! CASSANDRA_CONF. This is what the coordinator sees of a real cluster.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cassandra::{CassandraCluster, CassandraOptions};
use crate::sshd::{HostSpec, LoginUser, SshCluster};

/// How a [`NodeFixture`] is started.
#[derive(Debug, Clone)]
pub struct NodeFixtureOptions {
    pub cassandra: CassandraOptions,
    /// Who logs in. With [`LoginUser::SudoUser`] the data dirs are root-only (mode 0700), so reading
    /// them needs sudo, as on a production node where Cassandra's files belong to another user.
    pub login: LoginUser,
}

impl NodeFixtureOptions {
    pub fn new(nodes: usize) -> Self {
        Self {
            cassandra: CassandraOptions::new(nodes),
            login: LoginUser::Root,
        }
    }
}

/// A running ring plus one sshd per node; everything stops on drop.
#[derive(Debug)]
pub struct NodeFixture {
    // Field order is drop order: servers stop before their directory is removed.
    pub ssh: SshCluster,
    pub cassandra: CassandraCluster,
    dir: tempfile::TempDir,
}

impl NodeFixture {
    /// An `nodes`-node ring (1..=3) with incremental backups, logged in to as root.
    pub fn start(nodes: usize) -> Result<Self> {
        Self::start_with(NodeFixtureOptions::new(nodes))
    }

    pub fn start_with(options: NodeFixtureOptions) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("testkit-nodes-")
            .tempdir()?;
        // A non-root login user must be able to reach the node's bin/ and conf/ (but not its data).
        crate::sshd::make_traversable(dir.path())?;
        let cassandra_dir = dir.path().join("cassandra");
        fs_err::create_dir_all(&cassandra_dir)?;
        crate::sshd::make_traversable(&cassandra_dir)?;
        let hosts: Vec<HostSpec> = (0..options.cassandra.nodes)
            .map(|i| {
                let n = u8::try_from(i + 1).expect("at most 3 nodes");
                let spec = HostSpec::numbered(n, cassandra_dir.join(format!("node{n}")));
                match &options.login {
                    LoginUser::Root => spec,
                    LoginUser::SudoUser(user) => spec.with_sudo_user(user.clone()),
                }
            })
            .collect();
        // sshd starts in milliseconds; the ring takes seconds.
        let ssh = SshCluster::start_in(&dir.path().join("ssh"), &hosts)?;
        let cassandra = CassandraCluster::start_with(options.cassandra, &cassandra_dir)?;
        for node in cassandra.nodes() {
            crate::sshd::make_traversable(node.node_dir())?;
            if matches!(options.login, LoginUser::SudoUser(_)) {
                use std::os::unix::fs::PermissionsExt;
                fs_err::set_permissions(node.data_dir(), std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Ok(Self {
            ssh,
            cassandra,
            dir,
        })
    }

    /// The directory holding everything of this fixture.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The ssh client config for the coordinator's `--ssh-config`.
    pub fn ssh_config_path(&self) -> PathBuf {
        self.ssh.ssh_config_path()
    }

    /// The hosts' aliases in node order: `node1,node2,node3`.
    pub fn aliases(&self) -> Vec<String> {
        self.ssh
            .hosts()
            .iter()
            .map(|host| host.alias().to_string())
            .collect()
    }
}
