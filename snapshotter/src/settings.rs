//! Checked settings, resolved from the raw flags of [`crate::cli`]: everything a command needs, validated
//! once, with one-line errors naming the flag.

pub mod config;
mod credentials;

pub use credentials::Credentials;

use crate::cli::{BackupArgs, GlobalArgs, SseChoice};
use crate::nodetool::Privilege;
use crate::shell;
use crate::ssh::SshOptions;
use anyhow::{bail, Context, Result};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Where the bucket is and how objects are written.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    /// The base path without leading or trailing slashes.
    pub base_path: String,
    pub sse: Option<SseChoice>,
    pub sse_kms_key_id: Option<String>,
    pub storage_class: Option<String>,
    pub credentials: Credentials,
}

/// How results and progress are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Progress bars and tables on a terminal.
    Terminal,
    /// Plain log lines on stderr (a pipe, a log file, cron).
    Plain,
    /// A JSON document on stdout; log lines on stderr.
    Json,
}

/// How chatty the log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Settings every subcommand shares.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    pub s3: S3Settings,
    pub output: OutputMode,
    pub verbosity: Verbosity,
}

impl CommonSettings {
    pub fn resolve(global: &GlobalArgs, quiet: bool) -> Result<Self> {
        let bucket = global
            .s3_bucket_name
            .clone()
            .filter(|b| !b.is_empty())
            .context("the flag --s3-bucket-name is required")?;
        let base_path = global
            .s3_base_path
            .as_deref()
            .context("the flag --s3-base-path is required")?
            .trim_matches('/')
            .to_string();
        if let Some(endpoint) = &global.s3_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                bail!(
                    "invalid --s3-endpoint {endpoint:?}: expected http://HOST:PORT or https://HOST"
                );
            }
        }
        let sse = if global.s3_ssenc {
            Some(SseChoice::Aes256)
        } else {
            global.s3_sse
        };
        if global.s3_sse_kms_key_id.is_some() && sse != Some(SseChoice::AwsKms) {
            bail!("--s3-sse-kms-key-id needs --s3-sse=aws:kms");
        }
        let credentials = Credentials::resolve(global)?;
        let output = if global.json {
            OutputMode::Json
        } else if std::io::stderr().is_terminal() && std::env::var_os("NO_PROGRESS").is_none() {
            OutputMode::Terminal
        } else {
            OutputMode::Plain
        };
        let verbosity = if quiet {
            Verbosity::Quiet
        } else if global.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        Ok(CommonSettings {
            s3: S3Settings {
                bucket,
                region: global.s3_bucket_region.clone(),
                endpoint: global.s3_endpoint.clone(),
                base_path,
                sse,
                sse_kms_key_id: global.s3_sse_kms_key_id.clone(),
                storage_class: global.s3_storage_class.clone(),
                credentials,
            },
            output,
            verbosity,
        })
    }
}

/// Where cqlsh connects and as whom, for `--backup-schema`.
#[derive(Debug, Clone)]
pub struct SchemaSettings {
    pub user: Option<String>,
    pub password: Option<crate::secret::Secret>,
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
        let mut hosts: Vec<String> = Vec::new();
        for host in args
            .hosts
            .iter()
            .map(|h| h.trim())
            .filter(|h| !h.is_empty())
        {
            shell::check_host(host).map_err(anyhow::Error::msg)?;
            if hosts.iter().any(|h| h == host) {
                bail!("host {host:?} is given twice in --hosts");
            }
            hosts.push(host.to_string());
        }
        if hosts.is_empty() {
            bail!("--hosts is empty: give at least one host");
        }
        let keyspaces: Vec<String> = args
            .keyspaces
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect();
        for ks in &keyspaces {
            shell::check_cassandra_name("keyspace", ks).map_err(anyhow::Error::msg)?;
        }
        let table = args.table.clone().filter(|t| !t.is_empty());
        if let Some(table) = &table {
            shell::check_cassandra_name("table", table).map_err(anyhow::Error::msg)?;
            if keyspaces.is_empty() {
                bail!(
                    "--table {table} needs --keyspaces: nodetool snapshots one table per keyspace"
                );
            }
        }
        let mut exclude_tables = Vec::new();
        for entry in args
            .exclude_tables
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
        {
            for part in entry.split('.') {
                shell::check_cassandra_name("--exclude-tables", part).map_err(|_| {
                    anyhow::anyhow!(
                        "invalid --exclude-tables entry {entry:?}: expected `table` or `keyspace.table`"
                    )
                })?;
            }
            if entry.split('.').count() > 2 {
                bail!("invalid --exclude-tables entry {entry:?}: expected `table` or `keyspace.table`");
            }
            exclude_tables.push(entry.to_string());
        }
        if args.buffer_size == 0 || args.buffer_size > 5 * 1024 {
            bail!(
                "--buffer-size {} is out of range: 1 to 5120 MiB",
                args.buffer_size
            );
        }
        if args.connection_pool_size == 0 {
            bail!("--connection-pool-size must be at least 1");
        }
        if args.upload_concurrency == 0 {
            bail!("--upload-concurrency must be at least 1");
        }
        let nodetool_args = match &args.nodetool_args {
            Some(value) => shell::split(value.expose()).map_err(|e| {
                anyhow::anyhow!("--nodetool-args cannot be read as shell words: {e}")
            })?,
            None => Vec::new(),
        };
        if let Some(path) = &args.node_push_path {
            if path.is_empty() || path.contains('\n') {
                bail!("invalid --node-push-path {path:?}");
            }
        }
        if let Some(file) = &args.ssh_config {
            if !file.is_file() {
                bail!("--ssh-config {}: no such file", file.display());
            }
        }
        if let Some(key) = &args.sshkey {
            if !key.is_file() {
                bail!("--sshkey {}: no such file", key.display());
            }
        }
        let schema = args.backup_schema.then(|| SchemaSettings {
            user: args.cqlsh_user.clone(),
            password: args.cqlsh_password.clone(),
            host: args.cqlsh_host.clone(),
        });
        Ok(BackupSettings {
            common,
            hosts,
            keyspaces,
            table,
            exclude_tables,
            part_size_mib: args.buffer_size,
            conf_path: args.cassandra_conf_path.clone(),
            nodetool_path: args.nodetool_path.clone(),
            bin_dir: args.cassandra_bin_dir.trim_end_matches('/').to_string(),
            privilege: if args.use_sudo {
                Privilege::Sudo
            } else {
                Privilege::LoginUser
            },
            new_snapshot: args.new_snapshot,
            schema,
            pool_size: args.connection_pool_size,
            rate_limit: args.rate_limit,
            ssh: SshOptions {
                config_file: args.ssh_config.clone(),
                port: args.sshport,
                identity: args.sshkey.clone(),
                user: args.user.clone(),
                password: args.password.clone(),
                connect_timeout: 15,
            },
            node_push_path: args.node_push_path.clone(),
            node_push_binary: args.node_push_binary.clone(),
            nodetool_args,
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

#[cfg(test)]
mod tests;
