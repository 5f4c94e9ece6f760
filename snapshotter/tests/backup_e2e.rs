//! End-to-end: `cassandra-snapshotter backup` and `list` against a real 3-node Apache Cassandra 1.2 ring
//! reached through real sshd hosts, storing into a real SeaweedFS S3 gateway.
//!
//! Needs the test stack (`cargo xtask setup`) and both binaries built (`cargo build -p node-push
//! -p cassandra-snapshotter`; `cargo xtask test` does it). The rings bind 127.0.0.2-4, so the tests of
//! this file take turns.

#[allow(dead_code)]
mod e2e;

use anyhow::{ensure, Result};
use contract::layout::{parse_key, DataKind, ParsedKey};
use e2e::{Stack, STACK_LOCK};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const SCHEMA: &str = "\
create keyspace ks1 with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:3};
use ks1;
create column family users with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
create column family events with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
create keyspace ks2 with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:3};
use ks2;
create column family things with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
";

fn rows(keyspace: &str, table: &str, from: usize, to: usize) -> String {
    let mut script = format!("use {keyspace};\n");
    for i in from..to {
        script.push_str(&format!(
            "set {table}['row{i}']['value'] = 'value {i} of {table}';\n"
        ));
    }
    script
}

#[test]
fn snapshot_then_incremental_then_selections_and_a_host_down() -> Result<()> {
    let _turn = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut stack = Stack::start(3, None)?;
    stack.cli(&format!(
        "{SCHEMA}{}{}{}",
        rows("ks1", "users", 0, 40),
        rows("ks1", "events", 0, 40),
        rows("ks2", "things", 0, 40)
    ))?;
    stack.flush_all("ks1")?;
    stack.flush_all("ks2")?;

    // 1. First backup of ks1: a snapshot, complete, every object stored and readable by lzop.
    let first = stack.backup(&["--keyspaces=ks1"])?;
    ensure!(first.success(), "first backup failed: {}", first.stderr);
    let report = first.json()?;
    assert_eq!(report["kind"], "snapshot", "{report}");
    assert_eq!(report["complete"], true, "{report}");
    let name = report["backup"].as_str().unwrap().to_string();
    let manifest = stack.manifest(&name)?;
    assert_eq!(manifest.batches.len(), 1);
    assert_eq!(manifest.hosts, stack.hosts());
    assert_eq!(manifest.keyspaces, Some(vec!["ks1".to_string()]));
    assert_eq!(manifest.format_version, 2, "records documents per host");
    let snapshot_objects = &stack.batch(&manifest, 0)?;
    let hosts_seen: BTreeSet<&str> = snapshot_objects.iter().map(|o| o.host.as_str()).collect();
    assert_eq!(hosts_seen.len(), 3, "every host uploaded: {hosts_seen:?}");
    let tables_seen: BTreeSet<&str> = snapshot_objects.iter().map(|o| o.table.as_str()).collect();
    assert_eq!(tables_seen, BTreeSet::from(["events", "users"]));
    for object in snapshot_objects {
        let Some(ParsedKey::Data(key)) = parse_key("e2e", &object.key) else {
            panic!("{} is not a data key", object.key)
        };
        assert_eq!(key.kind, DataKind::Snapshot { tag: name.clone() });
        assert_eq!(key.keyspace, "ks1");
        assert_eq!(
            stack.object_size(&object.key)?,
            Some(object.compressed_size),
            "{}",
            object.key
        );
    }
    stack.check_lzop_restores(&snapshot_objects[0])?;
    assert!(stack.exists(&format!("e2e/{name}/ring"))?);
    assert!(stack.ring(&name)?.contains("127.0.0.4"));
    assert!(!stack.exists(&format!("e2e/{name}/manifest.json.partial"))?);
    for node in 0..3 {
        assert!(
            stack.snapshot_dirs(node, "ks1")?.is_empty(),
            "snapshot cleared on node {node}"
        );
        // The backups/ links of the SSTables the snapshot holds were pruned.
        assert!(
            stack.backups_files(node, "ks1")?.is_empty(),
            "node {node}: {:?}",
            stack.backups_files(node, "ks1")
        );
    }

    // 2. More rows, flushed: the next run is an incremental into the same backup, with only the new files.
    stack.cli(&format!(
        "{}{}",
        rows("ks1", "users", 40, 80),
        rows("ks1", "events", 40, 60)
    ))?;
    stack.flush_all("ks1")?;
    let pending: Vec<BTreeSet<String>> = (0..3)
        .map(|n| stack.backups_files(n, "ks1"))
        .collect::<Result<_>>()?;
    assert!(
        pending.iter().all(|files| !files.is_empty()),
        "flush left new files in backups/: {pending:?}"
    );
    let second = stack.backup(&["--keyspaces=ks1"])?;
    ensure!(second.success(), "incremental failed: {}", second.stderr);
    let report = second.json()?;
    assert_eq!(report["kind"], "incremental", "{report}");
    assert_eq!(report["backup"], name.as_str());
    let manifest = stack.manifest(&name)?;
    assert_eq!(manifest.batches.len(), 2);
    let incremental = &stack.batch(&manifest, 1)?;
    for (n, host) in stack.hosts().iter().enumerate() {
        let sent: BTreeSet<String> = incremental
            .iter()
            .filter(|o| &o.host == host)
            .map(|o| file_name(&o.source_path))
            .collect();
        assert_eq!(
            sent, pending[n],
            "{host}: exactly the files flushed after the snapshot went up"
        );
        let in_snapshot: BTreeSet<String> = snapshot_objects
            .iter()
            .filter(|o| &o.host == host)
            .map(|o| file_name(&o.source_path))
            .collect();
        assert!(
            sent.is_disjoint(&in_snapshot),
            "{host}: nothing of the snapshot was sent again"
        );
        assert!(
            stack.backups_files(n, "ks1")?.is_empty(),
            "{host}: backups/ emptied after upload"
        );
    }
    for object in incremental {
        assert!(
            matches!(parse_key("e2e", &object.key), Some(ParsedKey::Data(k)) if k.kind == DataKind::Incremental)
        );
        assert_eq!(
            stack.object_size(&object.key)?,
            Some(object.compressed_size)
        );
    }

    // 3. list: one backup, a snapshot with one incremental, complete.
    let listed = stack.coordinator(&["list", "--json"])?;
    ensure!(listed.success(), "{}", listed.stderr);
    let entries = listed.json()?;
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["name"], name.as_str());
    assert_eq!(entries[0]["incrementals"], 1);
    assert_eq!(entries[0]["complete"], true);
    assert_eq!(
        entries[0]["objects"],
        stack.entries(&manifest)?.len() as u64
    );
    // Nothing referenced: the first backup under the base path had nothing to reference.
    assert_eq!(entries[0]["bytes_referenced"], 0, "{entries:?}");
    assert_eq!(entries[0]["bytes_added"], entries[0]["bytes_stored"]);
    let table = stack.coordinator(&["list"])?;
    assert!(
        table.stdout.contains("snapshot + 1 incremental"),
        "{}",
        table.stdout
    );

    // 4. --table, --exclude-tables and --new-snapshot make new snapshots with exactly that selection.
    let only_users = stack.backup(&["--keyspaces=ks1", "--table=users", "--new-snapshot"])?;
    ensure!(only_users.success(), "{}", only_users.stderr);
    let users_name = only_users.json()?["backup"].as_str().unwrap().to_string();
    assert_ne!(users_name, name);
    let tables: BTreeSet<String> = stack
        .entries(&stack.manifest(&users_name)?)?
        .iter()
        .map(|o| o.table.clone())
        .collect();
    assert_eq!(tables, BTreeSet::from(["users".to_string()]));
    let without_events = stack.backup(&[
        "--keyspaces=ks1,ks2",
        "--exclude-tables=ks1.events",
        "--new-snapshot",
    ])?;
    ensure!(without_events.success(), "{}", without_events.stderr);
    let excl_name = without_events.json()?["backup"]
        .as_str()
        .unwrap()
        .to_string();
    let tables: BTreeSet<String> = stack
        .entries(&stack.manifest(&excl_name)?)?
        .iter()
        .map(|o| format!("{}.{}", o.keyspace, o.table))
        .collect();
    assert_eq!(
        tables,
        BTreeSet::from(["ks1.users".to_string(), "ks2.things".to_string()])
    );

    // 5. Bad input found in preflight: a keyspace that does not exist, a keyspace name with shell
    //    metacharacters. One line naming it, nothing changed anywhere, no new backup.
    let before = stack.backup_names()?;
    let no_such = stack.backup(&["--keyspaces=nope", "--new-snapshot"])?;
    assert_eq!(no_such.code, Some(1), "{}", no_such.stderr);
    assert!(
        no_such
            .stderr
            .contains("node1: keyspace nope (--keyspaces) not found"),
        "{}",
        no_such.stderr
    );
    let evil = stack.backup(&["--keyspaces=ks1;touch /tmp/cs-e2e-pwned", "--new-snapshot"])?;
    assert_eq!(evil.code, Some(1));
    assert!(
        evil.stderr.contains("invalid keyspace name"),
        "{}",
        evil.stderr
    );
    assert!(!std::path::Path::new("/tmp/cs-e2e-pwned").exists());
    assert_eq!(stack.backup_names()?, before);

    // 6. A host that is down: a clear error naming it, nothing changed anywhere, no new backup.
    stack.nodes.ssh.stop_host(2);
    let down = stack.backup(&["--keyspaces=ks1", "--new-snapshot"])?;
    assert_eq!(down.code, Some(1), "{}", down.stderr);
    assert!(down.stderr.contains("node3: ssh:"), "{}", down.stderr);
    let report = down.json()?;
    assert_eq!(report["complete"], false);
    let failed: Vec<&str> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["ok"] == false)
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["node3"]);
    assert_eq!(
        stack.backup_names()?,
        before,
        "no new backup prefix after a failed preflight"
    );
    for node in 0..2 {
        assert!(stack.snapshot_dirs(node, "ks1")?.is_empty());
    }
    stack.nodes.ssh.start_host(2)?;

    // 7. Ctrl-C during the upload (slowed to 1 KiB/s): node-push stops on every host, the snapshot is
    //    cleared everywhere, no manifest, no multipart upload left open, exit code 130.
    interrupted_backup_cleans_up(&stack)?;
    Ok(())
}

