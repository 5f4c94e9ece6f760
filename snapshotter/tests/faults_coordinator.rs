//! Faults under `cassandra-snapshotter backup`, end to end: a real 3-node Cassandra 1.2 ring reached through
//! real sshd hosts, storing into a real SeaweedFS through the fault proxy.
//!
//! - S3 faults on the nodes' uploads and on the coordinator's own writes are retried and the backup
//!   completes; a file that can never be stored fails the backup with a line naming host and file, no
//!   manifest, the snapshot cleared everywhere and no multipart upload open. No process list, output line
//!   or node-side file shows the secret key meanwhile.
//! - SeaweedFS killed in the middle of an upload: the run fails; once it is back, the next run resumes
//!   the backup under the same name and sends nothing that was already stored.
//! - A compaction during the upload changes nothing: the snapshot's hard links keep its files.
//!
//! Needs the test stack (`cargo xtask setup`) and both binaries built (`cargo xtask test` does both).

mod faults;

use anyhow::{ensure, Result};
use contract::layout;
use contract::manifest::{Manifest, ObjectEntry};
use faults::coordinator::{Cluster, SecretWatch, BASE, RING_LOCK};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use testkit::fault_proxy::{Fault, FaultProxy, Operation, Rule};

const SCHEMA: &str = "\
create keyspace ks1 with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:3};
use ks1;
create column family users with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
create column family events with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
";

/// `count` rows written to `table` of ks1, numbered from `from`.
fn rows(table: &str, from: usize, count: usize) -> String {
    let mut script = String::from("use ks1;\n");
    for i in from..from + count {
        script.push_str(&format!(
            "set {table}['row{i}']['value'] = 'value {i} of {table}, with some text to make it longer';\n"
        ));
    }
    script
}

/// Writes rows to both tables and flushes, `rounds` times: one SSTable per table and round on each node.
fn write_sstables(cluster: &Cluster, rounds: usize, first_row: usize) -> Result<()> {
    for round in 0..rounds {
        let from = first_row + round * 30;
        cluster.cli(&format!(
            "{}{}",
            rows("users", from, 30),
            rows("events", from, 30)
        ))?;
        cluster.flush_all("ks1")?;
    }
    Ok(())
}

/// The live SSTable a snapshot entry was hard-linked from: same name, in the table directory.
fn live_path(entry: &ObjectEntry, name: &str) -> String {
    entry
        .source_path
        .replace(&format!("/snapshots/{name}/"), "/")
}

/// Every object of the manifest is stored with its size and ETag, and decodes to the bytes of its file.
fn check_objects(cluster: &Cluster, manifest: &Manifest) -> Result<()> {
    // A differential snapshot's entries may point at an earlier backup's objects.
    let stored = cluster.direct.objects(&layout::base_prefix(BASE))?;
    for entry in &cluster.direct.entries(manifest)? {
        let meta = stored
            .get(&entry.key)
            .unwrap_or_else(|| panic!("{} is in the manifest but not stored", entry.key));
        assert_eq!(
            (meta.size, meta.etag.as_str()),
            (entry.compressed_size, entry.etag.as_str()),
            "{}",
            entry.key
        );
        match fs_err::read(live_path(entry, &manifest.name)) {
            Ok(source) => cluster.direct.check_restores_to(entry, &source)?,
            // Compacted away since: the object must still decode to what the entry says.
            Err(_) => cluster.direct.check_decodes(entry)?,
        }
    }
    Ok(())
}

/// Cassandra 1.2 gives its schema through cassandra-cli (`show schema`), which reads its `connect`
/// statement with the credentials from a file: every node's cassandra-cli is wrapped to append `<file>
/// <its mode>` to a log for the scripts that show the schema (never the file's content), then to run the
/// real one. Returns the log's path.
fn install_cli_credentials_watch(cluster: &Cluster) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let log = cluster.nodes.dir().join("cli-calls.log");
    for node in 0..cluster.nodes.cassandra.len() {
        let path = cluster.nodes.cassandra.bin_dir(node).join("cassandra-cli");
        let real = path.with_file_name("cassandra-cli.real");
        fs_err::rename(&path, &real)?;
        let script = format!(
            "#!/bin/sh\nf=; prev=; for a in \"$@\"; do [ \"$prev\" = -f ] && f=\"$a\"; prev=\"$a\"; done\n\
             if [ -n \"$f\" ] && grep -q 'show schema' \"$f\"; then echo \"$f $(stat -c %a \"$f\")\" >> '{}'; fi\n\
             exec '{}' \"$@\"\n",
            log.display(),
            real.display()
        );
        fs_err::write(&path, &script)?;
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(log)
}

