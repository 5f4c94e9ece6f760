//! nodetool on a node: snapshot, clearsnapshot, flush and ring, each failure one line naming host and
//! command (as shown, without `--nodetool-args`).

use crate::nodetool::{explain_sudo_failure, NodeTool};
use crate::remote::{Remote, RemoteCommand};
use crate::stages::preflight::NodeFacts;
use anyhow::{bail, Result};

async fn run_checked(remote: &dyn Remote, command: &RemoteCommand) -> Result<String> {
    let out = remote.run(command, None).await?;
    if !out.success() {
        let host = remote.host();
        let reason = explain_sudo_failure(host, &out.stderr).unwrap_or_else(|| out.reason());
        bail!("{host}: `{}` failed: {reason}", command.shown());
    }
    Ok(out.stdout)
}

/// `nodetool snapshot -t TAG ...` in the node's syntax.
pub async fn take(
    remote: &dyn Remote,
    facts: &NodeFacts,
    tag: &str,
    keyspaces: &[String],
    table: Option<&str>,
) -> Result<()> {
    for command in facts
        .nodetool
        .snapshot(facts.version, tag, keyspaces, table)
    {
        run_checked(remote, &command).await?;
    }
    Ok(())
}

/// `nodetool clearsnapshot -t TAG`.
pub async fn clear(remote: &dyn Remote, nodetool: &NodeTool, tag: &str) -> Result<()> {
    run_checked(remote, &nodetool.clear_snapshot(tag))
        .await
        .map(drop)
}

/// `nodetool flush`, so that the memtables land in SSTables (and in `backups/`) before an incremental.
pub async fn flush(
    remote: &dyn Remote,
    nodetool: &NodeTool,
    keyspaces: &[String],
    table: Option<&str>,
) -> Result<()> {
    for command in nodetool.flush(keyspaces, table) {
        run_checked(remote, &command).await?;
    }
    Ok(())
}

/// `nodetool ring`, raw, as the old tool stored it.
pub async fn ring(remote: &dyn Remote, nodetool: &NodeTool) -> Result<String> {
    run_checked(remote, &nodetool.ring()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodetool::{CassandraVersion, Privilege};
    use crate::stages::fake::FakeRemote;

    fn facts() -> NodeFacts {
        NodeFacts {
            arch: "x86_64".into(),
            home: "/root".into(),
            yaml_path: "/c/cassandra.yaml".into(),
            nodetool: NodeTool {
                path: "/bin/nodetool".into(),
                privilege: Privilege::LoginUser,
                extra_args: vec!["-pw".into(), "jmxsecret".into()],
            },
            version: CassandraVersion { major: 1, minor: 2 },
            data_dirs: vec!["/d".into()],
            incremental_backups: true,
        }
    }

    #[tokio::test]
    async fn snapshot_runs_per_keyspace_with_a_table() {
        let remote = FakeRemote::new("n1").on("snapshot", 0, "Requested snapshot for: ks\n");
        let ks = vec!["a".to_string(), "b".to_string()];
        take(&remote, &facts(), "T", &ks, Some("users"))
            .await
            .unwrap();
        assert_eq!(
            remote.scripts(),
            [
                "/bin/nodetool -pw jmxsecret snapshot -cf users -t T a",
                "/bin/nodetool -pw jmxsecret snapshot -cf users -t T b"
            ]
        );
    }

    #[tokio::test]
    async fn failures_name_host_and_hide_nodetool_args() {
        let remote =
            FakeRemote::new("n2").on_err("clearsnapshot", 2, "", "Error connecting to JMX\n");
        let err = clear(&remote, &facts().nodetool, "T")
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "n2: `/bin/nodetool <nodetool-args> clearsnapshot -t T` failed: Error connecting to JMX"
        );
        assert!(!err.contains("jmxsecret"));
    }
}
