//! `cassandra-snapshotter`: the coordinator binary. Parses the command line and runs one subcommand.
mod cli;
mod secret;
mod shell;

use clap::Parser;

fn main() {
    let _cli = cli::Cli::parse();
}
