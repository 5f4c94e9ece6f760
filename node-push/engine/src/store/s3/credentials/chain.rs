//! The resolution order (see the parent module) and the profile kinds: static keys, AssumeRole
//! (`role_arn` + `source_profile` / `credential_source`), web identity, `credential_process` and SSO.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use super::profile::{cached_sso_token, Profiles, Section};
use super::remote::{self, RoleRequest};
use super::{permanent, CredentialSource, Keys, Resolved, NOTHING_FOUND};
use crate::store::StoreError;
use contract::secret::Secret;

/// The environment the chain reads: the process's, or a test's.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn process() -> Env {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// A variable's value; unset and empty are the same.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn profile_name(&self) -> (String, bool) {
        match self.get("AWS_PROFILE") {
            Some(name) => (name.to_string(), true),
            None => ("default".to_string(), false),
        }
    }

    fn region(&self) -> String {
        self.get("AWS_REGION")
            .or_else(|| self.get("AWS_DEFAULT_REGION"))
            .unwrap_or("us-east-1")
            .to_string()
    }
}

type Found = Result<Resolved, String>;

fn from_environment(env: &Env) -> Option<Resolved> {
    let (id, secret) = (
        env.get("AWS_ACCESS_KEY_ID")?,
        env.get("AWS_SECRET_ACCESS_KEY")?,
    );
    Some(Resolved {
        keys: Keys {
            access_key: id.to_string(),
            secret_key: secret.into(),
            session_token: env.get("AWS_SESSION_TOKEN").map(Secret::from),
            expires: None,
        },
        origin: "environment".into(),
    })
}

async fn web_identity_from_env(env: &Env) -> Option<Found> {
    let (file, role_arn) = (
        env.get("AWS_WEB_IDENTITY_TOKEN_FILE")?,
        env.get("AWS_ROLE_ARN")?,
    );
    let session = env
        .get("AWS_ROLE_SESSION_NAME")
        .map(str::to_string)
        .unwrap_or_else(session_name);
    let role = RoleRequest {
        role_arn,
        session_name: &session,
        duration_seconds: None,
        external_id: None,
        region: &env.region(),
    };
    Some(
        remote::web_identity(env, &role, file)
            .await
            .map(|keys| Resolved {
                keys,
                origin: format!("web identity ({role_arn})"),
            }),
    )
}

async fn instance_role(env: &Env) -> Found {
    remote::imds(env).await.map(|keys| Resolved {
        keys,
        origin: "instance role (IMDSv2)".into(),
    })
}

/// Resolves every source but explicit keys (`resolve` handles those).
pub async fn resolve(source: &CredentialSource, env: &Env) -> Result<Resolved, StoreError> {
    let found = match source {
        CredentialSource::Explicit { .. } => unreachable!("explicit keys need no resolution"),
        CredentialSource::Environment => from_environment(env).ok_or_else(|| {
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set in the environment".into()
        }),
        CredentialSource::Profile(name) => {
            let name = name.clone().unwrap_or_else(|| env.profile_name().0);
            match Profiles::load(env) {
                Ok(profiles) => from_profile(&profiles, &name, env, 0).await,
                Err(e) => Err(e),
            }
        }
        CredentialSource::InstanceRole => instance_role(env).await,
        CredentialSource::DefaultChain => chain(env, true).await,
        CredentialSource::ChainWithoutInstanceRole => chain(env, false).await,
    };
    found.map_err(permanent)
}

async fn chain(env: &Env, with_instance_role: bool) -> Found {
    if let Some(found) = from_environment(env) {
        return Ok(found);
    }
    let mut reasons =
        vec!["no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment".to_string()];
    let profiles = Profiles::load(env)?;
    let (name, named) = env.profile_name();
    if profiles.get(&name).is_some_and(has_credentials) {
        // A profile that exists but does not work is an error, not a reason to try the next source.
        return from_profile(&profiles, &name, env, 0).await;
    }
    if named {
        return Err(format!(
            "AWS_PROFILE names [{name}], which is not in {}",
            profiles.files
        ));
    }
    reasons.push(format!("no profile [{name}] in {}", profiles.files));
    if let Some(found) = web_identity_from_env(env).await {
        return found;
    }
    reasons.push("no AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN".into());
    match remote::container(env).await {
        Ok(Some(keys)) => {
            return Ok(Resolved {
                keys,
                origin: "container credentials".into(),
            })
        }
        Ok(None) => reasons.push("no AWS_CONTAINER_CREDENTIALS_*_URI".into()),
        Err(e) => return Err(e),
    }
    if with_instance_role {
        match instance_role(env).await {
            Ok(found) => return Ok(found),
            Err(e) => reasons.push(e),
        }
    }
    Err(format!("{NOTHING_FOUND}: {}", reasons.join("; ")))
}

/// Whether a profile says anything about credentials (a `[default]` with only `region` does not).
fn has_credentials(p: &Section) -> bool {
    [
        "aws_access_key_id",
        "role_arn",
        "credential_process",
        "sso_session",
        "sso_start_url",
    ]
    .iter()
    .any(|key| p.contains_key(*key))
}

