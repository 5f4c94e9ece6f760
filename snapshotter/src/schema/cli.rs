//! cassandra-cli's `show schema` output (Cassandra 1.2's own way to print its schema): the banner it
//! prints before the script, and what each statement creates.

use super::lexer::head_tokens;
use super::{Dialect, Object};

/// `output` with cassandra-cli's banner blanked (`Connected to: "Test Cluster" on 127.0.0.2/9160`,
/// `Welcome to Cassandra CLI version 1.2.0`, the `Type 'help;'` lines), so that line numbers stay those of
/// `output`.
pub fn strip_notices(output: &str) -> String {
    let is_notice = |line: &str| {
        let line = line.trim();
        line.starts_with("Connected to: ")
            || line.starts_with("Welcome to Cassandra CLI version ")
            || line == "Type 'help;' or '?' for help."
            || line == "Type 'quit;' or 'exit;' to quit."
    };
    let kept: Vec<&str> = output
        .lines()
        .map(|line| if is_notice(line) { "" } else { line })
        .collect();
    kept.join("\n")
}

/// What a statement creates or selects; `None` for anything else (a `set`, `drop`, `update` ...).
pub fn classify(statement: &str, current: Option<&str>) -> Option<Object> {
    let tokens = head_tokens(statement, Dialect::Cli);
    let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    match lower.as_slice() {
        ["use", _, ..] => Some(Object::Use(name(words[1]))),
        ["create", "keyspace", _, ..] => Some(Object::Keyspace(name(words[2]))),
        ["create", "column", "family", _, ..] => Some(Object::Table {
            keyspace: current?.to_string(),
            table: name(words[3]),
        }),
        _ => None,
    }
}

/// A CLI name; the lexer marks a double-quoted one with a leading `"`.
fn name(token: &str) -> String {
    token.trim_start_matches('"').to_string()
}
