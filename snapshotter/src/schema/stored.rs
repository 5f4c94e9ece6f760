//! `backup --backup-schema`: the schema of the first host, taken the way its Cassandra offers it, checked
//! and stored: `DESCRIBE` through cqlsh (`schema.cql`, `schema_<ks>.cql`), or on Cassandra 1.x, which has
//! no current cqlsh, `show schema` through cassandra-cli (`schema.cli`, `schema_<ks>.cli`). What is stored
//! is statements only; output that is not a schema fails the backup with one line naming host and keyspace.

use super::client::{self, ClientTarget};
use super::{Dialect, Schema};
use crate::nodetool::CassandraVersion;
use crate::remote::Remote;
use anyhow::{bail, Result};
use contract::layout;

/// The dialect a node of `version` offers its schema in.
pub fn dialect_of(version: CassandraVersion) -> Dialect {
    if version.major < 2 {
        Dialect::Cli
    } else {
        Dialect::Cql
    }
}

/// One schema object of a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchema {
    /// `None`: the whole schema.
    pub keyspace: Option<String>,
    pub schema: Schema,
}

impl StoredSchema {
    /// Its key: [`layout::schema_key`] for CQL, [`layout::cli_schema_key`] for the CLI.
    pub fn key(&self, base: &str, name: &str) -> String {
        let keyspace = self.keyspace.as_deref();
        match self.schema.dialect {
            Dialect::Cql => layout::schema_key(base, name, keyspace),
            Dialect::Cli => layout::cli_schema_key(base, name, keyspace),
        }
    }
}

/// The statement printing the schema of `keyspace` (all when `None`).
pub fn describe(dialect: Dialect, keyspace: Option<&str>) -> String {
    match (dialect, keyspace) {
        (Dialect::Cql, Some(ks)) => format!("DESCRIBE KEYSPACE {ks};\n"),
        (Dialect::Cql, None) => "DESCRIBE SCHEMA;\n".to_string(),
        (Dialect::Cli, Some(ks)) => format!("show schema {ks};\n"),
        (Dialect::Cli, None) => "show schema;\n".to_string(),
    }
}

/// The schema of each of `keyspaces` (the whole schema when empty), from the node behind `remote`.
pub async fn take(
    remote: &dyn Remote,
    target: &ClientTarget<'_>,
    version: CassandraVersion,
    keyspaces: &[String],
) -> Result<Vec<StoredSchema>> {
    let dialect = dialect_of(version);
    let host = remote.host();
    let wanted: Vec<Option<&str>> = if keyspaces.is_empty() {
        vec![None]
    } else {
        keyspaces.iter().map(|ks| Some(ks.as_str())).collect()
    };
    let mut out = Vec::new();
    for keyspace in wanted {
        let statement = describe(dialect, keyspace);
        let what = match keyspace {
            Some(ks) => format!("keyspace {ks}"),
            None => "the whole schema".to_string(),
        };
        let (command, stdin) = client::command(dialect, target, &statement);
        let result = remote.run(&command, Some(&stdin)).await?;
        let client = dialect.client();
        let statement = statement.trim();
        if !result.success() {
            bail!(
                "{host}: {client} `{statement}` for {what} failed: {}",
                result.reason()
            );
        }
        let schema = Schema::parse(dialect, &result.stdout, keyspace).map_err(|error| {
            anyhow::anyhow!(
                "{host}: {client} `{statement}` printed no schema for {what} ({version} node), nothing stored: {error}"
            )
        })?;
        if let Some(ks) = keyspace {
            if schema.keyspace_statement(ks).is_none() {
                bail!("{host}: {client} `{statement}` printed no CREATE KEYSPACE {ks}, nothing stored");
            }
        }
        out.push(StoredSchema {
            keyspace: keyspace.map(str::to_string),
            schema,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tests::{CLI_1_2_KS1, CQLSH_4_0_SHOP};
    use crate::secret::Secret;
    use crate::settings::SchemaSettings;
    use crate::stages::fake::FakeRemote;

    fn settings() -> SchemaSettings {
        SchemaSettings {
            user: Some("admin".into()),
            password: Some(Secret::new("cql-pass-1")),
            host: None,
        }
    }

    fn target(settings: &SchemaSettings) -> ClientTarget<'_> {
        ClientTarget {
            bin_dir: "/usr/bin",
            host: "cassandra@10.0.0.1",
            yaml_path: "/etc/cassandra/cassandra.yaml",
            credentials: settings,
        }
    }

    const V4: CassandraVersion = CassandraVersion { major: 4, minor: 0 };
    const V12: CassandraVersion = CassandraVersion { major: 1, minor: 2 };

    #[tokio::test]
    async fn a_4_0_schema_is_stored_without_cqlshs_warning() {
        let settings = settings();
        let remote = FakeRemote::new("cassandra@10.0.0.1").on("cqlsh", 0, CQLSH_4_0_SHOP);
        let out = take(&remote, &target(&settings), V4, &["shop".into()])
            .await
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].key("b", "20240101000000"),
            "b/20240101000000/schema_shop.cql"
        );
        assert!(out[0].schema.text.starts_with("CREATE KEYSPACE shop"));
        let log = remote.log.lock().unwrap();
        let (script, stdin) = &log[0];
        assert!(!script.contains("cql-pass-1"));
        let stdin = String::from_utf8_lossy(stdin);
        assert!(
            stdin.ends_with("password = cql-pass-1\nDESCRIBE KEYSPACE shop;\n"),
            "{stdin}"
        );
    }

    #[tokio::test]
    async fn output_that_is_not_a_schema_fails_naming_host_and_keyspace() {
        let settings = settings();
        let remote = FakeRemote::new("n1").on(
            "cqlsh",
            0,
            "WARNING: cqlsh was built against 5.0.0, but this server is 4.0.11.  All features may not work!\n\
             Keyspace 'shop' not found.\n",
        );
        let error = take(&remote, &target(&settings), V4, &["shop".into()])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("n1: cqlsh `DESCRIBE KEYSPACE shop;` printed no schema for keyspace shop (4.0 node), nothing stored: line 2:"),
            "{error}"
        );
        let other =
            FakeRemote::new("n1").on("cqlsh", 0, "CREATE KEYSPACE other WITH replication = {};\n");
        let error = take(&other, &target(&settings), V4, &["shop".into()])
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("no CREATE KEYSPACE shop"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_1_2_node_gives_its_schema_through_cassandra_cli() {
        let settings = SchemaSettings {
            user: None,
            password: None,
            host: None,
        };
        let remote = FakeRemote::new("n1").on("cassandra-cli", 0, CLI_1_2_KS1);
        let out = take(&remote, &target(&settings), V12, &["ks1".into()])
            .await
            .unwrap();
        assert_eq!(
            out[0].key("b", "20240101000000"),
            "b/20240101000000/schema_ks1.cli"
        );
        assert_eq!(out[0].schema.dialect, Dialect::Cli);
        let log = remote.log.lock().unwrap();
        assert_eq!(log[0].1, b"show schema ks1;\n");
    }
}
