//! Where the S3 credentials come from, and loading them without ever showing the secret.
//!
//! [`CredentialSource`] is what the user chose: explicit keys (handed over by the coordinator on stdin,
//! never argv), the environment, a named profile, the EC2 instance role, or the usual chain. One
//! resolution serves both binaries (the coordinator calls [`resolve`] too), in the order of the AWS SDKs:
//!
//! 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`);
//! 2. the profile (`$AWS_PROFILE`, else `default`) of `~/.aws/credentials` and `~/.aws/config`: static
//!    keys, `role_arn` with `source_profile` or `credential_source` (AssumeRole), `role_arn` with
//!    `web_identity_token_file`, `credential_process`, or SSO (`sso_session` / `sso_start_url`, with the
//!    token `aws sso login` cached);
//! 3. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (EKS IRSA);
//! 4. container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`, with
//!    `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)` (ECS, EKS Pod Identity);
//! 5. the instance role through IMDSv2.
//!
//! Endpoints follow the SDKs' variables: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_SSO` (or
//! `AWS_ENDPOINT_URL`), `AWS_EC2_METADATA_SERVICE_ENDPOINT`, `AWS_EC2_METADATA_DISABLED`.
//!
//! Temporary credentials carry their expiry ([`Keys::expires`]); the store resolves its source again
//! before they run out (see `fresh.rs`). Keys pushed from outside ([`publish_keys`]: a new credentials
//! line on node-push's stdin, or the coordinator's own refresh) replace explicit keys.
//!
//! Secrets are [`Secret`]s (the contract's one redaction type), so every type here redacts them in `Debug`; error messages name the source, a file or a profile, never
//! a key, a token or a line of `credential_process` output.

mod chain;
mod profile;
mod remote;

use chrono::{DateTime, Utc};
use contract::secret::Secret;
use tokio::sync::watch;

use crate::store::StoreError;

/// Where to find AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Keys given directly (the coordinator passes them on node-push's stdin, never in argv).
    Explicit {
        access_key: String,
        secret_key: Secret,
        session_token: Option<Secret>,
    },
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
    Environment,
    /// A profile of `~/.aws/credentials` / `~/.aws/config`; `None` means `$AWS_PROFILE`, else `default`.
    Profile(Option<String>),
    /// The EC2 instance role, through the instance metadata service (IMDSv2).
    InstanceRole,
    /// The whole chain, in the order of the module documentation.
    DefaultChain,
    /// The chain without the instance role: what the coordinator may hand to its nodes (a node with a
    /// role of its own uses that instead).
    ChainWithoutInstanceRole,
}

/// One set of keys, and when they stop working (`None`: long-term keys).
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub access_key: String,
    pub secret_key: Secret,
    pub session_token: Option<Secret>,
    pub expires: Option<DateTime<Utc>>,
}

/// Keys and where they came from (for messages: `profile backup (AssumeRole)`, `environment`...).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub keys: Keys,
    pub origin: String,
}

/// Shows at most the first four characters of an access key id: enough to tell keys apart in a log.
pub fn key_hint(access_key: &str) -> String {
    let shown: String = access_key.chars().take(4).collect();
    format!("{shown}…")
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key", &key_hint(&self.access_key))
            .field("secret_key", &self.secret_key)
            .field("session_token", &self.session_token)
            .field("expires", &self.expires)
            .finish()
    }
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::Explicit {
                access_key,
                secret_key,
                session_token,
            } => f
                .debug_struct("Explicit")
                .field("access_key", &key_hint(access_key))
                .field("secret_key", secret_key)
                .field("session_token", session_token)
                .finish(),
            CredentialSource::Environment => f.write_str("Environment"),
            CredentialSource::Profile(name) => f.debug_tuple("Profile").field(name).finish(),
            CredentialSource::InstanceRole => f.write_str("InstanceRole"),
            CredentialSource::DefaultChain => f.write_str("DefaultChain"),
            CredentialSource::ChainWithoutInstanceRole => f.write_str("ChainWithoutInstanceRole"),
        }
    }
}

