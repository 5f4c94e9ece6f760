//! `completions SHELL` and `man [COMMAND]`: shell completion scripts and roff manual pages generated from
//! the same clap definition the parser uses, so they cannot drift from the real flags.
//!
//! Both print to stdout, for packaging (`cassandra-snapshotter man > cassandra-snapshotter.1`) or for a
//! shell's start-up file (`source <(cassandra-snapshotter completions bash)`). The command they describe is
//! [`crate::settings::config::documented_command`]: the flags with their environment variables, but
//! without the values of the user's config file, which must not end up in a page meant for others.

use crate::cli::{CompletionsArgs, ManArgs};
use crate::output;
use crate::settings::config::{self, documented_command};
use anyhow::{bail, Result};
use clap::Command;
use clap_complete::Shell;
use std::io::Write;

/// The name completions are registered for: what users type.
const BIN_NAME: &str = "cassandra-snapshotter";

/// Write the completion script for `shell`.
pub fn write_completions(shell: Shell, out: &mut dyn Write) -> Result<()> {
    let mut cmd = documented_command();
    clap_complete::generate(shell, &mut cmd, BIN_NAME, out);
    Ok(())
}

/// Write the main page (`command` = `None`) or one subcommand's page, as roff.
pub fn write_man_page(command: Option<&str>, out: &mut dyn Write) -> Result<()> {
    // The variables are hidden from --help (they would double its length) but belong in the manual.
    let show_env = |arg: clap::Arg| arg.hide_env(false);
    let mut root = documented_command()
        .bin_name(BIN_NAME)
        .mut_args(show_env)
        .mut_subcommands(|sub| sub.mut_args(show_env));
    // Building fills in what the pages show: global flags copied into each subcommand, usage lines.
    root.build();
    match command {
        None => {
            clap_mangen::Man::new(root.clone()).render(out)?;
            write_files_and_environment(out)?;
        }
        Some(name) => {
            let Some(sub) = root.find_subcommand(name) else {
                let known: Vec<&str> = root
                    .get_subcommands()
                    .map(Command::get_name)
                    .filter(|n| *n != "help")
                    .collect();
                bail!("man {name}: no such command; one of: {}", known.join(", "));
            };
            let page_name = format!("{BIN_NAME}-{name}");
            let sub = sub.clone().name(page_name.clone()).display_name(page_name);
            clap_mangen::Man::new(sub).render(out)?;
        }
    }
    Ok(())
}

/// The FILES and ENVIRONMENT sections of the main page: where the config file is and how the layers
/// override each other (the per-flag variables are listed with each option).
fn write_files_and_environment(out: &mut dyn Write) -> std::io::Result<()> {
    let roff_text = |text: &str| text.replace('\\', "\\e").replace('-', "\\-");
    writeln!(out, ".SH FILES")?;
    writeln!(out, ".TP")?;
    writeln!(
        out,
        "{}",
        roff_text("$XDG_CONFIG_HOME/cassandra-snapshotter/config.toml (default ~/.config/cassandra-snapshotter/config.toml)")
    )?;
    writeln!(out, "{}", roff_text(config::FILE_HELP))?;
    writeln!(out, ".SH ENVIRONMENT")?;
    writeln!(out, "{}", roff_text(config::ENVIRONMENT_HELP))?;
    Ok(())
}

/// Print the completion script for `args.shell` on stdout. The text is generated into memory first
/// because the generators treat a failed write (a reader that stopped early) as a bug and panic.
pub fn print_completions(args: &CompletionsArgs) -> Result<()> {
    let mut text = Vec::new();
    write_completions(args.shell, &mut text)?;
    Ok(output::stdout_text(&text)?)
}

/// Print a manual page on stdout.
pub fn print_man_page(args: &ManArgs) -> Result<()> {
    let mut text = Vec::new();
    write_man_page(args.command.as_deref(), &mut text)?;
    Ok(output::stdout_text(&text)?)
}

#[cfg(test)]
mod tests;
