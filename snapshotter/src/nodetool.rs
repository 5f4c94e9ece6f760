//! nodetool command lines, in the syntax of the node's Cassandra version, with sudo when asked.
//!
//! `--nodetool-args` (typically JMX credentials) go into every command but never into the text logs
//! show: that text has `<nodetool-args>` in their place.

use crate::remote::RemoteCommand;
use crate::shell;

/// Whether privileged commands on a node run through `sudo -n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// As the SSH user.
    LoginUser,
    /// Through `sudo -n` (never prompts: a sudo that wants a password fails with a clear error).
    Sudo,
}

impl Privilege {
    /// The words that go before a privileged command.
    pub fn prefix(self) -> &'static [&'static str] {
        match self {
            Privilege::LoginUser => &[],
            Privilege::Sudo => &["sudo", "-n", "--"],
        }
    }
}

/// The text sudo prints when it would need a password, and what we say instead.
pub fn explain_sudo_failure(host: &str, stderr: &str) -> Option<String> {
    let wants_password = stderr.contains("a password is required")
        || stderr.contains("a terminal is required")
        || stderr.contains("no tty present");
    let not_allowed = stderr.contains("is not in the sudoers file")
        || stderr.contains("is not allowed to execute");
    if wants_password {
        Some(format!(
            "{host}: sudo needs a password for the SSH user; --use-sudo runs `sudo -n`: allow the \
             commands with NOPASSWD in sudoers, or log in as a user who can read the Cassandra data"
        ))
    } else if not_allowed {
        Some(format!(
            "{host}: the SSH user may not use sudo for these commands (sudoers)"
        ))
    } else {
        None
    }
}

/// A Cassandra release as `nodetool version` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CassandraVersion {
    pub major: u32,
    pub minor: u32,
}

impl CassandraVersion {
    /// Parse `ReleaseVersion: 1.2.0` (any line of nodetool's output).
    pub fn parse(output: &str) -> Option<Self> {
        let line = output
            .lines()
            .find_map(|l| l.trim().strip_prefix("ReleaseVersion:"))?;
        let mut parts = line.trim().split(['.', '-']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
        Some(CassandraVersion { major, minor })
    }
}

impl std::fmt::Display for CassandraVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// nodetool on one node.
#[derive(Debug, Clone)]
pub struct NodeTool {
    /// Absolute path (resolved on the node, so that sudo's secure_path does not matter).
    pub path: String,
    pub privilege: Privilege,
    /// `--nodetool-args`, already split into words. Sensitive.
    pub extra_args: Vec<String>,
}

impl NodeTool {
    fn command<S: AsRef<str>>(&self, args: &[S]) -> RemoteCommand {
        let prefix = self
            .privilege
            .prefix()
            .iter()
            .copied()
            .chain([self.path.as_str()]);
        let args = args.iter().map(AsRef::as_ref);
        let script = shell::join(
            prefix
                .clone()
                .chain(self.extra_args.iter().map(String::as_str))
                .chain(args.clone()),
        );
        if self.extra_args.is_empty() {
            return RemoteCommand::new(script);
        }
        let shown = format!(
            "{} <nodetool-args> {}",
            shell::join(prefix),
            shell::join(args)
        );
        RemoteCommand::redacted(script, shown)
    }

    pub fn version(&self) -> RemoteCommand {
        self.command(&["version"])
    }

    pub fn ring(&self) -> RemoteCommand {
        self.command(&["ring"])
    }

    /// The snapshot commands for `keyspaces` (all when empty) and an optional table, in the syntax the
    /// version wants: `-cf TABLE` up to 2.x, `--table TABLE` from 3.0; one command per keyspace with a table.
    pub fn snapshot(
        &self,
        version: CassandraVersion,
        tag: &str,
        keyspaces: &[String],
        table: Option<&str>,
    ) -> Vec<RemoteCommand> {
        match table {
            None => {
                let mut args = vec!["snapshot", "-t", tag];
                args.extend(keyspaces.iter().map(String::as_str));
                vec![self.command(&args)]
            }
            Some(table) => {
                let table_flag = if version.major >= 3 { "--table" } else { "-cf" };
                keyspaces
                    .iter()
                    .map(|ks| self.command(&["snapshot", table_flag, table, "-t", tag, ks]))
                    .collect()
            }
        }
    }

    /// `nodetool refresh KS TABLE`: load SSTables placed in the live table directory (1.1 and later).
    pub fn refresh(&self, keyspace: &str, table: &str) -> RemoteCommand {
        self.command(&["refresh", keyspace, table])
    }