fn snapshots_cleared(cluster: &Cluster) -> Result<()> {
    for node in 0..3 {
        let left = cluster.snapshot_dirs(node, "ks1")?;
        assert!(
            left.is_empty(),
            "node{}: snapshots left: {left:?}",
            node + 1
        );
    }
    Ok(())
}

fn host_reports(run: &faults::coordinator::Run) -> Result<BTreeMap<String, serde_json::Value>> {
    Ok(run.json()?["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| (h["host"].as_str().unwrap().to_string(), h.clone()))
        .collect())
}

#[test]
fn s3_faults_are_retried_or_fail_the_backup_cleanly_and_the_secret_never_shows() -> Result<()> {
    let _turn = RING_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::start(3)?;
    let secret = cluster.weed.secret_key().to_string();
    cluster.cli(SCHEMA)?;
    write_sstables(&cluster, 2, 0)?;
    let proxy = FaultProxy::start(&cluster.weed.endpoint)?;

    // 1. Transient faults on every node's uploads and on the coordinator's own writes and reads.
    let rules = [
        (
            "500 on a node1 PUT",
            proxy.add(
                Rule::new(Fault::INTERNAL_ERROR)
                    .on(Operation::PutObject)
                    .key_containing("/node1/")
                    .after(2),
            ),
            1,
        ),
        (
            "SlowDown on node2 PUTs",
            proxy.add(
                Rule::new(Fault::SLOW_DOWN)
                    .on(Operation::PutObject)
                    .key_containing("/node2/")
                    .times(2),
            ),
            2,
        ),
        (
            "reset in a node3 PUT",
            proxy.add(
                Rule::new(Fault::ResetMidBody)
                    .on(Operation::PutObject)
                    .key_containing("/node3/"),
            ),
            1,
        ),
        (
            "truncated HEAD answer",
            proxy.add(
                Rule::new(Fault::Truncate)
                    .on(Operation::Head)
                    .key_containing("/node1/"),
            ),
            1,
        ),
        (
            "500 on the coordinator's first manifest write",
            proxy.add(
                Rule::new(Fault::INTERNAL_ERROR)
                    .on(Operation::PutObject)
                    .key_containing("manifest.json"),
            ),
            1,
        ),
        (
            "truncated manifest read-back",
            proxy.add(
                Rule::new(Fault::Truncate)
                    .on(Operation::GetObject)
                    .key_containing("manifest.json"),
            ),
            1,
        ),
    ];
    // The schema too, with credentials: Cassandra 1.2 gives it through cassandra-cli, whose wrapper records
    // how the credentials reached it.
    let cqlsh_log = install_cli_credentials_watch(&cluster)?;
    let cqlsh_password = "cqlsh-pass-for-the-fault-test";
    let watch = SecretWatch::start(&[&secret, cqlsh_password]);
    // Slowed down so that the process-list watch sees node-push running on every node.
    let mut command = cluster.command(
        &proxy.endpoint,
        &cluster.backup_args(&[
            "--keyspaces=ks1",
            "--rate-limit=8",
            "--verbose",
            "--backup-schema",
            "--cqlsh-user=admin",
        ]),
    );
    command.env("CASSANDRA_SNAPSHOTTER_CQLSH_PASSWORD", cqlsh_password);
    let good = faults::coordinator::finish(command.spawn()?, faults::coordinator::RUN_LIMIT)?;
    testkit::log!(
        "--- backup with S3 faults (exit {:?})\n{}",
        good.code,
        good.stderr
    );
    let watched = watch.stop();
    ensure!(good.success(), "the backup failed: {}", good.stderr);
    let report = good.json()?;
    assert_eq!(report["complete"], true, "{report}");
    for (what, id, times) in rules {
        assert_eq!(proxy.applied(id), times, "{what}: not applied as asked");
    }
    let name = good.backup_name()?;
    let manifest = cluster.manifest(&name)?.expect("a manifest");
    let entries = cluster.direct.entries(&manifest)?;
    let per_host: BTreeMap<&str, usize> = entries.iter().fold(BTreeMap::new(), |mut count, o| {
        *count.entry(o.host.as_str()).or_default() += 1;
        count
    });
    assert_eq!(per_host.len(), 3, "{per_host:?}");
    check_objects(&cluster, &manifest)?;
    snapshots_cleared(&cluster)?;
    assert_eq!(cluster.direct.open_uploads(&format!("{BASE}/"))?, 0);

    // The secret key: never in a process's arguments (laptop and nodes are this machine), nor in the
    // environment of node-push or ssh, nor in any output line, nor in a file left on the nodes.
    testkit::log!("secret watch: {} samples", watched.samples);
    assert!(
        watched.leaks.is_empty(),
        "the secret showed: {:?}",
        watched.leaks
    );
    let ours = cluster.remote_node_push().display().to_string();
    for host in cluster.hosts() {
        assert!(
            watched
                .node_push_lines
                .iter()
                .any(|l| l.contains(&ours) && l.contains(&format!(" -- {host} "))),
            "the watch must have seen node-push running on {host}: {:?}",
            watched.node_push_lines
        );
    }
    assert!(!good.all_output().contains(&secret));
    assert!(!good.all_output().contains(cqlsh_password));
    for secret in [secret.as_str(), cqlsh_password] {
        let remote_files = faults::coordinator::files_containing(cluster.nodes.dir(), secret);
        assert!(
            remote_files.is_empty(),
            "files holding a secret: {remote_files:?}"
        );
        let node_push_dir = cluster.remote_node_push();
        let installed = node_push_dir.parent().unwrap();
        assert!(faults::coordinator::files_containing(installed, secret).is_empty());
    }
    // cassandra-cli read its credentials from a file only the SSH user could read, removed once it was done.
    let log = fs_err::read_to_string(&cqlsh_log)?;
    let calls: Vec<&str> = log.lines().collect();
    assert!(
        !calls.is_empty(),
        "cassandra-cli was not run for the schema"
    );
    for call in calls {
        let (rc, mode) = call.split_once(' ').expect("path and mode");
        assert_eq!(mode, "600", "{rc}: the credentials file had mode {mode}");
        assert!(!std::path::Path::new(rc).exists(), "{rc} was left behind");
    }
    assert!(cluster
        .direct
        .objects(&layout::backup_prefix(BASE, &name))?
        .keys()
        .any(|k| k.ends_with("/schema_ks1.cli")));

    // 2. A file that can never be stored: node2's users table always gets a 500.
    let always = proxy.add(
        Rule::new(Fault::INTERNAL_ERROR)
            .on(Operation::PutObject)
            .key_containing("/node2/")
            .key_containing("/users/")
            .always(),
    );
    let watch = SecretWatch::start(&[&secret]);
    // --full: a differential snapshot would reference the unchanged files instead of storing them.
    let failed = cluster.backup(
        &proxy.endpoint,
        &["--keyspaces=ks1", "--new-snapshot", "--full"],
    )?;
    let watched = watch.stop();
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    assert!(proxy.applied(always) >= 6, "every attempt of a file failed");
    let failed_name = failed.backup_name()?;
    assert_ne!(failed_name, name);
    let report = failed.json()?;
    assert_eq!(report["complete"], false);
    let hosts = host_reports(&failed)?;
    assert_eq!(hosts["node1"]["ok"], true);
    assert_eq!(hosts["node3"]["ok"], true);
    assert_eq!(hosts["node2"]["ok"], false);
    assert_eq!(hosts["node2"]["failed_stage"], "upload");
    let line = failed
        .stderr
        .lines()
        .find(|l| l.starts_with("error: node2: ") && l.contains("failed to upload"))
        .unwrap_or_else(|| panic!("no failure line for node2: {}", failed.stderr));
    assert!(
        line.contains("file(s) failed to upload, first: ")
            && line.contains("/ks1/users/")
            && line.contains("HTTP 500"),
        "the failure names host, file and answer: {line}"
    );
    assert!(
        cluster.manifest(&failed_name)?.is_none(),
        "no manifest for a failed backup"
    );
    snapshots_cleared(&cluster)?;
    assert_eq!(cluster.direct.open_uploads(&format!("{BASE}/"))?, 0);
    assert!(watched.leaks.is_empty(), "{:?}", watched.leaks);
    assert!(!failed.all_output().contains(&secret));

    // 3. The fault is gone: the next run resumes the failed backup and sends only what is missing.
    proxy.clear_rules();
    proxy.clear_requests();
    let stored_before = data_objects(&cluster, &failed_name)?;
    let resumed = cluster.backup(&proxy.endpoint, &["--keyspaces=ks1"])?;
    ensure!(
        resumed.success(),
        "the resumed run failed: {}",
        resumed.stderr
    );
    assert_eq!(resumed.backup_name()?, failed_name);
    assert!(
        resumed
            .stderr
            .contains(&format!("resuming backup {failed_name}")),
        "{}",
        resumed.stderr
    );
    let hosts = host_reports(&resumed)?;
    for host in ["node1", "node3"] {
        assert!(
            hosts[host]["files_already_stored"].as_u64() > Some(0)
                && hosts[host]["bytes_not_resent"].as_u64() > Some(0),
            "{host}: {}",
            hosts[host]
        );
    }
    let resent: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.operation.writes_data() && stored_before.contains_key(&r.key))
        .collect();
    assert!(resent.is_empty(), "already stored, sent again: {resent:?}");
    let manifest = cluster.manifest(&failed_name)?.expect("complete now");
    check_objects(&cluster, &manifest)?;
    snapshots_cleared(&cluster)?;
    Ok(())
}

