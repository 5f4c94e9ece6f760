//! `completions` and `man`'s raw flags; [`crate::completions`] writes what they ask for.

use clap::Args;
use clap_complete::Shell;

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand's own page (e.g. `backup`) instead of the main page.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}
