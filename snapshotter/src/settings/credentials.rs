//! AWS credentials for the coordinator and the nodes, resolved once on the laptop.
//!
//! Order: `--aws-access-key-id`/`--aws-secret-access-key`, then `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! (with `AWS_SESSION_TOKEN`), then the profile (`--aws-profile`, `$AWS_PROFILE`, or `default` when the
//! credentials file has it), else nothing: the coordinator and each node then use their own chain (an
//! instance role). Resolved keys reach the nodes as one [`NodeInput`] line on node-push's stdin.

use crate::cli::GlobalArgs;
use crate::secret::Secret;
use anyhow::{bail, Context, Result};
use node_push::message::NodeInput;
use std::path::PathBuf;

/// Resolved credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Keys known to the coordinator: used here and sent to the nodes.
    Keys {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        /// Where they came from, for messages (`--aws-access-key-id`, `environment`, `profile backup`).
        origin: String,
    },
    /// None given: every process uses its own default chain (instance role, ...).
    DefaultChain,
}

impl Credentials {
    pub fn resolve(global: &GlobalArgs) -> Result<Self> {
        Self::resolve_from(global, &|name| std::env::var(name).ok())
    }

    fn resolve_from(global: &GlobalArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let env_secret = || env("AWS_SECRET_ACCESS_KEY").filter(|s| !s.is_empty());
        if let Some(id) = &global.aws_access_key_id {
            let secret = global
                .aws_secret_access_key
                .clone()
                .or_else(|| env_secret().map(Secret::new))
                .context("--aws-access-key-id needs a secret: set AWS_SECRET_ACCESS_KEY (or --aws-secret-access-key)")?;
            return Ok(Credentials::Keys {
                access_key_id: id.clone(),
                secret_access_key: secret,
                session_token: env("AWS_SESSION_TOKEN")
                    .filter(|s| !s.is_empty())
                    .map(Secret::new),
                origin: "--aws-access-key-id".into(),
            });
        }
        if global.aws_secret_access_key.is_some() {
            bail!("--aws-secret-access-key needs --aws-access-key-id");
        }
        if global.aws_profile.is_none() {
            if let (Some(id), Some(secret)) = (
                env("AWS_ACCESS_KEY_ID").filter(|s| !s.is_empty()),
                env_secret(),
            ) {
                return Ok(Credentials::Keys {
                    access_key_id: id,
                    secret_access_key: Secret::new(secret),
                    session_token: env("AWS_SESSION_TOKEN")
                        .filter(|s| !s.is_empty())
                        .map(Secret::new),
                    origin: "environment".into(),
                });
            }
        }
        let file = env("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".aws/credentials")));
        let explicit = global.aws_profile.clone().or_else(|| env("AWS_PROFILE"));
        let profile = explicit.clone().unwrap_or_else(|| "default".to_string());
        let text = match &file {
            Some(path) if path.is_file() => fs_err::read_to_string(path)?,
            _ if explicit.is_some() => bail!(
                "AWS profile {profile:?} requested but no credentials file ({})",
                file.map(|f| f.display().to_string())
                    .unwrap_or_else(|| "$HOME unset".into())
            ),
            _ => return Ok(Credentials::DefaultChain),
        };
        match profile_keys(&text, &profile) {
            Some((id, secret, token)) => Ok(Credentials::Keys {
                access_key_id: id,
                secret_access_key: Secret::new(secret),
                session_token: token.map(Secret::new),
                origin: format!("profile {profile}"),
            }),
            None if explicit.is_some() => bail!(
                "AWS profile {profile:?} has no aws_access_key_id/aws_secret_access_key in {}",
                file.expect("read above").display()
            ),
            None => Ok(Credentials::DefaultChain),
        }
    }

    /// The line node-push reads on its stdin.
    pub fn node_input(&self) -> NodeInput {
        match self {
            Credentials::Keys {
                access_key_id,
                secret_access_key,
                session_token,
                ..
            } => NodeInput {
                aws_access_key_id: Some(access_key_id.clone()),
                aws_secret_access_key: Some(secret_access_key.expose().to_string()),
                aws_session_token: session_token.as_ref().map(|t| t.expose().to_string()),
            },
            Credentials::DefaultChain => NodeInput::default(),
        }
    }
}

/// `(access key id, secret, session token)` of `[profile]` in an AWS credentials file.
fn profile_keys(text: &str, profile: &str) -> Option<(String, String, Option<String>)> {
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            in_profile = section == profile || section.strip_prefix("profile ") == Some(profile);
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().to_string();
            match key.trim() {
                "aws_access_key_id" => id = Some(value),
                "aws_secret_access_key" => secret = Some(value),
                "aws_session_token" => token = Some(value),
                _ => {}
            }
        }
    }
    Some((id?, secret?, token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn global(args: &[&str]) -> GlobalArgs {
        let mut argv = vec!["x"];
        argv.extend_from_slice(args);
        argv.push("list");
        Cli::parse_from(argv).global
    }

    #[test]
    fn flags_then_environment_then_profile() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials");
        fs_err::write(
            &file,
            "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\
             [backup]\naws_access_key_id=BAK\naws_secret_access_key=baksecret\naws_session_token=tok\n",
        )
        .unwrap();
        let file_str = file.to_str().unwrap().to_string();
        let env_with = |pairs: Vec<(&'static str, String)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            }
        };
        let from_flags = Credentials::resolve_from(
            &global(&[
                "--aws-access-key-id=FLAG",
                "--aws-secret-access-key=flagsecret",
            ]),
            &env_with(vec![("AWS_ACCESS_KEY_ID", "ENV".into())]),
        )
        .unwrap();
        assert!(
            matches!(from_flags, Credentials::Keys { ref access_key_id, .. } if access_key_id == "FLAG")
        );
        let from_env = Credentials::resolve_from(
            &global(&[]),
            &env_with(vec![
                ("AWS_ACCESS_KEY_ID", "ENV".into()),
                ("AWS_SECRET_ACCESS_KEY", "envsecret".into()),
                ("AWS_SHARED_CREDENTIALS_FILE", file_str.clone()),
            ]),
        )
        .unwrap();
        assert_eq!(
            from_env.node_input().aws_access_key_id.as_deref(),
            Some("ENV")
        );
        let from_profile = Credentials::resolve_from(
            &global(&["--aws-profile=backup"]),
            &env_with(vec![("AWS_SHARED_CREDENTIALS_FILE", file_str.clone())]),
        )
        .unwrap();
        let input = from_profile.node_input();
        assert_eq!(input.aws_access_key_id.as_deref(), Some("BAK"));
        assert_eq!(input.aws_session_token.as_deref(), Some("tok"));
        let default = Credentials::resolve_from(
            &global(&[]),
            &env_with(vec![("AWS_SHARED_CREDENTIALS_FILE", file_str)]),
        )
        .unwrap();
        assert_eq!(
            default.node_input().aws_access_key_id.as_deref(),
            Some("DEF")
        );
        let none = Credentials::resolve_from(&global(&[]), &|_| None).unwrap();
        assert_eq!(none, Credentials::DefaultChain);
    }

    #[test]
    fn errors_name_the_flag_and_never_the_secret() {
        let err =
            Credentials::resolve_from(&global(&["--aws-access-key-id=X"]), &|_| None).unwrap_err();
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"));
        let err =
            Credentials::resolve_from(&global(&["--aws-profile=nope"]), &|_| None).unwrap_err();
        assert!(err.to_string().contains("nope"));
        let keys = Credentials::resolve_from(
            &global(&[
                "--aws-access-key-id=X",
                "--aws-secret-access-key=very-secret-value",
            ]),
            &|_| None,
        )
        .unwrap();
        assert!(!format!("{keys:?}").contains("very-secret-value"));
    }
}
