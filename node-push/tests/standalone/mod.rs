//! Helpers for the standalone tests: a directory of files, node-push started the way cron or systemd
//! would, and the objects SeaweedFS holds.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use engine::store::s3::S3Store;
use engine::store::ObjectStore;
use testkit::seaweed::SeaweedFs;

pub const BUCKET: &str = "standalone";

pub fn node_push_bin() -> &'static str {
    env!("CARGO_BIN_EXE_node-push")
}

/// `count` files of `size` pseudo-random (incompressible) bytes under `dir/data`.
pub fn data_dir(dir: &Path, count: usize, size: usize) -> PathBuf {
    let data = dir.join("data");
    fs_err::create_dir_all(data.join("sub")).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..count {
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let name = if i % 2 == 0 {
            format!("f{i}.bin")
        } else {
            format!("sub/f{i}.bin")
        };
        fs_err::write(data.join(name), bytes).unwrap();
    }
    data
}

/// The keys and sizes under `prefix`, read with the instance's own key.
pub fn objects(weed: &SeaweedFs, prefix: &str) -> BTreeMap<String, u64> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = S3Store::connect(weed.s3_config(BUCKET)).await.unwrap();
        store
            .list(prefix, None)
            .await
            .unwrap()
            .objects
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect()
    })
}

/// `upload --dir DATA --dest s3://BUCKET/PREFIX` against `weed`, plus `extra` flags.
pub fn upload_args(weed: &SeaweedFs, data: &Path, prefix: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "upload",
        "--dir",
        &data.display().to_string(),
        "--dest",
        &format!("s3://{BUCKET}/{prefix}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(weed.node_push_flags());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// A command with no AWS settings from the developer's environment and `HOME` in `home`.
pub fn clean_command(program: &str, home: &Path) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

/// Runs `command` to its end with stdout and stderr captured, within `limit`.
pub fn run_within(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    if !testkit::wait::poll(limit, || !matches!(child.try_wait(), Ok(None))) {
        let _ = child.kill();
        panic!("still running after {limit:?}");
    }
    child.wait_with_output().unwrap()
}

/// Waits until a condition holds, for at most a limit: testkit's one poll.
#[allow(unused_imports)] // not every test binary waits
pub use testkit::wait::poll as wait_until;

/// `promtool check metrics` on a file: its output when it complains.
pub fn promtool_check(path: &Path) -> Result<(), String> {
    let text = fs_err::read(path).unwrap();
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian's prometheus package: cargo xtask setup)");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A credentials file (0600) with profile `[name]` holding the instance's own key.
pub fn credentials_file(dir: &Path, weed: &SeaweedFs, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("aws-credentials");
    fs_err::write(
        &path,
        format!(
            "[{name}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            weed.access_key(),
            weed.secret_key()
        ),
    )
    .unwrap();
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}
