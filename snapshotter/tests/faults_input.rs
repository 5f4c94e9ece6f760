//! Bad input to `cassandra-snapshotter`, against a real 2-node Cassandra 1.2 ring behind real sshd hosts
//! and a real SeaweedFS: each mistake gives an error line that names the host, file, flag or bucket at
//! fault and a non-zero exit, and changes nothing: no snapshot on any node, node-push not installed, no
//! new object in the bucket.
//!
//! Covered: unknown host, wrong SSH port, wrong SSH key, changed host key, unknown host key (checked by
//! default, not only when the config says so), missing bucket, wrong secret key and wrong access key id,
//! an empty region (SeaweedFS accepts every region name, so a region that does not match the bucket cannot
//! be shown here; the AWS error for it is classified in node-push's store tests), cassandra.yaml missing
//! or without data_file_directories, keyspace or table that does not exist, an incremental due while
//! incremental_backups is off, nodetool missing or failing, keyspace names with shell metacharacters, and
//! for `list` a manifest that is not JSON. (A full disk while restoring is node-push's restore test.)

mod faults;

use anyhow::{ensure, Result};
use faults::coordinator::{finish, Cluster, Run, RING_LOCK, RUN_LIMIT};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCHEMA: &str = "\
create keyspace ks1 with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:2};
use ks1;
create column family users with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
set users['alice']['email'] = 'alice@example.com';
set users['bob']['email'] = 'bob@example.com';
";

/// Everything a bad run must have left as it was.
struct Untouched {
    objects: Vec<String>,
    node_push_installed: bool,
}

impl Untouched {
    fn capture(cluster: &Cluster) -> Result<Untouched> {
        Ok(Untouched {
            objects: cluster.direct.objects("")?.into_keys().collect(),
            node_push_installed: cluster.remote_node_push().exists(),
        })
    }

    fn check(&self, cluster: &Cluster, what: &str) -> Result<()> {
        let objects: Vec<String> = cluster.direct.objects("")?.into_keys().collect();
        assert_eq!(objects, self.objects, "{what}: the bucket changed");
        for node in 0..cluster.nodes.cassandra.len() {
            let snapshots = cluster.snapshot_dirs(node, "ks1")?;
            assert!(
                snapshots.is_empty(),
                "{what}: snapshots on node{}: {snapshots:?}",
                node + 1
            );
        }
        assert_eq!(
            cluster.remote_node_push().exists(),
            self.node_push_installed,
            "{what}: node-push was installed"
        );
        Ok(())
    }
}

/// The run failed with exit code `code`, and one line of its stderr holds every one of `needles`.
fn failed_naming(run: &Run, code: i32, needles: &[&str], what: &str) {
    assert_eq!(run.code, Some(code), "{what}: exit code\n{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|line| needles.iter().all(|n| line.contains(n)));
    assert!(
        line.is_some(),
        "{what}: no line of stderr holds {needles:?}:\n{}",
        run.stderr
    );
    testkit::log!("{what}: {}", line.unwrap());
}

fn run_command(mut command: Command, what: &str) -> Result<Run> {
    let run = finish(command.spawn()?, RUN_LIMIT)?;
    testkit::log!("--- {what} (exit {:?})\n{}", run.code, run.stderr);
    Ok(run)
}

/// A copy of the cluster's ssh config with `edit` applied, in `dir`.
fn edited_ssh_config(
    cluster: &Cluster,
    dir: &Path,
    edit: impl Fn(&str) -> String,
) -> Result<PathBuf> {
    let text = fs_err::read_to_string(cluster.nodes.ssh_config_path())?;
    let path = dir.join(format!("ssh_config-{}", fastrand_name()));
    fs_err::write(&path, edit(&text))?;
    Ok(path)
}

fn fastrand_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

/// A new ed25519 key pair at `path` (and `path.pub`).
fn new_key(path: &Path) -> Result<String> {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "unrelated", "-f"])
        .arg(path)
        .status()?;
    ensure!(status.success(), "ssh-keygen failed");
    Ok(fs_err::read_to_string(path.with_extension("pub"))?)
}

