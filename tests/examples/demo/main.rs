//! `cargo xtask demo`: cassandra-snapshotter against a real local stack, step by step.
//!
//! Starts SeaweedFS (the S3 store) with a bucket, a 3-node Apache Cassandra 1.2 ring on 127.0.0.2-4 with
//! one sshd per node (the nodes are ssh hosts `node1`..`node3`, reached through the fixture's ssh config),
//! writes rows into two keyspaces, then runs the real `cassandra-snapshotter` binary as an operator would:
//! a snapshot backup, `list`, more rows, an incremental backup, `list`, and, where this build has them,
//! `verify --deep` and a local restore whose files are compared byte for byte with the nodes' SSTables.
//! Every server stops when the demo ends, however it ends.
//!
//! Run it through `cargo xtask demo` (as root), which installs the stack and builds the binaries first;
//! directly: `cargo build -p node-push -p cassandra-snapshotter && cargo run -p testkit --example demo`.

// The demo is an output program: printing each step for the operator watching it is its whole job.
#![allow(clippy::disallowed_macros)]

mod coordinator;
mod restore_check;
mod steps;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use coordinator::{shown_path, Coordinator};
use indicatif::HumanBytes;
use steps::{seconds, Steps};
use testkit::fixture::NodeFixture;
use testkit::seaweed::SeaweedFs;

const BUCKET: &str = "demo-backups";
const BASE_PATH: &str = "demo-cluster";
const KEYSPACES: [&str; 2] = ["shop", "metrics"];
/// The keyspace the restore brings back.
const RESTORED_KEYSPACE: &str = "shop";

/// Thrift CLI statements creating the demo's keyspaces, each replicated to all three nodes.
const SCHEMA: &str = "\
create keyspace shop with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:3};
use shop;
create column family users with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
create column family orders with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
create keyspace metrics with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:3};
use metrics;
create column family events with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
";

