//! The last objects of a backup: the ring (`nodetool ring` of the first host that answers) and, with
//! `--backup-schema`, the schema from cqlsh. The manifest itself is written by
//! [`crate::store::write_manifest`], after these.
//!
//! cqlsh credentials go through a cqlshrc file created with `umask 077` by `mktemp` on the node, filled
//! from ssh's stdin and removed by a trap, so the password is in no command line on either side.

use crate::remote::{Remote, RemoteCommand};
use crate::secret::Secret;
use crate::settings::SchemaSettings;
use crate::shell;
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

/// The cqlshrc for `user`/`password`.
fn cqlshrc(user: Option<&str>, password: Option<&Secret>) -> String {
    let mut rc = String::from("[authentication]\n");
    if let Some(user) = user {
        rc.push_str(&format!("username = {user}\n"));
    }
    if let Some(password) = password {
        rc.push_str(&format!("password = {}\n", password.expose()));
    }
    rc
}

/// The remote command printing `statement`'s output, and the stdin it needs (the cqlshrc).
pub fn cqlsh_command(
    bin_dir: &str,
    schema: &SchemaSettings,
    default_host: &str,
    statement: &str,
) -> (RemoteCommand, Vec<u8>) {
    let cqlsh = format!("{bin_dir}/cqlsh");
    let host = schema.host.as_deref().unwrap_or(default_host);
    let host = host.rsplit('@').next().unwrap_or(host);
    let script = format!(
        r#"umask 077; f=$(mktemp) || exit 1; trap 'rm -f "$f"' EXIT; cat > "$f"; c={cqlsh}; [ -x "$c" ] || c=cqlsh; "$c" --cqlshrc "$f" {host} -e {statement} </dev/null"#,
        cqlsh = shell::quote(&cqlsh),
        host = shell::quote(host),
        statement = shell::quote(statement),
    );
    let rc = cqlshrc(schema.user.as_deref(), schema.password.as_ref());
    (RemoteCommand::new(script), rc.into_bytes())
}

/// The schema as `(keyspace or None for all, CQL text)` pairs: one per keyspace when keyspaces are given
/// (`schema_<ks>.cql`), else the whole schema (`schema.cql`), as the old tool stored them.
pub async fn schema(
    remote: &dyn Remote,
    bin_dir: &str,
    settings: &SchemaSettings,
    keyspaces: &[String],
) -> Result<Vec<(Option<String>, String)>> {
    let host = remote.host();
    let statements: Vec<(Option<String>, String)> = if keyspaces.is_empty() {
        vec![(None, "DESCRIBE SCHEMA".to_string())]
    } else {
        keyspaces
            .iter()
            .map(|ks| (Some(ks.clone()), format!("DESCRIBE KEYSPACE {ks}")))
            .collect()
    };
    let mut out = Vec::new();
    for (keyspace, statement) in statements {
        let (command, stdin) = cqlsh_command(bin_dir, settings, host, &statement);
        let result = remote.run(&command, Some(&stdin)).await?;
        if !result.success() || result.stdout.trim().is_empty() {
            bail!("{host}: cqlsh `{statement}` failed: {}", result.reason());
        }
        out.push((keyspace, result.stdout));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fake::FakeRemote;

    #[tokio::test]
    async fn cqlsh_password_goes_through_stdin_only() {
        let settings = SchemaSettings {
            user: Some("admin".into()),
            password: Some(Secret::new("cql-pass-1")),
            host: None,
        };
        let remote =
            FakeRemote::new("cassandra@10.0.0.1").on("cqlsh", 0, "CREATE KEYSPACE ks ...\n");
        let ks = vec!["ks".to_string()];
        let out = schema(&remote, "/usr/bin", &settings, &ks).await.unwrap();
        assert_eq!(
            out,
            [(
                Some("ks".to_string()),
                "CREATE KEYSPACE ks ...\n".to_string()
            )]
        );
        let log = remote.log.lock().unwrap();
        let (script, stdin) = &log[0];
        assert!(!script.contains("cql-pass-1"));
        assert!(script.contains("umask 077") && script.contains("trap 'rm -f"));
        assert!(
            script.contains(" 10.0.0.1 -e 'DESCRIBE KEYSPACE ks'"),
            "{script}"
        );
        assert_eq!(
            String::from_utf8_lossy(stdin),
            "[authentication]\nusername = admin\npassword = cql-pass-1\n"
        );
    }

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
