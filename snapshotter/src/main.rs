//! `cassandra-snapshotter`: the coordinator binary. Parses the command line and runs one subcommand.
mod cli;
mod nodetool;
mod output;
mod remote;
mod secret;
mod settings;
mod shell;
mod ssh;

use clap::Parser;

fn main() {
    let _cli = cli::Cli::parse();
}
