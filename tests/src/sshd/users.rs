//! Local accounts for "sudo required" hosts, and file modes a non-root sshd session needs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

/// useradd's exit code for "user already exists" (another test created it a moment ago).
const USERADD_EXISTS: i32 = 9;

/// Makes sure `name` exists, can log in with a key (account not locked) and has passwordless sudo.
pub(super) fn ensure_sudo_user(name: &str) -> Result<()> {
    // useradd and usermod fail rather than wait when another one holds /etc/passwd's lock, so tests of
    // one process that start sudo hosts at the same time take turns.
    static ACCOUNT_CHANGES: Mutex<()> = Mutex::new(());
    let _turn = ACCOUNT_CHANGES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid_name || name == "root" {
        bail!("{name:?} is not a usable name for a sudo test user");
    }
    if !running_as_root()? {
        bail!("creating the sudo test user {name} needs root");
    }
    if !Path::new("/usr/bin/sudo").is_file() {
        bail!("sudo is not installed: run `cargo xtask setup`");
    }
    if !user_exists(name)? {
        let status = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/bash", name])
            .stdin(Stdio::null())
            .status()
            .context("cannot run useradd")?;
        if !status.success() && status.code() != Some(USERADD_EXISTS) {
            bail!("useradd {name} failed: {status}");
        }
    }
    // useradd leaves the password field "!", a locked account, and sshd without PAM refuses locked
    // accounts even for key logins. "*" means "no password can match" without locking.
    if password_field(name)?.starts_with('!') {
        let status = Command::new("usermod")
            .args(["-p", "*", name])
            .stdin(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("usermod -p '*' {name} failed: {status}");
        }
    }
    let sudoers = Path::new("/etc/sudoers.d").join(format!("testkit-{name}"));
    let rule = format!("# Created by testkit for its sudo-required test hosts.\n{name} ALL=(ALL:ALL) NOPASSWD: ALL\n");
    if fs_err::read_to_string(&sudoers).ok().as_deref() != Some(rule.as_str()) {
        // Written aside and renamed, so sudo never reads a half-written rule.
        // sudo ignores names with a dot, so the staged file is never read as a rule.
        let staged = sudoers.with_extension(format!("{}.tmp", std::process::id()));
        fs_err::write(&staged, &rule)?;
        fs_err::set_permissions(&staged, std::fs::Permissions::from_mode(0o440))?;
        fs_err::rename(&staged, &sudoers)?;
    }
    Ok(())
}

/// Gives everyone read access to `path` (and traversal, for a directory).
pub(crate) fn make_world_readable(path: &Path) -> Result<()> {
    let mode = if fs_err::metadata(path)?.is_dir() {
        0o755
    } else {
        0o644
    };
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

pub(crate) fn running_as_root() -> Result<bool> {
    Ok(fs_err::metadata("/proc/self")?.uid() == 0)
}

/// The user's password field in /etc/shadow ("!" prefix = locked).
fn password_field(name: &str) -> Result<String> {
    let shadow = fs_err::read_to_string("/etc/shadow")?;
    let field = shadow.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(':')?
            .split(':')
            .next()
            .map(str::to_string)
    });
    field.with_context(|| format!("{name} is not in /etc/shadow"))
}

fn user_exists(name: &str) -> Result<bool> {
    let status = Command::new("id")
        .args(["-u", name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("cannot run id")?;
    Ok(status.success())
}
