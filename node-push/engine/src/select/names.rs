//! Cassandra's on-disk names: keyspace dirs and table dirs (`users` in 1.2/2.0, `users-<32 hex id>` from
//! 2.1).

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
}
