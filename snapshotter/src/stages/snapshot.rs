//! nodetool on a node: snapshot, clearsnapshot, flush and ring, each failure one line naming host and
//! command (as shown, without `--nodetool-args`).

use crate::nodetool::{explain_sudo_failure, NodeTool, Privilege};
use crate::remote::{Remote, RemoteCommand};
use crate::shell;
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

/// Reads snapshot file paths on stdin; removes `<table dir>/backups/<file>` when it is the very same file
/// (same inode: `-ef`) as `<table dir>/snapshots/<tag>/<file>`. Prints how many it removed.
const PRUNE_SCRIPT: &str = r#"n=0; while IFS= read -r s; do b="${s%/snapshots/*}/backups/${s##*/}"; if [ -f "$b" ] && [ "$b" -ef "$s" ] && rm -f -- "$b"; then n=$((n+1)); fi; done; echo "$n""#;

/// After a snapshot backup is complete: remove from `backups/` the incremental hard links of SSTables
/// that the snapshot holds (and that were uploaded with it), so that the next incremental sends only
/// what was flushed after the snapshot. `uploaded_snapshot_files` are the source paths of the host's
/// verified snapshot objects. Returns how many links were removed.
pub async fn prune_incrementals(
    remote: &dyn Remote,
    privilege: Privilege,
    uploaded_snapshot_files: &[&str],
) -> Result<u64> {
    let script = shell::join(
        privilege
            .prefix()
            .iter()
            .copied()
            .chain(["sh", "-c", PRUNE_SCRIPT]),
    );
    let mut stdin = uploaded_snapshot_files.join("\n");
    stdin.push('\n');
    let command = RemoteCommand::new(script);
    let out = remote.run(&command, Some(stdin.as_bytes())).await?;
    if !out.success() {
        let host = remote.host();
        bail!("{host}: cannot prune backups/: {}", out.reason());
    }
    Ok(out.stdout.trim().parse().unwrap_or(0))
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

    #[test]
    fn prune_removes_only_links_of_snapshot_files() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("ks/t");
        let snap = table.join("snapshots/T");
        let backups = table.join("backups");
        fs_err::create_dir_all(&snap).unwrap();
        fs_err::create_dir_all(&backups).unwrap();
        fs_err::write(table.join("ks-t-ia-1-Data.db"), "one").unwrap();
        fs_err::write(table.join("ks-t-ia-2-Data.db"), "two").unwrap();
        for n in [1, 2] {
            let live = table.join(format!("ks-t-ia-{n}-Data.db"));
            fs_err::hard_link(&live, backups.join(format!("ks-t-ia-{n}-Data.db"))).unwrap();
        }
        // Only generation 1 is in the snapshot; a same-named copy (not a link) must survive too.
        fs_err::hard_link(
            table.join("ks-t-ia-1-Data.db"),
            snap.join("ks-t-ia-1-Data.db"),
        )
        .unwrap();
        fs_err::write(snap.join("ks-t-ia-2-Data.db"), "two").unwrap();
        let input = format!(
            "{}\n{}\n{}\n",
            snap.join("ks-t-ia-1-Data.db").display(),
            snap.join("ks-t-ia-2-Data.db").display(),
            snap.join("missing-Data.db").display()
        );
        let out = std::process::Command::new("sh")
            .args(["-c", PRUNE_SCRIPT])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(input.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
        assert!(!backups.join("ks-t-ia-1-Data.db").exists());
        assert!(backups.join("ks-t-ia-2-Data.db").exists());
    }
}
