//! A load test of the coordinator: 20 simulated hosts (one real sshd each, on 127.0.0.50-69), each with
//! its own small Cassandra 1.2 data tree, backed up in one run with `--connection-pool-size 8` into a real
//! SeaweedFS. Prints the wall time, the coordinator's peak RSS and how many node-push ran at once; asserts
//! only outcomes (every host's files stored and in the manifest, snapshots cleared, never more than 8
//! hosts uploading at once), not timings.
//!
//! The real Cassandra ring has three nodes; here each host gets a `nodetool` stand-in script that does
//! what the coordinator asks of nodetool (version, snapshot as hard links, clearsnapshot, ring, flush),
//! which is enough for a test about the coordinator's fan-out.

mod faults;

use anyhow::{ensure, Context, Result};
use contract::layout;
use contract::manifest::Manifest;
use faults::coordinator::{finish, processes, Run};
use faults::DirectStore;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::seaweed::SeaweedFs;
use testkit::sshd::{HostSpec, SshCluster};
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

const HOSTS: usize = 20;
const POOL: usize = 8;
const BUCKET: &str = "load";
const BASE: &str = "twenty";

/// The nodetool stand-in: `__DATA__` is replaced by the host's data directory.
const NODETOOL: &str = r#"#!/bin/sh
# nodetool stand-in of a load-test host: what the coordinator asks of nodetool, on a plain data tree.
data='__DATA__'
cmd="$1"; shift
case "$cmd" in
  version) echo "ReleaseVersion: 1.2.0" ;;
  flush) ;;
  ring) printf 'Address DC Rack Status State Load Owns Token\n127.0.0.1 dc1 r1 Up Normal 1 KB 100%% 0\n' ;;
  snapshot)
    tag=; table=; keyspaces=
    while [ $# -gt 0 ]; do
      case "$1" in
        -t) tag="$2"; shift 2 ;;
        -cf) table="$2"; shift 2 ;;
        *) keyspaces="$keyspaces $1"; shift ;;
      esac
    done
    [ -n "$tag" ] || { echo "snapshot needs -t" >&2; exit 1; }
    [ -n "$keyspaces" ] || keyspaces=$(ls "$data")
    for ks in $keyspaces; do
      [ -d "$data/$ks" ] || { echo "Keyspace $ks does not exist" >&2; exit 1; }
      for dir in "$data/$ks"/*/; do
        dir=${dir%/}
        [ -z "$table" ] || [ "${dir##*/}" = "$table" ] || continue
        mkdir -p "$dir/snapshots/$tag"
        for f in "$dir"/*; do [ -f "$f" ] && ln "$f" "$dir/snapshots/$tag/"; done
      done
    done
    echo "Requested snapshot for:$keyspaces"; echo "Snapshot directory: $tag" ;;
  clearsnapshot)
    [ "$1" = "-t" ] && rm -rf "$data"/*/*/snapshots/"$2" ;;
  *) echo "nodetool stand-in: $cmd is not supported" >&2; exit 1 ;;
esac
"#;

/// One host's directory: `bin/nodetool`, `conf/cassandra.yaml`, `data/` with live SSTables.
fn make_host(dir: &Path, seed: u64) -> Result<usize> {
    let data = dir.join("data");
    let files = write_tree(
        &data,
        &TreeSpec {
            keyspaces: vec!["ks1".into()],
            tables: vec!["users".into(), "events".into()],
            sstables_per_table: 2,
            data_size: 24 * 1024,
            with_index: false,
            seed,
            ..TreeSpec::new(Layout::V12, Placement::Live)
        },
    )?;
    fs_err::create_dir_all(dir.join("bin"))?;
    fs_err::create_dir_all(dir.join("conf"))?;
    let nodetool = dir.join("bin/nodetool");
    fs_err::write(
        &nodetool,
        NODETOOL.replace("__DATA__", &data.display().to_string()),
    )?;
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&nodetool, std::fs::Permissions::from_mode(0o755))?;
    fs_err::write(
        dir.join("conf/cassandra.yaml"),
        format!(
            "cluster_name: 'load'\ndata_file_directories:\n    - {}\nincremental_backups: true\n",
            data.display()
        ),
    )?;
    Ok(files.len())
}

/// A stripped copy of node-push: what a release ships, and 15 MB instead of 120 to copy to 20 hosts
/// and to hold in the coordinator's memory (which would otherwise dominate its peak RSS).
fn stripped_node_push(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("node-push");
    fs_err::copy(testkit::workspace_bin("node-push")?, &path)?;
    let stripped = Command::new("strip").arg(&path).status();
    if !matches!(stripped, Ok(status) if status.success()) {
        testkit::log!("strip is not available: the unstripped node-push is copied to the hosts");
    }
    Ok(path)
}

