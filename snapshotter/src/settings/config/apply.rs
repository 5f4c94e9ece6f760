//! Putting the two layers into clap: each flag's environment variable as its `env`, the config file's
//! value as its default. Works on any clap [`Command`], so flags and subcommands added later are covered
//! without a list to keep in step.

use super::file::{words, ConfigFile, Shape};
use crate::secret::Secret;
use anyhow::{bail, Result};
use clap::builder::OsStr;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::any::TypeId;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

const ENV_PREFIX: &str = "CASSANDRA_SNAPSHOTTER_";

/// Subcommands that describe the tool rather than run it: no layers for them.
const UNLAYERED_COMMANDS: [&str; 3] = ["completions", "man", "help"];

/// Where a flag is defined.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// On the top-level command: the global flags.
    Root,
    Subcommand(String),
}

/// File values that went into the command as defaults, by scope and argument id.
#[derive(Debug, Default)]
pub struct Applied(Vec<(Scope, String)>);

/// File values to leave out because a flag that conflicts with them was given.
#[derive(Debug, Default)]
pub struct Overridden(BTreeSet<(Scope, String)>);

impl Overridden {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The long name of a flag the layers apply to (`None` for positionals, help and version).
fn layered_long(arg: &Arg) -> Option<&str> {
    arg.get_long()
        .filter(|long| !matches!(*long, "help" | "version"))
}

fn is_layered_command(cmd: &Command) -> bool {
    !UNLAYERED_COMMANDS.contains(&cmd.get_name())
}

fn is_secret(arg: &Arg) -> bool {
    arg.get_value_parser().type_id() == TypeId::of::<Secret>()
}

/// `--some-flag` -> `CASSANDRA_SNAPSHOTTER_SOME_FLAG`; `None` for the `--aws-*` flags, whose standard
/// AWS variables exist already.
pub fn env_name(arg: &Arg) -> Option<String> {
    let long = layered_long(arg)?;
    if long.starts_with("aws-") {
        return None;
    }
    Some(format!(
        "{ENV_PREFIX}{}",
        long.to_ascii_uppercase().replace('-', "_")
    ))
}

fn add_env(arg: Arg) -> Arg {
    let Some(name) = env_name(&arg) else {
        return arg;
    };
    // Hidden from --help, where ~40 `[env: ...]` lines would bury the flags; the man page lists them.
    let secret = is_secret(&arg);
    let arg = arg.env(name).hide_env(true).hide_env_values(secret);
    if shape(&arg) == Shape::Switch {
        // Variables are set by hand and by scripts: `1`, `yes` and `on` mean what they say there.
        arg.value_parser(clap::builder::BoolishValueParser::new())
    } else {
        arg
    }
}

/// Give every flag of `cmd` and its subcommands its environment variable.
pub fn with_environment(cmd: Command) -> Command {
    cmd.mut_args(add_env).mut_subcommands(|sub| {
        if is_layered_command(&sub) {
            sub.mut_args(add_env)
        } else {
            sub
        }
    })
}

/// Why a flag cannot be set in the file, and what to write instead.
fn refusal(arg: &Arg) -> Option<String> {
    let long = layered_long(arg)?;
    if is_secret(arg) {
        let instead = match env_name(arg) {
            Some(name) => name,
            None => "AWS_SECRET_ACCESS_KEY or aws-profile".to_string(),
        };
        return Some(format!(
            "is a secret, and secrets are never read from a config file: use {instead} in the environment"
        ));
    }
    let instead = match long {
        "s3-ssenc" => "write s3-sse = \"AES256\"",
        "reduced-redundancy" => "write s3-storage-class = \"REDUCED_REDUNDANCY\"",
        "aws-access-key-id" => {
            "write aws-profile, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
        }
        "config" => "a config file cannot name another one",
        _ => return None,
    };
    Some(format!("is not read from a config file: {instead}"))
}

/// Environment variables outside clap that must win over the file's value of this flag: the AWS chain
/// reads `AWS_PROFILE` and `AWS_ACCESS_KEY_ID` itself ([`crate::settings::Credentials`]).
fn overriding_variables(long: &str) -> &'static [&'static str] {
    match long {
        "aws-profile" => &["AWS_PROFILE", "AWS_ACCESS_KEY_ID"],
        _ => &[],
    }
}

