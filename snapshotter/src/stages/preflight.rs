//! Preflight: everything about a node that can be checked without changing it, resolved the way
//! Cassandra's own scripts do (`$CASSANDRA_CONF`, `nodetool` on PATH), with one-line errors naming the host.

use crate::nodetool::{explain_sudo_failure, CassandraVersion, NodeTool, Privilege};
use crate::remote::{Remote, RemoteCommand};
use crate::shell;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;

mod selection;

/// What preflight learnt about one node.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    /// `uname -m`.
    pub arch: String,
    /// The SSH user's home directory.
    pub home: String,
    /// The cassandra.yaml node-push reads.
    pub yaml_path: String,
    pub nodetool: NodeTool,
    pub version: CassandraVersion,
    /// Directories holding keyspaces (data_file_directories, plus the 4.0+ system one).
    pub data_dirs: Vec<String>,
    pub incremental_backups: bool,
}

/// The user's choices that preflight resolves against each node.
#[derive(Debug, Clone)]
pub struct PreflightInput {
    pub conf_path: Option<String>,
    pub nodetool_path: Option<String>,
    pub bin_dir: String,
    pub privilege: Privilege,
    pub nodetool_args: Vec<String>,
    /// `--keyspaces` and `--table`: checked to exist on the node before anything is snapshotted.
    pub keyspaces: Vec<String>,
    pub table: Option<String>,
}

/// Prints `key=value` lines about the node's login environment.
const FACTS_SCRIPT: &str = r#"printf 'arch=%s\n' "$(uname -m)"; printf 'home=%s\n' "$HOME"; printf 'conf=%s\n' "${CASSANDRA_CONF:-}"; printf 'nodetool=%s\n' "$(command -v nodetool 2>/dev/null)"; for d in /etc/cassandra/conf /etc/cassandra; do if [ -f "$d/cassandra.yaml" ]; then printf 'etc_conf=%s\n' "$d"; break; fi; done"#;

/// What [`inspect`] learnt about a node without asking Cassandra anything: enough to install node-push and
/// to find the data, also on a node whose Cassandra is stopped (an in-place restore).
#[derive(Debug, Clone)]
pub struct NodeBasics {
    pub arch: String,
    pub home: String,
    pub yaml_path: String,
    /// cassandra.yaml as read from the node (for settings [`NodeFacts`] does not carry).
    pub yaml_text: String,
    pub data_dirs: Vec<String>,
    pub incremental_backups: bool,
    /// nodetool, resolved but not run.
    pub nodetool: NodeTool,
}

/// Check one node; the error is one line starting with the host.
pub async fn preflight(remote: &dyn Remote, input: &PreflightInput) -> Result<NodeFacts> {
    let host = remote.host().to_string();
    let basics = inspect(remote, input).await?;
    let nodetool = basics.nodetool;
    let out = remote.run(&nodetool.version(), None).await?;
    if !out.success() {
        let reason = explain_sudo_failure(&host, &out.stderr).unwrap_or_else(|| out.reason());
        bail!(
            "{host}: `{}` failed: {reason} (is Cassandra running? JMX credentials go in --nodetool-args)",
            nodetool.version().shown()
        );
    }
    let version = CassandraVersion::parse(&out.stdout).with_context(|| {
        format!(
            "{host}: cannot read the Cassandra version from `{}`: {}",
            nodetool.version().shown(),
            out.reason()
        )
    })?;
    Ok(NodeFacts {
        arch: basics.arch,
        home: basics.home,
        yaml_path: basics.yaml_path,
        nodetool,
        version,
        data_dirs: basics.data_dirs,
        incremental_backups: basics.incremental_backups,
    })
}

/// Everything of [`preflight`] but nodetool: SSH, `uname -m`, sudo, cassandra.yaml, the data dirs and the
/// asked-for keyspaces and table. The error is one line starting with the host.
pub async fn inspect(remote: &dyn Remote, input: &PreflightInput) -> Result<NodeBasics> {
    let host = remote.host().to_string();
    let facts = login_facts(remote, input).await?;
    let arch = facts_value(&facts, "arch")
        .with_context(|| format!("{host}: `uname -m` printed nothing"))?
        .to_string();
    let home = facts_value(&facts, "home").unwrap_or("").to_string();
    if input.privilege == Privilege::Sudo {
        check_sudo(remote).await?;
    }
    let (yaml_path, yaml_text, settings) = read_yaml(remote, input, &facts).await?;
    let data_dirs: Vec<String> = settings
        .dirs_to_walk()
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    check_data_dirs(remote, input.privilege, &data_dirs, &yaml_path).await?;
    if !input.keyspaces.is_empty() {
        selection::check(remote, input, &data_dirs).await?;
    }
    Ok(NodeBasics {
        arch,
        home,
        yaml_path,
        yaml_text,
        data_dirs,
        incremental_backups: settings.incremental_backups,
        nodetool: nodetool(input, &facts),
    })
}

/// The facts of [`FACTS_SCRIPT`]; what a plain shell leaves empty (`$CASSANDRA_CONF`, nodetool on
/// PATH) is asked again from a login shell, since some installs set them only in the profile.
async fn login_facts(
    remote: &dyn Remote,
    input: &PreflightInput,
) -> Result<HashMap<String, String>> {
    let mut facts = read_facts(remote, FACTS_SCRIPT).await?;
    let needs_login_shell = (input.conf_path.is_none() && facts_value(&facts, "conf").is_none())
        || (input.nodetool_path.is_none() && facts_value(&facts, "nodetool").is_none());
    if !needs_login_shell {
        return Ok(facts);
    }
    let login = format!("sh -lc {}", shell::quote(FACTS_SCRIPT));
    if let Ok(login_facts) = read_facts(remote, &login).await {
        for (key, value) in login_facts {
            if !value.is_empty() {
                facts.entry(key).and_modify(|v| {
                    if v.is_empty() {
                        v.clone_from(&value)
                    }
                });
            }
        }
    }
    Ok(facts)
}

