//! AWS credentials for the coordinator and the nodes, resolved once on the laptop by the same chain
//! node-push uses (`engine::store::s3::resolve_credentials`, in node-push/engine's
//! `store/s3/credentials/`): there is no second reader of `~/.aws/*` here. That resolver, not the AWS
//! SDK's `aws-config`, because node-push must stay a static musl binary of a few MB (7.0 MB x86_64,
//! 6.1 MB aarch64 today): `aws-config` brings the smithy runtime, the STS, SSO and SSO-OIDC clients and
//! its own HTTP/TLS stack (aws-lc-rs by default, a C build) beside the reqwest and rust-s3 we already
//! link, for the same chain.
//!
//! Order: `--aws-access-key-id` (secret from `--aws-secret-access-key` or `AWS_SECRET_ACCESS_KEY`), else
//! `--aws-profile` alone (static keys, AssumeRole, web identity, `credential_process`, SSO), else the chain
//! without the instance role: the environment, the profile (`$AWS_PROFILE`, else `default`), web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`), container credentials. When none of these has keys,
//! the coordinator and each node use their own chain (an instance role).
//!
//! Resolved keys reach the nodes as a [`NodeInput`] line on node-push's stdin. Temporary keys are renewed
//! before they expire by a task started here; each new set is published
//! (`engine::store::s3::publish_keys`), which the coordinator's own store picks up and the upload
//! stage forwards to every node-push as one more stdin line.

use crate::cli::GlobalArgs;
use crate::secret::Secret;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use contract::message::NodeInput;
use engine::store::s3::{
    publish_keys, renew_at, resolve_credentials, CredentialSource, Keys, NOTHING_FOUND,
};

/// Resolved credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Keys known to the coordinator: used here and sent to the nodes.
    Keys {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        /// Where they came from, for messages (`--aws-access-key-id`, `environment`, `profile backup
        /// (AssumeRole)`).
        origin: String,
        /// When temporary keys expire; they are renewed before.
        expires: Option<DateTime<Utc>>,
    },
    /// None given: every process uses its own default chain (instance role, ...).
    DefaultChain,
}

impl Credentials {
    pub fn resolve(global: &GlobalArgs) -> Result<Self> {
        let credentials = Self::resolve_from(global, &|name| std::env::var(name).ok())?;
        if let (
            Credentials::Keys {
                expires: Some(_), ..
            },
            Some(source),
        ) = (&credentials, Self::source_of(global))
        {
            credentials.keep_fresh(source);
        }
        Ok(credentials)
    }

    /// The chain source the flags ask for (`None`: explicit keys, nothing to renew).
    fn source_of(global: &GlobalArgs) -> Option<CredentialSource> {
        if global.aws_access_key_id.is_some() {
            return None;
        }
        Some(match &global.aws_profile {
            Some(profile) => CredentialSource::Profile(Some(profile.clone())),
            None => CredentialSource::ChainWithoutInstanceRole,
        })
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
                expires: None,
            });
        }
        if global.aws_secret_access_key.is_some() {
            bail!("--aws-secret-access-key needs --aws-access-key-id");
        }
        // As in the AWS SDKs, `$AWS_PROFILE` only picks the chain's profile: keys in the environment
        // still come first. `--aws-profile` asks for that profile alone.
        let explicit = global.aws_profile.clone();
        let source = match &explicit {
            Some(profile) => CredentialSource::Profile(Some(profile.clone())),
            None => CredentialSource::ChainWithoutInstanceRole,
        };
        match resolve_now(&source) {
            Ok(resolved) => Ok(Credentials::from_keys(resolved.keys, resolved.origin)),
            Err(error) if explicit.is_none() && error.starts_with(NOTHING_FOUND) => {
                Ok(Credentials::DefaultChain)
            }
            Err(error) => match explicit {
                Some(profile) => bail!("AWS profile {profile:?}: {error}"),
                None => bail!("AWS credentials: {error}"),
            },
        }
    }

    fn from_keys(keys: Keys, origin: String) -> Self {
        Credentials::Keys {
            access_key_id: keys.access_key,
            secret_access_key: keys.secret_key,
            session_token: keys.session_token,
            origin,
            expires: keys.expires,
        }
    }

    /// Starts the renewal of temporary keys (a no-op outside a tokio runtime, as in unit tests).
    fn keep_fresh(&self, source: CredentialSource) {
        let Credentials::Keys {
            expires: Some(expires),
            ..
        } = self
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut fetched = Utc::now();
        let mut expires = *expires;
        runtime.spawn(async move {
            loop {
                let wait = (renew_at(fetched, expires) - Utc::now())
                    .to_std()
                    .unwrap_or_default();
                tokio::time::sleep(wait).await;
                match resolve_credentials(&source).await {
                    Ok(resolved) => {
                        fetched = Utc::now();
                        let Some(next) = resolved.keys.expires else {
                            publish_keys(resolved.keys);
                            return;
                        };
                        expires = next;
                        publish_keys(resolved.keys);
                    }
                    Err(error) => {
                        crate::output::stderr_line(&format!(
                            "warning: renewing the AWS credentials failed, trying again in 5 s: {error}"
                        ));
                        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    }
                }
            }
        });
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
                aws_secret_access_key: Some(secret_access_key.clone()),
                aws_session_token: session_token.clone(),
            },
            Credentials::DefaultChain => NodeInput::default(),
        }
    }
}