#[test]
fn bad_input_is_one_line_naming_it_a_non_zero_exit_and_no_change_anywhere() -> Result<()> {
    let _turn = RING_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::start(2)?;
    cluster.cli(SCHEMA)?;
    cluster.flush_all("ks1")?;
    let endpoint = cluster.weed.endpoint.clone();
    let scratch = tempfile::tempdir()?;
    let untouched = Untouched::capture(&cluster)?;
    let backup = |extra: &[&str]| cluster.backup(&endpoint, extra);

    // SSH.
    let run = cluster.run(
        &endpoint,
        &[
            cluster.backup_args(&["--keyspaces=ks1"]),
            vec!["--hosts=nosuch-host.invalid".to_string()],
        ]
        .concat(),
    )?;
    failed_naming(
        &run,
        1,
        &[
            "nosuch-host.invalid",
            "Could not resolve hostname",
            "unknown host name",
        ],
        "unknown host",
    );
    untouched.check(&cluster, "unknown host")?;

    let run = backup(&["--keyspaces=ks1", "--sshport=1"])?;
    failed_naming(
        &run,
        1,
        &["node1: ssh:", "port 1", "check --sshport"],
        "wrong port",
    );
    untouched.check(&cluster, "wrong port")?;

    let wrong_key = scratch.path().join("wrong_key");
    new_key(&wrong_key)?;
    let config = edited_ssh_config(&cluster, scratch.path(), |text| {
        text.lines()
            .map(
                |line| match line.trim_start().strip_prefix("IdentityFile ") {
                    Some(_) => format!("    IdentityFile {}", wrong_key.display()),
                    None => line.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let run = cluster.run(
        &endpoint,
        &cluster.backup_args_with_config(&config, &["--keyspaces=ks1"]),
    )?;
    failed_naming(
        &run,
        1,
        &["node1: ssh:", "Permission denied", "--sshkey"],
        "wrong key",
    );
    untouched.check(&cluster, "wrong key")?;

    // node1's key in known_hosts is replaced by another one: a changed host key.
    let impostor = new_key(&scratch.path().join("impostor"))?;
    let known_hosts = fs_err::read_to_string(cluster.nodes.ssh.known_hosts_path())?;
    let node1_line = known_hosts
        .lines()
        .find(|l| l.starts_with("[127.0.0.2]:"))
        .expect("node1 in known_hosts");
    let host_field = node1_line.split(' ').next().unwrap();
    let changed = scratch.path().join("known_hosts_changed");
    fs_err::write(
        &changed,
        known_hosts.replace(node1_line, &format!("{host_field} {}", impostor.trim())),
    )?;
    let config = edited_ssh_config(&cluster, scratch.path(), |text| {
        text.replace(
            &cluster.nodes.ssh.known_hosts_path().display().to_string(),
            &changed.display().to_string(),
        )
    })?;
    let run = cluster.run(
        &endpoint,
        &cluster.backup_args_with_config(&config, &["--keyspaces=ks1"]),
    )?;
    failed_naming(
        &run,
        1,
        &["node1: ssh:", "host key is unknown or changed"],
        "changed host key",
    );
    assert!(!run.stderr.contains("node2: ssh:"), "node2's key is fine");
    untouched.check(&cluster, "changed host key")?;

    // No known_hosts entry and no StrictHostKeyChecking in the config: still refused (ssh's default is
    // to ask, and the coordinator never lets it ask or accept).
    let empty = scratch.path().join("known_hosts_empty");
    fs_err::write(&empty, "")?;
    let config = edited_ssh_config(&cluster, scratch.path(), |text| {
        text.lines()
            .filter(|line| !line.contains("StrictHostKeyChecking"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace(
                &cluster.nodes.ssh.known_hosts_path().display().to_string(),
                &empty.display().to_string(),
            )
    })?;
    let run = cluster.run(
        &endpoint,
        &cluster.backup_args_with_config(&config, &["--keyspaces=ks1"]),
    )?;
    failed_naming(
        &run,
        1,
        &["node1: ssh:", "host key is unknown or changed"],
        "unknown host key",
    );
    assert_eq!(
        fs_err::read_to_string(&empty)?,
        "",
        "no host key was accepted"
    );
    untouched.check(&cluster, "unknown host key")?;

    // The store.
    let mut store = cluster.store_flags(&endpoint);
    store.bucket = "no-such-bucket".into();
    let run = run_command(
        cluster.command_with(&store, &cluster.backup_args(&["--keyspaces=ks1"])),
        "missing bucket",
    )?;
    failed_naming(
        &run,
        1,
        &["no-such-bucket", "does not exist"],
        "missing bucket",
    );
    untouched.check(&cluster, "missing bucket")?;

    let secret = cluster.weed.secret_key().to_string();
    let mut command = cluster.command(&endpoint, &cluster.backup_args(&["--keyspaces=ks1"]));
    command.env("AWS_SECRET_ACCESS_KEY", "wrong-secret-for-the-test");
    let run = run_command(command, "wrong secret key")?;
    failed_naming(
        &run,
        1,
        &["credentials rejected", "secret key does not match"],
        "wrong secret",
    );
    for shown in [&secret, "wrong-secret-for-the-test"] {
        assert!(!run.all_output().contains(shown), "a secret key was shown");
    }
    untouched.check(&cluster, "wrong secret")?;

    let mut command = cluster.command(&endpoint, &cluster.backup_args(&["--keyspaces=ks1"]));
    command.env("AWS_ACCESS_KEY_ID", "AKIANOBODYKNOWS");
    let run = run_command(command, "wrong access key id")?;
    failed_naming(
        &run,
        1,
        &["credentials rejected", "access key id"],
        "wrong access key",
    );
    untouched.check(&cluster, "wrong access key")?;

    let mut store = cluster.store_flags(&endpoint);
    store.region = String::new();
    let run = run_command(
        cluster.command_with(&store, &cluster.backup_args(&["--keyspaces=ks1"])),
        "empty region",
    )?;
    failed_naming(&run, 1, &["region must not be empty"], "empty region");
    untouched.check(&cluster, "empty region")?;

    // cassandra.yaml.
    let run = backup(&["--keyspaces=ks1", "--cassandra-conf-path=/nonexistent/conf"])?;
    failed_naming(
        &run,
        1,
        &["node1: cannot read cassandra.yaml at /nonexistent/conf/cassandra.yaml"],
        "missing cassandra.yaml",
    );
    untouched.check(&cluster, "missing cassandra.yaml")?;

    let conf = scratch.path().join("conf");
    fs_err::create_dir_all(&conf)?;
    fs_err::write(
        conf.join("cassandra.yaml"),
        "cluster_name: 'Test'\n# data_file_directories:\n#     - /var/lib/cassandra/data\n",
    )?;
    let run = backup(&[
        "--keyspaces=ks1",
        &format!("--cassandra-conf-path={}", conf.display()),
    ])?;
    failed_naming(
        &run,
        1,
        &[
            "node1: ",
            &conf.join("cassandra.yaml").display().to_string(),
            "data_file_directories",
        ],
        "no data_file_directories",
    );
    untouched.check(&cluster, "no data_file_directories")?;

    // Selections.
    let run = backup(&["--keyspaces=nope"])?;
    failed_naming(
        &run,
        1,
        &["node1: keyspace nope (--keyspaces) not found"],
        "no such keyspace",
    );
    untouched.check(&cluster, "no such keyspace")?;
    let run = backup(&["--keyspaces=ks1", "--table=nope"])?;
    failed_naming(
        &run,
        1,
        &["node1: table ks1.nope (--table) not found"],
        "no such table",
    );
    untouched.check(&cluster, "no such table")?;
    let pwned = scratch.path().join("pwned");
    for evil in [
        format!("ks1;touch {}", pwned.display()),
        format!("$(touch {})", pwned.display()),
        format!("`touch {}`", pwned.display()),
        format!("ks1' ; touch {} '", pwned.display()),
    ] {
        let run = backup(&[&format!("--keyspaces={evil}")])?;
        assert_ne!(run.code, Some(0), "{evil}");
        assert!(
            run.stderr.contains("invalid keyspace name"),
            "{evil}: {}",
            run.stderr
        );
        assert!(!pwned.exists(), "{evil} was executed");
        untouched.check(&cluster, &evil)?;
    }

    // nodetool.
    let run = backup(&[
        "--keyspaces=ks1",
        "--nodetool-path=/nonexistent/bin/nodetool",
    ])?;
    failed_naming(
        &run,
        1,
        &[
            "node1: `/nonexistent/bin/nodetool version` failed",
            "is Cassandra running?",
        ],
        "missing nodetool",
    );
    untouched.check(&cluster, "missing nodetool")?;
    let run = backup(&["--keyspaces=ks1", "--nodetool-path=/bin/false"])?;
    failed_naming(
        &run,
        1,
        &["node1: `/bin/false version` failed"],
        "failing nodetool",
    );
    untouched.check(&cluster, "failing nodetool")?;

    // An incremental is due (a complete backup exists), but node2 has incremental_backups off.
    let first = backup(&["--keyspaces=ks1"])?;
    ensure!(first.success(), "{}", first.stderr);
    let name = first.backup_name()?;
    let yaml = cluster.nodes.cassandra.yaml_path(1);
    let original = fs_err::read_to_string(&yaml)?;
    ensure!(original.contains("incremental_backups: true"), "{original}");
    // Cassandra reads its yaml only at start; the coordinator reads it every run.
    fs_err::write(
        &yaml,
        original.replace("incremental_backups: true", "incremental_backups: false"),
    )?;
    let untouched = Untouched::capture(&cluster)?;
    let run = backup(&["--keyspaces=ks1"]);
    fs_err::write(&yaml, &original)?;
    let run = run?;
    failed_naming(
        &run,
        1,
        &[
            "node2: incremental_backups is not true in",
            &name,
            "--new-snapshot",
        ],
        "incremental without incremental_backups",
    );
    untouched.check(&cluster, "incremental without incremental_backups")?;

    // list: a manifest that is not JSON is named, and the other backups are still listed.
    let bad_key = format!("{}/20200101000000/manifest.json", faults::coordinator::BASE);
    cluster
        .direct
        .put(&bad_key, b"{\"name\": \"20200101000000\", oops")?;
    let listed = cluster.run(&endpoint, &["list".to_string()])?;
    testkit::log!("list:\n{}", listed.stdout);
    assert!(
        listed.stdout.contains(&name),
        "the good backup is still listed"
    );
    failed_naming(
        &listed,
        1,
        &[
            "error: backup 20200101000000: manifest",
            &bad_key,
            "is not valid JSON",
        ],
        "a manifest that is not JSON",
    );
    Ok(())
}
