//! Splits schema text into statements at the `;` that end them, the way cqlsh and cassandra-cli read a
//! script: a `;` inside a string, a quoted name, a `$$` body or a comment ends nothing.
//!
//! Comments are `-- …` and `/* … */` in both languages, and `// …` in CQL. Strings are single-quoted: CQL
//! doubles a quote inside (`'it''s'`), the Thrift CLI escapes it with a backslash (`'it\'s'`).

use super::{Dialect, SchemaError};

/// One statement: its text from its first word to its `;` (inclusive), and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawStatement {
    pub text: String,
    pub line: usize,
}

/// The statements of `text`, in order. Text after the last `;` other than blanks and comments is an
/// error (a statement that never ends), as is an unterminated string, name, body or comment.
pub fn statements(text: &str, dialect: Dialect) -> Result<Vec<RawStatement>, SchemaError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut line = 1;
    let mut start_line = 1;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        let opened_at = line;
        let end = match (b, next) {
            (b'\n', _) => {
                line += 1;
                i += 1;
                continue;
            }
            (b'-', Some(b'-')) => skip_line(bytes, i),
            (b'/', Some(b'/')) if dialect == Dialect::Cql => skip_line(bytes, i),
            (b'/', Some(b'*')) => find(bytes, i + 2, b"*/")
                .map(|e| e + 2)
                .ok_or_else(|| unterminated("comment", opened_at))?,
            _ => {
                if start.is_none() && !b.is_ascii_whitespace() {
                    start = Some(i);
                    start_line = line;
                }
                match (b, next) {
                    (b'\'', _) => quoted(bytes, i, b'\'', dialect)
                        .ok_or_else(|| unterminated("string", opened_at))?,
                    (b'"', _) => quoted(bytes, i, b'"', Dialect::Cql)
                        .ok_or_else(|| unterminated("quoted name", opened_at))?,
                    (b'$', Some(b'$')) if dialect == Dialect::Cql => find(bytes, i + 2, b"$$")
                        .map(|e| e + 2)
                        .ok_or_else(|| unterminated("$$ body", opened_at))?,
                    (b';', _) => {
                        let from = start.take().unwrap_or(i);
                        out.push(RawStatement {
                            text: text[from..=i].to_string(),
                            line: start_line,
                        });
                        i + 1
                    }
                    _ => i + 1,
                }
            }
        };
        line += bytes[i..end].iter().filter(|&&c| c == b'\n').count();
        i = end;
    }
    if let Some(from) = start {
        return Err(SchemaError::Unterminated {
            line: start_line,
            text: first_line(&text[from..]),
        });
    }
    Ok(out)
}

/// The end of the comment line starting at `i` (the newline itself is left to the caller).
fn skip_line(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(bytes.len(), |p| i + p)
}

/// The index of the first `needle` at or after `from`.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The end (exclusive) of the quoted run opening at `i` with `quote`.
fn quoted(bytes: &[u8], i: usize, quote: u8, dialect: Dialect) -> Option<usize> {
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if dialect == Dialect::Cli => j += 2,
            c if c == quote => {
                if dialect == Dialect::Cql && bytes.get(j + 1) == Some(&quote) {
                    j += 2;
                } else {
                    return Some(j + 1);
                }
            }
            _ => j += 1,
        }
    }
    None
}

fn unterminated(what: &str, line: usize) -> SchemaError {
    SchemaError::Unterminated {
        line,
        text: format!("a {what} that is never closed"),
    }
}

/// The first line of `text`, trimmed and cut to 80 characters, for messages.
pub fn first_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    match line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// The words and names at the start of a statement, for telling what it creates: unquoted words
/// lower-cased (CQL) or as written (the CLI's names are case-sensitive), quoted names as written, `.`
/// on its own; it stops at the first `(`, `{`, `=` or string.
pub fn head_tokens(statement: &str, dialect: Dialect) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = statement.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '.' => tokens.push(".".to_string()),
            '"' => {
                let mut name = String::new();
                while let Some((_, c)) = chars.next() {
                    if c == '"' {
                        if chars.peek().map(|&(_, c)| c) == Some('"') {
                            chars.next();
                            name.push('"');
                            continue;
                        }
                        break;
                    }
                    name.push(c);
                }
                tokens.push(format!("\"{name}"));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut end = at + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' {
                        end = i + c.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &statement[at..end];
                tokens.push(match dialect {
                    Dialect::Cql => word.to_lowercase(),
                    Dialect::Cli => word.to_string(),
                });
            }
            _ => break,
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str, dialect: Dialect) -> Vec<String> {
        statements(text, dialect)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn semicolons_in_strings_names_bodies_and_comments_end_nothing() {
        let cql = "-- a comment; still one\nCREATE TABLE ks.\"a;b\" (x text) WITH comment = 'it''s; fine';\n\
                   /* block; */ CREATE FUNCTION ks.f() RETURNS text LANGUAGE java AS $$ return \"x;\"; $$;\n\
                   // slashes; too\n";
        assert_eq!(
            texts(cql, Dialect::Cql),
            [
                "CREATE TABLE ks.\"a;b\" (x text) WITH comment = 'it''s; fine';",
                "CREATE FUNCTION ks.f() RETURNS text LANGUAGE java AS $$ return \"x;\"; $$;",
            ]
        );
        let cli = "create column family t with comment = 'it\\'s; one';\nuse ks;";
        assert_eq!(
            texts(cli, Dialect::Cli),
            [
                "create column family t with comment = 'it\\'s; one';",
                "use ks;"
            ]
        );
    }

    #[test]
    fn lines_are_counted_and_unended_text_is_an_error() {
        let found = statements("\n\n/* x\n*/\nCREATE KEYSPACE a;\n", Dialect::Cql).unwrap();
        assert_eq!(found[0].line, 5);
        let error = statements(
            "CREATE KEYSPACE a;\nCREATE TABLE a.b (x int)\n",
            Dialect::Cql,
        )
        .unwrap_err();
        assert_eq!(
            error,
            SchemaError::Unterminated {
                line: 2,
                text: "CREATE TABLE a.b (x int)".into()
            }
        );
        assert!(matches!(
            statements(
                "CREATE TABLE a.b (x text) WITH comment = 'open;",
                Dialect::Cql
            ),
            Err(SchemaError::Unterminated { line: 1, .. })
        ));
    }

    #[test]
    fn head_tokens_stop_at_the_body() {
        assert_eq!(
            head_tokens("CREATE TABLE Ks.\"MyTable\" (id int)", Dialect::Cql),
            ["create", "table", "ks", ".", "\"MyTable"]
        );
        assert_eq!(
            head_tokens("create column family Users with x = 1", Dialect::Cli),
            ["create", "column", "family", "Users", "with", "x"]
        );
    }
}
