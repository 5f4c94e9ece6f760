//! The schema clients on a node, as remote commands: cqlsh for CQL, cassandra-cli for Cassandra 1.2.
//!
//! Everything a client reads (its credentials, the statements) goes through ssh's stdin into files made
//! by `mktemp` under `umask 077` and removed by a trap: no password is in a command line on either side.
//! - cqlsh: stdin is the cqlshrc (its length is in the command), then the CQL script (`cqlsh -f`).
//! - cassandra-cli: stdin is the CLI script. With credentials it starts with a `connect` statement, since
//!   cassandra-cli 1.2 takes a password otherwise only on its command line. The CLI connects to the
//!   node's own `rpc_address`/`rpc_port` from cassandra.yaml (the ssh host when rpc_address is unset or
//!   0.0.0.0), as the node's Thrift server listens there.

use super::Dialect;
use crate::remote::RemoteCommand;
use crate::secret::Secret;
use crate::settings::SchemaSettings;
use crate::shell;

/// How a client on a node is reached and run.
#[derive(Debug, Clone, Copy)]
pub struct ClientTarget<'a> {
    /// Cassandra's tools directory; the client on PATH when it is not there.
    pub bin_dir: &'a str,
    /// The ssh host: cqlsh connects to it (unless `--cqlsh-host`), and the CLI when rpc_address is unset.
    pub host: &'a str,
    /// The node's cassandra.yaml, for the CLI's rpc_address and rpc_port.
    pub yaml_path: &'a str,
    pub credentials: &'a SchemaSettings,
}

/// The command running `script` with `dialect`'s client on the node, and the stdin it needs.
pub fn command(
    dialect: Dialect,
    target: &ClientTarget<'_>,
    script: &str,
) -> (RemoteCommand, Vec<u8>) {
    match dialect {
        Dialect::Cql => cqlsh(target, script),
        Dialect::Cli => cassandra_cli(target, script),
    }
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

fn cqlsh(target: &ClientTarget<'_>, script: &str) -> (RemoteCommand, Vec<u8>) {
    let settings = target.credentials;
    let rc = cqlshrc(settings.user.as_deref(), settings.password.as_ref());
    let host = settings.host.as_deref().unwrap_or(target.host);
    let host = host.rsplit('@').next().unwrap_or(host);
    let command = format!(
        r#"umask 077; d=$(mktemp -d) || exit 1; trap 'rm -rf "$d"' EXIT; head -c {len} > "$d/cqlshrc"; cat > "$d/script.cql"; c={cqlsh}; [ -x "$c" ] || c=cqlsh; "$c" --cqlshrc "$d/cqlshrc" {host} -f "$d/script.cql" </dev/null"#,
        len = rc.len(),
        cqlsh = shell::quote(&format!("{}/cqlsh", target.bin_dir)),
        host = shell::quote(host),
    );
    let mut stdin = rc.into_bytes();
    stdin.extend_from_slice(script.as_bytes());
    (RemoteCommand::new(command), stdin)
}

/// A CLI string literal.
fn cli_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"))
}

