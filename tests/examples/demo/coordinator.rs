//! Running the real `cassandra-snapshotter` binary as a user would: the store's global flags first, the
//! credentials in the standard AWS environment variables (never on the command line), each command line
//! printed before it runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use testkit::seaweed::SeaweedFs;

/// How the printed command lines show the secret key.
const MASK: &str = "***";

/// The coordinator binary plus everything every one of its runs needs.
#[derive(Debug)]
pub struct Coordinator {
    binary: PathBuf,
    /// `--s3-bucket-name`, `--s3-base-path`, `--s3-endpoint`.
    global_flags: Vec<String>,
    aws_env: Vec<(String, String)>,
    secret_key: String,
}

impl Coordinator {
    pub fn new(binary: PathBuf, s3: &SeaweedFs, bucket: &str, base_path: &str) -> Self {
        Self {
            binary,
            global_flags: vec![
                format!("--s3-bucket-name={bucket}"),
                format!("--s3-base-path={base_path}"),
                format!("--s3-endpoint={}", s3.endpoint),
            ],
            aws_env: s3.aws_env(),
            secret_key: s3.secret_key().to_string(),
        }
    }

    /// The `export` line a user would type first, with the secret key masked.
    pub fn print_credentials(&self) {
        let shown: Vec<String> = self
            .aws_env
            .iter()
            .map(|(name, value)| format!("{name}={}", self.mask(value)))
            .collect();
        println!("$ export {}", shown.join(" "));
    }

    /// Runs `cassandra-snapshotter <global flags> <args>` with the terminal as its stdout and stderr, as a
    /// user sees it; fails unless it exits 0.
    pub fn run(&self, args: &[impl AsRef<str>]) -> Result<()> {
        let mut command = self.command(args);
        println!("$ {}", self.describe(&command));
        let status = command
            .status()
            .context("cannot start cassandra-snapshotter")?;
        if !status.success() {
            bail!("`cassandra-snapshotter {}` failed: {status}", joined(args));
        }
        Ok(())
    }

    /// Like [`run`](Self::run) but quiet, returning stdout (for `--json` output and `--help`).
    pub fn read(&self, args: &[impl AsRef<str>]) -> Result<String> {
        let output = self
            .command(args)
            .output()
            .context("cannot start cassandra-snapshotter")?;
        if !output.status.success() {
            bail!(
                "`cassandra-snapshotter {}` failed ({}): {}",
                joined(args),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The subcommands this build has (`backup`, `list`, and `verify`/`restore` where they exist).
    pub fn subcommands(&self) -> Result<Vec<String>> {
        let help = self.read(&["--help"])?;
        Ok(help
            .lines()
            .skip_while(|line| !line.starts_with("Commands:"))
            .skip(1)
            .take_while(|line| line.starts_with("  "))
            // A name is indented by two spaces; deeper lines continue the previous description.
            .filter(|line| !line.starts_with("   "))
            .filter_map(|line| line.split_whitespace().next())
            .map(str::to_string)
            .collect())
    }

    fn command(&self, args: &[impl AsRef<str>]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(testkit::workspace_root())
            .args(&self.global_flags)
            .args(args.iter().map(AsRef::as_ref))
            // A developer's own AWS settings must not change what the demo talks to.
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .envs(self.aws_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command
    }

    fn describe(&self, command: &Command) -> String {
        let mut words = vec![shown_path(Path::new(command.get_program()))];
        words.extend(
            command
                .get_args()
                .map(|arg| self.mask(&arg.to_string_lossy())),
        );
        words.join(" ")
    }

    /// `text` with the secret key replaced by `***`, should it ever be there.
    fn mask(&self, text: &str) -> String {
        text.replace(&self.secret_key, MASK)
    }
}

/// `path` relative to the workspace root when it is inside it (`target/debug/node-push`), as a user
/// working in the checkout would type it.
pub fn shown_path(path: &Path) -> String {
    let root = testkit::workspace_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn joined(args: &[impl AsRef<str>]) -> String {
    let words: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    words.join(" ")
}
