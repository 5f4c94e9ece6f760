//! `backup`'s checked settings: the hosts, the selection (keyspaces, table, exclusions), the sizes and
//! limits, and the node access group. Every error is one line naming the flag.

use super::node_access::NodeAccessSettings;
use super::CommonSettings;
use crate::cli::{BackupArgs, GlobalArgs};
use crate::nodetool::Privilege;
use crate::secret::Secret;
use crate::shell;
use crate::ssh::SshOptions;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// The largest multipart part S3 accepts, in MiB.
const MAX_PART_MIB: u64 = 5 * 1024;

/// Where cqlsh connects and as whom, for `--backup-schema`.
#[derive(Debug, Clone)]
pub struct SchemaSettings {
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub host: Option<String>,
}

/// Everything `backup` needs.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    pub common: CommonSettings,
    pub hosts: Vec<String>,
    pub keyspaces: Vec<String>,
    pub table: Option<String>,
    pub exclude_tables: Vec<String>,
    pub part_size_mib: u64,
    pub conf_path: Option<String>,
    pub nodetool_path: Option<String>,
    pub bin_dir: String,
    pub privilege: Privilege,
    pub new_snapshot: bool,
    /// `--full`: a new snapshot references no earlier backup's objects.
    pub full: bool,
    pub schema: Option<SchemaSettings>,
    pub pool_size: usize,
    pub rate_limit: u64,
    pub ssh: SshOptions,
    pub node_push_path: Option<String>,
    /// `--node-push-binary`; without it, [`crate::stages::install::NodePushCatalog`] finds a build per
    /// node architecture.
    pub node_push_binary: Option<PathBuf>,
    /// `--nodetool-args`, split into words. Sensitive: never logged.
    pub nodetool_args: Vec<String>,
    pub upload_concurrency: usize,
}

impl BackupSettings {
    pub fn resolve(global: &GlobalArgs, args: &BackupArgs) -> Result<Self> {
        let mut common = CommonSettings::resolve(global, args.quiet)?;
        if args.reduced_redundancy {
            if common.s3.storage_class.is_some() {
                bail!("--reduced-redundancy and --s3-storage-class cannot be used together");
            }
            common.s3.storage_class = Some("REDUCED_REDUNDANCY".to_string());
        }
        let hosts = backup_hosts(&args.hosts)?;
        let keyspaces = keyspaces(&args.keyspaces)?;
        let table = table(args.table.as_deref(), &keyspaces)?;
        let exclude_tables = exclude_tables(&args.exclude_tables)?;
        check_sizes(args)?;
        let nodes = NodeAccessSettings::resolve(&args.nodes)?;
        Ok(BackupSettings {
            common,
            hosts,
            keyspaces,
            table,
            exclude_tables,
            part_size_mib: args.buffer_size,
            conf_path: nodes.conf_path,
            nodetool_path: nodes.nodetool_path,
            bin_dir: args.cassandra_bin_dir.trim_end_matches('/').to_string(),
            privilege: nodes.privilege,
            new_snapshot: args.new_snapshot,
            full: args.full,
            schema: args.backup_schema.then(|| SchemaSettings {
                user: args.cqlsh_user.clone(),
                password: args.cqlsh_password.clone(),
                host: args.cqlsh_host.clone(),
            }),
            pool_size: nodes.pool_size,
            rate_limit: args.rate_limit,
            ssh: nodes.ssh,
            node_push_path: nodes.node_push_path,
            node_push_binary: nodes.node_push_binary,
            nodetool_args: nodes.nodetool_args,
            upload_concurrency: args.upload_concurrency,
        })
    }

    /// The keyspaces as the manifest records them: `None` for all.
    pub fn manifest_keyspaces(&self) -> Option<Vec<String>> {
        (!self.keyspaces.is_empty()).then(|| self.keyspaces.clone())
    }

    /// The table as the manifest records it: `""` for all.
    pub fn manifest_table(&self) -> &str {
        self.table.as_deref().unwrap_or("")
    }
}

/// `--hosts`: at least one, each a host ssh can be given, none twice (each is a key prefix).
fn backup_hosts(values: &[String]) -> Result<Vec<String>> {
    let mut hosts: Vec<String> = Vec::new();
    for host in values.iter().map(|h| h.trim()).filter(|h| !h.is_empty()) {
        shell::check_host(host).map_err(anyhow::Error::msg)?;
        if hosts.iter().any(|h| h == host) {
            bail!("host {host:?} is given twice in --hosts");
        }
        hosts.push(host.to_string());
    }
    if hosts.is_empty() {
        bail!("--hosts is empty: give at least one host");
    }
    Ok(hosts)
}

/// `--keyspaces`: Cassandra names; empty means all.
fn keyspaces(values: &[String]) -> Result<Vec<String>> {
    let keyspaces: Vec<String> = values
        .iter()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    for ks in &keyspaces {
        shell::check_cassandra_name("keyspace", ks).map_err(anyhow::Error::msg)?;
    }
    Ok(keyspaces)
}

/// `--table`: a Cassandra name, only with `--keyspaces`.
fn table(value: Option<&str>, keyspaces: &[String]) -> Result<Option<String>> {
    let Some(table) = value.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    shell::check_cassandra_name("table", table).map_err(anyhow::Error::msg)?;
    if keyspaces.is_empty() {
        bail!("--table {table} needs --keyspaces: nodetool snapshots one table per keyspace");
    }
    Ok(Some(table.to_string()))
}

/// `--exclude-tables`: each `table` or `keyspace.table`.
fn exclude_tables(values: &[String]) -> Result<Vec<String>> {
    let mut exclude_tables = Vec::new();
    for entry in values.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let bad = || {
            anyhow::anyhow!(
                "invalid --exclude-tables entry {entry:?}: expected `table` or `keyspace.table`"
            )
        };
        for part in entry.split('.') {
            shell::check_cassandra_name("--exclude-tables", part).map_err(|_| bad())?;
        }
        if entry.split('.').count() > 2 {
            return Err(bad());
        }
        exclude_tables.push(entry.to_string());
    }
    Ok(exclude_tables)
}

/// `--buffer-size` within S3's part sizes, `--upload-concurrency` at least 1.
fn check_sizes(args: &BackupArgs) -> Result<()> {
    if args.buffer_size == 0 || args.buffer_size > MAX_PART_MIB {
        bail!(
            "--buffer-size {} is out of range: 1 to {MAX_PART_MIB} MiB",
            args.buffer_size
        );
    }
    if args.upload_concurrency == 0 {
        bail!("--upload-concurrency must be at least 1");
    }
    Ok(())
}
