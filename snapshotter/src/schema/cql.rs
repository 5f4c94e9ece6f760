//! cqlsh's `DESCRIBE` output: the notices it prints around the CQL, and what each `CREATE` creates.

use super::lexer::head_tokens;
use super::{Dialect, Object};

/// The line a cqlsh newer than the server prints first (cqlsh 6.x `check_build_versions`):
/// `WARNING: cqlsh was built against 5.0.0, but this server is 4.0.11.  All features may not work!`.
const VERSION_WARNING_START: &str = "WARNING: cqlsh was built against ";
const VERSION_WARNING_END: &str = "All features may not work!";

/// `output` with cqlsh's version warning lines blanked (so that line numbers stay those of `output`).
pub fn strip_notices(output: &str) -> String {
    let is_notice = |line: &str| {
        let line = line.trim();
        line.starts_with(VERSION_WARNING_START) && line.ends_with(VERSION_WARNING_END)
    };
    let kept: Vec<&str> = output
        .lines()
        .map(|line| if is_notice(line) { "" } else { line })
        .collect();
    kept.join("\n")
}

/// What a statement creates; `None` for anything that is not a schema `CREATE`.
pub fn classify(statement: &str, current: Option<&str>) -> Option<Object> {
    let tokens = head_tokens(statement, Dialect::Cql);
    let mut at = Cursor {
        tokens: &tokens,
        i: 0,
    };
    if !at.eat("create") {
        return None;
    }
    at.eat_all(&["or", "replace"]);
    let object = if at.eat("keyspace") {
        at.eat_all(&["if", "not", "exists"]);
        Object::Keyspace(at.name()?)
    } else if at.eat("table") || at.eat("columnfamily") {
        at.eat_all(&["if", "not", "exists"]);
        let (keyspace, table) = at.qualified(current)?;
        Object::Table { keyspace, table }
    } else if at.eat("index") || (at.eat("custom") && at.eat("index")) || at.eat("trigger") {
        // The index or trigger name is optional (indexes) or any word: what counts is the table after ON.
        while at.peek()? != "on" {
            at.i += 1;
        }
        at.i += 1;
        let (keyspace, table) = at.qualified(current)?;
        Object::OnTable { keyspace, table }
    } else if at.eat("materialized") && at.eat("view") {
        let lower = statement.to_lowercase();
        let from = lower.find(" from ")? + " from ".len();
        let base = head_tokens(&statement[from..], Dialect::Cql);
        let (keyspace, table) = Cursor {
            tokens: &base,
            i: 0,
        }
        .qualified(current)?;
        Object::OnTable { keyspace, table }
    } else {
        let kind = at.peek()?.to_string();
        if !matches!(kind.as_str(), "type" | "function" | "aggregate") {
            return None;
        }
        at.i += 1;
        at.eat_all(&["if", "not", "exists"]);
        let (keyspace, name) = at.qualified(current)?;
        Object::KeyspaceItem {
            keyspace,
            kind,
            name,
        }
    };
    Some(object)
}

/// A position in a statement's head tokens.
struct Cursor<'a> {
    tokens: &'a [String],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.i).map(String::as_str)
    }

    /// Steps over `word` (an unquoted keyword) when it is next.
    fn eat(&mut self, word: &str) -> bool {
        let found = self.peek() == Some(word);
        if found {
            self.i += 1;
        }
        found
    }

    /// Steps over `words` when they all come next.
    fn eat_all(&mut self, words: &[&str]) {
        let end = self.i + words.len();
        if self.tokens.get(self.i..end).is_some_and(|t| t == words) {
            self.i = end;
        }
    }

    /// A name: a quoted one as written, an unquoted one lower-cased (as the lexer left it).
    fn name(&mut self) -> Option<String> {
        let token = self.peek()?;
        let name = match token.strip_prefix('"') {
            Some(quoted) => quoted.to_string(),
            None if token == "." => return None,
            None => token.to_string(),
        };
        self.i += 1;
        Some(name)
    }

    /// `ks.name`, or `name` in the `current` keyspace.
    fn qualified(&mut self, current: Option<&str>) -> Option<(String, String)> {
        let first = self.name()?;
        if self.eat(".") {
            let second = self.name()?;
            return Some((first, second));
        }
        Some((current?.to_string(), first))
    }
}
