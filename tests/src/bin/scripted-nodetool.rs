//! `nodetool` for a scripted node (see `testkit::scripted`): `scripted-nodetool --node DIR <nodetool args>`.
//! Each node's `bin/nodetool` is a wrapper that passes its own `--node`. Connection options (`-h`, `-p`,
//! `-u`, `-pw`, ...) are accepted and ignored. Every command is logged to `<node>/nodetool.log` in the
//! form [`testkit::scripted::NodetoolCall`] parses.

// This program is an output module: its stdout and stderr are nodetool's, which the coordinator reads.
#![allow(clippy::disallowed_macros)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use testkit::scripted::{Node, NodetoolCall};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("--node") || args.len() < 2 {
        bail!("usage: scripted-nodetool --node DIR <nodetool command>");
    }
    let node = Node::open(&PathBuf::from(&args[1]))?;
    args.drain(..2);
    // Connection options come before the command.
    while let Some(first) = args.first() {
        match first.as_str() {
            "-h" | "--host" | "-p" | "--port" | "-u" | "--username" | "-pw" | "--password"
            | "-pwf" | "--password-file" => {
                args.drain(..2.min(args.len()));
            }
            _ => break,
        }
    }
    let Some(command) = args.first().cloned() else {
        bail!("nodetool: no command");
    };
    let rest = &args[1..];
    match command.as_str() {
        "version" => {
            println!("ReleaseVersion: {}", node.spec().version.release());
            return Ok(());
        }
        "ring" => {
            println!("\nDatacenter: datacenter1\n==========");
            println!(
                "Address     Rack        Status State   Load            Owns                Token"
            );
            println!(
                "127.0.0.1   rack1       Up     Normal  1 KB            100.00%             0"
            );
            return Ok(());
        }
        "listsnapshots" => {
            for line in snapshot_listing(&node)? {
                println!("{line}");
            }
            return Ok(());
        }
        _ => {}
    }
    let call = NodetoolCall::from_args(&command, rest)
        .with_context(|| format!("nodetool {}", args.join(" ")))?;
    node.log(&call.to_log_line())?;
    call.apply(&node)?;
    if let NodetoolCall::Snapshot { tag, .. } = &call {
        println!("Requested creating snapshot(s) for [all keyspaces] with snapshot name [{tag}]");
        println!("Snapshot directory: {tag}");
    }
    Ok(())
}

fn snapshot_listing(node: &Node) -> Result<Vec<String>> {
    let mut lines = vec!["Snapshot Details: ".to_string()];
    for table in &node.spec().tables {
        for d in 0..node.spec().data_dirs {
            let dir = node.table_dir(table, d).join("snapshots");
            if !dir.is_dir() {
                continue;
            }
            for entry in fs_err::read_dir(dir)? {
                let tag = entry?.file_name().to_string_lossy().into_owned();
                lines.push(format!("{tag} {} {}", table.keyspace, table.table));
            }
        }
    }
    Ok(lines)
}
