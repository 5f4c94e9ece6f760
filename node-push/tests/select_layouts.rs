//! File selection over realistic on-disk trees of every Cassandra layout from 1.2 to 5.0, built in temp
//! dirs with the names real nodes use, and the `cassandra.yaml` forms found in the wild.
//!
//! Each test states the exact set of files it expects, relative to the temp dir, so a file too many is as
//! much a failure as a file too few.

#[path = "select_layouts/edge_cases.rs"]
mod edge_cases;
#[path = "select_layouts/filters.rs"]
mod filters;
#[path = "select_layouts/tree.rs"]
mod tree;
#[path = "select_layouts/versions.rs"]
mod versions;
#[path = "select_layouts/yaml.rs"]
mod yaml;

use engine::select::{QualifiedTable, Source};

/// The snapshot tag the trees are built with, in the old tool's `%Y%m%d%H%M%S` form.
const TAG: &str = "20240501120000";

fn snapshot() -> Source {
    Source::Snapshot {
        tag: TAG.to_string(),
    }
}

fn qualified(keyspace: &str, table: &str) -> QualifiedTable {
    QualifiedTable {
        keyspace: keyspace.to_string(),
        table: table.to_string(),
    }
}