fn shape(arg: &Arg) -> Shape {
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => Shape::Switch,
        ArgAction::Append => Shape::List,
        _ if arg.get_value_parser().type_id() == TypeId::of::<PathBuf>() => Shape::LocalPath,
        _ => Shape::Single,
    }
}

fn layered_args(cmd: &Command) -> impl Iterator<Item = (&str, &Arg)> {
    cmd.get_arguments()
        .filter_map(|arg| layered_long(arg).map(|long| (long, arg)))
}

fn layered_subcommands(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands().filter(|sub| is_layered_command(sub))
}

/// Every key in the file must be a flag the file may set, each table a subcommand.
fn check_keys(cmd: &Command, file: &ConfigFile) -> Result<()> {
    let path = file.path.display();
    let all_args: Vec<(&str, &Arg)> = layered_args(cmd)
        .chain(layered_subcommands(cmd).flat_map(layered_args))
        .collect();
    let unknown = |key: &str, known: &[(&str, &Arg)], place: &str| {
        let dashed = key.replace('_', "-");
        let hint = if dashed != key && known.iter().any(|(long, _)| *long == dashed) {
            format!("did you mean {dashed}?")
        } else {
            "keys are long flag names such as s3-bucket-name".to_string()
        };
        anyhow::anyhow!("config file {path}: unknown key {key}{place} ({hint})")
    };
    let refused = |key: &str, known: &[(&str, &Arg)]| {
        known
            .iter()
            .filter(|(long, _)| *long == key)
            .find_map(|(_, arg)| refusal(arg))
    };
    for key in file.top.keys() {
        if !all_args.iter().any(|(long, _)| long == key) {
            return Err(unknown(key, &all_args, ""));
        }
        if let Some(why) = refused(key, &all_args) {
            bail!("config file {path}: key {key} {why}");
        }
    }
    for (name, section) in &file.sections {
        let Some(sub) = layered_subcommands(cmd).find(|sub| sub.get_name() == name) else {
            let names: Vec<&str> = layered_subcommands(cmd).map(Command::get_name).collect();
            bail!(
                "config file {path}: unknown table [{name}] (tables are named after commands: {})",
                names.join(", ")
            );
        };
        let own: Vec<(&str, &Arg)> = layered_args(sub).collect();
        for key in section.keys() {
            if layered_args(cmd).any(|(long, _)| long == key) {
                bail!("config file {path}: key {key} in [{name}] is a global flag: put it at the top of the file");
            }
            if !own.iter().any(|(long, _)| long == key) {
                return Err(unknown(
                    key,
                    &own,
                    &format!(" in [{name}], which takes {name}'s own flags"),
                ));
            }
            if let Some(why) = refused(key, &own) {
                bail!("config file {path}: key {key} in [{name}] {why}");
            }
        }
    }
    Ok(())
}

/// Check `words` the way clap will parse them, so that a bad value is reported against the file.
fn check_value(arg: &Arg, long: &str, words: &[String], file: &ConfigFile) -> Result<()> {
    if shape(arg) == Shape::Switch {
        return Ok(()); // a TOML boolean, checked by `words`
    }
    // A bare copy: the real one's relations (conflicts, requires) name flags this probe lacks.
    let mut probe_arg = Arg::new("probe")
        .long(long.to_string())
        .value_names(arg.get_value_names().unwrap_or_default().to_vec())
        .action(arg.get_action().clone())
        .value_parser(arg.get_value_parser().clone());
    if let Some(delimiter) = arg.get_value_delimiter() {
        probe_arg = probe_arg.value_delimiter(delimiter);
    }
    if let Some(range) = arg.get_num_args() {
        probe_arg = probe_arg.num_args(range);
    }
    let argv = std::iter::once("config".to_string())
        .chain(words.iter().map(|word| format!("--{long}={word}")));
    if let Err(error) = Command::new("config")
        .arg(probe_arg)
        .try_get_matches_from(argv)
    {
        let rendered = error.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        let reason = first.strip_prefix("error: ").unwrap_or(first);
        bail!("config file {}: key {long}: {reason}", file.path.display());
    }
    Ok(())
}

