//! The few `cassandra.yaml` settings a backup needs: where the data lives and whether incremental backups
//! are on.
//!
//! Decisions, since Cassandra itself is lenient in ways that would make a backup silently wrong:
//! - A missing, commented-out, null or empty `data_file_directories` is an error. Cassandra would fall
//!   back to `$CASSANDRA_HOME/data/data`, but guessing `$CASSANDRA_HOME` on the node is how a backup ends
//!   up empty; the user must say where the data is.
//! - Relative data directories are rejected. Cassandra resolves them against its own working directory,
//!   which node-push cannot know, and the S3 key embeds the absolute path.
//! - A single path written as a scalar (`data_file_directories: /a`) is accepted as a one-entry list.
//! - Booleans are read the way Cassandra's YAML 1.1 parser does: `true/false/yes/no/on/off` in lower, Title
//!   or UPPER case. An absent or null `incremental_backups` is `false`, Cassandra's default.
//! - Cassandra 4.0+ may keep the system keyspaces in `local_system_data_file_directory`; it is reported
//!   separately and included by [`YamlSettings::dirs_to_walk`].

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use super::SelectError;

const DATA_DIRS_KEY: &str = "data_file_directories";
const LOCAL_SYSTEM_DATA_DIR_KEY: &str = "local_system_data_file_directory";
const INCREMENTAL_BACKUPS_KEY: &str = "incremental_backups";

/// What node-push takes from `cassandra.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlSettings {
    /// `data_file_directories`, in file order, duplicates removed, trailing slashes dropped.
    pub data_dirs: Vec<PathBuf>,
    /// `local_system_data_file_directory` (Cassandra 4.0+), when set.
    pub local_system_data_dir: Option<PathBuf>,
    /// `incremental_backups: true`: Cassandra hard-links each flushed SSTable into `backups/`.
    pub incremental_backups: bool,
}

impl YamlSettings {
    /// Every directory that can hold keyspaces: the data directories, then the local system data
    /// directory if it is set and not already one of them.
    pub fn dirs_to_walk(&self) -> Vec<PathBuf> {
        let mut dirs = self.data_dirs.clone();
        if let Some(system_dir) = &self.local_system_data_dir {
            if !dirs.contains(system_dir) {
                dirs.push(system_dir.clone());
            }
        }
        dirs
    }
}

/// The `cassandra.yaml` to read for a `--cassandra-conf-path`: the old tool's option names the directory
/// holding it (`/etc/cassandra/conf/`), but a path to the file itself is accepted too.
pub fn locate_cassandra_yaml(conf_path: &Path) -> PathBuf {
    let names_a_yaml_file = conf_path.is_file()
        || conf_path
            .extension()
            .is_some_and(|extension| extension == "yaml" || extension == "yml");
    if names_a_yaml_file {
        conf_path.to_path_buf()
    } else {
        conf_path.join("cassandra.yaml")
    }
}

/// The directories to walk, from a `cassandra.yaml`: `data_file_directories` plus, when set,
/// `local_system_data_file_directory` (see [`YamlSettings::dirs_to_walk`]).
pub fn data_dirs_from_yaml(path: &Path) -> Result<Vec<PathBuf>, SelectError> {
    Ok(cassandra_yaml_settings(path)?.dirs_to_walk())
}

/// Reads and checks the settings node-push needs from the `cassandra.yaml` at `path`.
pub fn cassandra_yaml_settings(path: &Path) -> Result<YamlSettings, SelectError> {
    let text = fs_err::read_to_string(path).map_err(|source| SelectError::ConfigRead {
        path: path.to_path_buf(),
        source,
    })?;
    settings_from_text(path, &text)
}

