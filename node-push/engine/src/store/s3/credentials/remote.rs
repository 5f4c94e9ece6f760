//! The credential sources reached over HTTP: IMDSv2, container credentials (ECS, EKS Pod Identity), STS
//! (AssumeRoleWithWebIdentity, AssumeRole) and SSO's GetRoleCredentials, plus `credential_process`.
//!
//! Errors say which source and endpoint failed and the service's error code, never a token or a key.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use reqwest::{Client, Method, Url};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::time::Duration;

use super::chain::Env;
use super::Keys;
use contract::secret::Secret;

/// How long one request to a credentials endpoint may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The metadata service answers at once or not at all (not on EC2): fail fast there.
const IMDS_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

fn client(connect_timeout: Duration) -> Result<Client, String> {
    Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

fn parse_time(text: &str, what: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{what}: the expiration {text:?} is not an RFC 3339 time"))
}

/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`: IMDS and container endpoints.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetadataKeys {
    access_key_id: String,
    secret_access_key: Secret,
    token: Option<Secret>,
    expiration: Option<String>,
}

impl MetadataKeys {
    fn into_keys(self, what: &str) -> Result<Keys, String> {
        Ok(Keys {
            access_key: self.access_key_id,
            secret_key: self.secret_access_key,
            session_token: self.token,
            expires: self.expiration.map(|t| parse_time(&t, what)).transpose()?,
        })
    }
}

async fn text_of(response: reqwest::Response, what: &str) -> Result<String, String> {
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| format!("{what}: cannot read the answer: {e}"))?;
    if !status.is_success() {
        // Error bodies of these services hold codes and messages, never credentials.
        let detail = xml_text(&body, "Code")
            .map(|code| {
                let message = xml_text(&body, "Message").unwrap_or_default();
                format!("{code}: {message}")
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(format!("{what}: {detail}"));
    }
    Ok(body)
}

/// The instance role through IMDSv2: a session token first (PUT), then the role name, then its keys.
pub async fn imds(env: &Env) -> Result<Keys, String> {
    if env
        .get("AWS_EC2_METADATA_DISABLED")
        .map(str::to_ascii_lowercase)
        == Some("true".into())
    {
        return Err("the instance metadata service is disabled (AWS_EC2_METADATA_DISABLED)".into());
    }
    let base = env
        .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or("http://169.254.169.254")
        .trim_end_matches('/')
        .to_string();
    let what = format!("instance metadata service {base}");
    let client = client(IMDS_CONNECT_TIMEOUT)?;
    let token = client
        .put(format!("{base}/latest/api/token"))
        .header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
        .send()
        .await
        .map_err(|e| format!("{what}: no answer ({})", e.without_url()))?;
    let token = text_of(token, &what).await?;
    let get = |path: String| {
        client
            .get(format!(
                "{base}/latest/meta-data/iam/security-credentials/{path}"
            ))
            .header("X-aws-ec2-metadata-token", token.trim())
            .send()
    };
    let roles = get(String::new())
        .await
        .map_err(|e| format!("{what}: {}", e.without_url()))?;
    let roles = text_of(roles, &what).await?;
    let role = roles
        .lines()
        .next()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| format!("{what}: this instance has no IAM role"))?
        .to_string();
    let keys = get(role)
        .await
        .map_err(|e| format!("{what}: {}", e.without_url()))?;
    let body = text_of(keys, &what).await?;
    let keys: MetadataKeys = serde_json::from_str(&body)
        .map_err(|_| format!("{what}: the role's credentials are not the expected JSON"))?;
    keys.into_keys(&what)
}

/// Container credentials (ECS task role, EKS Pod Identity).
pub async fn container(env: &Env) -> Result<Option<Keys>, String> {
    let url = if let Some(relative) = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        format!("http://169.254.170.2{relative}")
    } else if let Some(full) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        full.to_string()
    } else {
        return Ok(None);
    };
    let parsed = Url::parse(&url).map_err(|_| {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI/RELATIVE_URI is not a valid URL".to_string()
    })?;
    let what = format!(
        "container credentials endpoint {}://{}",
        parsed.scheme(),
        parsed.host_str().unwrap_or("?")
    );
    let token = match (
        env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    ) {
        (Some(file), _) => Some(
            fs_err::read_to_string(file)
                .map_err(|e| format!("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: {e}"))?
                .trim()
                .to_string(),
        ),
        (None, Some(token)) => Some(token.to_string()),
        (None, None) => None,
    };
    let mut request = client(TIMEOUT)?.get(parsed);
    if let Some(token) = token {
        request = request.header("Authorization", token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{what}: no answer ({})", e.without_url()))?;
    let body = text_of(response, &what).await?;
    let keys: MetadataKeys = serde_json::from_str(&body)
        .map_err(|_| format!("{what}: the answer is not the expected JSON"))?;
    keys.into_keys(&what).map(Some)
}

/// Where STS answers: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else the region's endpoint.
fn sts_endpoint(env: &Env, region: &str) -> String {
    env.get("AWS_ENDPOINT_URL_STS")
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
        .map(|e| e.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"))
}

/// The form body of an STS query API call.
fn form(params: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://form.invalid/").expect("a valid URL");
    url.query_pairs_mut().extend_pairs(params);
    url.query().unwrap_or_default().to_string()
}

/// One role to assume and how.
pub struct RoleRequest<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub duration_seconds: Option<u32>,
    pub external_id: Option<&'a str>,
    pub region: &'a str,
}

/// AssumeRoleWithWebIdentity: the token file's content for the role's keys (no signature needed).
pub async fn web_identity(
    env: &Env,
    role: &RoleRequest<'_>,
    token_file: &str,
) -> Result<Keys, String> {
    let token =
        fs_err::read_to_string(token_file).map_err(|e| format!("web identity token file: {e}"))?;
    let duration = role.duration_seconds.map(|d| d.to_string());
    let mut params = vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role.role_arn),
        ("RoleSessionName", role.session_name),
        ("WebIdentityToken", token.trim()),
    ];
    if let Some(d) = &duration {
        params.push(("DurationSeconds", d));
    }
    let endpoint = sts_endpoint(env, role.region);
    let what = format!(
        "STS AssumeRoleWithWebIdentity at {endpoint} for {}",
        role.role_arn
    );
    let response = client(TIMEOUT)?
        .post(format!("{endpoint}/"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&params))
        .send()
        .await
        .map_err(|e| format!("{what}: no answer ({})", e.without_url()))?;
    sts_keys(&text_of(response, &what).await?, &what)
}

/// AssumeRole, signed (SigV4, service `sts`) with `source`.
pub async fn assume_role(env: &Env, role: &RoleRequest<'_>, source: &Keys) -> Result<Keys, String> {
    let duration = role.duration_seconds.map(|d| d.to_string());
    let mut params = vec![
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", role.role_arn),
        ("RoleSessionName", role.session_name),
    ];
    if let Some(d) = &duration {
        params.push(("DurationSeconds", d));
    }
    if let Some(id) = role.external_id {
        params.push(("ExternalId", id));
    }
    let endpoint = sts_endpoint(env, role.region);
    let what = format!("STS AssumeRole at {endpoint} for {}", role.role_arn);
    let url = Url::parse(&format!("{endpoint}/")).map_err(|_| format!("{what}: not a URL"))?;
    let body = form(&params);
    let mut request = client(TIMEOUT)?
        .request(Method::POST, url.clone())
        .header("Content-Type", "application/x-www-form-urlencoded");
    for (name, value) in sign_sts(&url, &body, source, role.region, Utc::now()) {
        request = request.header(name, value);
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{what}: no answer ({})", e.without_url()))?;
    sts_keys(&text_of(response, &what).await?, &what)
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// SigV4 headers for a form POST to STS: `x-amz-date`, the session token if any, `Authorization`.
fn sign_sts(
    url: &Url,
    body: &str,
    keys: &Keys,
    region: &str,
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let mut headers = vec![
        (
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("host", host),
        ("x-amz-date", amz_date.clone()),
    ];
    if let Some(token) = &keys.session_token {
        headers.push(("x-amz-security-token", token.expose().to_string()));
    }
    let signed: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let canonical = format!(
        "POST\n{}\n\n{canonical_headers}\n{}\n{}",
        url.path(),
        signed.join(";"),
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    let scope = format!("{date}/{region}/sts/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", keys.secret_key.expose()).as_bytes(),
        &date,
    );
    for part in [region, "sts", "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex::encode(hmac(&key, &to_sign));
    let mut out = vec![("x-amz-date", amz_date)];
    if let Some(token) = &keys.session_token {
        out.push(("x-amz-security-token", token.expose().to_string()));
    }
    out.push((
        "Authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
            keys.access_key,
            signed.join(";")
        ),
    ));
    out
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].trim().to_string())
}

/// The `<Credentials>` of an STS answer.
fn sts_keys(xml: &str, what: &str) -> Result<Keys, String> {
    let field =
        |tag: &str| xml_text(xml, tag).ok_or_else(|| format!("{what}: the answer has no {tag}"));
    Ok(Keys {
        access_key: field("AccessKeyId")?,
        secret_key: field("SecretAccessKey")?.into(),
        session_token: Some(field("SessionToken")?.into()),
        expires: Some(parse_time(&field("Expiration")?, what)?),
    })
}

/// SSO: the role's keys from the portal, for the access token `aws sso login` cached.
pub async fn sso(
    env: &Env,
    sso_region: &str,
    account: &str,
    role: &str,
    access_token: &str,
) -> Result<Keys, String> {
    let endpoint = env
        .get("AWS_ENDPOINT_URL_SSO")
        .map(|e| e.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("https://portal.sso.{sso_region}.amazonaws.com"));
    let what = format!("SSO GetRoleCredentials at {endpoint} for {role} in {account}");
    let mut url = Url::parse(&format!("{endpoint}/federation/credentials"))
        .map_err(|_| format!("{what}: not a URL"))?;
    url.query_pairs_mut()
        .append_pair("role_name", role)
        .append_pair("account_id", account);
    let response = client(TIMEOUT)?
        .get(url)
        .header("x-amz-sso_bearer_token", access_token)
        .send()
        .await
        .map_err(|e| format!("{what}: no answer ({})", e.without_url()))?;
    let body = text_of(response, &what).await?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RoleCredentials {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        expiration: i64,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        role_credentials: RoleCredentials,
    }
    let answer: Answer = serde_json::from_str(&body)
        .map_err(|_| format!("{what}: the answer is not the expected JSON"))?;
    let c = answer.role_credentials;
    Ok(Keys {
        access_key: c.access_key_id,
        secret_key: c.secret_access_key,
        session_token: c.session_token,
        expires: DateTime::from_timestamp_millis(c.expiration),
    })
}

/// `credential_process`: runs the command through `sh -c` and reads its JSON (version 1) on stdout.
/// Its stderr passes through; its stdout is never shown (it holds the secret).
pub async fn credential_process(command: &str, profile: &str) -> Result<Keys, String> {
    let what = format!("credential_process of profile [{profile}]");
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .map_err(|e| format!("{what}: cannot run it: {e}"))?;
    if !output.status.success() {
        return Err(format!("{what} failed ({})", output.status));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ProcessKeys {
        version: u32,
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        expiration: Option<String>,
    }
    let keys: ProcessKeys = serde_json::from_slice(&output.stdout)
        .map_err(|_| format!("{what}: its output is not the expected JSON (Version 1)"))?;
    if keys.version != 1 {
        return Err(format!("{what}: Version {} is not 1", keys.version));
    }
    Ok(Keys {
        access_key: keys.access_key_id,
        secret_key: keys.secret_access_key,
        session_token: keys.session_token,
        expires: keys.expiration.map(|t| parse_time(&t, &what)).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_answers_and_errors_are_read() {
        let ok = "<AssumeRoleResponse><AssumeRoleResult><Credentials>\
            <AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s</SecretAccessKey>\
            <SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>\
            </Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let keys = sts_keys(ok, "sts").unwrap();
        assert_eq!(keys.access_key, "ASIAX");
        assert_eq!(
            keys.expires.unwrap().to_rfc3339(),
            "2030-01-01T00:00:00+00:00"
        );
        assert!(sts_keys("<Error/>", "sts").is_err());
    }

    #[test]
    fn sts_signature_matches_a_known_computation() {
        // Same inputs, same signature; the token is signed when present.
        let url = Url::parse("https://sts.us-east-1.amazonaws.com/").unwrap();
        let keys = Keys {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("tok".into()),
            expires: None,
        };
        let when = DateTime::parse_from_rfc3339("2015-08-30T12:36:00Z")
            .unwrap()
            .to_utc();
        let a = sign_sts(&url, "Action=AssumeRole", &keys, "us-east-1", when);
        let b = sign_sts(&url, "Action=AssumeRole", &keys, "us-east-1", when);
        assert_eq!(a, b);
        let auth = &a.last().unwrap().1;
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"));
        assert!(auth.contains("Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request"));
        assert!(!auth.contains("wJalr"));
    }
}
