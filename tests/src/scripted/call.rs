//! The nodetool commands that change a scripted node, parsed from nodetool's arguments (all syntaxes
//! 2.1 to 5.0 accept) and logged as one line each, so that a test can replay what the coordinator did.

use anyhow::{bail, Context, Result};

use super::node::Node;

/// One state-changing nodetool command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodetoolCall {
    Flush {
        keyspace: Option<String>,
        tables: Vec<String>,
    },
    Snapshot {
        tag: String,
        keyspaces: Vec<String>,
        table: Option<String>,
    },
    ClearSnapshot {
        tag: String,
    },
    Refresh {
        keyspace: String,
        table: String,
    },
    Compact {
        keyspace: String,
        table: String,
    },
    /// `nodetool import [options] ks table dir...` (4.0+).
    Import {
        keyspace: String,
        table: String,
        dirs: Vec<String>,
        copy: bool,
    },
}

impl NodetoolCall {
    /// Parse `nodetool <command> <rest...>`.
    pub fn from_args(command: &str, rest: &[String]) -> Result<NodetoolCall> {
        Ok(match command {
            "flush" => NodetoolCall::Flush {
                keyspace: rest.first().cloned(),
                tables: rest.iter().skip(1).cloned().collect(),
            },
            "snapshot" => {
                let mut tag = None;
                let mut table = None;
                let mut keyspaces = Vec::new();
                let mut words = rest.iter();
                while let Some(word) = words.next() {
                    match word.as_str() {
                        "-t" | "--tag" => tag = words.next().cloned(),
                        "-cf" | "--table" | "--column-family" => table = words.next().cloned(),
                        "-sf" | "--skip-flush" => {}
                        other if other.starts_with('-') => bail!("unknown option {other}"),
                        other => keyspaces.extend(other.split(',').map(str::to_string)),
                    }
                }
                NodetoolCall::Snapshot {
                    tag: tag.unwrap_or_else(|| "0".to_string()),
                    keyspaces,
                    table,
                }
            }
            "clearsnapshot" => match rest {
                [flag, tag, ..] if flag == "-t" => NodetoolCall::ClearSnapshot { tag: tag.clone() },
                _ => bail!("clearsnapshot without -t TAG is not supported here"),
            },
            "refresh" => match rest {
                [keyspace, table] => NodetoolCall::Refresh {
                    keyspace: keyspace.clone(),
                    table: table.clone(),
                },
                _ => bail!("refresh needs <keyspace> <table>"),
            },
            "compact" => match rest {
                [keyspace, table] => NodetoolCall::Compact {
                    keyspace: keyspace.clone(),
                    table: table.clone(),
                },
                _ => bail!("compact needs <keyspace> <table> here"),
            },
            "import" => {
                let copy = rest.iter().any(|w| w == "--copy-data" || w == "-c");
                let words: Vec<&String> = rest.iter().filter(|w| !w.starts_with('-')).collect();
                match words.as_slice() {
                    [keyspace, table, dirs @ ..] if !dirs.is_empty() => NodetoolCall::Import {
                        keyspace: keyspace.to_string(),
                        table: table.to_string(),
                        dirs: dirs.iter().map(|d| d.to_string()).collect(),
                        copy,
                    },
                    _ => bail!("import needs <keyspace> <table> <directory>..."),
                }
            }
            other => bail!("nodetool command {other} is not scripted"),
        })
    }

    /// The command as one log line: `flush <ks|-> <t,...|->`, `snapshot <tag> <ks,...|-> <t|->`, ...
    pub fn to_log_line(&self) -> String {
        let or_dash = |v: &[String]| match v.is_empty() {
            true => "-".to_string(),
            false => v.join(","),
        };
        match self {
            NodetoolCall::Flush { keyspace, tables } => format!(
                "flush {} {}",
                keyspace.as_deref().unwrap_or("-"),
                or_dash(tables)
            ),
            NodetoolCall::Snapshot {
                tag,
                keyspaces,
                table,
            } => format!(
                "snapshot {tag} {} {}",
                or_dash(keyspaces),
                table.as_deref().unwrap_or("-")
            ),
            NodetoolCall::ClearSnapshot { tag } => format!("clearsnapshot {tag}"),
            NodetoolCall::Refresh { keyspace, table } => format!("refresh {keyspace} {table}"),
            NodetoolCall::Compact { keyspace, table } => format!("compact {keyspace} {table}"),
            NodetoolCall::Import {
                keyspace,
                table,
                dirs,
                copy,
            } => format!("import {keyspace} {table} {} {copy}", dirs.join(",")),
        }
    }

    /// Parse a line written by [`NodetoolCall::to_log_line`].
    pub fn from_log_line(line: &str) -> Result<NodetoolCall> {
        let words: Vec<&str> = line.split(' ').collect();
        let list = |w: &str| -> Vec<String> {
            match w {
                "-" => Vec::new(),
                _ => w.split(',').map(str::to_string).collect(),
            }
        };
        let opt = |w: &str| (w != "-").then(|| w.to_string());
        Ok(match words.as_slice() {
            ["flush", ks, tables] => NodetoolCall::Flush {
                keyspace: opt(ks),
                tables: list(tables),
            },
            ["snapshot", tag, kss, table] => NodetoolCall::Snapshot {
                tag: tag.to_string(),
                keyspaces: list(kss),
                table: opt(table),
            },
            ["clearsnapshot", tag] => NodetoolCall::ClearSnapshot {
                tag: tag.to_string(),
            },
            ["refresh", ks, t] => NodetoolCall::Refresh {
                keyspace: ks.to_string(),
                table: t.to_string(),
            },
            ["compact", ks, t] => NodetoolCall::Compact {
                keyspace: ks.to_string(),
                table: t.to_string(),
            },
            ["import", ks, t, dirs, copy] => NodetoolCall::Import {
                keyspace: ks.to_string(),
                table: t.to_string(),
                dirs: list(dirs),
                copy: *copy == "true",
            },
            _ => bail!("not a nodetool log line: {line}"),
        })
    }

    /// Do it on `node`.
    pub fn apply(&self, node: &Node) -> Result<()> {
        match self {
            NodetoolCall::Flush { keyspace, tables } if tables.is_empty() => {
                node.flush(keyspace.as_deref(), None)
            }
            NodetoolCall::Flush { keyspace, tables } => {
                for table in tables {
                    node.flush(keyspace.as_deref(), Some(table))?;
                }
                Ok(())
            }
            NodetoolCall::Snapshot {
                tag,
                keyspaces,
                table,
            } => node.snapshot(tag, keyspaces, table.as_deref()),
            NodetoolCall::ClearSnapshot { tag } => node.clear_snapshot(tag),
            NodetoolCall::Refresh { keyspace, table } => node
                .refresh(keyspace, table)
                .with_context(|| format!("refresh {keyspace} {table}")),
            NodetoolCall::Compact { keyspace, table } => node.compact(keyspace, table),
            NodetoolCall::Import {
                keyspace,
                table,
                dirs,
                copy,
            } => {
                for dir in dirs {
                    node.import(keyspace, table, std::path::Path::new(dir), *copy)
                        .with_context(|| format!("import {keyspace} {table} {dir}"))?;
                }
                Ok(())
            }
        }
    }
}
