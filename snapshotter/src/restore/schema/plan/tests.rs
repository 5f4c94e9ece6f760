use super::*;
use crate::schema::tests::{CLI_1_2_KS1, CQLSH_4_0_SHOP};
use std::net::IpAddr;

fn cql(text: &str) -> Schema {
    Schema::parse_current(Dialect::Cql, text).unwrap()
}

#[test]
fn a_new_cluster_gets_the_whole_keyspace() {
    let backup = Schema::parse(Dialect::Cql, CQLSH_4_0_SHOP, Some("shop")).unwrap();
    let plan = plan(&backup, &cql(""), "shop", &[], "n1").unwrap();
    assert!(plan.creates_keyspace);
    assert_eq!(plan.tables.len(), 2);
    assert!(plan.script.starts_with("CREATE KEYSPACE shop WITH"));
    assert_eq!(plan.script.matches("CREATE ").count(), 5, "{}", plan.script);
    // Only the asked table and what hangs on it; the type stays (tables may use it).
    let plan = super::plan(&backup, &cql(""), "shop", &["Users".into()], "n1").unwrap();
    assert!(!plan.script.contains("orders"), "{}", plan.script);
    assert!(plan.script.contains("CREATE TYPE shop.address"));
}

#[test]
fn existing_tables_are_refused_and_an_existing_keyspace_is_left_alone() {
    let backup = Schema::parse(Dialect::Cql, CQLSH_4_0_SHOP, Some("shop")).unwrap();
    let current = cql(
        "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '3'};\n\
         CREATE TABLE shop.orders (id int PRIMARY KEY);\n",
    );
    let error = plan(&backup, &current, "shop", &[], "n1")
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "n1: keyspace shop already has table orders: restore --schema creates only missing keyspaces and tables \
         and alters none; drop it first, or restore the data without --schema"
    );
    let plan = super::plan(&backup, &current, "shop", &["Users".into()], "n1").unwrap();
    assert!(!plan.creates_keyspace);
    assert!(!plan.script.contains("CREATE KEYSPACE"), "{}", plan.script);
    assert_eq!(current.replication_factor("shop"), Some(3));
}

#[test]
fn cli_scripts_use_the_keyspace_before_its_column_families() {
    let backup = Schema::parse(Dialect::Cli, CLI_1_2_KS1, Some("ks1")).unwrap();
    let empty = Schema::parse_current(Dialect::Cli, "").unwrap();
    let plan = plan(&backup, &empty, "ks1", &["users".into()], "n1").unwrap();
    let statements: Vec<&str> = plan
        .script
        .split("\n\n")
        .map(|s| s.lines().next().unwrap())
        .collect();
    assert_eq!(
        statements,
        [
            "create keyspace ks1",
            "use ks1;",
            "create column family users"
        ]
    );
}

fn ring(entries: &[(&str, &str)]) -> BTreeMap<IpAddr, Vec<String>> {
    entries
        .iter()
        .map(|(a, t)| (a.parse().unwrap(), vec![t.to_string()]))
        .collect()
}

#[test]
fn node_by_node_needs_rf_covering_every_node_or_the_old_tokens() {
    let old = ring(&[("127.0.0.2", "0"), ("127.0.0.3", "5"), ("127.0.0.4", "9")]);
    let moved = ring(&[("127.0.0.2", "1"), ("127.0.0.3", "5"), ("127.0.0.4", "9")]);
    assert_eq!(
        node_placement(Some(3), None, &moved, false).unwrap(),
        Placement::EveryNodeHoldsAll { rf: 3, nodes: 3 }
    );
    assert_eq!(
        node_placement(Some(1), Some(&old), &old, false).unwrap(),
        Placement::OldTokens { rf: 1, nodes: 3 }
    );
    let error = node_placement(Some(1), Some(&old), &moved, false)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("the ring's tokens are not the backup's"),
        "{error}"
    );
    assert!(error.contains("--mode sstableloader"), "{error}");
    let renamed = ring(&[("10.0.0.2", "0"), ("10.0.0.3", "5"), ("10.0.0.4", "9")]);
    assert!(node_placement(Some(1), Some(&old), &renamed, false).is_err());
    assert!(node_placement(Some(1), Some(&old), &renamed, true).is_ok());
    assert!(node_placement(None, Some(&old), &old, false).is_err());
}