#[test]
fn a_store_that_dies_mid_upload_fails_the_run_and_the_next_run_resumes_it() -> Result<()> {
    let _turn = RING_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut cluster = Cluster::start(3)?;
    cluster.cli(SCHEMA)?;
    write_sstables(&cluster, 3, 0)?;
    let before = cluster.backup_names()?;

    // 1. A slow backup; SeaweedFS is killed once some objects of every node are stored.
    let child = cluster
        .command(
            &cluster.weed.endpoint,
            &cluster.backup_args(&["--keyspaces=ks1", "--rate-limit=1"]),
        )
        .spawn()?;
    let name = testkit::wait::until_some("the backup starts", Duration::from_secs(120), || {
        let names = cluster.backup_names().ok()?;
        names.into_iter().find(|n| !before.contains(n))
    })?;
    let enough_stored = faults::coordinator::wait_until(Duration::from_secs(120), || {
        let keys = cluster.data_objects(&name).unwrap_or_default();
        ["/node1/", "/node2/", "/node3/"]
            .iter()
            .all(|host| keys.iter().filter(|k| k.contains(host)).count() >= 3)
    });
    ensure!(enough_stored, "the upload did not get going");
    cluster.weed.kill();
    let killed_at = Instant::now();
    let first = faults::coordinator::finish(child, faults::coordinator::RUN_LIMIT)?;
    testkit::log!(
        "--- backup while the store died (exit {:?})\n{}",
        first.code,
        first.stderr
    );
    assert_eq!(first.code, Some(1));
    assert!(
        killed_at.elapsed() < Duration::from_secs(120),
        "a dead store must end the run soon: {:?}",
        killed_at.elapsed()
    );
    assert_eq!(first.backup_name()?, name);
    assert_eq!(first.json()?["complete"], false);
    assert!(
        first.stderr.contains("not writing a manifest"),
        "{}",
        first.stderr
    );
    snapshots_cleared(&cluster)?;
    assert!(cluster.wait_node_push_gone(Duration::from_secs(30)));

    // 2. The store is back: the next run resumes the same backup, sending only what was not stored.
    cluster.weed.restart()?;
    assert!(cluster.manifest(&name)?.is_none());
    let stored_before = data_objects(&cluster, &name)?;
    let proxy = FaultProxy::start(&cluster.weed.endpoint)?;
    let second = cluster.backup(&proxy.endpoint, &["--keyspaces=ks1"])?;
    ensure!(
        second.success(),
        "the resumed run failed: {}",
        second.stderr
    );
    assert_eq!(second.backup_name()?, name, "resumed under the same name");
    let hosts = host_reports(&second)?;
    let not_resent: u64 = hosts
        .values()
        .map(|h| h["bytes_not_resent"].as_u64().unwrap())
        .sum();
    let already: u64 = hosts
        .values()
        .map(|h| h["files_already_stored"].as_u64().unwrap())
        .sum();
    testkit::log!(
        "resumed: {already} file(s) already stored, {not_resent} bytes not sent again, {} objects were stored before",
        stored_before.len()
    );
    assert!(not_resent > 0);
    let manifest = cluster.manifest(&name)?.expect("complete now");
    let mut skipped_bytes = 0;
    let entries = cluster.direct.entries(&manifest)?;
    for (key, before) in &stored_before {
        let entry = entries
            .iter()
            .find(|o| &o.key == key)
            .unwrap_or_else(|| panic!("{key} was stored, but is not in the manifest"));
        assert_eq!(entry.etag, before.etag, "{key} kept as it was");
        skipped_bytes += entry.size;
    }
    assert_eq!(
        skipped_bytes, not_resent,
        "exactly the stored files were not sent"
    );
    let resent: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.operation.writes_data() && stored_before.contains_key(&r.key))
        .collect();
    assert!(resent.is_empty(), "already stored, sent again: {resent:?}");
    check_objects(&cluster, &manifest)?;
    snapshots_cleared(&cluster)?;
    assert_eq!(cluster.direct.open_uploads(&format!("{BASE}/"))?, 0);
    assert!(!cluster
        .direct
        .objects(&layout::manifest_staging_key(BASE, &name))?
        .contains_key(&layout::manifest_staging_key(BASE, &name)));

    // 3. A compaction while a snapshot uploads: it deletes live SSTables, never the snapshot's links.
    //    First one SSTable per table, then two more each: three, below the threshold (four) at which
    //    Cassandra compacts on its own, so that only our compaction changes them.
    for node in 0..3 {
        cluster
            .nodes
            .cassandra
            .nodetool(node, &["compact", "ks1"])?;
    }
    write_sstables(&cluster, 2, 200)?;
    let live_before = live_data_files(&cluster, 0)?;
    let child = cluster
        .command(
            &cluster.weed.endpoint,
            &cluster.backup_args(&[
                "--keyspaces=ks1",
                "--new-snapshot",
                "--full",
                "--rate-limit=2",
            ]),
        )
        .spawn()?;
    let uploading = faults::coordinator::wait_until(Duration::from_secs(120), || {
        !cluster.node_push_uploads().is_empty()
    });
    ensure!(uploading, "the upload did not start");
    for node in 0..3 {
        cluster
            .nodes
            .cassandra
            .nodetool(node, &["compact", "ks1"])?;
    }
    let live_after = live_data_files(&cluster, 0)?;
    let compacted = faults::coordinator::finish(child, faults::coordinator::RUN_LIMIT)?;
    testkit::log!("--- backup during a compaction\n{}", compacted.stderr);
    assert!(
        live_after.len() < live_before.len(),
        "the compaction merged SSTables: {live_before:?} -> {live_after:?}"
    );
    ensure!(compacted.success(), "{}", compacted.stderr);
    let manifest = cluster
        .manifest(&compacted.backup_name()?)?
        .expect("a manifest");
    let entries = cluster.direct.entries(&manifest)?;
    let data_files: Vec<&ObjectEntry> = entries
        .iter()
        .filter(|o| o.host == "node1" && o.source_path.ends_with("-Data.db"))
        .collect();
    assert_eq!(
        data_files.len(),
        live_before.len(),
        "every SSTable of the snapshot was uploaded"
    );
    check_objects(&cluster, &manifest)?;
    snapshots_cleared(&cluster)?;
    Ok(())
}

