//! The schema a backup stores and a restore applies, as text the cluster's own client reads back:
//!
//! - CQL ([`Dialect::Cql`], `schema.cql` / `schema_<ks>.cql`): `DESCRIBE` output of cqlsh. A current cqlsh
//!   prints `WARNING: cqlsh was built against 5.0.0, but this server is 4.0.11.  All features may not
//!   work!` before it; that line is taken out, and what is left must be `CREATE` statements (and comments).
//! - The Thrift CLI ([`Dialect::Cli`], `schema.cli` / `schema_<ks>.cli`): `show schema` of cassandra-cli,
//!   the way Cassandra 1.2 offers its schema (1.2 has no current cqlsh). `create keyspace`, `use` and
//!   `create column family` statements; cassandra-cli's connection banner is taken out.
//!
//! [`Schema::parse`] checks the text and tells what each statement creates, so that a restore can apply
//! only what is missing and refuse to touch what exists.

mod cli;
pub mod client;
mod cql;
mod lexer;
pub mod stored;

use std::collections::BTreeSet;

/// The language a stored schema is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Cql,
    Cli,
}

impl Dialect {
    /// The client that reads it back: `cqlsh` or `cassandra-cli`.
    pub fn client(self) -> &'static str {
        match self {
            Dialect::Cql => "cqlsh",
            Dialect::Cli => "cassandra-cli",
        }
    }
}

/// Why a text is not a schema this tool stores or applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("line {line}: a statement that does not end with `;`: `{text}`")]
    Unterminated { line: usize, text: String },
    #[error("line {line}: not a {what} statement: `{text}`")]
    NotSchema {
        line: usize,
        what: &'static str,
        text: String,
    },
    #[error("no CREATE statement in it: `{first}`")]
    Empty { first: String },
}

/// What one statement creates (or, for `use`, selects). Names are as Cassandra stores them: unquoted CQL
/// names lower-cased, quoted ones and the CLI's as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Keyspace(String),
    /// `use ks;` of the Thrift CLI.
    Use(String),
    Table {
        keyspace: String,
        table: String,
    },
    /// A secondary index, trigger or materialized view, which belongs to `table`.
    OnTable {
        keyspace: String,
        table: String,
    },
    /// A user type, function or aggregate: needed by the tables, owned by the keyspace.
    KeyspaceItem {
        keyspace: String,
        kind: String,
        name: String,
    },
}

impl Object {
    pub fn keyspace(&self) -> &str {
        match self {
            Object::Keyspace(ks) | Object::Use(ks) => ks,
            Object::Table { keyspace, .. }
            | Object::OnTable { keyspace, .. }
            | Object::KeyspaceItem { keyspace, .. } => keyspace,
        }
    }
}

/// One checked statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// From its first word to its `;`.
    pub text: String,
    pub object: Object,
}

/// A checked schema text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub dialect: Dialect,
    /// The text to store: the client's output without its notices.
    pub text: String,
    pub statements: Vec<Statement>,
}

impl Schema {
    /// Check a client's output: take out the notices the client prints around a schema, and make sure the
    /// rest is statements of `dialect` only. `keyspace` is the keyspace a `DESCRIBE KEYSPACE`/`show
    /// schema ks` was for (names without a keyspace belong to it).
    pub fn parse(
        dialect: Dialect,
        output: &str,
        keyspace: Option<&str>,
    ) -> Result<Self, SchemaError> {
        let text = match dialect {
            Dialect::Cql => cql::strip_notices(output),
            Dialect::Cli => cli::strip_notices(output),
        };
        let raw = lexer::statements(&text, dialect)?;
        let text = format!("{}\n", text.trim());
        let mut current = keyspace.map(str::to_string);
        let mut statements = Vec::new();
        for statement in raw {
            let object = match dialect {
                Dialect::Cql => cql::classify(&statement.text, current.as_deref()),
                Dialect::Cli => cli::classify(&statement.text, current.as_deref()),
            }
            .ok_or_else(|| SchemaError::NotSchema {
                line: statement.line,
                what: match dialect {
                    Dialect::Cql => "CQL CREATE",
                    Dialect::Cli => "cassandra-cli schema",
                },
                text: lexer::first_line(&statement.text),
            })?;
            if let Object::Keyspace(ks) | Object::Use(ks) = &object {
                current = Some(ks.clone());
            }
            statements.push(Statement {
                text: statement.text,
                object,
            });
        }
        if !statements
            .iter()
            .any(|s| !matches!(s.object, Object::Use(_)))
        {
            return Err(SchemaError::Empty {
                first: lexer::first_line(output),
            });
        }
        Ok(Schema {
            dialect,
            text,
            statements,
        })
    }

    /// Like [`Schema::parse`], for the schema a cluster has now, which may be empty (a new cluster's
    /// `DESCRIBE SCHEMA` prints nothing).
    pub fn parse_current(dialect: Dialect, output: &str) -> Result<Self, SchemaError> {
        match Self::parse(dialect, output, None) {
            Err(SchemaError::Empty { .. }) => Ok(Schema {
                dialect,
                text: String::new(),
                statements: Vec::new(),
            }),
            other => other,
        }
    }

    /// The keyspaces it creates.
    pub fn keyspaces(&self) -> BTreeSet<String> {
        self.statements
            .iter()
            .filter_map(|s| match &s.object {
                Object::Keyspace(ks) => Some(ks.clone()),
                _ => None,
            })
            .collect()
    }

    /// The tables of `keyspace` it creates.
    pub fn tables(&self, keyspace: &str) -> BTreeSet<String> {
        self.statements
            .iter()
            .filter_map(|s| match &s.object {
                Object::Table {
                    keyspace: ks,
                    table,
                } if ks == keyspace => Some(table.clone()),
                _ => None,
            })
            .collect()
    }

    /// The statement creating `keyspace`.
    pub fn keyspace_statement(&self, keyspace: &str) -> Option<&Statement> {
        self.statements
            .iter()
            .find(|s| matches!(&s.object, Object::Keyspace(ks) if ks == keyspace))
    }

    /// The replication factor of `keyspace` (all data centers together), when its statement says it.
    pub fn replication_factor(&self, keyspace: &str) -> Option<u32> {
        let statement = self.keyspace_statement(keyspace)?;
        replication_sum(&statement.text, self.dialect)
    }
}

/// The sum of the numbers in a keyspace's replication map (`'replication_factor': '3'`, `'dc1': '2'`,
/// the CLI's `strategy_options = {replication_factor : 1}`); `None` without one.
fn replication_sum(statement: &str, dialect: Dialect) -> Option<u32> {
    let lower = statement.to_lowercase();
    let key = match dialect {
        Dialect::Cql => "replication",
        Dialect::Cli => "strategy_options",
    };
    let at = lower.find(key)?;
    let open = at + lower[at..].find('{')?;
    let close = open + lower[open..].find('}')?;
    let mut sum = 0;
    let mut any = false;
    for pair in statement[open + 1..close].split(',') {
        let Some((name, value)) = pair.split_once(':') else {
            continue;
        };
        if name.trim().trim_matches('\'').eq_ignore_ascii_case("class") {
            continue;
        }
        if let Ok(n) = value.trim().trim_matches('\'').parse::<u32>() {
            sum += n;
            any = true;
        }
    }
    any.then_some(sum)
}

#[cfg(test)]
pub(crate) mod tests;
