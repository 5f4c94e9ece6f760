//! The last objects of a backup: the ring (`nodetool ring` of the first host that answers) and, with
//! `--backup-schema`, the schema ([`crate::schema::stored`]). The manifest itself is written by
//! [`crate::store::write_manifest`], after these.

use crate::remote::Remote;
use crate::stages::preflight::NodeFacts;
use crate::stages::snapshot;
use anyhow::{bail, Result};

/// `nodetool ring` of the first host that answers, with the host it came from.
pub async fn ring(hosts: &[(&dyn Remote, &NodeFacts)]) -> Result<(String, String)> {
    let mut errors = Vec::new();
    for (remote, facts) in hosts {
        match snapshot::ring(*remote, &facts.nodetool).await {
            Ok(text) => return Ok((remote.host().to_string(), text)),
            Err(error) => errors.push(error.to_string()),
        }
    }
    bail!("nodetool ring failed on every host: {}", errors.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fake::FakeRemote;

    #[tokio::test]
    async fn ring_falls_back_to_the_next_host() {
        use crate::nodetool::{CassandraVersion, NodeTool, Privilege};
        let facts = NodeFacts {
            arch: "x86_64".into(),
            home: "/root".into(),
            yaml_path: "/c".into(),
            nodetool: NodeTool {
                path: "nodetool".into(),
                privilege: Privilege::LoginUser,
                extra_args: vec![],
            },
            version: CassandraVersion { major: 1, minor: 2 },
            data_dirs: vec![],
            incremental_backups: true,
        };
        let down = FakeRemote::new("a").on_err("ring", 1, "", "JMX down");
        let up = FakeRemote::new("b").on("ring", 0, "Address ... Up Normal\n");
        let (host, text) = ring(&[(&down, &facts), (&up, &facts)]).await.unwrap();
        assert_eq!(host, "b");
        assert!(text.contains("Up Normal"));
    }
}