fn interrupted_backup_cleans_up(stack: &Stack) -> Result<()> {
    use std::io::BufRead;
    let before = stack.backup_names()?;
    // --full: every file is sent (slowly), none referenced from the earlier backups.
    let args = stack.backup_args(&[
        "--keyspaces=ks1",
        "--new-snapshot",
        "--full",
        "--rate-limit=1",
    ])?;
    let mut child = stack.spawn_coordinator(&args)?;
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line?;
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("node3: uploading") {
            break;
        }
    }
    ensure!(
        seen.contains("== upload"),
        "the upload never started: {seen}"
    );
    // Interrupt while node-push runs on the nodes, so that it sees its stdin close mid-upload.
    testkit::wait::until("node-push uploads", Duration::from_secs(30), || {
        matches!(node_push_running(), Ok(true))
    })?;
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    ensure!(status.success());
    let rest: Vec<String> = lines.collect::<Result<_, _>>()?;
    let code = child.wait()?.code();
    let rest = rest.join("\n");
    testkit::log!("--- interrupted backup\n{seen}{rest}");
    assert_eq!(code, Some(130), "{rest}");
    assert!(
        rest.contains("interrupted") && rest.contains("== clear snapshot"),
        "{rest}"
    );
    for node in 0..3 {
        assert!(
            stack.snapshot_dirs(node, "ks1")?.is_empty(),
            "snapshot cleared on node {node}"
        );
    }
    let after = stack.backup_names()?;
    for name in after.iter().filter(|n| !before.contains(n)) {
        assert!(
            !stack.exists(&format!("e2e/{name}/manifest.json"))?,
            "no manifest for the interrupted {name}"
        );
    }
    // node-push notices its stdin closing and stops; give it a moment to abort its uploads.
    testkit::wait::poll(Duration::from_secs(30), || {
        matches!(node_push_running(), Ok(false)) && matches!(stack.open_multipart_uploads(), Ok(0))
    });
    assert!(
        !node_push_running()?,
        "node-push still running after the interruption"
    );
    assert_eq!(
        stack.open_multipart_uploads()?,
        0,
        "multipart uploads left open"
    );
    Ok(())
}

