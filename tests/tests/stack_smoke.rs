//! The real test stack works as the end-to-end tests assume: a 3-node Cassandra 1.2 ring whose nodes are
//! reached through real ssh, where each host sees its own `nodetool` and `cassandra.yaml`, `nodetool flush`
//! leaves SSTables and their hard links in `backups/`, and `nodetool snapshot` makes the snapshot dir.
//! Also: incremental backups can be switched off, sudo-required hosts behave like production ones, and 20
//! simulated hosts start quickly.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use testkit::cassandra::{parse_ring, CassandraCluster, CassandraOptions, IncrementalBackups};
use testkit::fixture::{NodeFixture, NodeFixtureOptions};
use testkit::sshd::{HostSpec, LoginUser, SshCluster};

const SCHEMA: &str = "\
create keyspace smoke with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:3};
use smoke;
create column family users with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
";

/// SSTable component files (`*-Data.db`) directly in `dir`.
fn data_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = fs_err::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| path.to_string_lossy().ends_with("-Data.db"));
    files.sort();
    Ok(files)
}

#[test]
fn three_node_ring_through_ssh_flush_backups_and_snapshot() -> Result<()> {
    let fixture = NodeFixture::start(3)?;
    testkit::log!(
        "3-node ring settled in {:.1}s",
        fixture.cassandra.startup_time().as_secs_f64()
    );

    // Host 2 (node2, 127.0.0.3) through real ssh: its own nodetool sees the whole ring Up/Normal.
    let ring = parse_ring(&fixture.ssh.run_ok(1, "nodetool ring")?);
    let addresses: Vec<&str> = ring.iter().map(|entry| entry.address.as_str()).collect();
    assert_eq!(
        addresses,
        ["127.0.0.2", "127.0.0.3", "127.0.0.4"],
        "ring seen from node2: {ring:?}"
    );
    assert!(
        ring.iter().all(|entry| entry.is_up_normal()),
        "ring seen from node2: {ring:?}"
    );

    // The session on host 2 has node 2's environment, under the names a real node uses.
    let environment = fixture.ssh.run_ok(1, "command -v nodetool; echo \"$CASSANDRA_CONF\"; test -r \"$CASSANDRA_CONF/cassandra.yaml\" && echo yaml-readable")?;
    let expected = format!(
        "{}\n{}\nyaml-readable\n",
        fixture.cassandra.bin_dir(1).join("nodetool").display(),
        fixture.cassandra.conf_dir(1).display()
    );
    assert_eq!(environment, expected);
    let yaml = fixture
        .ssh
        .run_ok(1, "cat \"$CASSANDRA_CONF/cassandra.yaml\"")?;
    assert!(yaml.contains("listen_address: 127.0.0.3\n"), "{yaml}");
    assert!(
        yaml.contains(&fixture.cassandra.data_dir(1).display().to_string()),
        "{yaml}"
    );

    // Rows written through the Thrift CLI on node 1 are replicated to all three nodes (RF 3).
    let mut script = String::from(SCHEMA);
    for user in 0..50 {
        script.push_str(&format!(
            "set users['user{user}']['email'] = 'user{user}@example.com';\n"
        ));
    }
    fixture.cassandra.cli(0, &script)?;
    let read_back = fixture.cassandra.cli(
        2,
        "use smoke;\nconsistencylevel as ONE;\nget users['user7'];\n",
    )?;
    assert!(read_back.contains("value=user7@example.com"), "{read_back}");

    // Flush on node 2 through ssh: SSTables appear, hard-linked into backups/.
    let table_dir = fixture.cassandra.data_dir(1).join("smoke").join("users");
    assert!(
        data_files(&table_dir)?.is_empty(),
        "nothing flushed yet in {}",
        table_dir.display()
    );
    fixture.ssh.run_ok(1, "nodetool flush smoke")?;
    let sstables = data_files(&table_dir)?;
    assert_eq!(
        sstables.len(),
        1,
        "one SSTable after one flush: {sstables:?}"
    );
    let sstable_name = sstables[0].file_name().context("file name")?.to_owned();
    assert!(
        sstable_name
            .to_string_lossy()
            .starts_with("smoke-users-ia-"),
        "1.2 file name: {sstable_name:?}"
    );
    // Cassandra 1.2 hard-links the flushed files into backups/ on a background thread after the flush
    // returned, one component at a time: wait for every component.
    let components: Vec<PathBuf> = fs_err::read_dir(&table_dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|path| path.is_file())
        .collect();
    assert!(
        components.len() >= 5,
        "Data, Index, Filter, Statistics, ... : {components:?}"
    );
    for component in &components {
        let link = table_dir
            .join("backups")
            .join(component.file_name().context("file name")?);
        testkit::wait::until(
            &format!("{} exists", link.display()),
            Duration::from_secs(15),
            || link.is_file(),
        )?;
        assert_eq!(
            fs_err::metadata(&link)?.ino(),
            fs_err::metadata(component)?.ino(),
            "{} is a hard link",
            link.display()
        );
    }
    assert!(fs_err::metadata(table_dir.join("backups").join(&sstable_name))?.len() > 0);

    // Snapshot on node 2 through ssh: the tagged snapshot dir holds the same SSTable.
    let output = fixture
        .ssh
        .run_ok(1, "nodetool snapshot -t smoketag smoke")?;
    assert!(output.contains("Snapshot directory: smoketag"), "{output}");
    let snapshot_dir = table_dir.join("snapshots").join("smoketag");
    assert_eq!(
        data_files(&snapshot_dir)?.len(),
        1,
        "snapshot {}",
        snapshot_dir.display()
    );
    ensure!(
        snapshot_dir.join(&sstable_name).is_file(),
        "{sstable_name:?} not in {}",
        snapshot_dir.display()
    );

    // Node 1 and 3 were not flushed: their data is still only in memtables and commitlog.
    let node1_table = fixture.cassandra.data_dir(0).join("smoke/users");
    assert!(data_files(&node1_table)?.is_empty());
    // testkit's own flush returns only once the backup links exist.
    fixture.cassandra.flush(0, "smoke")?;
    let flushed = data_files(&node1_table)?;
    assert_eq!(flushed.len(), 1);
    assert_eq!(data_files(&node1_table.join("backups"))?.len(), 1);
    assert_eq!(
        fs_err::read_dir(node1_table.join("backups"))?.count(),
        components.len(),
        "every component linked"
    );
    Ok(())
}

