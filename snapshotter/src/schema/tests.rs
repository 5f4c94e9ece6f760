use super::*;

/// What cqlsh 6.2 prints for `DESCRIBE KEYSPACE shop` against a Cassandra 4.0 server: its version warning
/// (the format string of cqlshlib's `check_build_versions`), then the server-side DESCRIBE rows, each
/// after an empty line.
pub(crate) const CQLSH_4_0_SHOP: &str = "WARNING: cqlsh was built against 5.0.0, but this server is 4.0.11.  All features may not work!

CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}  AND durable_writes = true;

CREATE TABLE shop.orders (
    id int PRIMARY KEY,
    item text,
    note text
) WITH additional_write_policy = '99p'
    AND bloom_filter_fp_chance = 0.01
    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}
    AND comment = 'orders; one per row'
    AND speculative_retry = '99p';

CREATE INDEX orders_item_idx ON shop.orders (item);

CREATE TYPE shop.address (
    street text
);

CREATE TABLE shop.\"Users\" (
    id int PRIMARY KEY
) WITH comment = '';
";

/// cqlsh 6.2 against a 3.11 server: DESCRIBE runs no query and prints a warning only.
const CQLSH_AGAINST_3_11: &str = "
WARN: DESCRIBE|DESC was moved to server side in Cassandra 4.0. As a consequence DESCRIBE|DESC will not work in cqlsh '6.2.0' connected to Cassandra '3.11.16', the version that you are connected to. DESCRIBE does not exist server side prior Cassandra 4.0.
";

/// cassandra-cli 1.2.0's `show schema ks1;`.
pub(crate) const CLI_1_2_KS1: &str = "create keyspace ks1
  with placement_strategy = 'SimpleStrategy'
  and strategy_options = {replication_factor : 1}
  and durable_writes = true;

use ks1;

create column family events
  with column_type = 'Standard'
  and comparator = 'UTF8Type'
  and default_validation_class = 'UTF8Type'
  and key_validation_class = 'UTF8Type'
  and read_repair_chance = 0.1
  and compression_options = {'sstable_compression' : 'org.apache.cassandra.io.compress.SnappyCompressor'};

create column family users
  with column_type = 'Standard'
  and comparator = 'UTF8Type'
  and caching = 'KEYS_ONLY'
  and comment = 'it\\'s; here';
";

#[test]
fn the_cqlsh_version_warning_is_taken_out_and_the_rest_is_create_statements() {
    let schema = Schema::parse(Dialect::Cql, CQLSH_4_0_SHOP, Some("shop")).unwrap();
    assert!(
        schema.text.starts_with("CREATE KEYSPACE shop WITH"),
        "{}",
        schema.text
    );
    assert!(!schema.text.contains("WARNING"));
    assert!(schema.text.ends_with("comment = '';\n"));
    assert_eq!(schema.keyspaces(), BTreeSet::from(["shop".to_string()]));
    assert_eq!(
        schema.tables("shop"),
        BTreeSet::from(["orders".to_string(), "Users".to_string()])
    );
    let objects: Vec<&Object> = schema.statements.iter().map(|s| &s.object).collect();
    assert_eq!(
        objects[2],
        &Object::OnTable {
            keyspace: "shop".into(),
            table: "orders".into()
        }
    );
    assert_eq!(
        objects[3],
        &Object::KeyspaceItem {
            keyspace: "shop".into(),
            kind: "type".into(),
            name: "address".into()
        }
    );
    assert_eq!(schema.replication_factor("shop"), Some(1));
    // Stored text parses again to the same statements.
    let again = Schema::parse(Dialect::Cql, &schema.text, Some("shop")).unwrap();
    assert_eq!(again, schema);
}

#[test]
fn output_that_is_not_cql_is_an_error_naming_the_line() {
    let error = Schema::parse(Dialect::Cql, CQLSH_AGAINST_3_11, Some("shop")).unwrap_err();
    assert!(
        matches!(&error, SchemaError::Unterminated { line: 2, text } if text.starts_with("WARN: DESCRIBE|DESC was moved")),
        "{error}"
    );
    let error = Schema::parse(Dialect::Cql, "", Some("shop")).unwrap_err();
    assert!(matches!(error, SchemaError::Empty { .. }), "{error}");
    let error = Schema::parse(
        Dialect::Cql,
        "Connection error: ('Unable to connect');\n",
        None,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1: not a CQL CREATE statement: `Connection error: ('Unable to connect');`"
    );
    let other_warning = format!("WARNING: something else\n{CQLSH_4_0_SHOP}");
    assert!(Schema::parse(Dialect::Cql, &other_warning, None).is_err());
}

#[test]
fn cql_names_qualified_quoted_and_in_the_current_keyspace() {
    let text = "CREATE KEYSPACE IF NOT EXISTS \"Big\" WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': '3', 'dc2': '2'};\n\
                CREATE TABLE IF NOT EXISTS \"Big\".t1 (a int PRIMARY KEY);\n\
                CREATE CUSTOM INDEX ON \"Big\".t1 (a) USING 'StorageAttachedIndex';\n\
                CREATE MATERIALIZED VIEW \"Big\".v AS SELECT a FROM \"Big\".t1 WHERE a IS NOT NULL PRIMARY KEY (a);\n\
                CREATE OR REPLACE FUNCTION \"Big\".f (x int) CALLED ON NULL INPUT RETURNS int LANGUAGE java AS $$ return x; $$;\n\
                CREATE TABLE t2 (a int PRIMARY KEY);\n";
    let schema = Schema::parse(Dialect::Cql, text, None).unwrap();
    assert_eq!(schema.replication_factor("Big"), Some(5));
    assert_eq!(
        schema.tables("Big"),
        BTreeSet::from(["t1".to_string(), "t2".to_string()])
    );
    let view = &schema.statements[3].object;
    assert_eq!(
        view,
        &Object::OnTable {
            keyspace: "Big".into(),
            table: "t1".into()
        }
    );
    assert!(Schema::parse(Dialect::Cql, "CREATE ROLE admin;", None).is_err());
    assert!(Schema::parse(Dialect::Cql, "INSERT INTO ks.t (a) VALUES (1);", None).is_err());
}

#[test]
fn cli_show_schema_without_the_banner() {
    let output = format!(
        "Connected to: \"Test Cluster\" on 127.0.0.2/9160\nWelcome to Cassandra CLI version 1.2.0\n\n\
         Type 'help;' or '?' for help.\nType 'quit;' or 'exit;' to quit.\n\n{CLI_1_2_KS1}"
    );
    let schema = Schema::parse(Dialect::Cli, &output, Some("ks1")).unwrap();
    assert!(schema.text.starts_with("create keyspace ks1\n"));
    assert_eq!(
        schema.tables("ks1"),
        BTreeSet::from(["events".to_string(), "users".to_string()])
    );
    assert_eq!(schema.replication_factor("ks1"), Some(1));
    assert_eq!(schema.statements[1].object, Object::Use("ks1".into()));
    let error = Schema::parse(Dialect::Cli, "set users['a']['b'] = 'c';", Some("ks1")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("not a cassandra-cli schema statement"),
        "{error}"
    );
    let error = Schema::parse(
        Dialect::Cli,
        "org.apache.thrift.transport.TTransportException: java.net.ConnectException: Connection refused\n",
        Some("ks1"),
    )
    .unwrap_err();
    assert!(matches!(error, SchemaError::Unterminated { .. }), "{error}");
}