/// A session name STS accepts: the tool and the time.
fn session_name() -> String {
    format!("cassandra-snapshotter-{}", chrono::Utc::now().timestamp())
}

/// Profiles may chain (`source_profile`) up to this depth; more is taken for a loop.
const MAX_DEPTH: usize = 8;

fn from_profile<'a>(
    profiles: &'a Profiles,
    name: &'a str,
    env: &'a Env,
    depth: usize,
) -> Pin<Box<dyn Future<Output = Found> + Send + 'a>> {
    Box::pin(async move {
        if depth > MAX_DEPTH {
            return Err(format!(
                "profile [{name}]: source_profile chain too long (a loop?)"
            ));
        }
        let p = profiles
            .get(name)
            .ok_or_else(|| format!("no profile [{name}] in {}", profiles.files))?;
        let origin = |kind: &str| format!("profile {name} ({kind})");
        let done = |keys: Keys, kind: &str| Resolved {
            keys,
            origin: origin(kind),
        };
        let field = |key: &str| p.get(key).map(String::as_str).filter(|v| !v.is_empty());
        if let Some(role_arn) = field("role_arn") {
            return assume_role_profile(profiles, name, p, role_arn, env, depth)
                .await
                .map(|(keys, kind)| done(keys, kind));
        }
        if field("sso_session").is_some() || field("sso_start_url").is_some() {
            return sso_profile(profiles, name, p, env)
                .await
                .map(|keys| done(keys, "SSO"));
        }
        if let Some(command) = field("credential_process") {
            return remote::credential_process(command, name)
                .await
                .map(|keys| done(keys, "credential_process"));
        }
        static_keys(name, p, profiles).map(|keys| done(keys, "static keys"))
    })
}

fn static_keys(name: &str, p: &Section, profiles: &Profiles) -> Result<Keys, String> {
    match (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Ok(Keys {
            access_key: id.clone(),
            secret_key: secret.as_str().into(),
            session_token: p.get("aws_session_token").map(|t| t.as_str().into()),
            expires: None,
        }),
        _ => Err(format!(
            "profile [{name}] in {} has no aws_access_key_id/aws_secret_access_key, role_arn, \
             credential_process or SSO settings",
            profiles.files
        )),
    }
}

async fn assume_role_profile(
    profiles: &Profiles,
    name: &str,
    p: &Section,
    role_arn: &str,
    env: &Env,
    depth: usize,
) -> Result<(Keys, &'static str), String> {
    let session = p
        .get("role_session_name")
        .cloned()
        .unwrap_or_else(session_name);
    let region = p.get("region").cloned().unwrap_or_else(|| env.region());
    let duration_seconds = match p.get("duration_seconds") {
        Some(d) => Some(
            d.parse::<u32>()
                .map_err(|_| format!("profile [{name}]: duration_seconds {d:?} is not a number"))?,
        ),
        None => None,
    };
    let role = RoleRequest {
        role_arn,
        session_name: &session,
        duration_seconds,
        external_id: p.get("external_id").map(String::as_str),
        region: &region,
    };
    if let Some(file) = p.get("web_identity_token_file") {
        return remote::web_identity(env, &role, file)
            .await
            .map(|k| (k, "web identity"));
    }
    let source = match (p.get("source_profile"), p.get("credential_source")) {
        // A profile that names itself holds the keys to assume its role with.
        (Some(source), _) if source == name => static_keys(name, p, profiles)?,
        (Some(source), _) => from_profile(profiles, source, env, depth + 1).await?.keys,
        (None, Some(kind)) => match kind.as_str() {
            "Environment" => {
                from_environment(env)
                    .ok_or_else(|| {
                        format!(
                            "profile [{name}]: credential_source Environment, but no keys in it"
                        )
                    })?
                    .keys
            }
            "Ec2InstanceMetadata" => remote::imds(env).await?,
            "EcsContainer" => remote::container(env).await?.ok_or_else(|| {
                format!("profile [{name}]: credential_source EcsContainer outside a container")
            })?,
            other => {
                return Err(format!(
                    "profile [{name}]: unknown credential_source {other:?}"
                ))
            }
        },
        (None, None) => {
            return Err(format!(
                "profile [{name}] has role_arn but neither source_profile, credential_source nor \
                 web_identity_token_file"
            ))
        }
    };
    remote::assume_role(env, &role, &source)
        .await
        .map(|k| (k, "AssumeRole"))
}

