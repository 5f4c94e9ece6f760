//! The config file and the environment: defaults for the flags people repeat.
//!
//! Precedence, highest first: a flag on the command line; its environment variable; the config file; the
//! built-in default. Both extra layers are handed to clap itself, the variable as the flag's `env` and the
//! file's value as its default, so clap's own parser applies the order and checks every value's type, and
//! `--help` shows the file's values as the defaults they are.
//!
//! - Environment: every long flag `--some-flag` is also `CASSANDRA_SNAPSHOTTER_SOME_FLAG`, except the
//!   `--aws-*` ones, whose standard variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`)
//!   already exist. Secret flags take their variable too, which keeps them out of the process list.
//! - File: `--config FILE` or `$CASSANDRA_SNAPSHOTTER_CONFIG` (must exist), else
//!   `$XDG_CONFIG_HOME/cassandra-snapshotter/config.toml` or `~/.config/cassandra-snapshotter/config.toml`
//!   (used when present). TOML; keys are the long flag names (`s3-bucket-name = "backups"`); top-level
//!   keys apply to every subcommand that has the flag, a `[backup]` table (any subcommand's name) to that
//!   subcommand only. An unknown key is an error naming the key and the file.
//!
//! Secrets are never read from the file, whatever its permissions: a config file gets copied, shared and
//! committed, and one rule ("no secret in it") is easier to keep than a file mode. They come from the
//! environment, the AWS profile, or stdin-fed files. Compatibility spellings that a flag could not
//! override (`s3-ssenc`, `reduced-redundancy`) and half a credential (`aws-access-key-id`) are refused there
//! with the key to use instead.

mod apply;
mod file;

pub use file::{locate, ConfigFile};

use crate::cli::Cli;
use anyhow::Result;
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};
use contract::exit::ExitStatus;
use std::ffi::OsString;

/// What the FILES section of the man page says about the config file.
pub const FILE_HELP: &str = "TOML file of defaults for the flags people repeat; --config FILE or \
$CASSANDRA_SNAPSHOTTER_CONFIG names another one. Keys are long flag names: s3-bucket-name = \"backups\", \
hosts = [\"h1\", \"h2\"], use-sudo = true. Top-level keys apply to every command that has the flag; a \
[backup] (or any command's name) table to that command only. Relative paths are relative to the file, \
~/ is the home directory. Secrets (passwords, secret keys, --nodetool-args) are refused: put them in the \
environment or an AWS profile.";

/// What the ENVIRONMENT section of the man page says.
pub const ENVIRONMENT_HELP: &str = "Every long flag --some-flag can be given as \
CASSANDRA_SNAPSHOTTER_SOME_FLAG (lists comma-separated; switches true/false, 1/0, yes/no, on/off), except the --aws-* \
flags, which use AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_PROFILE. A flag \
overrides its variable, which overrides the config file, which overrides the built-in default.";

/// The paragraph added to `--help`.
const HELP_PARAGRAPH: &str = "Defaults: flags may also come from the environment \
(CASSANDRA_SNAPSHOTTER_<FLAG>, e.g. CASSANDRA_SNAPSHOTTER_S3_BUCKET_NAME) or from \
~/.config/cassandra-snapshotter/config.toml (or --config FILE; keys are flag names, no secrets). \
A flag overrides the environment, which overrides the file.";

/// The command line definition with the environment layer and the help paragraph, but no file values:
/// what completions and man pages describe.
pub fn documented_command() -> Command {
    let cmd = apply::with_environment(Cli::command());
    let after = match cmd.get_after_help() {
        Some(text) => format!("{text}\n\n{HELP_PARAGRAPH}"),
        None => HELP_PARAGRAPH.to_string(),
    };
    cmd.after_help(after)
}

/// Why the command line could not be turned into a [`Cli`].
#[derive(Debug)]
pub enum CommandLineError {
    /// Clap's own report: bad flags, or `--help` / `--version` (printed by [`clap::Error::exit`]).
    Usage(clap::Error),
    /// The config file is missing, unreadable or wrong.
    Config(anyhow::Error),
}

impl From<clap::Error> for CommandLineError {
    fn from(error: clap::Error) -> Self {
        CommandLineError::Usage(error)
    }
}

/// Parse the process's command line with the environment and config file layers; on failure print the
/// error (or the help) and exit: 2 for bad usage or a bad config file, as clap does.
pub fn parse() -> Cli {
    let argv: Vec<OsString> = std::env::args_os().collect();
    match parse_from(&argv, &|name| std::env::var_os(name)) {
        Ok(cli) => cli,
        Err(CommandLineError::Usage(error)) => error.exit(),
        Err(CommandLineError::Config(error)) => {
            crate::output::error_line(&format!("{error:#}"));
            std::process::exit(ExitStatus::Fatal.code());
        }
    }
}

/// [`parse`] without exiting. `env` finds the config file; the flags' own variables are read by clap
/// from the process environment.
pub fn parse_from(
    argv: &[OsString],
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Cli, CommandLineError> {
    let base = documented_command();
    let file = ConfigFile::load(&locate(argv, env)).map_err(CommandLineError::Config)?;
    let Some(file) = file else {
        let matches = base.try_get_matches_from(argv)?;
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let skip = apply::Overridden::default();
    let (cmd, applied) =
        apply::with_file(base.clone(), &file, env, &skip).map_err(CommandLineError::Config)?;
    let matches = cmd.clone().try_get_matches_from(argv)?;
    // A file value whose conflicting flag was given explicitly must give way, not clash with it.
    let overridden = apply::overridden_by_conflicts(&cmd, &matches, &applied);
    let matches: ArgMatches = if overridden.is_empty() {
        matches
    } else {
        let (cmd, _) =
            apply::with_file(base, &file, env, &overridden).map_err(CommandLineError::Config)?;
        cmd.try_get_matches_from(argv)?
    };
    Ok(Cli::from_arg_matches(&matches)?)
}

#[cfg(test)]
mod tests;
