//! `restore`'s checked settings: the mode (from `--mode` or the old tool's flags), the backup, what to
//! restore, and how to reach the nodes. Every error is one line naming the flag.

use crate::cli::{GlobalArgs, ModeArg, RestoreArgs};
use crate::settings::{CommonSettings, NodeAccessSettings};
use crate::shell;
use crate::ssh::SshOptions;
use crate::stages::preflight::PreflightInput;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use contract::layout::BackupName;
use engine::restore::{BackupSelector, HostMap};
use std::path::PathBuf;

/// How the nodes are reached, for the modes that work on them.
#[derive(Debug, Clone)]
pub struct NodeAccess {
    pub ssh: SshOptions,
    /// Keyspaces and table stay empty: a node being restored may have lost them.
    pub preflight: PreflightInput,
    pub node_push_path: Option<String>,
    pub node_push_binary: PathBuf,
    pub pool_size: usize,
}

/// Everything `restore` needs.
#[derive(Debug, Clone)]
pub struct RestoreSettings {
    pub common: CommonSettings,
    pub mode: ModeArg,
    pub backup: BackupSelector,
    pub keyspace: String,
    pub tables: Vec<String>,
    /// Source hosts to restore (empty: all of the backup's).
    pub hosts: Vec<String>,
    /// sstableloader's `-d` nodes.
    pub loader_targets: Vec<String>,
    pub restore_dir: PathBuf,
    pub bin_dir: String,
    pub until: Option<DateTime<Utc>>,
    pub host_map: HostMap,
    pub nodes: NodeAccess,
    pub concurrency: usize,
    pub rate_limit: u64,
}

impl NodeAccess {
    /// The node-access group checked, node-push's binary found, and what preflight needs.
    fn resolve(args: &RestoreArgs, bin_dir: &str) -> Result<Self> {
        let access = NodeAccessSettings::resolve(&args.nodes)?;
        let node_push_binary = match access.node_push_binary {
            Some(path) => path,
            None => std::env::current_exe()
                .context("cannot find this program's own path to locate node-push: give --node-push-binary")?
                .with_file_name("node-push"),
        };
        Ok(NodeAccess {
            ssh: access.ssh,
            preflight: PreflightInput {
                conf_path: access.conf_path,
                nodetool_path: access.nodetool_path,
                bin_dir: bin_dir.to_string(),
                privilege: access.privilege,
                nodetool_args: access.nodetool_args,
                keyspaces: Vec::new(),
                table: None,
            },
            node_push_path: access.node_push_path,
            node_push_binary,
            pool_size: access.pool_size,
        })
    }
}

impl RestoreSettings {
    pub fn resolve(global: &GlobalArgs, args: &RestoreArgs) -> Result<Self> {
        let common = CommonSettings::resolve(global, args.quiet)?;
        let mode = resolve_mode(args)?;
        let backup: BackupSelector = args
            .snapshot_name
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid --snapshot-name: {e} (or LATEST)"))?;
        let keyspace = args.keyspace.trim().to_string();
        shell::check_cassandra_name("keyspace", &keyspace).map_err(anyhow::Error::msg)?;
        let tables = clean_list(&args.table);
        for table in &tables {
            shell::check_cassandra_name("table", table).map_err(anyhow::Error::msg)?;
        }
        let hosts = clean_list(&args.hosts);
        let loader_targets = clean_list(&args.target_hosts);
        for host in hosts.iter().chain(&loader_targets) {
            shell::check_host(host).map_err(anyhow::Error::msg)?;
        }
        let host_map = args.host_map.clone().unwrap_or_default();
        for (_, new) in host_map.pairs() {
            shell::check_host(new).map_err(|e| anyhow::anyhow!("--host-map: {e}"))?;
        }
        let until = args.until.as_deref().map(parse_until).transpose()?;
        if args.download_concurrency == 0 {
            bail!("--download-concurrency must be at least 1");
        }
        let bin_dir = args.cassandra_bin_dir.trim_end_matches('/').to_string();
        let nodes = NodeAccess::resolve(args, &bin_dir)?;
        Ok(RestoreSettings {
            common,
            mode,
            backup,
            keyspace,
            tables,
            hosts,
            loader_targets,
            restore_dir: std::path::absolute(&args.restore_dir)
                .with_context(|| format!("--restore-dir {}", args.restore_dir.display()))?,
            until,
            host_map,
            nodes,
            bin_dir,
            concurrency: args.download_concurrency,
            rate_limit: args.rate_limit,
        })
    }

    /// Whether this mode runs node-push on the nodes (as opposed to downloading here).
    pub fn on_nodes(&self) -> bool {
        matches!(
            self.mode,
            ModeArg::Stage | ModeArg::Refresh | ModeArg::InPlace
        )
    }
}

fn clean_list(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if !out.iter().any(|o| o == value) {
            out.push(value.to_string());
        }
    }
    out
}

/// `--mode`, or what the old tool's flags mean: `--target-hosts` streams with sstableloader, `--local` and
/// `--no-sstableloader` only download. Exactly one way must be chosen.
fn resolve_mode(args: &RestoreArgs) -> Result<ModeArg> {
    let old_local = args.local || args.no_sstableloader;
    let targets = !args.target_hosts.iter().all(|h| h.trim().is_empty());
    if old_local && targets {
        bail!("--target-hosts runs sstableloader and --local/--no-sstableloader do not: give one of them");
    }
    match args.mode {
        Some(ModeArg::Sstableloader) if !targets => {
            bail!("--mode sstableloader needs --target-hosts (the nodes sstableloader streams to)")
        }
        Some(ModeArg::Sstableloader) if old_local => {
            bail!("--mode sstableloader contradicts --local/--no-sstableloader")
        }
        Some(ModeArg::Sstableloader) => Ok(ModeArg::Sstableloader),
        Some(ModeArg::Local) if targets => bail!(
            "--target-hosts runs sstableloader: use --mode sstableloader, or leave --target-hosts out"
        ),
        Some(ModeArg::Local) => Ok(ModeArg::Local),
        Some(mode) if old_local || targets => bail!(
            "--mode {} works on the nodes: --local, --no-sstableloader and --target-hosts do not apply",
            mode_name(mode)
        ),
        Some(mode) => Ok(mode),
        None if targets => Ok(ModeArg::Sstableloader),
        None if old_local => Ok(ModeArg::Local),
        None => bail!(
            "say where to restore: --mode stage|refresh|in-place|local|sstableloader \
             (or the old tool's --local, --no-sstableloader, --target-hosts)"
        ),
    }
}

pub fn mode_name(mode: ModeArg) -> &'static str {
    match mode {
        ModeArg::Stage => "stage",
        ModeArg::Refresh => "refresh",
        ModeArg::InPlace => "in-place",
        ModeArg::Local => "local",
        ModeArg::Sstableloader => "sstableloader",
    }
}

/// `--until`: RFC 3339, or a backup-name-like UTC `YYYYMMDDhhmmss`.
pub fn parse_until(text: &str) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(name) = text.parse::<BackupName>() {
        return Ok(name.time());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            anyhow::anyhow!(
                "invalid --until {text:?}: expected RFC 3339 (2024-01-31T12:00:00Z) or UTC YYYYMMDDhhmmss"
            )
        })
}
