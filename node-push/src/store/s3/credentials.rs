//! Where the S3 credentials come from, and loading them without ever showing the secret.
//!
//! [`CredentialSource`] is what the user chose (explicit keys handed over by the coordinator on stdin, the
//! environment, a profile in `~/.aws/credentials`, the EC2 instance role through IMDSv2, or the usual chain
//! of these). Its `Debug` output redacts every secret, and error messages name the source, never a key.
//! Instance-role credentials expire; rust-s3 refreshes them before a request when they have.

use s3::creds::Credentials;

use crate::store::StoreError;

/// Where to find AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Keys given directly (the coordinator passes them on node-push's stdin, never in argv).
    Explicit {
        access_key: String,
        secret_key: String,
        session_token: Option<String>,
    },
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
    Environment,
    /// A profile of `~/.aws/credentials` (or `$AWS_SHARED_CREDENTIALS_FILE`); `None` means `$AWS_PROFILE`,
    /// else `default`.
    Profile(Option<String>),
    /// The EC2 instance role, through the instance metadata service (IMDSv2).
    InstanceRole,
    /// The environment, then the profile (`$AWS_PROFILE` or `default`), then the instance role.
    DefaultChain,
}

/// Shows at most the first four characters of an access key id: enough to tell keys apart in a log.
fn key_hint(access_key: &str) -> String {
    let shown: String = access_key.chars().take(4).collect();
    format!("{shown}…")
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::Explicit {
                access_key,
                session_token,
                ..
            } => f
                .debug_struct("Explicit")
                .field("access_key", &key_hint(access_key))
                .field("secret_key", &"[REDACTED]")
                .field(
                    "session_token",
                    &session_token.as_ref().map(|_| "[REDACTED]"),
                )
                .finish(),
            CredentialSource::Environment => f.write_str("Environment"),
            CredentialSource::Profile(name) => f.debug_tuple("Profile").field(name).finish(),
            CredentialSource::InstanceRole => f.write_str("InstanceRole"),
            CredentialSource::DefaultChain => f.write_str("DefaultChain"),
        }
    }
}

fn permanent(message: String) -> StoreError {
    StoreError::Permanent {
        op: "credentials",
        key: String::new(),
        message,
    }
}

/// The profile `Profile(None)` and the chain use: `$AWS_PROFILE`, else `default`.
fn default_profile() -> String {
    std::env::var("AWS_PROFILE")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

fn from_environment() -> Result<Credentials, String> {
    Credentials::from_env().map_err(|_| {
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set in the environment"
            .to_string()
    })
}

fn from_profile(name: &str) -> Result<Credentials, String> {
    let file = std::env::var("AWS_SHARED_CREDENTIALS_FILE")
        .unwrap_or_else(|_| "~/.aws/credentials".to_string());
    Credentials::from_profile(Some(name))
        .map_err(|err| format!("no usable profile [{name}] in {file} ({err})"))
}

fn from_instance_role() -> Result<Credentials, String> {
    Credentials::from_instance_metadata_v2(false).map_err(|err| {
        format!("no instance role credentials from the EC2 instance metadata service ({err})")
    })
}

/// Loads credentials from `source`. Blocking (files, and HTTP to the metadata service): call it from
/// `spawn_blocking`.
pub fn load_blocking(source: &CredentialSource) -> Result<Credentials, StoreError> {
    match source {
        CredentialSource::Explicit {
            access_key,
            secret_key,
            session_token,
        } => {
            if access_key.is_empty() || secret_key.is_empty() {
                return Err(permanent(
                    "the access key id and the secret key must both be non-empty".into(),
                ));
            }
            Credentials::new(
                Some(access_key),
                Some(secret_key),
                None,
                session_token.as_deref(),
                None,
            )
            .map_err(|err| permanent(format!("invalid credentials: {err}")))
        }
        CredentialSource::Environment => from_environment().map_err(permanent),
        CredentialSource::Profile(name) => {
            let name = name.clone().unwrap_or_else(default_profile);
            from_profile(&name).map_err(permanent)
        }
        CredentialSource::InstanceRole => from_instance_role().map_err(permanent),
        CredentialSource::DefaultChain => {
            let mut reasons = Vec::new();
            let attempts: [&dyn Fn() -> Result<Credentials, String>; 3] = [
                &from_environment,
                &|| from_profile(&default_profile()),
                &from_instance_role,
            ];
            for attempt in attempts {
                match attempt() {
                    Ok(credentials) => return Ok(credentials),
                    Err(reason) => reasons.push(reason),
                }
            }
            Err(permanent(format!(
                "no AWS credentials found: {}",
                reasons.join("; ")
            )))
        }
    }
}

/// Loads credentials from `source` without blocking the async runtime.
pub async fn load(source: &CredentialSource) -> Result<Credentials, StoreError> {
    let source = source.clone();
    tokio::task::spawn_blocking(move || load_blocking(&source))
        .await
        .map_err(|err| permanent(format!("loading credentials failed: {err}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let source = CredentialSource::Explicit {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("FwoGZXIvYXdzEBYaDEXAMPLETOKEN".into()),
        };
        let shown = format!("{source:?} {source:#?}");
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(!shown.contains("FwoGZXIvYXdzEBYaDEXAMPLETOKEN"), "{shown}");
        assert!(!shown.contains("AKIAIOSFODNN7EXAMPLE"), "{shown}");
        assert!(shown.contains("AKIA…"), "{shown}");
    }

    #[test]
    fn explicit_keys_must_be_complete() {
        let source = CredentialSource::Explicit {
            access_key: "AKIA".into(),
            secret_key: String::new(),
            session_token: None,
        };
        let err = load_blocking(&source).unwrap_err();
        assert!(matches!(err, StoreError::Permanent { .. }), "{err}");
    }

    #[test]
    fn missing_profile_names_the_profile_and_not_a_key() {
        let source = CredentialSource::Profile(Some("no-such-profile-for-tests".into()));
        let err = load_blocking(&source).unwrap_err().to_string();
        assert!(err.contains("[no-such-profile-for-tests]"), "{err}");
    }
}