/// Whether any `node-push upload` runs on this machine (all simulated hosts are local).
fn node_push_running() -> Result<bool> {
    let out = Command::new("pgrep")
        .args(["-f", "node-push-[0-9a-f]+ upload"])
        .output()?;
    Ok(out.status.success())
}

#[test]
fn a_node_that_needs_sudo() -> Result<()> {
    let _turn = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let stack = Stack::start(1, Some("cs-e2e-sudo"))?;
    stack.cli(&format!(
        "{}{}",
        SCHEMA.replace("replication_factor:3", "replication_factor:1"),
        rows("ks1", "users", 0, 20)
    ))?;
    stack.flush_all("ks1")?;
    let without = stack.backup(&["--keyspaces=ks1"])?;
    assert_eq!(without.code, Some(1), "{}", without.stderr);
    assert!(
        without.stderr.contains("node1: data directory") && without.stderr.contains("--use-sudo"),
        "{}",
        without.stderr
    );
    assert!(stack.backup_names()?.is_empty());

    let with = stack.backup(&["--keyspaces=ks1", "--use-sudo"])?;
    ensure!(with.success(), "{}", with.stderr);
    let name = with.json()?["backup"].as_str().unwrap().to_string();
    let entries = stack.entries(&stack.manifest(&name)?)?;
    assert!(!entries.is_empty());
    assert!(entries
        .iter()
        .all(|o| o.table == "users" && o.host == "node1"));
    assert!(stack.snapshot_dirs(0, "ks1")?.is_empty());
    Ok(())
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}
