//! `restore --schema`: before the data, create the backup's schema of `--keyspace` where it does not exist
//! yet (a new or wiped cluster), and check that the data will reach the rows' owners.
//!
//! 1. The backup's schema object: `schema_<ks>.cql`/`.cli`, else the whole `schema.cql`/`.cli`.
//! 2. The cluster's schema now, through the same client (cqlsh for CQL, cassandra-cli for a 1.2 backup),
//!    on the first target node (node modes) or from this machine to the first `--target-hosts` entry
//!    (sstableloader). An existing table of the restore is refused ([`plan::plan`]), before anything
//!    is changed.
//! 3. Where the rows go ([`plan::node_placement`]): node by node when RF covers every node or the ring has
//!    the backup's tokens; otherwise refused with the way out (old tokens, or sstableloader's streaming).
//! 4. The missing statements applied; the schema read again to check every table exists now.

mod local;
mod plan;

use super::ring::tokens_by_address;
use super::settings::RestoreSettings;
use crate::cli::ModeArg;
use crate::output::Output;
use crate::remote::{Connector, Remote};
use crate::schema::client::{self, ClientTarget};
use crate::schema::{stored, Dialect, Schema};
use crate::settings::SchemaSettings;
use crate::ssh::{SshConnector, SshContext};
use crate::stages::preflight;
use crate::store;
use anyhow::{bail, Context, Result};
use contract::layout;
use engine::store::ObjectStore;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Apply the schema of backup `name` for `settings.keyspace`; `sources` are the backup's hosts (the
/// first one restored, mapped by `--host-map`, is where the schema is applied).
pub async fn apply(
    settings: &RestoreSettings,
    store: &dyn ObjectStore,
    name: &str,
    sources: &[String],
    output: &Output,
) -> Result<()> {
    match settings.mode {
        ModeArg::InPlace => bail!(
            "--schema creates the schema through a running Cassandra, and --mode in-place needs it stopped: start the \
             new nodes (with the backup's tokens as initial_token), then restore --schema --mode refresh"
        ),
        ModeArg::Local => bail!("--schema applies the schema to a cluster: --mode local only downloads"),
        _ => {}
    }
    let (key, backup) = backup_schema(settings, store, name).await?;
    output.info(format!("== schema: {} from {key}", backup.dialect.client()));
    if settings.mode == ModeArg::Sstableloader {
        let Some(target) = settings.loader_targets.first() else {
            bail!("--schema with sstableloader needs --target-hosts");
        };
        let remote = local::LocalShell::new(target);
        let credentials = no_credentials(Some(target));
        let target = ClientTarget {
            bin_dir: &settings.bin_dir,
            host: target,
            yaml_path: "/nonexistent/cassandra.yaml",
            credentials: &credentials,
        };
        create(&remote, &target, &backup, settings, None, output).await?;
        output.info(format!(
            "placement: {}",
            plan::Placement::Streaming.describe()
        ));
        return Ok(());
    }
    let Some(first) = settings.hosts.first().or(sources.first()) else {
        bail!("no host to restore onto");
    };
    let host = settings.host_map.target(first).to_string();
    let connector = SshConnector::new(SshContext::new(settings.nodes.ssh.clone())?);
    let result = on_node(settings, store, name, &connector, &host, &backup, output).await;
    connector.close_all().await;
    result
}

async fn on_node(
    settings: &RestoreSettings,
    store: &dyn ObjectStore,
    name: &str,
    connector: &SshConnector,
    host: &str,
    backup: &Schema,
    output: &Output,
) -> Result<()> {
    let remote = connector.connect(host).await?;
    let remote = remote.as_ref();
    let basics = preflight::inspect(remote, &settings.nodes.preflight).await?;
    let credentials = no_credentials(None);
    let target = ClientTarget {
        bin_dir: &settings.bin_dir,
        host,
        yaml_path: &basics.yaml_path,
        credentials: &credentials,
    };
    let ring = remote.run(&basics.nodetool.ring(), None).await?;
    if !ring.success() {
        bail!("{host}: nodetool ring failed: {}", ring.reason());
    }
    let current_ring = tokens_by_address(&ring.stdout);
    let ring_key = layout::ring_key(&settings.common.s3.base_path, name);
    let backup_ring = store::get(store, &ring_key)
        .await?
        .map(|bytes| tokens_by_address(&String::from_utf8_lossy(&bytes)));
    let check = PlacementCheck {
        backup_ring,
        current_ring,
        host_map_used: !settings.host_map.is_empty(),
        // Staging loads nothing: where the rows would go is only said.
        refuse: settings.mode != ModeArg::Stage,
    };
    create(remote, &target, backup, settings, Some(&check), output).await
}

/// Whether a node-by-node restore reaches the rows' owners ([`plan::node_placement`]).
struct PlacementCheck {
    backup_ring: Option<BTreeMap<IpAddr, Vec<String>>>,
    current_ring: BTreeMap<IpAddr, Vec<String>>,
    host_map_used: bool,
    /// Refuse (true) or only warn.
    refuse: bool,
}

