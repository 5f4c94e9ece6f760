//! The real binary with a config file: `list` against a real SeaweedFS where the bucket, base path and
//! endpoint come only from `config.toml` (found through XDG_CONFIG_HOME, or named by `--config`), the
//! environment and flags overriding it; a bad file stops the run with one line naming it; `completions`
//! and `man` print what bash and roff readers accept.
//!
//! Needs `weed` (`cargo xtask setup`).

use anyhow::{ensure, Context, Result};
use bytes::Bytes;
use contract::layout::{self, BackupName};
use contract::manifest::Manifest;
use engine::store::s3::S3Store;
use engine::store::{ObjectStore, PutOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use testkit::seaweed::SeaweedFs;

const BUCKET: &str = "config-test";

/// A user's home with the XDG config dir, and no AWS files, so nothing from the developer's own
/// configuration takes part.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Result<Home> {
        let dir = tempfile::tempdir()?;
        fs_err::create_dir_all(dir.path().join("xdg/cassandra-snapshotter"))?;
        Ok(Home { dir })
    }

    fn default_config(&self) -> PathBuf {
        self.dir
            .path()
            .join("xdg/cassandra-snapshotter/config.toml")
    }

    /// Run the coordinator with `env` added to a clean environment (HOME and XDG_CONFIG_HOME here).
    fn run(&self, args: &[&str], env: &[(String, String)]) -> Result<Output> {
        let output = Command::new(env!("CARGO_BIN_EXE_cassandra-snapshotter"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()?;
        Ok(output)
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The backup names `list --json` printed.
fn listed(output: &Output) -> Result<Vec<String>> {
    ensure!(
        output.status.success(),
        "list failed ({}): {}",
        output.status,
        stderr(output)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("list --json printed {}", stdout(output)))?;
    Ok(json
        .as_array()
        .context("a JSON array")?
        .iter()
        .filter_map(|entry| entry["name"].as_str().map(str::to_string))
        .collect())
}

/// Store an empty but complete backup under each base path, one hour apart; their names in that order.
fn put_backups(weed: &SeaweedFs, bases: &[&str]) -> Result<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = S3Store::connect(weed.s3_config(BUCKET)).await?;
        let now = chrono::Utc::now();
        let mut names = Vec::new();
        for (hours, base) in bases.iter().enumerate() {
            let name =
                BackupName::from_time(now - chrono::Duration::hours(hours as i64)).to_string();
            let manifest = Manifest::new(&name, base, vec!["h1".into()], None, "");
            store
                .put_object(
                    &layout::manifest_key(base, &name),
                    Bytes::from(manifest.to_json()),
                    &PutOptions::default(),
                )
                .await?;
            names.push(name);
        }
        Ok(names)
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs_err::write(path, text)?;
    Ok(())
}

#[test]
fn list_takes_bucket_and_base_path_from_the_config_file() -> Result<()> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let names = put_backups(&weed, &["cluster-a", "cluster-b"])?;
    let (ours, theirs) = (names[0].clone(), names[1].clone());
    let home = Home::new()?;
    write(
        &home.default_config(),
        &format!(
            "# Everything S3 but the credentials, which stay in the environment.\n\
             s3-bucket-name = \"{BUCKET}\"\ns3-base-path = \"cluster-a\"\ns3-endpoint = \"{}\"\n\
             s3-bucket-region = \"{}\"\n\n[backup]\nconnection-pool-size = 2\n",
            weed.endpoint,
            weed.region()
        ),
    )?;
    let aws = weed.aws_env();

    // The file alone names bucket, base path and endpoint.
    assert_eq!(
        listed(&home.run(&["list", "--json"], &aws)?)?,
        [ours.as_str()]
    );

    // The environment overrides the file; a flag overrides both.
    let mut env = aws.clone();
    env.push((
        "CASSANDRA_SNAPSHOTTER_S3_BASE_PATH".into(),
        "cluster-b".into(),
    ));
    assert_eq!(
        listed(&home.run(&["list", "--json"], &env)?)?,
        [theirs.as_str()]
    );
    assert_eq!(
        listed(&home.run(&["--s3-base-path=cluster-a", "list", "--json"], &env)?)?,
        [ours.as_str()]
    );

    // --config names another file, which replaces the default one.
    let other = home.dir.path().join("cluster-b.toml");
    write(
        &other,
        &format!(
            "s3-bucket-name = \"{BUCKET}\"\ns3-base-path = \"cluster-b\"\ns3-endpoint = \"{}\"\n",
            weed.endpoint
        ),
    )?;
    let other = other.to_str().unwrap();
    assert_eq!(
        listed(&home.run(&["list", "--json", "--config", other], &aws)?)?,
        [theirs.as_str()]
    );

    // Without the file, the required flags are missing again.
    fs_err::remove_file(home.default_config())?;
    let output = home.run(&["list"], &aws)?;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--s3-bucket-name"),
        "{}",
        stderr(&output)
    );
    Ok(())
}

#[test]
fn a_bad_config_file_is_one_line_naming_file_and_key() -> Result<()> {
    let home = Home::new()?;
    for (text, needle) in [
        ("s3-bucket = \"b\"\n", "unknown key s3-bucket"),
        ("password = \"hunter2\"\n", "key password is a secret"),
        ("sshport = \"ssh\"\n", "key sshport"),
        ("s3-bucket-name = \n", "not valid TOML at line 1"),
    ] {
        write(&home.default_config(), text)?;
        let output = home.run(&["list"], &[])?;
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text:?}: {error}");
        assert!(error.contains(needle), "{text:?}: {error}");
        assert!(
            error.contains(&home.default_config().display().to_string()),
            "{error}"
        );
        assert_eq!(error.trim_end().lines().count(), 1, "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
    let missing = home.dir.path().join("missing.toml");
    let output = home.run(&["--config", missing.to_str().unwrap(), "list"], &[])?;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("missing.toml"),
        "{}",
        stderr(&output)
    );
    Ok(())
}

#[test]
fn completions_and_man_pages_come_out_on_stdout() -> Result<()> {
    let home = Home::new()?;
    let bash = home.run(&["completions", "bash"], &[])?;
    ensure!(bash.status.success(), "{}", stderr(&bash));
    let script = home.dir.path().join("completion.bash");
    fs_err::write(&script, &bash.stdout)?;
    let check = Command::new("bash").arg("-n").arg(&script).output()?;
    assert!(check.status.success(), "bash -n: {}", stderr(&check));
    for word in ["backup", "list", "--s3-bucket-name", "--hosts"] {
        assert!(stdout(&bash).contains(word), "bash completions lack {word}");
    }
    for shell in ["zsh", "fish"] {
        let output = home.run(&["completions", shell], &[])?;
        ensure!(output.status.success(), "{shell}: {}", stderr(&output));
        assert!(stdout(&output).contains("s3-bucket-name"), "{shell}");
    }
    let man = home.run(&["man"], &[])?;
    ensure!(man.status.success(), "{}", stderr(&man));
    let page = stdout(&man);
    assert!(page.contains(".TH cassandra-snapshotter"), "{page}");
    assert!(page.contains(".SH ENVIRONMENT") && page.contains("backup"));
    let backup = home.run(&["man", "backup"], &[])?;
    assert!(stdout(&backup).contains("CASSANDRA_SNAPSHOTTER_HOSTS"));
    let wrong = home.run(&["completions", "tcsh"], &[])?;
    assert_eq!(wrong.status.code(), Some(2));
    Ok(())
}