/// Rows `from..to` of every demo table, as Thrift CLI statements.
fn rows(from: usize, to: usize) -> String {
    let mut script = String::new();
    for (keyspace, table) in [("shop", "users"), ("shop", "orders"), ("metrics", "events")] {
        script.push_str(&format!("use {keyspace};\n"));
        for i in from..to {
            script.push_str(&format!(
                "set {table}['{table}-{i:05}']['value'] = '{table} row {i}: {}';\n",
                "some payload ".repeat(8)
            ));
        }
    }
    script
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Printed after every server has stopped (the fixtures are dropped when run() returns).
            eprintln!("\ndemo FAILED: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    // Before starting anything: the binaries the demo runs (`cargo xtask demo` builds them).
    let coordinator_bin = testkit::workspace_bin("cassandra-snapshotter")?;
    let node_push_bin = testkit::workspace_bin("node-push")?;
    let mut steps = Steps::new();
    let s3 = steps.run("start SeaweedFS (S3) and create a bucket", || {
        let s3 = SeaweedFs::start()?;
        s3.create_bucket(BUCKET)?;
        println!("S3 endpoint {}, bucket {BUCKET}", s3.endpoint);
        Ok(s3)
    })?;
    let nodes = steps.run(
        "start a 3-node Cassandra 1.2 ring, one sshd per node",
        || {
            let nodes = NodeFixture::start(3)?;
            for (node, host) in nodes.cassandra.nodes().iter().zip(nodes.ssh.hosts()) {
                println!(
                    "{}: Cassandra on {}, sshd on {}:{}, data in {}",
                    host.alias(),
                    node.ip(),
                    host.ip(),
                    host.port(),
                    node.data_dir().display()
                );
            }
            println!(
                "ssh config for the coordinator: {}",
                nodes.ssh_config_path().display()
            );
            Ok(nodes)
        },
    )?;
    steps.run("write rows into keyspaces shop and metrics, flush", || {
        nodes
            .cassandra
            .cli(0, &format!("{SCHEMA}{}", rows(0, 300)))?;
        flush_everywhere(&nodes)?;
        println!("3 tables x 300 rows, replicated to all 3 nodes");
        Ok(())
    })?;

    let coordinator = Coordinator::new(coordinator_bin, &s3, BUCKET, BASE_PATH);
    println!("\nThe coordinator takes its S3 credentials from the standard AWS variables:");
    coordinator.print_credentials();
    let backup = backup_args(&nodes, &node_push_bin);
    steps.run("backup: the first run takes a snapshot", || {
        coordinator.run(&backup)
    })?;
    steps.run("list", || coordinator.run(&["list"]))?;
    steps.run("write more rows, flush (new SSTables in backups/)", || {
        nodes.cassandra.cli(0, &rows(300, 500))?;
        flush_everywhere(&nodes)
    })?;
    steps.run("backup again: an incremental into the same backup", || {
        coordinator.run(&backup)
    })?;
    steps.run("list", || coordinator.run(&["list"]))?;

    let subcommands = coordinator
        .subcommands()
        .context("cannot read the subcommands from `cassandra-snapshotter --help`")?;
    let verified = subcommands.iter().any(|name| name == "verify");
    if verified {
        steps.run("verify --deep: download and check every object", || {
            coordinator.run(&["verify", "--deep"])
        })?;
    }
    let restore_dir = tempfile::Builder::new().prefix("demo-restore-").tempdir()?;
    let restored = if subcommands.iter().any(|name| name == "restore") {
        Some(
            steps.run("restore keyspace shop locally, compare bytes", || {
                let args = local_restore_args(&coordinator, restore_dir.path())?;
                coordinator.run(&args)?;
                let checked = restore_check::check_local_restore(
                    &nodes,
                    RESTORED_KEYSPACE,
                    restore_dir.path(),
                )?;
                println!(
                    "{} restored files ({}) are byte-identical to the nodes' SSTables",
                    checked.files,
                    HumanBytes(checked.bytes)
                );
                Ok(checked)
            })?,
        )
    } else {
        None
    };

    let listing = coordinator
        .read(&["--json", "list"])
        .context("summary: `list --json` failed")?;
    print_summary(&steps, &listing, verified, restored.as_ref())?;
    println!("\nstopping every server");
    Ok(())
}

/// `backup` of the demo keyspaces on all three nodes, reached through the fixture's ssh config.
fn backup_args(nodes: &NodeFixture, node_push: &Path) -> Vec<String> {
    vec![
        "backup".to_string(),
        format!("--hosts={}", nodes.aliases().join(",")),
        format!("--keyspaces={}", KEYSPACES.join(",")),
        format!("--ssh-config={}", nodes.ssh_config_path().display()),
        format!("--node-push-binary={}", shown_path(node_push)),
    ]
}

/// `restore` of the latest backup's `shop` keyspace into `dir` on this machine. The flag choosing a
/// local restore is `--mode local` where the build has `--mode`, else the old tool's `--local`.
fn local_restore_args(coordinator: &Coordinator, dir: &Path) -> Result<Vec<String>> {
    let help = coordinator.read(&["restore", "--help"])?;
    let local_flag = if help.contains("--mode") {
        "--mode=local"
    } else {
        "--local"
    };
    Ok(vec![
        "restore".to_string(),
        "--snapshot-name=LATEST".to_string(),
        format!("--keyspace={RESTORED_KEYSPACE}"),
        local_flag.to_string(),
        format!("--restore-dir={}", dir.display()),
    ])
}

/// `nodetool flush` of the demo keyspaces on every node, waiting for the `backups/` hard links.
fn flush_everywhere(nodes: &NodeFixture) -> Result<()> {
    for node in 0..nodes.cassandra.len() {
        for keyspace in KEYSPACES {
            nodes.cassandra.flush(node, keyspace)?;
        }
    }
    Ok(())
}

fn print_summary(
    steps: &Steps,
    listing: &str,
    verified: bool,
    restored: Option<&restore_check::Checked>,
) -> Result<()> {
    println!("\n=== summary");
    for (number, step) in steps.done().iter().enumerate() {
        println!(
            "{:>3}. {:<55} {:>7}",
            number + 1,
            step.name,
            seconds(step.elapsed)
        );
    }
    let entries: serde_json::Value =
        serde_json::from_str(listing).context("`list --json` did not print JSON")?;
    for entry in entries.as_array().context("`list --json` is not a list")? {
        let hosts: Vec<&str> = entry["hosts"]
            .as_array()
            .map(|hosts| hosts.iter().filter_map(|host| host.as_str()).collect())
            .unwrap_or_default();
        println!(
            "backup {}: snapshot + {} incremental(s) of {}, complete: {}, {} objects, {} stored in s3://{BUCKET}/{BASE_PATH}/",
            entry["name"].as_str().unwrap_or("?"),
            entry["incrementals"],
            hosts.join(","),
            entry["complete"],
            entry["objects"],
            entry["bytes_stored"]
                .as_u64()
                .map_or("?".to_string(), |bytes| HumanBytes(bytes).to_string())
        );
    }
    println!(
        "verify --deep: {}",
        if verified {
            "passed"
        } else {
            "skipped (this build has no `verify` subcommand)"
        }
    );
    match restored {
        Some(checked) => println!(
            "restore: {} files, {}, byte-identical to the nodes' SSTables",
            checked.files,
            HumanBytes(checked.bytes)
        ),
        None => println!("restore: skipped (this build has no `restore` subcommand)"),
    }
    println!("total: {}", seconds(steps.total()));
    Ok(())
}
