//! Which tables of the selected keyspaces are taken: `--table` and `--exclude-tables`, both matched on
//! table names (`users`, never the `users-<id>` dir name), for snapshots and incrementals alike.

use super::names::is_cassandra_identifier;
use super::SelectError;

/// One `--exclude-tables` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExcludeRule {
    /// `table`: that table in every keyspace.
    AnyKeyspace { table: String },
    /// `keyspace.table`: only in that keyspace.
    InKeyspace { keyspace: String, table: String },
}

impl ExcludeRule {
    /// Parses an entry; both parts must be Cassandra names, so there is at most one dot. Surrounding
    /// whitespace, as in `a, b`, is ignored.
    pub(crate) fn parse(entry: &str) -> Result<Self, SelectError> {
        let trimmed = entry.trim();
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
            Err(SelectError::InvalidExclude {
                entry: entry.to_string(),
            })
        }
    }

    /// Whether the rule excludes `table` (a table name) of `keyspace`.
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

/// The table filter of one selection, remembering what it matched so that a `--table` found nowhere is
/// an error and exclude entries that matched nothing can be reported.
#[derive(Debug)]
pub(crate) struct TableFilter {
    only: Option<String>,
    only_found: bool,
    /// Each rule with its entry as written (trimmed) and whether it matched a table.
    excludes: Vec<(String, ExcludeRule, bool)>,
}

impl TableFilter {
    pub(crate) fn new(only: Option<&str>, exclude_entries: &[String]) -> Result<Self, SelectError> {
        let excludes = exclude_entries
            .iter()
            .map(|entry| Ok((entry.trim().to_string(), ExcludeRule::parse(entry)?, false)))
            .collect::<Result<_, SelectError>>()?;
        Ok(TableFilter {
            only: only.map(str::to_string),
            only_found: false,
            excludes,
        })
    }

    /// Whether `table` of `keyspace` is taken. Every table of the selected keyspaces must be offered, so
    /// that exclude entries count as matched even when `--table` leaves their table out anyway.
    pub(crate) fn admits(&mut self, keyspace: &str, table: &str) -> bool {
        let mut excluded = false;
        for (_, rule, matched) in &mut self.excludes {
            if rule.matches(keyspace, table) {
                *matched = true;
                excluded = true;
            }
        }
        if self.only.as_deref().is_some_and(|only| only != table) {
            return false;
        }
        self.only_found = true;
        !excluded
    }

    /// Fails if `--table` was given and no selected keyspace had it (even if it was then excluded).
    pub(crate) fn check_table_found(&self, keyspaces: &[String]) -> Result<(), SelectError> {
        match &self.only {
            Some(table) if !self.only_found => Err(SelectError::TableNotFound {
                table: table.clone(),
                keyspaces: keyspaces.join(", "),
            }),
            _ => Ok(()),
        }
    }

    /// The exclude entries that matched no table, as written.
    pub(crate) fn unmatched_excludes(&self) -> Vec<String> {
        self.excludes
            .iter()
            .filter(|(_, _, matched)| !matched)
            .map(|(entry, _, _)| entry.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn filter_tracks_table_and_exclude_matches() {
        let excludes = ["ks1.events".to_string(), "ghost".to_string()];
        let mut filter = TableFilter::new(Some("users"), &excludes).unwrap();
        let keyspaces = ["ks1".to_string()];
        assert!(filter.check_table_found(&keyspaces).is_err());
        assert!(!filter.admits("ks1", "events"));
        assert!(filter.check_table_found(&keyspaces).is_err());
        assert!(filter.admits("ks1", "users"));
        assert!(filter.check_table_found(&keyspaces).is_ok());
        // ks1.events matched although --table would have left it out anyway.
        assert_eq!(filter.unmatched_excludes(), ["ghost"]);

        let mut everything = TableFilter::new(None, &[]).unwrap();
        assert!(everything.admits("system", "local"));
        assert!(everything.check_table_found(&[]).is_ok());
    }
}