/// Parses `text`, the contents of the file at `path` (used only in messages).
pub fn settings_from_text(path: &Path, text: &str) -> Result<YamlSettings, SelectError> {
    let syntax_error = |message: String| SelectError::ConfigSyntax {
        path: path.to_path_buf(),
        message,
    };
    let documents =
        YamlLoader::load_from_str(text).map_err(|error| syntax_error(error.to_string()))?;
    let config = match documents.into_iter().next() {
        Some(document @ Yaml::Hash(_)) => document,
        Some(other) => {
            return Err(syntax_error(format!(
                "its top level is {}",
                describe(&other)
            )))
        }
        None => return Err(syntax_error("it is empty".to_string())),
    };

    let data_dirs = required_dir_list(path, &config[DATA_DIRS_KEY])?;
    let local_system_data_dir = match &config[LOCAL_SYSTEM_DATA_DIR_KEY] {
        Yaml::BadValue | Yaml::Null => None,
        value => Some(absolute_dir(path, LOCAL_SYSTEM_DATA_DIR_KEY, value)?),
    };
    let incremental_backups = yaml_1_1_bool(
        path,
        INCREMENTAL_BACKUPS_KEY,
        &config[INCREMENTAL_BACKUPS_KEY],
    )?;
    Ok(YamlSettings {
        data_dirs,
        local_system_data_dir,
        incremental_backups,
    })
}