    /// `nodetool import --keep-level KS TABLE DIR...` (4.0+): load the SSTables in `dirs` into the table,
    /// each under a new generation, keeping their compaction levels.
    pub fn import(&self, keyspace: &str, table: &str, dirs: &[String]) -> RemoteCommand {
        let mut args = vec!["import", "--keep-level", keyspace, table];
        args.extend(dirs.iter().map(String::as_str));
        self.command(&args)
    }

    pub fn clear_snapshot(&self, tag: &str) -> RemoteCommand {
        self.command(&["clearsnapshot", "-t", tag])
    }

    /// `nodetool flush` for everything, per keyspace, or for one table of each keyspace.
    pub fn flush(&self, keyspaces: &[String], table: Option<&str>) -> Vec<RemoteCommand> {
        if keyspaces.is_empty() {
            return vec![self.command(&["flush"])];
        }
        keyspaces
            .iter()
            .map(|ks| {
                let mut args = vec!["flush", ks.as_str()];
                args.extend(table);
                self.command(&args)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(privilege: Privilege, extra: &[&str]) -> NodeTool {
        NodeTool {
            path: "/opt/cassandra/bin/nodetool".into(),
            privilege,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    const V12: CassandraVersion = CassandraVersion { major: 1, minor: 2 };
    const V40: CassandraVersion = CassandraVersion { major: 4, minor: 0 };

    #[test]
    fn parses_versions() {
        assert_eq!(
            CassandraVersion::parse("ReleaseVersion: 1.2.0\n"),
            Some(V12)
        );
        assert_eq!(
            CassandraVersion::parse("xx\nReleaseVersion: 4.1.3-SNAPSHOT"),
            Some(CassandraVersion { major: 4, minor: 1 })
        );
        assert_eq!(CassandraVersion::parse("error: connection refused"), None);
    }

    #[test]
    fn snapshot_syntax_follows_the_version() {
        let nt = tool(Privilege::LoginUser, &[]);
        let ks = vec!["ks1".to_string(), "ks2".to_string()];
        let all = nt.snapshot(V12, "20240101000000", &ks, None);
        assert_eq!(
            all[0].script(),
            "/opt/cassandra/bin/nodetool snapshot -t 20240101000000 ks1 ks2"
        );
        let old = nt.snapshot(V12, "t", &ks, Some("users"));
        assert_eq!(old.len(), 2);
        assert_eq!(
            old[1].script(),
            "/opt/cassandra/bin/nodetool snapshot -cf users -t t ks2"
        );
        let new = nt.snapshot(V40, "t", &ks[..1], Some("users"));
        assert_eq!(
            new[0].script(),
            "/opt/cassandra/bin/nodetool snapshot --table users -t t ks1"
        );
        assert_eq!(
            nt.snapshot(V40, "t", &[], None)[0].script(),
            "/opt/cassandra/bin/nodetool snapshot -t t"
        );
    }

    #[test]
    fn sudo_and_hidden_extra_args() {
        let nt = tool(Privilege::Sudo, &["-u", "jmx", "-pw", "jmx pass"]);
        let cmd = nt.clear_snapshot("t");
        assert_eq!(
            cmd.script(),
            "sudo -n -- /opt/cassandra/bin/nodetool -u jmx -pw 'jmx pass' clearsnapshot -t t"
        );
        assert_eq!(
            cmd.shown(),
            "sudo -n -- /opt/cassandra/bin/nodetool <nodetool-args> clearsnapshot -t t"
        );
        assert!(!format!("{cmd:?}").contains("jmx pass"));
    }

    #[test]
    fn flush_per_keyspace_and_table() {
        let nt = tool(Privilege::LoginUser, &[]);
        assert_eq!(
            nt.flush(&[], None)[0].script(),
            "/opt/cassandra/bin/nodetool flush"
        );
        let ks = vec!["a".to_string(), "b".to_string()];
        let cmds = nt.flush(&ks, Some("users"));
        assert_eq!(
            cmds[1].script(),
            "/opt/cassandra/bin/nodetool flush b users"
        );
    }

    #[test]
    fn explains_sudo_that_wants_a_password() {
        let msg = explain_sudo_failure("node2", "sudo: a password is required\n").unwrap();
        assert!(msg.starts_with("node2: sudo needs a password"));
        assert!(explain_sudo_failure("n", "nodetool: boom").is_none());
    }
}