/// The data objects (not the run record) stored under backup `name`, by key.
fn data_objects(
    cluster: &Cluster,
    name: &str,
) -> Result<BTreeMap<String, engine::store::ObjectMeta>> {
    Ok(cluster
        .direct
        .objects(&layout::backup_prefix(BASE, name))?
        .into_iter()
        .filter(|(key, _)| key.ends_with(".lzo"))
        .collect())
}

/// The live `-Data.db` files of ks1 on `node`.
fn live_data_files(cluster: &Cluster, node: usize) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let dir = cluster.nodes.cassandra.data_dir(node).join("ks1");
    for table in fs_err::read_dir(&dir)? {
        for file in fs_err::read_dir(table?.path())? {
            let name = file?.file_name().to_string_lossy().into_owned();
            if name.ends_with("-Data.db") {
                files.push(name);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[test]
fn a_host_lost_mid_upload_is_reported_the_others_are_cleared_and_the_next_run_resumes() -> Result<()>
{
    use faults::coordinator::{kill_process, processes};
    let _turn = RING_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut cluster = Cluster::start(3)?;
    cluster.cli(SCHEMA)?;
    write_sstables(&cluster, 3, 0)?;

    // 1. A slow backup; node3 drops off the network once its upload is under way: its sshd stops
    //    taking connections and the coordinator's connection to it (the ssh master) dies.
    let child = cluster
        .command(
            &cluster.weed.endpoint,
            &cluster.backup_args(&["--keyspaces=ks1", "--rate-limit=4"]),
        )
        .spawn()?;
    let coordinator = child.id();
    let ours = cluster.remote_node_push().display().to_string();
    // node3 uploads once the coordinator's ssh session runs node-push there (the host is named in the
    // request line on stdin, no longer in node-push's arguments); the session names the master's
    // control socket.
    let session = testkit::wait::until_some(
        "the coordinator's ssh session running node-push on node3",
        Duration::from_secs(120),
        || {
            processes()
                .into_iter()
                .find(|(pid, args)| {
                    faults::coordinator::parent_of(*pid) == Some(coordinator)
                        && args.starts_with("ssh ")
                        && args.contains(" -- node3 ")
                        && args.contains(&ours)
                        // Not the install session, which names the same path.
                        && args.contains(" upload")
                })
                .map(|(_, args)| args)
        },
    )?;
    let control = session
        .split(' ')
        .find(|a| a.starts_with("ControlPath="))
        .expect("a control path")
        .to_string();
    let (master, _) = processes()
        .into_iter()
        .find(|(_, args)| args.contains("ControlMaster=yes") && args.contains(&control))
        .expect("the ssh master of node3");
    cluster.nodes.ssh.stop_host(2);
    kill_process(master)?;
    let lost = faults::coordinator::finish(child, faults::coordinator::RUN_LIMIT)?;
    testkit::log!(
        "--- backup that lost node3 (exit {:?})\n{}",
        lost.code,
        lost.stderr
    );
    assert_eq!(lost.code, Some(1));
    let name = lost.backup_name()?;
    assert_eq!(lost.json()?["complete"], false);
    let hosts = host_reports(&lost)?;
    assert_eq!(hosts["node3"]["ok"], false);
    assert_eq!(hosts["node3"]["failed_stage"], "upload");
    let error = hosts["node3"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("node3: ") && error.contains("connection lost during the upload"),
        "the lost host is named: {error}"
    );
    for reachable in ["node1", "node2"] {
        assert_eq!(hosts[reachable]["ok"], true, "{}", hosts[reachable]);
        assert_eq!(hosts[reachable]["snapshot_cleared"], true);
    }
    assert_eq!(hosts["node3"]["snapshot_cleared"], false);
    assert!(
        lost.stderr
            .contains(&format!("remove the snapshot {name} by hand")),
        "{}",
        lost.stderr
    );
    for node in 0..2 {
        assert!(cluster.snapshot_dirs(node, "ks1")?.is_empty());
    }
    assert!(
        !cluster.snapshot_dirs(2, "ks1")?.is_empty(),
        "node3 could not be reached to clear its snapshot"
    );
    assert!(cluster.manifest(&name)?.is_none());
    // node-push on node3 saw its stdin close and stopped; nothing is left open.
    assert!(
        cluster.wait_node_push_gone(Duration::from_secs(30)),
        "node-push still runs: {:?}",
        cluster.node_push_processes()
    );
    assert_eq!(cluster.direct.open_uploads(&format!("{BASE}/"))?, 0);

    // 2. node3 is back: the next run resumes the backup, clears node3's old snapshot first, completes.
    cluster.nodes.ssh.start_host(2)?;
    let resumed = cluster.backup(&cluster.weed.endpoint, &["--keyspaces=ks1"])?;
    ensure!(resumed.success(), "{}", resumed.stderr);
    assert_eq!(resumed.backup_name()?, name);
    let manifest = cluster.manifest(&name)?.expect("complete now");
    assert!(cluster
        .direct
        .entries(&manifest)?
        .iter()
        .any(|o| o.host == "node3"));
    check_objects(&cluster, &manifest)?;
    snapshots_cleared(&cluster)?;
    Ok(())
}