/// `data_file_directories`: a non-empty list (or one scalar) of absolute paths.
fn required_dir_list(path: &Path, value: &Yaml) -> Result<Vec<PathBuf>, SelectError> {
    let entries: Vec<&Yaml> = match value {
        Yaml::BadValue | Yaml::Null => Vec::new(),
        Yaml::Array(items) => items.iter().collect(),
        scalar => vec![scalar],
    };
    if entries.is_empty() {
        return Err(SelectError::ConfigKeyMissing {
            path: path.to_path_buf(),
            key: DATA_DIRS_KEY,
        });
    }
    let mut dirs: Vec<PathBuf> = Vec::with_capacity(entries.len());
    for entry in entries {
        let dir = absolute_dir(path, DATA_DIRS_KEY, entry)?;
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    Ok(dirs)
}

/// One absolute directory path, normalised so that `/a/b/` and `/a/./b` both become `/a/b`: the path
/// ends up in S3 keys, where a stray slash would make a different key.
fn absolute_dir(path: &Path, key: &'static str, value: &Yaml) -> Result<PathBuf, SelectError> {
    let value_error = |problem: String| SelectError::ConfigValue {
        path: path.to_path_buf(),
        key,
        problem,
    };
    let Yaml::String(text) = value else {
        return Err(value_error(format!(
            "must hold absolute directory paths, found {}",
            describe(value)
        )));
    };
    let dir = Path::new(text);
    if text.is_empty() || !dir.is_absolute() {
        return Err(value_error(format!(
            "holds {text:?}, which is not an absolute path (Cassandra would resolve it against its \
             working directory, which node-push cannot know)"
        )));
    }
    Ok(dir.components().collect())
}

/// A boolean as Cassandra's YAML 1.1 parser reads it; absent or null is `false`.
fn yaml_1_1_bool(path: &Path, key: &'static str, value: &Yaml) -> Result<bool, SelectError> {
    match value {
        Yaml::BadValue | Yaml::Null => Ok(false),
        Yaml::Boolean(flag) => Ok(*flag),
        Yaml::String(text) => match text.as_str() {
            "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Ok(true),
            "no" | "No" | "NO" | "off" | "Off" | "OFF" => Ok(false),
            _ => Err(SelectError::ConfigValue {
                path: path.to_path_buf(),
                key,
                problem: format!("holds {text:?}, expected true or false"),
            }),
        },
        other => Err(SelectError::ConfigValue {
            path: path.to_path_buf(),
            key,
            problem: format!("holds {}, expected true or false", describe(other)),
        }),
    }
}

/// A short description of a YAML value's kind, for error messages.
fn describe(value: &Yaml) -> String {
    match value {
        Yaml::Real(text) => format!("the number {text}"),
        Yaml::Integer(number) => format!("the number {number}"),
        Yaml::String(text) => format!("the text {text:?}"),
        Yaml::Boolean(flag) => format!("the boolean {flag}"),
        Yaml::Array(_) => "a list".to_string(),
        Yaml::Hash(_) => "a mapping".to_string(),
        Yaml::Alias(_) => "an alias".to_string(),
        Yaml::Null => "null".to_string(),
        Yaml::BadValue => "nothing".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<YamlSettings, SelectError> {
        settings_from_text(Path::new("/etc/cassandra/cassandra.yaml"), text)
    }

    #[test]
    fn booleans_follow_yaml_1_1() {
        for (text, expected) in [
            ("true", true),
            ("True", true),
            ("yes", true),
            ("ON", true),
            ("false", false),
            ("no", false),
            ("Off", false),
            ("", false),
        ] {
            let yaml = format!("data_file_directories: [/d]\nincremental_backups: {text}\n");
            assert_eq!(
                parse(&yaml).unwrap().incremental_backups,
                expected,
                "{text:?}"
            );
        }
        let error = parse("data_file_directories: [/d]\nincremental_backups: maybe\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Cassandra config /etc/cassandra/cassandra.yaml: `incremental_backups` holds \"maybe\", \
             expected true or false"
        );
        assert!(parse("data_file_directories: [/d]\nincremental_backups: 1\n").is_err());
    }

    #[test]
    fn dirs_are_normalised_and_deduplicated() {
        let settings = parse("data_file_directories:\n  - /a/b/\n  - /a/./b\n  - '/c'\n").unwrap();
        assert_eq!(
            settings.data_dirs,
            vec![PathBuf::from("/a/b"), PathBuf::from("/c")]
        );
        let single = parse("data_file_directories: /only\n").unwrap();
        assert_eq!(single.data_dirs, vec![PathBuf::from("/only")]);
    }

    #[test]
    fn local_system_dir_is_walked_once() {
        let settings =
            parse("data_file_directories: [/d1, /d2]\nlocal_system_data_file_directory: /sys\n")
                .unwrap();
        assert_eq!(settings.local_system_data_dir, Some(PathBuf::from("/sys")));
        assert_eq!(
            settings.dirs_to_walk(),
            vec![
                PathBuf::from("/d1"),
                PathBuf::from("/d2"),
                PathBuf::from("/sys")
            ]
        );
        let same = parse("data_file_directories: [/d1]\nlocal_system_data_file_directory: /d1/\n")
            .unwrap();
        assert_eq!(same.dirs_to_walk(), vec![PathBuf::from("/d1")]);
        assert!(
            parse("data_file_directories: [/d1]\nlocal_system_data_file_directory: sys\n").is_err()
        );
    }

    #[test]
    fn wrong_shapes_are_named() {
        let error = parse("data_file_directories:\n  - 42\n").unwrap_err();
        assert!(
            error.to_string().contains(
                "`data_file_directories` must hold absolute directory paths, found the number 42"
            ),
            "{error}"
        );
        let error = parse("data_file_directories: {a: b}\n").unwrap_err();
        assert!(error.to_string().contains("found a mapping"), "{error}");
        let error = parse("data_file_directories: ['']\n").unwrap_err();
        assert!(matches!(
            error,
            SelectError::ConfigValue {
                key: "data_file_directories",
                ..
            }
        ));
        assert!(matches!(
            parse("").unwrap_err(),
            SelectError::ConfigSyntax { .. }
        ));
        assert!(matches!(
            parse("- a\n- b\n").unwrap_err(),
            SelectError::ConfigSyntax { .. }
        ));
    }

    #[test]
    fn yaml_path_from_conf_dir_or_file() {
        assert_eq!(
            locate_cassandra_yaml(Path::new("/etc/cassandra/conf/")),
            PathBuf::from("/etc/cassandra/conf/cassandra.yaml")
        );
        assert_eq!(
            locate_cassandra_yaml(Path::new("/etc/cassandra/other.yaml")),
            PathBuf::from("/etc/cassandra/other.yaml")
        );
    }
}