async fn sso_profile(
    profiles: &Profiles,
    name: &str,
    p: &Section,
    env: &Env,
) -> Result<Keys, String> {
    let session = match p.get("sso_session") {
        Some(s) => Some(profiles.sso_session(s).ok_or_else(|| {
            format!(
                "profile [{name}]: no [sso-session {s}] in {}",
                profiles.files
            )
        })?),
        None => None,
    };
    let setting = |key: &str| {
        session
            .and_then(|s| s.get(key))
            .or_else(|| p.get(key))
            .cloned()
            .ok_or_else(|| format!("profile [{name}]: SSO needs {key}"))
    };
    let start_url = setting("sso_start_url")?;
    let sso_region = setting("sso_region")?;
    let account = p
        .get("sso_account_id")
        .ok_or_else(|| format!("profile [{name}]: SSO needs sso_account_id"))?;
    let role = p
        .get("sso_role_name")
        .ok_or_else(|| format!("profile [{name}]: SSO needs sso_role_name"))?;
    let token = cached_sso_token(env, &start_url)?;
    remote::sso(env, &sso_region, account, role, &token).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(config: &str, credentials: &str) -> (tempfile::TempDir, Vec<(String, String)>) {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("config"), config).unwrap();
        fs_err::write(dir.path().join("credentials"), credentials).unwrap();
        let vars = vec![
            (
                "AWS_CONFIG_FILE".into(),
                dir.path().join("config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                dir.path().join("credentials").display().to_string(),
            ),
            ("HOME".into(), dir.path().display().to_string()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        (dir, vars)
    }

    fn env(vars: &[(String, String)], more: &[(&str, &str)]) -> Env {
        let mut pairs: Vec<(&str, &str)> =
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.extend_from_slice(more);
        Env::from_pairs(&pairs)
    }

    #[tokio::test]
    async fn environment_then_profile_then_nothing() {
        let (_dir, vars) = files(
            "[profile backup]\naws_access_key_id = CFG\naws_secret_access_key = cfgsecret\n",
            "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n",
        );
        let e = env(
            &vars,
            &[("AWS_ACCESS_KEY_ID", "ENV"), ("AWS_SECRET_ACCESS_KEY", "x")],
        );
        let found = resolve(&CredentialSource::DefaultChain, &e).await.unwrap();
        assert_eq!(
            (found.keys.access_key.as_str(), found.origin.as_str()),
            ("ENV", "environment")
        );
        let found = resolve(&CredentialSource::DefaultChain, &env(&vars, &[]))
            .await
            .unwrap();
        assert_eq!(found.keys.access_key, "DEF");
        let backup = resolve(
            &CredentialSource::DefaultChain,
            &env(&vars, &[("AWS_PROFILE", "backup")]),
        )
        .await
        .unwrap();
        assert_eq!(backup.keys.access_key, "CFG");
        let missing = resolve(
            &CredentialSource::DefaultChain,
            &env(&vars, &[("AWS_PROFILE", "nope")]),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(missing.contains("[nope]"), "{missing}");
        let (_dir, none) = files("", "");
        let err = resolve(&CredentialSource::DefaultChain, &env(&none, &[]))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("no AWS credentials found"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn credential_process_output_never_shows_in_errors() {
        let (_dir, vars) = files(
            "[profile ok]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"PROC\",\"SecretAccessKey\":\"procsecret\",\"Expiration\":\"2099-01-01T00:00:00Z\"}'\n\
             [profile bad]\ncredential_process = echo not-json-but-secret-ish\n",
            "",
        );
        let ok = resolve(
            &CredentialSource::Profile(Some("ok".into())),
            &env(&vars, &[]),
        )
        .await
        .unwrap();
        assert_eq!(ok.keys.access_key, "PROC");
        assert_eq!(
            ok.keys.expires.unwrap().to_rfc3339(),
            "2099-01-01T00:00:00+00:00"
        );
        let bad = resolve(
            &CredentialSource::Profile(Some("bad".into())),
            &env(&vars, &[]),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("[bad]") && !bad.contains("secret-ish"),
            "{bad}"
        );
    }

    #[tokio::test]
    async fn role_profiles_need_a_source_and_loops_are_caught() {
        let (_dir, vars) = files(
            "[profile lonely]\nrole_arn = arn:aws:iam::1:role/r\n\
             [profile a]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = b\n\
             [profile b]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = a\n",
            "",
        );
        let lonely = resolve(
            &CredentialSource::Profile(Some("lonely".into())),
            &env(&vars, &[]),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(lonely.contains("source_profile"), "{lonely}");
        let looped = resolve(
            &CredentialSource::Profile(Some("a".into())),
            &env(&vars, &[]),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(looped.contains("loop"), "{looped}");
    }

    #[tokio::test]
    async fn sso_profiles_read_the_token_cache() {
        let (dir, vars) = files(
            "[profile sso]\nsso_session = corp\nsso_account_id = 111\nsso_role_name = Backup\n\
             [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n",
            "",
        );
        let err = resolve(
            &CredentialSource::Profile(Some("sso".into())),
            &env(&vars, &[]),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("aws sso login"), "{err}");
        let cache = dir.path().join(".aws/sso/cache");
        fs_err::create_dir_all(&cache).unwrap();
        fs_err::write(
            cache.join("abc.json"),
            r#"{"startUrl":"https://corp.awsapps.com/start","accessToken":"tok","expiresAt":"2020-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let err = resolve(
            &CredentialSource::Profile(Some("sso".into())),
            &env(&vars, &[]),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("expired"), "{err}");
    }
}
