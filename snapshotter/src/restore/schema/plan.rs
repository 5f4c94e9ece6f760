//! What `restore --schema` applies, decided from the backup's schema and the cluster's current one:
//! only what is missing, never a change to what exists; and whether the data can go back node by node.

use crate::schema::{Dialect, Object, Schema};
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};

/// The statements to apply, and what they create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaPlan {
    pub dialect: Dialect,
    pub keyspace: String,
    /// Whether the keyspace is created (it did not exist).
    pub creates_keyspace: bool,
    pub tables: BTreeSet<String>,
    /// The script for the client.
    pub script: String,
}

/// The statements of `keyspace` (only `tables` and what belongs to them, when given) from `backup`
/// that `current` lacks. An existing table of the plan is an error: nothing is altered.
pub fn plan(
    backup: &Schema,
    current: &Schema,
    keyspace: &str,
    tables: &[String],
    host: &str,
) -> Result<SchemaPlan> {
    let wanted = |table: &str| tables.is_empty() || tables.iter().any(|t| t == table);
    let keyspace_exists = current.keyspaces().contains(keyspace);
    let existing_tables = current.tables(keyspace);
    let existing_items: BTreeSet<(String, String)> = current
        .statements
        .iter()
        .filter_map(|s| match &s.object {
            Object::KeyspaceItem {
                keyspace: ks,
                kind,
                name,
            } if ks == keyspace => Some((kind.clone(), name.clone())),
            _ => None,
        })
        .collect();
    let mut statements: Vec<&str> = Vec::new();
    let mut created = BTreeSet::new();
    let mut creates_keyspace = false;
    for statement in backup
        .statements
        .iter()
        .filter(|s| s.object.keyspace() == keyspace)
    {
        let keep = match &statement.object {
            Object::Keyspace(_) => {
                creates_keyspace = !keyspace_exists;
                !keyspace_exists
            }
            Object::Use(_) => false,
            Object::Table { table, .. } => {
                let keep = wanted(table);
                if keep {
                    created.insert(table.clone());
                }
                keep
            }
            Object::OnTable { table, .. } => wanted(table),
            Object::KeyspaceItem { kind, name, .. } => {
                !existing_items.contains(&(kind.clone(), name.clone()))
            }
        };
        if keep {
            statements.push(&statement.text);
        }
    }
    if !keyspace_exists && backup.keyspace_statement(keyspace).is_none() {
        bail!("the backup's schema has no CREATE KEYSPACE {keyspace}: cannot create it on {host}");
    }
    let missing: Vec<&String> = tables.iter().filter(|t| !created.contains(*t)).collect();
    if !missing.is_empty() {
        bail!(
            "the backup's schema of keyspace {keyspace} has no table {}",
            join(missing.iter().map(|t| t.as_str()))
        );
    }
    let exist: Vec<&str> = created
        .iter()
        .filter(|t| existing_tables.contains(*t))
        .map(String::as_str)
        .collect();
    if !exist.is_empty() {
        bail!(
            "{host}: keyspace {keyspace} already has table {}: restore --schema creates only missing keyspaces \
             and tables and alters none; drop {} first, or restore the data without --schema",
            join(exist.iter().copied()),
            if exist.len() == 1 { "it" } else { "them" }
        );
    }
    if created.is_empty() {
        bail!("the backup's schema of keyspace {keyspace} creates no table");
    }
    let script = match backup.dialect {
        Dialect::Cql => statements.join("\n\n") + "\n",
        Dialect::Cli => {
            // The CLI creates column families in the keyspace it uses.
            let (first, rest): (Vec<&str>, Vec<&str>) = statements
                .into_iter()
                .partition(|s| s.trim_start().to_lowercase().starts_with("create keyspace"));
            let mut script: Vec<String> = first.iter().map(|s| s.to_string()).collect();
            script.push(format!("use {keyspace};"));
            script.extend(rest.iter().map(|s| s.to_string()));
            script.join("\n\n") + "\n"
        }
    };
    Ok(SchemaPlan {
        dialect: backup.dialect,
        keyspace: keyspace.to_string(),
        creates_keyspace,
        tables: created,
        script,
    })
}

/// How the restored SSTables reach the rows' owners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Every node holds every row (RF at least the node count).
    EveryNodeHoldsAll { rf: u32, nodes: usize },
    /// RF below the node count, and each node owns the tokens it had in the backup.
    OldTokens { rf: u32, nodes: usize },
    /// sstableloader sends each row to its current owners.
    Streaming,
}

impl Placement {
    pub fn describe(&self) -> String {
        match self {
            Placement::EveryNodeHoldsAll { rf, nodes } => format!(
                "replication factor {rf} with {nodes} node(s): every node holds every row, each host's SSTables go back onto its node"
            ),
            Placement::OldTokens { rf, nodes } => format!(
                "replication factor {rf} below {nodes} nodes: the ring has the backup's tokens (old tokens kept), \
                 each host's SSTables go back onto the node that owns them"
            ),
            Placement::Streaming => {
                "streaming with sstableloader: each row goes to the nodes that own it now".to_string()
            }
        }
    }
}

/// For a node-by-node restore: whether the rows land on their owners. `backup_ring` and `current_ring`
/// are address -> tokens. With RF below the node count the ring must have the backup's tokens, on the same
/// addresses, or (with a host map) as the same groups.
pub fn node_placement(
    rf: Option<u32>,
    backup_ring: Option<&BTreeMap<std::net::IpAddr, Vec<String>>>,
    current_ring: &BTreeMap<std::net::IpAddr, Vec<String>>,
    host_map_used: bool,
) -> Result<Placement> {
    let nodes = current_ring.len();
    let Some(rf) = rf else {
        bail!("cannot tell the keyspace's replication factor from its CREATE statement: restore with --mode sstableloader, which streams each row to its owners");
    };
    if rf as usize >= nodes {
        return Ok(Placement::EveryNodeHoldsAll { rf, nodes });
    }
    let advice = "start the nodes with the backup's tokens as initial_token (the backup's `ring` object; \
                  `restore --mode in-place` prints them per node), or stream: --mode sstableloader --target-hosts=...";
    let Some(backup_ring) = backup_ring else {
        bail!("replication factor {rf} below {nodes} nodes and the backup has no ring object to check tokens against: {advice}");
    };
    let same = if host_map_used {
        let groups = |ring: &BTreeMap<std::net::IpAddr, Vec<String>>| {
            let mut groups: Vec<Vec<String>> = ring.values().cloned().collect();
            groups.sort();
            groups
        };
        groups(backup_ring) == groups(current_ring)
    } else {
        backup_ring == current_ring
    };
    if !same {
        bail!(
            "replication factor {rf} below {nodes} nodes, and the ring's tokens are not the backup's, so a node-by-node \
             restore would put rows where they are not read: {advice}"
        );
    }
    Ok(Placement::OldTokens { rf, nodes })
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