impl Keys {
    /// rust-s3's form. Without an expiry: rust-s3 would try to refresh expired keys itself and fail
    /// (it cannot know their source); the store refreshes them before that (`fresh.rs`).
    ///
    /// With `NODE_PUSH_S3_OMIT_SESSION_TOKEN=1` the session token is left out of S3 requests: SeaweedFS
    /// takes any `X-Amz-Security-Token` for a token of its own STS and rejects the request, so temporary
    /// keys issued elsewhere can only reach it without. AWS needs the token: never set it there.
    pub fn to_rust_s3(&self) -> Result<s3::creds::Credentials, StoreError> {
        let omit = std::env::var("NODE_PUSH_S3_OMIT_SESSION_TOKEN").is_ok_and(|v| v == "1");
        s3::creds::Credentials::new(
            Some(&self.access_key),
            Some(self.secret_key.expose()),
            None,
            self.session_token
                .as_ref()
                .map(Secret::expose)
                .filter(|_| !omit),
            None,
        )
        .map_err(|err| permanent(format!("invalid credentials: {err}")))
    }

    /// The stdin line that hands these keys to node-push.
    pub fn node_input(&self) -> contract::message::NodeInput {
        contract::message::NodeInput {
            aws_access_key_id: Some(self.access_key.clone()),
            aws_secret_access_key: Some(self.secret_key.clone()),
            aws_session_token: self.session_token.clone(),
        }
    }

    /// Time left before they expire; `None` for long-term keys.
    pub fn time_left(&self) -> Option<chrono::Duration> {
        self.expires.map(|at| at - Utc::now())
    }
}

/// When keys fetched at `fetched` that expire at `expires` are due for renewal: with a third of their
/// lifetime left, at most five minutes before the end (the AWS SDKs' margin).
pub fn renew_at(fetched: DateTime<Utc>, expires: DateTime<Utc>) -> DateTime<Utc> {
    let margin = ((expires - fetched) / 3).min(chrono::Duration::minutes(5));
    expires - margin
}

/// How an error of [`resolve`] starts when no source had credentials at all (rather than one failing).
pub const NOTHING_FOUND: &str = "no AWS credentials found";

pub(crate) fn permanent(message: String) -> StoreError {
    StoreError::Permanent {
        op: "credentials",
        key: String::new(),
        message,
    }
}

/// Resolves `source` to keys. Files, HTTP (metadata services, STS, SSO) and `credential_process`.
pub async fn resolve(source: &CredentialSource) -> Result<Resolved, StoreError> {
    if let CredentialSource::Explicit {
        access_key,
        secret_key,
        session_token,
    } = source
    {
        if access_key.is_empty() || secret_key.is_empty() {
            return Err(permanent(
                "the access key id and the secret key must both be non-empty".into(),
            ));
        }
        return Ok(Resolved {
            keys: Keys {
                access_key: access_key.clone(),
                secret_key: secret_key.clone(),
                session_token: session_token.clone(),
                expires: None,
            },
            origin: "explicit keys".into(),
        });
    }
    chain::resolve(source, &chain::Env::process()).await
}

/// The process-wide feed of keys pushed from outside (see the module documentation).
fn feed() -> &'static watch::Sender<Option<Keys>> {
    static FEED: std::sync::OnceLock<watch::Sender<Option<Keys>>> = std::sync::OnceLock::new();
    FEED.get_or_init(|| watch::channel(None).0)
}

/// Replaces the keys of every store opened with explicit keys, from their next request on.
pub fn publish_keys(keys: Keys) {
    feed().send_replace(Some(keys));
}

/// Follows [`publish_keys`]: the coordinator forwards each new set to its nodes.
pub fn subscribe_keys() -> watch::Receiver<Option<Keys>> {
    feed().subscribe()
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
        let keys = Keys {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("FwoGZXIvYXdzEBYaDEXAMPLETOKEN".into()),
            expires: None,
        };
        let shown = format!("{source:?} {source:#?} {keys:?}");
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(!shown.contains("FwoGZXIvYXdzEBYaDEXAMPLETOKEN"), "{shown}");
        assert!(!shown.contains("AKIAIOSFODNN7EXAMPLE"), "{shown}");
        assert!(shown.contains("AKIA…"), "{shown}");
    }

    #[tokio::test]
    async fn explicit_keys_must_be_complete() {
        let source = CredentialSource::Explicit {
            access_key: "AKIA".into(),
            secret_key: Secret::default(),
            session_token: None,
        };
        let err = resolve(&source).await.unwrap_err();
        assert!(matches!(err, StoreError::Permanent { .. }), "{err}");
    }
}