impl PlacementCheck {
    fn check(&self, rf: Option<u32>, output: &Output) -> Result<()> {
        let placement = plan::node_placement(
            rf,
            self.backup_ring.as_ref(),
            &self.current_ring,
            self.host_map_used,
        );
        match placement {
            Ok(placement) => output.info(format!("placement: {}", placement.describe())),
            Err(error) if !self.refuse => output.warn(format!("{error:#}")),
            Err(error) => return Err(error),
        }
        Ok(())
    }
}

/// Read the cluster's schema, plan, check placement (node modes), apply, check.
async fn create(
    remote: &dyn Remote,
    target: &ClientTarget<'_>,
    backup: &Schema,
    settings: &RestoreSettings,
    placement: Option<&PlacementCheck>,
    output: &Output,
) -> Result<()> {
    let host = remote.host();
    let keyspace = &settings.keyspace;
    let current = current_schema(remote, target, backup.dialect).await?;
    let plan = plan::plan(backup, &current, keyspace, &settings.tables, host)?;
    if let Some(placement) = placement {
        let rf = if plan.creates_keyspace {
            backup.replication_factor(keyspace)
        } else {
            current.replication_factor(keyspace)
        };
        placement.check(rf, output)?;
    }
    let client = backup.dialect.client();
    output.verbose(format!("{host}: {client} applies:\n{}", plan.script));
    let (command, stdin) = client::command(backup.dialect, target, &plan.script);
    let result = remote.run(&command, Some(&stdin)).await?;
    if !result.success() || stderr_has_error(&result.stderr) {
        bail!(
            "{host}: {client} could not create the schema of keyspace {keyspace}: {}",
            result.reason()
        );
    }
    let after = current_schema(remote, target, backup.dialect).await?;
    let missing: Vec<&String> = plan
        .tables
        .iter()
        .filter(|t| !after.tables(keyspace).contains(*t))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{host}: {client} ran, but keyspace {keyspace} still lacks table {}",
            missing
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    output.info(format!(
        "schema: {}table(s) {} created on {host} ({client})",
        if plan.creates_keyspace {
            format!("keyspace {keyspace} and ")
        } else {
            format!("keyspace {keyspace} existed (left as it is); ")
        },
        plan.tables.iter().cloned().collect::<Vec<_>>().join(", ")
    ));
    Ok(())
}

/// cqlsh -f reports a failed statement on stderr and may still exit 0 (older releases).
fn stderr_has_error(stderr: &str) -> bool {
    stderr.lines().any(|l| {
        let l = l.to_lowercase();
        l.contains("error") || l.contains("exception")
    })
}

/// The cluster's schema as `dialect`'s client prints it.
async fn current_schema(
    remote: &dyn Remote,
    target: &ClientTarget<'_>,
    dialect: Dialect,
) -> Result<Schema> {
    let host = remote.host();
    let statement = stored::describe(dialect, None);
    let (command, stdin) = client::command(dialect, target, &statement);
    let result = remote.run(&command, Some(&stdin)).await?;
    let client = dialect.client();
    if !result.success() {
        bail!(
            "{host}: {client} `{}` failed: {}",
            statement.trim(),
            result.reason()
        );
    }
    Schema::parse_current(dialect, &result.stdout)
        .with_context(|| format!("{host}: {client} `{}` printed no schema", statement.trim()))
}

/// The backup's schema for `settings.keyspace`, with its key.
async fn backup_schema(
    settings: &RestoreSettings,
    store: &dyn ObjectStore,
    name: &str,
) -> Result<(String, Schema)> {
    let base = &settings.common.s3.base_path;
    let ks = settings.keyspace.as_str();
    let candidates = [
        (
            layout::schema_key(base, name, Some(ks)),
            Dialect::Cql,
            Some(ks),
        ),
        (
            layout::cli_schema_key(base, name, Some(ks)),
            Dialect::Cli,
            Some(ks),
        ),
        (layout::schema_key(base, name, None), Dialect::Cql, None),
        (layout::cli_schema_key(base, name, None), Dialect::Cli, None),
    ];
    for (key, dialect, keyspace) in &candidates {
        let Some(bytes) = store::get(store, key).await? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let schema = Schema::parse(*dialect, &text, *keyspace)
            .with_context(|| format!("{key} is not a schema this tool can apply"))?;
        if schema.keyspace_statement(ks).is_none() {
            bail!("{key} has no CREATE KEYSPACE {ks}");
        }
        return Ok((key.clone(), schema));
    }
    bail!(
        "backup {name} has no schema object ({}): it was made without --backup-schema; create the schema by hand \
         and restore without --schema",
        candidates
            .iter()
            .map(|(key, ..)| key.rsplit('/').next().unwrap_or(key).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The client's own configuration decides the credentials (cqlsh: `~/.cassandra/cqlshrc`).
fn no_credentials(host: Option<&str>) -> SchemaSettings {
    SchemaSettings {
        user: None,
        password: None,
        host: host.map(str::to_string),
    }
}