/// The defaults the file gives the flags of `cmd`: `(argument id, words)`. `section` is the subcommand's
/// table, whose keys win over the top-level ones.
fn defaults_for(
    cmd: &Command,
    scope: &Scope,
    file: &ConfigFile,
    env: &dyn Fn(&str) -> Option<OsString>,
    skip: &Overridden,
) -> Result<Vec<(String, Vec<String>)>> {
    let section = match scope {
        Scope::Root => None,
        Scope::Subcommand(name) => file.sections.get(name),
    };
    let home = env("HOME");
    let mut defaults = Vec::new();
    for (long, arg) in layered_args(cmd) {
        let id = arg.get_id().to_string();
        let Some(value) = section
            .and_then(|s| s.get(long))
            .or_else(|| file.top.get(long))
        else {
            continue;
        };
        if skip.0.contains(&(scope.clone(), id.clone()))
            || overriding_variables(long)
                .iter()
                .any(|name| env(name).is_some_and(|v| !v.is_empty()))
        {
            continue;
        }
        let words = words(file, long, value, shape(arg), home.as_deref())?;
        check_value(arg, long, &words, file)?;
        defaults.push((id, words));
    }
    Ok(defaults)
}

fn with_default(arg: Arg, words: &[String]) -> Arg {
    let values: Vec<OsStr> = words.iter().map(|w| OsStr::from(w.clone())).collect();
    // A value from the file satisfies a required flag (clap does not count defaults as given).
    arg.default_values(values).required(false)
}

/// Put the file's values into `cmd` as defaults, leaving out those in `skip`.
pub fn with_file(
    mut cmd: Command,
    file: &ConfigFile,
    env: &dyn Fn(&str) -> Option<OsString>,
    skip: &Overridden,
) -> Result<(Command, Applied)> {
    check_keys(&cmd, file)?;
    let mut applied = Applied::default();
    let root_defaults = defaults_for(&cmd, &Scope::Root, file, env, skip)?;
    for (id, words) in root_defaults {
        cmd = cmd.mut_arg(&id, |arg| with_default(arg, &words));
        applied.0.push((Scope::Root, id));
    }
    let names: Vec<String> = layered_subcommands(&cmd)
        .map(|sub| sub.get_name().to_string())
        .collect();
    for name in names {
        let scope = Scope::Subcommand(name.clone());
        let sub = cmd.find_subcommand(&name).expect("listed above");
        let defaults = defaults_for(sub, &scope, file, env, skip)?;
        if defaults.is_empty() {
            continue;
        }
        cmd = cmd.mut_subcommand(&name, |mut sub| {
            for (id, words) in &defaults {
                sub = sub.mut_arg(id, |arg| with_default(arg, words));
            }
            sub
        });
        applied
            .0
            .extend(defaults.into_iter().map(|(id, _)| (scope.clone(), id)));
    }
    Ok((cmd, applied))
}

/// File values that clap used although a flag conflicting with them was given on the command line or in
/// the environment: they must be left out, so that the flag wins as it would over a built-in default.
pub fn overridden_by_conflicts(
    cmd: &Command,
    matches: &ArgMatches,
    applied: &Applied,
) -> Overridden {
    let explicit = |m: &ArgMatches, id: &str| {
        matches!(
            m.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let mut overridden = Overridden::default();
    for (scope, id) in &applied.0 {
        let (command, m) = match scope {
            Scope::Root => (cmd, matches),
            Scope::Subcommand(name) => match (matches.subcommand(), cmd.find_subcommand(name)) {
                (Some((used, m)), Some(sub)) if used == name => (sub, m),
                _ => continue,
            },
        };
        if m.value_source(id) != Some(ValueSource::DefaultValue) {
            continue;
        }
        let Some(arg) = command.get_arguments().find(|a| a.get_id() == id) else {
            continue;
        };
        let clashes = command.get_arguments().any(|other| {
            other.get_id() != arg.get_id()
                && (command.get_arg_conflicts_with(arg).contains(&other)
                    || command.get_arg_conflicts_with(other).contains(&arg))
                && explicit(m, other.get_id().as_str())
        });
        if clashes {
            overridden.0.insert((scope.clone(), id.clone()));
        }
    }
    overridden
}