/// Reads `VmHWM` (peak resident set) of `pid` in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[test]
fn twenty_hosts_with_a_pool_of_eight() -> Result<()> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let direct = DirectStore::connect(&weed, BUCKET)?;
    let root = tempfile::Builder::new().prefix("faults-load-").tempdir()?;
    let mut specs = Vec::new();
    let mut files_per_host = BTreeMap::new();
    for i in 0..HOSTS {
        let alias = format!("load{:02}", i + 1);
        let dir = root.path().join(&alias);
        files_per_host.insert(alias.clone(), make_host(&dir, i as u64 + 1)?);
        specs.push(HostSpec::new(
            alias,
            Ipv4Addr::new(127, 0, 0, 50 + i as u8),
            dir,
        ));
    }
    let started = Instant::now();
    let hosts = SshCluster::start_in(&root.path().join("ssh"), &specs)?;
    testkit::log!("{HOSTS} sshd hosts started in {:?}", started.elapsed());
    let node_push = stripped_node_push(root.path())?;
    let remote = root.path().join("installed/node-push");
    let aliases: Vec<String> = specs.iter().map(|s| s.alias.clone()).collect();

    let mut command = Command::new(env!("CARGO_BIN_EXE_cassandra-snapshotter"));
    command
        .args(["--s3-bucket-name", BUCKET, "--s3-base-path", BASE])
        .args([
            "--s3-endpoint",
            &weed.endpoint,
            "--s3-bucket-region",
            weed.region(),
        ])
        // Slowed a little, so that each host's upload lasts long enough to overlap with the others'.
        .args(["--json", "backup", "--keyspaces=ks1", "--rate-limit=64"])
        .arg(format!("--hosts={}", aliases.join(",")))
        .arg(format!("--connection-pool-size={POOL}"))
        .arg(format!(
            "--ssh-config={}",
            hosts.ssh_config_path().display()
        ))
        .arg(format!("--node-push-binary={}", node_push.display()))
        .arg(format!("--node-push-path={}", remote.display()))
        .env_remove("AWS_PROFILE")
        .env("XDG_CONFIG_HOME", root.path())
        .envs(weed.aws_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn()?;
    let pid = child.id();
    // The stage lines, with the time each began.
    let stderr = child.stderr.take().expect("piped");
    let stages = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut timeline = Vec::new();
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("== ") {
                timeline.push(format!(
                    "{:>6.1} s  {line}",
                    started.elapsed().as_secs_f64()
                ));
            }
            all.push_str(&line);
            all.push('\n');
        }
        (timeline, all)
    });
    // Sample the coordinator's peak RSS and the node-push runs at once until it ends.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stop, remote) = (stop.clone(), remote.display().to_string());
        std::thread::spawn(move || {
            let (mut peak, mut most_at_once) = (0u64, 0usize);
            while !stop.load(Ordering::SeqCst) {
                peak = peak.max(peak_rss_kib(pid).unwrap_or(0));
                let running = processes()
                    .iter()
                    .filter(|(_, args)| args.starts_with(&remote) && args.contains(" upload "))
                    .count();
                most_at_once = most_at_once.max(running);
                // The sampling interval of the measurement, not a wait.
                std::thread::sleep(Duration::from_millis(25));
            }
            (peak, most_at_once)
        })
    };
    let mut run: Run = finish(child, Duration::from_secs(600))?;
    let wall = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (peak_kib, most_at_once) = sampler.join().expect("sampler");
    let (timeline, stderr) = stages.join().expect("stderr reader");
    run.stderr = stderr;
    testkit::log!("{}\nstages:\n{}", run.stderr, timeline.join("\n"));
    testkit::log!(
        "LOAD: {HOSTS} hosts, pool {POOL}: wall time {:.1} s, coordinator peak RSS {:.1} MiB, \
         at most {most_at_once} node-push uploading at once",
        wall.as_secs_f64(),
        peak_kib as f64 / 1024.0
    );
    ensure!(run.success(), "the backup failed: {}", run.stderr);
    let report = run.json()?;
    assert_eq!(report["complete"], true);
    let name = run.backup_name()?;
    let key = layout::manifest_key(BASE, &name);
    let manifest = Manifest::from_json(&key, &direct.get(&key)?)?;
    let entries = direct.entries(&manifest)?;
    let mut per_host: BTreeMap<String, usize> = BTreeMap::new();
    for object in &entries {
        *per_host.entry(object.host.clone()).or_default() += 1;
    }
    assert_eq!(per_host, files_per_host, "every file of every host, once");
    let stored = direct.objects(&layout::backup_prefix(BASE, &name))?;
    for object in &entries {
        let meta = stored
            .get(&object.key)
            .with_context(|| format!("{} is not stored", object.key))?;
        assert_eq!(meta.size, object.compressed_size);
    }
    assert!(
        (2..=POOL).contains(&most_at_once),
        "{most_at_once} hosts uploaded at once: expected several, never above --connection-pool-size {POOL}"
    );
    for spec in &specs {
        let snapshots: Vec<_> = glob_snapshots(&spec.node_dir.join("data"))?;
        assert!(snapshots.is_empty(), "{}: {snapshots:?}", spec.alias);
    }
    assert_eq!(direct.open_uploads(&format!("{BASE}/"))?, 0);
    Ok(())
}

/// Every `snapshots/<tag>` dir under `data`.
fn glob_snapshots(data: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for keyspace in fs_err::read_dir(data)? {
        for table in fs_err::read_dir(keyspace?.path())? {
            let snapshots = table?.path().join("snapshots");
            if snapshots.is_dir() {
                for tag in fs_err::read_dir(&snapshots)? {
                    found.push(tag?.path());
                }
            }
        }
    }
    Ok(found)
}
