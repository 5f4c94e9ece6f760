//! Finding and reading the config file, and turning its TOML values into the words clap parses.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The variable naming the config file, like `--config`.
pub const CONFIG_ENV: &str = "CASSANDRA_SNAPSHOTTER_CONFIG";
/// The config file's directory under the XDG config home.
const APP_DIR: &str = "cassandra-snapshotter";
const FILE_NAME: &str = "config.toml";

/// Where the config file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Named by `--config` or `$CASSANDRA_SNAPSHOTTER_CONFIG`: it must exist.
    Named(PathBuf),
    /// The per-user default: read when it exists.
    Default(PathBuf),
    /// Neither HOME nor XDG_CONFIG_HOME is set: no file.
    Nowhere,
}

/// Where the config file is for this command line: `--config FILE` (the last one given before a `--`),
/// else `$CASSANDRA_SNAPSHOTTER_CONFIG`, else the XDG default.
///
/// The command line is scanned before clap parses it because the file decides what clap is given. Only
/// the spellings `--config FILE` and `--config=FILE` exist, so a scan finds them; a `--config` that is the
/// value of another flag would be misread, which no flag here invites.
pub fn locate(argv: &[OsString], env: &dyn Fn(&str) -> Option<OsString>) -> Location {
    let mut named = None;
    let mut words = argv.iter().skip(1);
    while let Some(word) = words.next() {
        let Some(text) = word.to_str() else { continue };
        if text == "--" {
            break;
        }
        if text == "--config" {
            named = words.next().cloned();
        } else if let Some(value) = text.strip_prefix("--config=") {
            named = Some(OsString::from(value));
        }
    }
    let named = named.or_else(|| env(CONFIG_ENV).filter(|v| !v.is_empty()));
    if let Some(path) = named {
        return Location::Named(PathBuf::from(path));
    }
    // The XDG spec ignores a relative XDG_CONFIG_HOME.
    let config_home = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        });
    match config_home {
        Some(dir) => Location::Default(dir.join(APP_DIR).join(FILE_NAME)),
        None => Location::Nowhere,
    }
}

/// A parsed config file.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// Top-level keys: defaults for every subcommand with that flag.
    pub top: BTreeMap<String, toml::Value>,
    /// `[name]` tables: defaults for that subcommand only.
    pub sections: BTreeMap<String, BTreeMap<String, toml::Value>>,
}

impl ConfigFile {
    /// Read the file at `location`; `None` when the default file does not exist.
    pub fn load(location: &Location) -> Result<Option<ConfigFile>> {
        let path = match location {
            Location::Nowhere => return Ok(None),
            Location::Default(path) if !path.exists() => return Ok(None),
            Location::Default(path) | Location::Named(path) => path,
        };
        let text = fs_err::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        ConfigFile::parse(path, &text).map(Some)
    }

    /// Parse `text`, the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile> {
        let table: toml::Table = toml::from_str(text).map_err(|error| {
            let at = error
                .span()
                .map(|span| {
                    let (line, column) = line_and_column(text, span.start);
                    format!(" at line {line} column {column}")
                })
                .unwrap_or_default();
            anyhow::anyhow!(
                "config file {}: not valid TOML{at}: {}",
                path.display(),
                error.message().trim()
            )
        })?;
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            top: BTreeMap::new(),
            sections: BTreeMap::new(),
        };
        for (key, value) in table {
            match value {
                toml::Value::Table(section) => {
                    file.sections.insert(key, section.into_iter().collect());
                }
                value => {
                    file.top.insert(key, value);
                }
            }
        }
        Ok(file)
    }

    /// Where a relative path in the file is taken from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// How a flag takes its value, which decides what TOML values fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A flag without a value (`--json`): a TOML boolean.
    Switch,
    /// One value (`--sshport 22`): a string, integer or boolean.
    Single,
    /// A comma list (`--hosts a,b`): an array, or a string with commas.
    List,
    /// A local file or directory: a string; `~/` is the home directory, a relative path is relative to
    /// the config file.
    LocalPath,
}

/// The words clap gets for `value` of `key` in `file`, or a one-line error naming both.
pub fn words(
    file: &ConfigFile,
    key: &str,
    value: &toml::Value,
    shape: Shape,
    home: Option<&OsStr>,
) -> Result<Vec<String>> {
    let wrong = |expected: &str| {
        anyhow::anyhow!(
            "config file {}: key {key} must be {expected}, not {}",
            file.path.display(),
            value.type_str()
        )
    };
    let scalar = |value: &toml::Value| match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(number) => Some(number.to_string()),
        toml::Value::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    };
    match shape {
        Shape::Switch => match value {
            toml::Value::Boolean(flag) => Ok(vec![flag.to_string()]),
            _ => Err(wrong("true or false")),
        },
        Shape::Single => scalar(value)
            .map(|w| vec![w])
            .ok_or_else(|| wrong("a single value")),
        Shape::List => match value {
            toml::Value::Array(items) => items
                .iter()
                .map(|item| scalar(item).ok_or_else(|| wrong("a list of strings")))
                .collect(),
            other => scalar(other)
                .map(|w| vec![w])
                .ok_or_else(|| wrong("a list of strings")),
        },
        Shape::LocalPath => {
            let toml::Value::String(text) = value else {
                return Err(wrong("a path string"));
            };
            if text.is_empty() {
                bail!("config file {}: key {key} is empty", file.path.display());
            }
            let path = match text.strip_prefix("~/") {
                Some(rest) => match home {
                    Some(home) => Path::new(home).join(rest),
                    None => bail!(
                        "config file {}: key {key} starts with ~/ but HOME is not set",
                        file.path.display()
                    ),
                },
                None => file.dir().join(text),
            };
            let path = path
                .to_str()
                .with_context(|| {
                    format!(
                        "config file {}: key {key} is not UTF-8",
                        file.path.display()
                    )
                })?
                .to_string();
            Ok(vec![path])
        }
    }
}
