//! What a backup covers: its [`Selection`] of hosts, keyspaces, table and excluded tables.
//!
//! Two backups of the same selection are interchangeable for continuing with an incremental and for
//! retention: `purge` keeps the newest complete backup of every selection, and `list` and `purge --dry-run`
//! name it. Order never matters (hosts and keyspaces are sets), and an empty keyspace list means all
//! keyspaces, as the old tool wrote it.

use super::Manifest;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;

/// Hosts, keyspaces, table and exclusions of a backup, compared as sets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Selection {
    pub hosts: BTreeSet<String>,
    /// `None`: every keyspace.
    pub keyspaces: Option<BTreeSet<String>>,
    /// The one table, or `""` for every table (the old tool's convention).
    pub table: String,
    /// `table` or `keyspace.table` entries of `--exclude-tables`.
    pub exclude_tables: BTreeSet<String>,
}

impl Selection {
    /// The selection of a backup run; an empty `keyspaces` means all of them.
    pub fn new(
        hosts: &[String],
        keyspaces: Option<&[String]>,
        table: &str,
        exclude_tables: &[String],
    ) -> Self {
        let set = |items: &[String]| items.iter().cloned().collect::<BTreeSet<_>>();
        Selection {
            hosts: set(hosts),
            keyspaces: keyspaces.filter(|k| !k.is_empty()).map(set),
            table: table.to_string(),
            exclude_tables: set(exclude_tables),
        }
    }

    /// Keyspaces, table and exclusions, compact, as `list` shows them: `all`, `shop,users`, `shop.orders`,
    /// `*.orders`, `all except shop.audit`.
    pub fn scope(&self) -> String {
        let keyspaces = self
            .keyspaces
            .as_ref()
            .map(|k| k.iter().cloned().collect::<Vec<_>>().join(","));
        let mut scope = match (keyspaces, self.table.as_str()) {
            (None, "") => "all".to_string(),
            (None, table) => format!("*.{table}"),
            (Some(k), "") => k,
            (Some(k), table) => format!("{k}.{table}"),
        };
        if !self.exclude_tables.is_empty() {
            scope.push_str(" except ");
            scope.push_str(&join(&self.exclude_tables));
        }
        scope
    }
}

fn join(items: &BTreeSet<String>) -> String {
    items.iter().cloned().collect::<Vec<_>>().join(",")
}

/// `hosts h1,h2; keyspaces all; all tables except shop.audit`, or `hosts h1; keyspaces shop; table orders`.
impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hosts {}; keyspaces ", join(&self.hosts))?;
        match &self.keyspaces {
            None => write!(f, "all")?,
            Some(k) => write!(f, "{}", join(k))?,
        }
        match self.table.as_str() {
            "" => write!(f, "; all tables")?,
            table => write!(f, "; table {table}")?,
        }
        if !self.exclude_tables.is_empty() {
            write!(f, " except {}", join(&self.exclude_tables))?;
        }
        Ok(())
    }
}

impl Manifest {
    /// What this backup covers; two backups with equal selections may continue each other.
    pub fn selection(&self) -> Selection {
        Selection::new(
            &self.hosts,
            self.keyspaces.as_deref(),
            &self.table,
            &self.exclude_tables,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn order_and_empty_keyspaces_do_not_matter() {
        let a = Selection::new(
            &strings(&["h2", "h1"]),
            Some(&strings(&["b", "a"])),
            "",
            &strings(&["a.x", "b.y"]),
        );
        let b = Selection::new(
            &strings(&["h1", "h2"]),
            Some(&strings(&["a", "b"])),
            "",
            &strings(&["b.y", "a.x"]),
        );
        assert_eq!(a, b);
        let all = Selection::new(&strings(&["h1"]), None, "", &[]);
        assert_eq!(all, Selection::new(&strings(&["h1"]), Some(&[]), "", &[]));
        assert_ne!(
            all,
            Selection::new(&strings(&["h1"]), None, "", &strings(&["a.x"]))
        );
        assert_ne!(all, Selection::new(&strings(&["h1"]), None, "t", &[]));
        assert_ne!(all, Selection::new(&strings(&["h1", "h2"]), None, "", &[]));
    }

    #[test]
    fn reads_as_people_write_it() {
        let hosts = strings(&["n2", "n1"]);
        let shop = strings(&["shop"]);
        let all = Selection::new(&hosts, None, "", &[]);
        assert_eq!(all.to_string(), "hosts n1,n2; keyspaces all; all tables");
        assert_eq!(all.scope(), "all");
        let table = Selection::new(&hosts, Some(&shop), "orders", &[]);
        assert_eq!(
            table.to_string(),
            "hosts n1,n2; keyspaces shop; table orders"
        );
        assert_eq!(table.scope(), "shop.orders");
        assert_eq!(
            Selection::new(&hosts, None, "orders", &[]).scope(),
            "*.orders"
        );
        let excluding = Selection::new(&hosts, None, "", &strings(&["shop.audit", "log"]));
        assert_eq!(
            excluding.to_string(),
            "hosts n1,n2; keyspaces all; all tables except log,shop.audit"
        );
        assert_eq!(excluding.scope(), "all except log,shop.audit");
        let mut manifest = Manifest::new("n", "b", hosts, Some(shop), "");
        manifest.exclude_tables = strings(&["shop.audit"]);
        assert_eq!(manifest.selection().scope(), "shop except shop.audit");
    }
}
