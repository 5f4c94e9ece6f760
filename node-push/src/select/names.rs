//! Cassandra's on-disk names: keyspace dirs, table dirs (`users` in 1.2/2.0, `users-<32 hex id>` from 2.1),
//! and the `--exclude-tables` rules matched against them.

use super::SelectError;

/// The table name of a table directory: `users-4d7f…` (32 hex digits, 2.1+) -> `users`; `users` (1.2,
/// 2.0) -> `users`. Anything else is returned unchanged.
pub fn table_name(table_dir: &str) -> &str {
    match table_dir.rsplit_once('-') {
        Some((name, id)) if !name.is_empty() && is_table_id(id) => name,
        _ => table_dir,
    }
}

/// The table id suffix Cassandra 2.1+ appends: a UUID written as 32 hex digits without dashes.
fn is_table_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Whether `name` can be a keyspace or table name: Cassandra only allows `\w+` (ASCII letters, digits,
/// underscore). Directories with other names (`lost+found` on a mount point, editor or tool leftovers)
/// are not Cassandra's and are not walked.
pub(crate) fn is_cassandra_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// One `--exclude-tables` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExcludeRule {
    /// `table`: that table in every keyspace.
    AnyKeyspace { table: String },
    /// `keyspace.table`: only in that keyspace.
    InKeyspace { keyspace: String, table: String },
}

impl ExcludeRule {
    /// Parses an entry; both parts must be non-empty and there is at most one dot (names cannot hold
    /// dots). Surrounding whitespace, as in `a, b`, is ignored.
    pub(crate) fn parse(entry: &str) -> Result<Self, SelectError> {
        let trimmed = entry.trim();
        let invalid = || SelectError::InvalidExclude {
            entry: entry.to_string(),
        };
        let rule = match trimmed.split_once('.') {
            None => ExcludeRule::AnyKeyspace {
                table: trimmed.to_string(),
            },
            Some((keyspace, table)) => ExcludeRule::InKeyspace {
                keyspace: keyspace.to_string(),
                table: table.to_string(),
            },
        };
        let parts_valid = match &rule {
            ExcludeRule::AnyKeyspace { table } => is_cassandra_identifier(table),
            ExcludeRule::InKeyspace { keyspace, table } => {
                is_cassandra_identifier(keyspace) && is_cassandra_identifier(table)
            }
        };
        if parts_valid {
            Ok(rule)
        } else {
            Err(invalid())
        }
    }

    /// Whether the rule excludes `table` (a table name, not a directory name) of `keyspace`.
    pub(crate) fn matches(&self, keyspace: &str, table: &str) -> bool {
        match self {
            ExcludeRule::AnyKeyspace { table: excluded } => excluded == table,
            ExcludeRule::InKeyspace {
                keyspace: excluded_keyspace,
                table: excluded,
            } => excluded_keyspace == keyspace && excluded == table,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_name_strips_only_a_32_hex_id() {
        assert_eq!(
            table_name("users-4d7f1e30a1b211eeb962_0242ac120002"),
            "users-4d7f1e30a1b211eeb962_0242ac120002"
        );
        assert_eq!(
            table_name("users-4d7f1e30a1b211eeb9620242ac120002"),
            "users"
        );
        assert_eq!(
            table_name("user_events_2-0123456789ABCDEF0123456789abcdef"),
            "user_events_2"
        );
        assert_eq!(table_name("users"), "users");
        assert_eq!(table_name("users-1234"), "users-1234");
        assert_eq!(
            table_name("-4d7f1e30a1b211eeb9620242ac120002"),
            "-4d7f1e30a1b211eeb9620242ac120002"
        );
        assert_eq!(
            table_name("users-4d7f1e30a1b211eeb9620242ac12000"),
            "users-4d7f1e30a1b211eeb9620242ac12000"
        );
        assert_eq!(table_name(""), "");
    }

    #[test]
    fn identifiers_are_word_characters_only() {
        assert!(is_cassandra_identifier("system_schema"));
        assert!(is_cassandra_identifier("ks2024"));
        assert!(!is_cassandra_identifier("lost+found"));
        assert!(!is_cassandra_identifier(".users_email_idx"));
        assert!(!is_cassandra_identifier("a.b"));
        assert!(!is_cassandra_identifier(""));
    }

    #[test]
    fn exclude_rules_parse_and_match_table_names() {
        let any = ExcludeRule::parse(" events ").unwrap();
        assert!(any.matches("ks1", "events"));
        assert!(any.matches("ks2", "events"));
        assert!(!any.matches("ks1", "events2"));

        let scoped = ExcludeRule::parse("ks1.events").unwrap();
        assert!(scoped.matches("ks1", "events"));
        assert!(!scoped.matches("ks2", "events"));

        for bad in ["", "ks.", ".t", "a.b.c", "ks/t", "t-1"] {
            let error = ExcludeRule::parse(bad).unwrap_err();
            assert!(matches!(error, SelectError::InvalidExclude { ref entry } if entry == bad));
        }
    }
}
