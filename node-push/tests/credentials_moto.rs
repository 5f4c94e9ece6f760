//! The credential chain against real endpoints on loopback: moto's server (PyPI `moto[server]`, in the
//! stack venv) answers IMDSv2 and STS AssumeRoleWithWebIdentity, and SeaweedFS accepts ONLY the keys those
//! endpoints hand out (plus its own, which node-push is never given).
//!
//! moto's STS keys are random; seeding moto's generator (`/moto-api/seed`) makes them a known sequence:
//! the test asks for the first keys itself, seeds again, and starts SeaweedFS accepting exactly those.
//! The web identity keys live 15 s and the upload about 30 s: node-push must renew them on its own.
//!
//! SeaweedFS takes any `X-Amz-Security-Token` for a token of its own STS and refuses the request, so
//! node-push runs here with `NODE_PUSH_S3_OMIT_SESSION_TOKEN=1`: S3 requests carry the temporary key pair
//! (which SeaweedFS checks by signature) without its session token. The STS calls are the real ones.

mod standalone;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use standalone::*;
use testkit::seaweed::SeaweedFs;

/// moto's server on a free loopback port; killed on drop.
struct Moto {
    url: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto() -> Moto {
    let bin = testkit::stack_dir().join("venv/bin/moto_server");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts (cargo xtask setup): {e}", bin.display()));
    let moto = Moto {
        url: format!("http://127.0.0.1:{port}"),
        child,
    };
    let up = wait_until(Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "moto_server did not listen within 60 s");
    moto
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn post(url: &str, body: &str) -> String {
    runtime().block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.text().await.unwrap()
    })
}

fn xml(text: &str, tag: &str) -> String {
    let start = text.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
    let end = start + text[start..].find(&format!("</{tag}>")).unwrap();
    text[start..end].to_string()
}

const ROLE: &str = "arn:aws:iam::123456789012:role/backup";

/// The first `count` key pairs moto's STS will hand out after a seed of 42 (and seeds it again).
fn seeded_sts_keys(moto: &Moto, count: usize) -> Vec<(String, String)> {
    let seed = || post(&format!("{}/moto-api/seed?a=42", moto.url), "");
    seed();
    let keys = (0..count)
        .map(|_| {
            let answer = post(
                &format!("{}/", moto.url),
                &format!(
                    "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={ROLE}\
                     &RoleSessionName=probe&WebIdentityToken=token&DurationSeconds=15"
                ),
            );
            (xml(&answer, "AccessKeyId"), xml(&answer, "SecretAccessKey"))
        })
        .collect();
    seed();
    keys
}

/// Access keys of the roles moto's STS handed out to node-push (session names it chose).
fn issued_to_node_push(moto: &Moto) -> Vec<String> {
    let data = runtime().block_on(async {
        reqwest::get(format!("{}/moto-api/data.json", moto.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    data["sts"]["AssumedRole"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r["session_name"]
                .as_str()
                .is_some_and(|s| s.starts_with("cassandra-snapshotter"))
        })
        .map(|r| r["access_key_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn instance_role_through_imdsv2() {
    let moto = moto();
    let tmp = tempfile::tempdir().unwrap();
    // moto's metadata service hands out these fixed keys.
    let weed =
        SeaweedFs::start_accepting(&[("test-key".into(), "test-secret-key".into())]).unwrap();
    weed.create_bucket(BUCKET).unwrap();
    let data = data_dir(tmp.path(), 3, 64 << 10);
    let args = upload_args(&weed, &data, "imds", &[]);
    let mut command = clean_command(node_push_bin(), tmp.path());
    command.env("NODE_PUSH_S3_OMIT_SESSION_TOKEN", "1");
    command
        .args(&args)
        .stdin(Stdio::null())
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &moto.url);
    let out = run_within(command, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(objects(&weed, "imds/").len(), 3);

    // Without the metadata service, nothing else has keys: one line saying so, no upload.
    let mut command = clean_command(node_push_bin(), tmp.path());
    command.env("NODE_PUSH_S3_OMIT_SESSION_TOKEN", "1");
    command.args(&args).stdin(Stdio::null());
    let out = run_within(command, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
}

#[test]
fn web_identity_keys_that_expire_during_the_upload_are_renewed() {
    let moto = moto();
    let tmp = tempfile::tempdir().unwrap();
    let keys = seeded_sts_keys(&moto, 12);
    let weed = SeaweedFs::start_accepting(&keys).unwrap();
    weed.create_bucket(BUCKET).unwrap();
    let token = tmp.path().join("web-identity-token");
    fs_err::write(&token, "eyJ-test-web-identity-token").unwrap();
    let config = tmp.path().join("aws-config");
    fs_err::write(
        &config,
        format!(
            "[profile irsa]\nrole_arn = {ROLE}\nweb_identity_token_file = {}\nduration_seconds = 15\n",
            token.display()
        ),
    )
    .unwrap();
    let sts_env = |command: &mut Command| {
        command
            .stdin(Stdio::null())
            .env("AWS_ENDPOINT_URL_STS", &moto.url)
            .env("AWS_CONFIG_FILE", &config);
    };

    // EKS IRSA's variables, no profile: a short upload.
    let small = data_dir(&tmp.path().join("small"), 2, 16 << 10);
    let mut command = clean_command(node_push_bin(), tmp.path());
    command.env("NODE_PUSH_S3_OMIT_SESSION_TOKEN", "1");
    command
        .args(upload_args(&weed, &small, "irsa-env", &[]))
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
        .env("AWS_ROLE_ARN", ROLE);
    sts_env(&mut command);
    let out = run_within(command, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(objects(&weed, "irsa-env/").len(), 2);
    // (moto is asked what it issued only at the end: every request to it draws from the seeded
    // generator, so a question in between would shift the keys it hands out next.)

    // The profile: 15-second keys, an upload of about 30 s (40 x 64 KiB at 80 KiB/s).
    let data = data_dir(tmp.path(), 40, 64 << 10);
    let mut command = clean_command(node_push_bin(), tmp.path());
    command.env("NODE_PUSH_S3_OMIT_SESSION_TOKEN", "1");
    command.args(upload_args(
        &weed,
        &data,
        "irsa-profile",
        &[
            "--profile",
            "irsa",
            "--rate-limit",
            "80",
            "--concurrency",
            "2",
        ],
    ));
    sts_env(&mut command);
    let started = std::time::Instant::now();
    let out = run_within(command, Duration::from_secs(180));
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(objects(&weed, "irsa-profile/").len(), 40);
    let issued = issued_to_node_push(&moto);
    testkit::log!(
        "upload of 40 files took {took:?} with 15 s keys; STS issued {} key sets to node-push",
        issued.len()
    );
    assert!(
        took > Duration::from_secs(20),
        "the upload outlived the keys"
    );
    // One set for the short run; for the long one the first set, then a renewal per 10 s (a third
    // of 15 s left) of the upload.
    assert!(issued.len() >= 4, "{issued:?}");
    let accepted: Vec<&String> = keys.iter().map(|(k, _)| k).collect();
    for key in &issued {
        assert!(
            accepted.contains(&key),
            "{key} was not among the seeded keys"
        );
        assert!(!stderr.contains(key.as_str()));
    }
    for (_, secret) in &keys {
        assert!(!stderr.contains(secret.as_str()));
    }
}