/// Resolves on a thread of its own: settings are resolved before (and sometimes inside) the runtime.
fn resolve_now(
    source: &CredentialSource,
) -> std::result::Result<engine::store::s3::Resolved, String> {
    let source = source.clone();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime: {e}"))?;
                runtime
                    .block_on(resolve_credentials(&source))
                    .map_err(|e| match e {
                        engine::store::StoreError::Permanent { message, .. } => message,
                        other => other.to_string(),
                    })
            })
            .join()
            .unwrap_or_else(|_| Err("resolving the credentials panicked".into()))
    })
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
    fn flags_come_first_and_errors_name_the_flag_and_never_the_secret() {
        let from_flags = Credentials::resolve_from(
            &global(&[
                "--aws-access-key-id=FLAG",
                "--aws-secret-access-key=flagsecret",
            ]),
            &|name| (name == "AWS_ACCESS_KEY_ID").then(|| "ENV".to_string()),
        )
        .unwrap();
        assert!(
            matches!(from_flags, Credentials::Keys { ref access_key_id, .. } if access_key_id == "FLAG")
        );
        let err =
            Credentials::resolve_from(&global(&["--aws-access-key-id=X"]), &|_| None).unwrap_err();
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"));
        let err = Credentials::resolve_from(&global(&["--aws-secret-access-key=s"]), &|_| None)
            .unwrap_err();
        assert!(err.to_string().contains("--aws-access-key-id"));
        let keys = Credentials::resolve_from(
            &global(&[
                "--aws-access-key-id=X",
                "--aws-secret-access-key=very-secret-value",
            ]),
            &|_| None,
        )
        .unwrap();
        assert!(!format!("{keys:?}").contains("very-secret-value"));
        let input = keys.node_input();
        assert_eq!(
            input.aws_secret_access_key.as_ref().map(Secret::expose),
            Some("very-secret-value")
        );
    }

    /// Renewed keys published during a run reach a running node-push as one more line on its stdin (the
    /// same channel as the first), and only while that stdin is open.
    #[tokio::test]
    async fn renewed_keys_reach_node_push_as_one_more_stdin_line() {
        use tokio::io::AsyncBufReadExt as _;
        let (writer, reader) = tokio::io::duplex(4096);
        let stdin = tokio::sync::Mutex::new(Some(writer));
        let input = NodeInput {
            aws_access_key_id: Some("ASIAOLD".into()),
            aws_secret_access_key: Some("old-secret".into()),
            aws_session_token: Some("old-token".into()),
        };
        let forward = crate::stages::session::forward_fresh_keys(&stdin, &input);
        let renew = async {
            let mut lines = tokio::io::BufReader::new(reader).lines();
            publish_keys(Keys {
                access_key: "ASIANEW".into(),
                secret_key: "new-secret".into(),
                session_token: Some("new-token".into()),
                expires: None,
            });
            let line = lines.next_line().await.unwrap().unwrap();
            *stdin.lock().await = None;
            line
        };
        let line = tokio::select! {
            // The forwarder subscribes on its first poll, before the renewal is published.
            biased;
            never = forward => match never {},
            line = renew => line,
        };
        let sent: NodeInput = serde_json::from_str(&line).unwrap();
        assert_eq!(sent.aws_access_key_id.as_deref(), Some("ASIANEW"));
        assert_eq!(
            sent.aws_secret_access_key.as_ref().map(Secret::expose),
            Some("new-secret")
        );
        assert_eq!(
            sent.aws_session_token.as_ref().map(Secret::expose),
            Some("new-token")
        );
    }
}