async fn check_sudo(remote: &dyn Remote) -> Result<()> {
    let host = remote.host();
    let out = remote
        .run(&RemoteCommand::new("sudo -n true"), None)
        .await?;
    if !out.success() {
        bail!(explain_sudo_failure(host, &out.stderr)
            .unwrap_or_else(|| format!("{host}: `sudo -n true` failed: {}", out.reason())));
    }
    Ok(())
}

/// `words` run with the user's privilege (`sudo -n` or not).
fn privileged(privilege: Privilege, words: Vec<&str>) -> RemoteCommand {
    RemoteCommand::new(shell::join(privilege.prefix().iter().copied().chain(words)))
}

/// Finds cassandra.yaml (`--cassandra-conf-path`, `$CASSANDRA_CONF`, `/etc/cassandra`), reads it from the
/// node and parses it: its path, its text and its settings.
async fn read_yaml(
    remote: &dyn Remote,
    input: &PreflightInput,
    facts: &HashMap<String, String>,
) -> Result<(String, String, engine::select::YamlSettings)> {
    let host = remote.host();
    let conf = input
        .conf_path
        .clone()
        .or_else(|| facts_value(facts, "conf").map(str::to_string))
        .or_else(|| facts_value(facts, "etc_conf").map(str::to_string))
        .with_context(|| {
            format!(
                "{host}: cannot find cassandra.yaml: $CASSANDRA_CONF is not set and neither \
                 /etc/cassandra/conf/ nor /etc/cassandra/ has one; give --cassandra-conf-path"
            )
        })?;
    let yaml_path = yaml_in(&conf);
    let yaml = remote
        .run(
            &privileged(input.privilege, vec!["cat", "--", &yaml_path]),
            None,
        )
        .await?;
    if !yaml.success() {
        let reason = explain_sudo_failure(host, &yaml.stderr).unwrap_or_else(|| yaml.reason());
        bail!("{host}: cannot read cassandra.yaml at {yaml_path}: {reason}");
    }
    let settings =
        parse_yaml(&yaml_path, &yaml.stdout).map_err(|e| anyhow::anyhow!("{host}: {e}"))?;
    Ok((yaml_path, yaml.stdout, settings))
}

/// Every data directory exists and the SSH user (with its privilege) can read it.
async fn check_data_dirs(
    remote: &dyn Remote,
    privilege: Privilege,
    data_dirs: &[String],
    yaml_path: &str,
) -> Result<()> {
    let host = remote.host();
    let mut check = vec![
        "sh",
        "-c",
        r#"for d do if [ ! -d "$d" ]; then printf 'missing:%s\n' "$d"; elif [ ! -r "$d" ] || [ ! -x "$d" ]; then printf 'unreadable:%s\n' "$d"; fi; done"#,
        "sh",
    ];
    check.extend(data_dirs.iter().map(String::as_str));
    let missing = remote.run(&privileged(privilege, check), None).await?;
    for line in missing.stdout.lines() {
        if let Some(dir) = line.strip_prefix("missing:") {
            bail!("{host}: data directory {dir} (data_file_directories in {yaml_path}) does not exist");
        }
        if let Some(dir) = line.strip_prefix("unreadable:") {
            let hint = match privilege {
                Privilege::LoginUser => "use --use-sudo, or log in as Cassandra's user",
                Privilege::Sudo => "check its permissions",
            };
            bail!("{host}: data directory {dir} is not readable by the SSH user: {hint}");
        }
    }
    if !missing.success() {
        bail!(
            "{host}: cannot check the data directories: {}",
            missing.reason()
        );
    }
    Ok(())
}

/// nodetool, resolved but not run: `--nodetool-path`, else the one on the node's PATH, else in
/// `--cassandra-bin-dir`.
fn nodetool(input: &PreflightInput, facts: &HashMap<String, String>) -> NodeTool {
    let path = input
        .nodetool_path
        .clone()
        .or_else(|| {
            facts_value(facts, "nodetool")
                .filter(|p| p.starts_with('/'))
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("{}/nodetool", input.bin_dir));
    NodeTool {
        path,
        privilege: input.privilege,
        extra_args: input.nodetool_args.clone(),
    }
}

async fn read_facts(remote: &dyn Remote, script: &str) -> Result<HashMap<String, String>> {
    let out = remote.run(&RemoteCommand::new(script), None).await?;
    if !out.success() {
        bail!(
            "{}: cannot run a shell command: {}",
            remote.host(),
            out.reason()
        );
    }
    Ok(out
        .stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

fn facts_value<'a>(facts: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    facts.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// The cassandra.yaml for a `--cassandra-conf-path` (a directory, or the file itself).
pub fn yaml_in(conf: &str) -> String {
    if conf.ends_with(".yaml") || conf.ends_with(".yml") {
        conf.to_string()
    } else {
        format!("{}/cassandra.yaml", conf.trim_end_matches('/'))
    }
}

/// Parse cassandra.yaml text read from a node with node-push's own rules (through a local temp file,
/// since node-push reads a path); errors name the node's path, not the temp file.
fn parse_yaml(remote_path: &str, text: &str) -> Result<engine::select::YamlSettings, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let local = dir.path().join("cassandra.yaml");
    fs_err::write(&local, text).map_err(|e| e.to_string())?;
    engine::select::cassandra_yaml_settings(&local).map_err(|e| {
        e.to_string()
            .replace(&local.display().to_string(), remote_path)
    })
}

#[cfg(test)]
mod tests;
