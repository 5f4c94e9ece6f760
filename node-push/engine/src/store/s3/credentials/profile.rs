//! The AWS shared files: `~/.aws/config` (`[profile NAME]`, `[default]`, `[sso-session NAME]`) and
//! `~/.aws/credentials` (`[NAME]`), merged per profile as the AWS CLI does (the credentials file wins),
//! and the SSO token cache that `aws sso login` fills (`~/.aws/sso/cache/*.json`).
//!
//! The files are read by [`parse_ini`], 30 lines, rather than by `rust-ini` (which rust-s3's `aws-creds`
//! links anyway): `rust-ini` trims indentation, so the nested settings of an `s3 =` block would become
//! keys of the profile itself, and its backslash escapes would alter values; the AWS format needs neither.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::chain::Env;

/// One section's `key = value` pairs.
pub type Section = BTreeMap<String, String>;

/// Every profile and SSO session of the two files.
#[derive(Debug, Default)]
pub struct Profiles {
    profiles: BTreeMap<String, Section>,
    sso_sessions: BTreeMap<String, Section>,
    /// The files read, for messages.
    pub files: String,
}

/// `[section]` → pairs. Comments (`#`, `;`) and blank lines are skipped; nested (indented) values such
/// as `s3 =` sub-sections are ignored.
pub fn parse_ini(text: &str) -> BTreeMap<String, Section> {
    let mut sections: BTreeMap<String, Section> = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let indented = raw.starts_with([' ', '\t']);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let (Some(section), false) = (&current, indented) else {
            continue;
        };
        if let Some((key, value)) = line.split_once('=') {
            sections
                .get_mut(section)
                .expect("inserted above")
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    sections
}

fn home(env: &Env) -> Option<PathBuf> {
    env.get("HOME").map(PathBuf::from)
}

/// `$AWS_CONFIG_FILE`, else `~/.aws/config`.
pub fn config_path(env: &Env) -> Option<PathBuf> {
    env.get("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join(".aws/config")))
}

/// `$AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
pub fn credentials_path(env: &Env) -> Option<PathBuf> {
    env.get("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join(".aws/credentials")))
}

fn read(path: &Option<PathBuf>) -> Result<Option<String>, String> {
    match path {
        Some(path) if path.is_file() => fs_err::read_to_string(path)
            .map(Some)
            .map_err(|e| e.to_string()),
        _ => Ok(None),
    }
}

impl Profiles {
    /// Reads both files; a missing file is no error (there is just nothing in it).
    pub fn load(env: &Env) -> Result<Profiles, String> {
        let config = config_path(env);
        let credentials = credentials_path(env);
        let mut profiles = Profiles {
            files: [&credentials, &config]
                .iter()
                .filter_map(|p| p.as_ref().map(|p| p.display().to_string()))
                .collect::<Vec<_>>()
                .join(" and "),
            ..Profiles::default()
        };
        if let Some(text) = read(&config)? {
            for (name, section) in parse_ini(&text) {
                if let Some(session) = name.strip_prefix("sso-session ") {
                    profiles.sso_sessions.insert(session.to_string(), section);
                } else if let Some(profile) = name.strip_prefix("profile ") {
                    profiles.merge(profile, section);
                } else if name == "default" {
                    profiles.merge("default", section);
                }
            }
        }
        if let Some(text) = read(&credentials)? {
            for (name, section) in parse_ini(&text) {
                profiles.merge(&name, section);
            }
        }
        Ok(profiles)
    }

    fn merge(&mut self, name: &str, section: Section) {
        self.profiles
            .entry(name.to_string())
            .or_default()
            .extend(section);
    }

    pub fn get(&self, name: &str) -> Option<&Section> {
        self.profiles.get(name)
    }

    pub fn sso_session(&self, name: &str) -> Option<&Section> {
        self.sso_sessions.get(name)
    }
}

/// The access token `aws sso login` cached for `start_url` (the cache files are named by a hash of the
/// session name or start URL; reading them all and matching `startUrl` needs no hash). Expired tokens
/// are passed over.
pub fn cached_sso_token(env: &Env, start_url: &str) -> Result<String, String> {
    let dir = home(env)
        .map(|h| h.join(".aws/sso/cache"))
        .ok_or("HOME is not set, so there is no SSO token cache")?;
    let mut expired = false;
    for path in json_files(&dir) {
        let Ok(text) = fs_err::read_to_string(&path) else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if value["startUrl"].as_str().map(|u| u.trim_end_matches('/'))
            != Some(start_url.trim_end_matches('/'))
        {
            continue;
        }
        let (Some(token), Some(expires)) =
            (value["accessToken"].as_str(), value["expiresAt"].as_str())
        else {
            continue;
        };
        match DateTime::parse_from_rfc3339(expires) {
            Ok(at) if at.with_timezone(&Utc) > Utc::now() => return Ok(token.to_string()),
            _ => expired = true,
        }
    }
    Err(if expired {
        format!(
            "the SSO token for {start_url} in {} has expired: run `aws sso login`",
            dir.display()
        )
    } else {
        format!(
            "no SSO token for {start_url} in {}: run `aws sso login`",
            dir.display()
        )
    })
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_comments_and_nested_values() {
        let text = "# c\n[default]\naws_access_key_id = A\n; c\n[profile  x]\nrole_arn=arn\ns3 =\n  max_concurrent_requests = 4\nregion = eu-west-1\n";
        let ini = parse_ini(text);
        assert_eq!(ini["default"]["aws_access_key_id"], "A");
        assert_eq!(ini["profile x"]["role_arn"], "arn");
        assert_eq!(ini["profile x"]["region"], "eu-west-1");
        assert!(!ini["profile x"].contains_key("max_concurrent_requests"));
    }
}