#[test]
fn flush_without_incremental_backups_leaves_no_backups() -> Result<()> {
    let base = tempfile::tempdir()?;
    let mut options = CassandraOptions::new(1);
    options.incremental_backups = IncrementalBackups::Disabled;
    let mut cluster = CassandraCluster::start_with(options, base.path())?;
    testkit::log!(
        "1-node ring settled in {:.1}s",
        cluster.startup_time().as_secs_f64()
    );
    let yaml = fs_err::read_to_string(cluster.yaml_path(0))?;
    assert!(yaml.contains("incremental_backups: false"));
    let schema = SCHEMA.replace("replication_factor:3", "replication_factor:1");
    cluster.cli(
        0,
        &format!("{schema}set users['bob']['email'] = 'bob@example.com';\n"),
    )?;
    cluster.flush(0, "smoke")?;
    let table_dir = cluster.data_dir(0).join("smoke/users");
    assert_eq!(data_files(&table_dir)?.len(), 1);
    assert!(
        data_files(&table_dir.join("backups"))?.is_empty(),
        "no incremental backups when disabled"
    );

    // A restarted node keeps its data: stop, start, read.
    cluster.stop_node(0);
    assert!(!cluster.node(0).is_running());
    cluster.start_node(0)?;
    let read_back = cluster.cli(0, "use smoke;\nget users['bob'];\n")?;
    assert!(read_back.contains("value=bob@example.com"), "{read_back}");

    // A crash (SIGKILL) loses nothing written: the commitlog is replayed on start.
    cluster.cli(
        0,
        "use smoke;\nset users['carol']['email'] = 'carol@example.com';\n",
    )?;
    cluster.kill_node(0);
    assert!(
        cluster.nodetool(0, &["version"]).is_err(),
        "JMX is gone with the node"
    );
    cluster.start_node(0)?;
    let read_back = cluster.cli(0, "use smoke;\nget users['carol'];\n")?;
    assert!(read_back.contains("value=carol@example.com"), "{read_back}");
    Ok(())
}