fn cassandra_cli(target: &ClientTarget<'_>, script: &str) -> (RemoteCommand, Vec<u8>) {
    let settings = target.credentials;
    let fallback = settings.host.as_deref().unwrap_or(target.host);
    let fallback = fallback.rsplit('@').next().unwrap_or(fallback);
    let yaml_value = |key: &str| {
        format!(
            r#"$(sed -n 's/^{key}:[[:space:]]*\([^[:space:]#]*\).*/\1/p' {yaml} 2>/dev/null | head -n 1 | tr -d "'\"")"#,
            yaml = shell::quote(target.yaml_path)
        )
    };
    let host = match &settings.host {
        Some(_) => format!("h={}", shell::quote(fallback)),
        None => format!(
            r#"h={rpc}; case "$h" in ''|0.0.0.0|::) h={fallback};; esac"#,
            rpc = yaml_value("rpc_address"),
            fallback = shell::quote(fallback)
        ),
    };
    let mut stdin = String::new();
    let connect = if settings.user.is_some() || settings.password.is_some() {
        // `connect <host>/<port> <user> '<password>';` needs the host and port the command finds.
        stdin.push_str(&format!(
            "{} {};\n",
            settings.user.as_deref().unwrap_or(""),
            cli_literal(settings.password.as_ref().map_or("", Secret::expose))
        ));
        // `read` takes exactly one line from the pipe (`head -n 1` may read ahead and eat the script).
        r#"IFS= read -r c; printf 'connect %s/%s %s\n' "$h" "$p" "$c"; "#
    } else {
        ""
    };
    stdin.push_str(script);
    let command = format!(
        r#"umask 077; f=$(mktemp) || exit 1; trap 'rm -f "$f"' EXIT; {host}; p={port}; p=${{p:-9160}}; {{ {connect}cat; }} > "$f"; c={cli}; [ -x "$c" ] || c=cassandra-cli; "$c" -h "$h" -p "$p" -f "$f" </dev/null"#,
        port = yaml_value("rpc_port"),
        cli = shell::quote(&format!("{}/cassandra-cli", target.bin_dir)),
    );
    (RemoteCommand::new(command), stdin.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(credentials: &SchemaSettings) -> ClientTarget<'_> {
        ClientTarget {
            bin_dir: "/opt/cassandra/bin",
            host: "cassandra@10.0.0.1",
            yaml_path: "/etc/cassandra/cassandra.yaml",
            credentials,
        }
    }

    #[test]
    fn cqlsh_reads_its_credentials_and_script_from_stdin() {
        let settings = SchemaSettings {
            user: Some("admin".into()),
            password: Some(Secret::new("pw-1")),
            host: None,
        };
        let (cqlsh, stdin) = command(Dialect::Cql, &target(&settings), "DESCRIBE KEYSPACE ks;\n");
        let script = cqlsh.script();
        assert!(!script.contains("pw-1"));
        assert!(
            script.contains("umask 077") && script.contains("head -c 50 >"),
            "{script}"
        );
        assert!(
            script.contains(" 10.0.0.1 -f \"$d/script.cql\""),
            "{script}"
        );
        assert_eq!(
            String::from_utf8(stdin).unwrap(),
            "[authentication]\nusername = admin\npassword = pw-1\nDESCRIBE KEYSPACE ks;\n"
        );
    }

    #[test]
    fn cassandra_cli_gets_a_connect_statement_with_credentials_only() {
        let none = SchemaSettings {
            user: None,
            password: None,
            host: None,
        };
        let (plain, stdin) = command(Dialect::Cli, &target(&none), "show schema ks;\n");
        assert_eq!(stdin, b"show schema ks;\n");
        assert!(!plain.script().contains("connect"));
        assert!(plain.script().contains("-h \"$h\" -p \"$p\" -f \"$f\""));
        let with = SchemaSettings {
            user: Some("admin".into()),
            password: Some(Secret::new("it's\\x")),
            host: None,
        };
        let (with_connect, stdin) = command(Dialect::Cli, &target(&with), "show schema ks;\n");
        assert!(!with_connect.script().contains("it's"));
        assert!(with_connect
            .script()
            .contains("IFS= read -r c; printf 'connect %s/%s %s\\n'"));
        assert_eq!(
            String::from_utf8(stdin).unwrap(),
            "admin 'it\\'s\\\\x';\nshow schema ks;\n"
        );
    }

    /// The command itself, run by `sh` here with a cassandra-cli that prints its arguments and script.
    #[test]
    fn the_cli_script_on_the_node_holds_connect_then_every_statement() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cli = dir.path().join("cassandra-cli");
        fs_err::write(
            &cli,
            "#!/bin/sh\necho \"args: $*\"; while [ $# -gt 1 ]; do [ \"$1\" = -f ] && cat \"$2\"; shift; done\n",
        )
        .unwrap();
        fs_err::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
        let yaml = dir.path().join("cassandra.yaml");
        fs_err::write(&yaml, "rpc_address: 127.0.0.7\nrpc_port: 9999   # thrift\n").unwrap();
        let with = SchemaSettings {
            user: Some("admin".into()),
            password: Some(Secret::new("p w'1")),
            host: None,
        };
        let target = ClientTarget {
            bin_dir: dir.path().to_str().unwrap(),
            host: "node1",
            yaml_path: yaml.to_str().unwrap(),
            credentials: &with,
        };
        let script = "show schema ks1;\nshow schema ks2;\n";
        let (command, stdin) = command(Dialect::Cli, &target, script);
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(command.script())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), &stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        let out = String::from_utf8(out.stdout).unwrap();
        let (args, file) = out.split_once('\n').unwrap();
        assert!(args.starts_with("args: -h 127.0.0.7 -p 9999 -f "), "{args}");
        assert_eq!(
            file,
            "connect 127.0.0.7/9999 admin 'p w\\'1';\nshow schema ks1;\nshow schema ks2;\n"
        );
        let file_path = args.rsplit(' ').next().unwrap();
        assert!(
            !std::path::Path::new(file_path).exists(),
            "{file_path} left behind"
        );
    }
}