#[test]
fn sudo_required_host_logs_in_unprivileged_and_sudo_works() -> Result<()> {
    let node_dir = tempfile::tempdir()?;
    testkit::sshd::make_traversable(node_dir.path())?;
    let private = node_dir.path().join("data");
    fs_err::create_dir_all(&private)?;
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )?;
    fs_err::write(private.join("secret.db"), "root only")?;
    let spec = HostSpec::numbered(1, node_dir.path()).with_sudo_user("testkit-sudo");
    let cluster = SshCluster::start(&[spec])?;

    assert_eq!(cluster.run_ok(0, "id -un")?.trim(), "testkit-sudo");
    let denied = cluster.run(0, &format!("cat {}/secret.db", private.display()))?;
    assert!(
        !denied.status.success(),
        "an unprivileged login must not read root-only data"
    );
    let with_sudo = cluster.run_ok(0, &format!("sudo -n cat {}/secret.db", private.display()))?;
    assert_eq!(with_sudo, "root only");
    Ok(())
}

#[test]
fn twenty_hosts_start_and_answer_quickly() -> Result<()> {
    let base = tempfile::tempdir()?;
    let specs: Vec<HostSpec> = (1..=20)
        .map(|n| HostSpec::numbered(n, base.path().join(format!("node{n}"))))
        .collect();
    let started = Instant::now();
    let mut cluster = SshCluster::start(&specs)?;
    let start_time = started.elapsed();
    let started = Instant::now();
    for (i, host) in cluster.hosts().iter().enumerate() {
        let reply = cluster.run_ok(i, "echo \"$CASSANDRA_CONF\"")?;
        assert_eq!(reply.trim(), host.conf_dir().display().to_string());
    }
    testkit::log!(
        "20 sshd hosts started in {:.2}s; 20 sequential ssh round trips took {:.2}s",
        start_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(cluster.host(19).ip().to_string(), "127.0.0.21");

    // A host whose sshd is down refuses connections; started again it answers with the same host key.
    cluster.stop_host(2);
    let refused = cluster.run(2, "true")?;
    assert_eq!(refused.status.code(), Some(255), "ssh's own failure code");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Connection refused"));
    cluster.start_host(2)?;
    assert_eq!(cluster.run_ok(2, "echo back")?, "back\n");
    // The ssh config also accepts a host by IP, as `--hosts 127.0.0.5` would name it.
    let by_ip = std::process::Command::new("ssh")
        .arg("-F")
        .arg(cluster.ssh_config_path())
        .args(["127.0.0.5", "echo", "ok"])
        .stdin(std::process::Stdio::null())
        .output()?;
    assert_eq!(
        String::from_utf8_lossy(&by_ip.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&by_ip.stderr)
    );
    Ok(())
}

#[test]
fn sudo_fixture_hides_data_from_the_login_user_but_not_from_sudo() -> Result<()> {
    let mut options = NodeFixtureOptions::new(1);
    options.login = LoginUser::SudoUser("testkit-sudo".to_string());
    let fixture = NodeFixture::start_with(options)?;
    assert_eq!(fixture.ssh.run_ok(0, "id -un")?.trim(), "testkit-sudo");
    // nodetool and cassandra.yaml are readable without privileges, as on a real node.
    let ring = parse_ring(&fixture.ssh.run_ok(0, "nodetool ring")?);
    assert_eq!(ring.len(), 1);
    assert!(fixture
        .ssh
        .run_ok(0, "cat \"$CASSANDRA_CONF/cassandra.yaml\"")?
        .contains("listen_address: 127.0.0.2"));
    // The data dir is root's: listing it needs sudo.
    let data_dir = fixture.cassandra.data_dir(0).display().to_string();
    assert!(!fixture
        .ssh
        .run(0, &format!("ls {data_dir}"))?
        .status
        .success());
    let listing = fixture.ssh.run_ok(0, &format!("sudo -n ls {data_dir}"))?;
    assert!(listing.lines().any(|name| name == "system"), "{listing}");
    Ok(())
}
