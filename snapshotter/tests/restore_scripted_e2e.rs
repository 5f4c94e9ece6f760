//! `restore --mode refresh` through the real coordinator, real sshd hosts and node-push, on nodes whose
//! `nodetool` answers like Cassandra 3.11, 4.0, 4.1 and 5.0 (see `restore_scripted/nodetool.sh`; CI runs
//! only a real 1.2). Each host has a generated data tree of its version (3.x `mc-N-big`, 4.0 `nb-N-big`,
//! 4.1+ ULID generations) with a secondary index, a snapshot uploaded by node-push to SeaweedFS (a format-2
//! manifest: one records document per host), and a live SSTable of its own. Checked: 4.0+ load with `nodetool import` from staging (no move, new generations,
//! links in backups/), 3.11 with moves and `nodetool refresh`; no index files restored anywhere; every
//! restored Data.db byte-exact and once; staging gone; the human output (snapshot-tested, paths and sizes
//! redacted) names the loader and counts SSTables and files, and `-v` shows no doubled `node-push:` and no
//! `stdin closed` after a successful restore.

use anyhow::{Context, Result};
use contract::layout;
use contract::manifest::{Batch, BatchKind, Manifest, ObjectEntry};
use contract::message::Message;
use engine::store::s3::S3Store;
use engine::store::{ObjectStore, PutOptions};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use testkit::seaweed::SeaweedFs;
use testkit::sshd::{HostSpec, SshCluster};
use testkit::tree::{table_dir_name, write_tree, Layout, Placement, TreeSpec};

const BUCKET: &str = "scripted";
const BASE: &str = "versions";
const NAME: &str = "20240301000000";
const NODETOOL: &str = include_str!("restore_scripted/nodetool.sh");

/// (alias, address, Cassandra version, layout, uuid generations).
const HOSTS: [(&str, u8, &str, Layout, bool); 4] = [
    ("c311", 110, "3.11.16", Layout::V3, false),
    ("c40", 111, "4.0.11", Layout::V40, false),
    ("c41", 112, "4.1.3", Layout::V41, false),
    ("c50", 113, "5.0.2", Layout::V41, true),
];

fn sha(path: &Path) -> String {
    hex::encode(Sha256::digest(fs_err::read(path).unwrap()))
}

/// Every file below `dir` (relative), sorted.
fn files_below(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs_err::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// One host: `bin/nodetool`, `conf/cassandra.yaml`, `data/` with a snapshot `NAME` of ks1 (users with an
/// index, events). Returns the snapshot files.
fn make_host(
    dir: &Path,
    version: &str,
    layout: Layout,
    uuid: bool,
    seed: u64,
) -> Result<Vec<PathBuf>> {
    let data = dir.join("data");
    let files = write_tree(
        &data,
        &TreeSpec {
            keyspaces: vec!["ks1".into()],
            sstables_per_table: 2,
            data_size: 16 * 1024,
            seed,
            ..TreeSpec::new(layout, Placement::Snapshot(NAME.into()))
        },
    )?;
    fs_err::create_dir_all(dir.join("bin"))?;
    fs_err::create_dir_all(dir.join("conf"))?;
    let yaml = dir.join("conf/cassandra.yaml");
    fs_err::write(
        &yaml,
        format!(
            "cluster_name: 'scripted'\ndata_file_directories:\n    - {}\nincremental_backups: true\n{}",
            data.display(),
            if uuid { "uuid_sstable_identifiers_enabled: true\n" } else { "" }
        ),
    )?;
    let nodetool = dir.join("bin/nodetool");
    fs_err::write(
        &nodetool,
        NODETOOL
            .replace("__VERSION__", version)
            .replace("__DATA__", &data.display().to_string())
            .replace("__YAML__", &yaml.display().to_string())
            .replace("__LOG__", &dir.join("nodetool.log").display().to_string()),
    )?;
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&nodetool, std::fs::Permissions::from_mode(0o755))?;
    Ok(files)
}

/// node-push uploads `data`'s snapshot as host `alias`; returns its entries.
fn upload(weed: &SeaweedFs, alias: &str, data: &Path) -> Result<Vec<ObjectEntry>> {
    let out = Command::new(testkit::workspace_bin("node-push")?)
        .args(["upload", "--dest"])
        .arg(format!("s3://{BUCKET}/{BASE}/{NAME}/{alias}"))
        .args(["--host-label", alias, "--snapshot-tag", NAME, "--data-dir"])
        .arg(data)
        .args(["--endpoint", &weed.endpoint, "--region", weed.region()])
        .envs(weed.aws_env())
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "upload: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?
        .lines()
        .filter_map(|l| match Message::parse_line(l) {
            Ok(Some(Message::FileDone { entry })) => Some(entry),
            _ => None,
        })
        .collect())
}

fn store(weed: &SeaweedFs) -> Result<(tokio::runtime::Runtime, S3Store)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store = runtime.block_on(S3Store::connect(weed.s3_config(BUCKET)))?;
    Ok((runtime, store))
}

#[test]
fn refresh_imports_on_4_x_and_5_0_refreshes_on_3_11_and_restores_no_index_files() -> Result<()> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let root = tempfile::Builder::new()
        .prefix("restore-scripted-")
        .tempdir()?;
    let mut specs = Vec::new();
    let mut snapshots: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    let mut objects = Vec::new();
    for (i, (alias, ip, version, layout, uuid)) in HOSTS.into_iter().enumerate() {
        let dir = root.path().join(alias);
        let files = make_host(&dir, version, layout, uuid, i as u64 + 1)?;
        objects.extend(upload(&weed, alias, &dir.join("data"))?);
        // (table dir, SHA-256) of every Data.db of the table's own SSTables.
        let mut data: Vec<(String, String)> = files
            .iter()
            .filter(|f| {
                f.to_string_lossy().ends_with("Data.db") && !f.to_string_lossy().contains("_idx")
            })
            .map(|f| {
                let table = f
                    .ancestors()
                    .nth(3)
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                (table, sha(f))
            })
            .collect();
        data.sort();
        snapshots.insert(alias, data);
        // The snapshot is cleared, as after a backup; the tables stay, empty (say, truncated).
        for table in ["users", "events"] {
            let table_dir = dir
                .join("data/ks1")
                .join(table_dir_name(layout, "ks1", table));
            fs_err::remove_dir_all(table_dir.join("snapshots"))?;
        }
        specs.push(HostSpec::new(alias, Ipv4Addr::new(127, 0, 0, ip), dir));
    }
    let aliases: Vec<&str> = HOSTS.iter().map(|h| h.0).collect();
    let mut manifest = Manifest::new(
        NAME,
        BASE,
        aliases.iter().map(|a| a.to_string()).collect(),
        None,
        "",
    );
    let now = chrono::Utc::now();
    // A format-2 manifest, as the coordinator writes it: one records document per host.
    let (runtime, s3) = store(&weed)?;
    let id = Batch::new_id(now, 1);
    let mut batch = Batch::new(BatchKind::Snapshot, now, now, id.clone());
    for alias in &aliases {
        let mine: Vec<ObjectEntry> = objects
            .iter()
            .filter(|o| o.host == *alias)
            .cloned()
            .collect();
        assert!(!mine.is_empty(), "{alias} uploaded files");
        batch
            .records
            .push(runtime.block_on(engine::records::write_document(
                &s3,
                (BASE, NAME, &id),
                alias,
                &mine,
                &PutOptions::default(),
            ))?);
    }
    manifest.batches.push(batch);
    runtime.block_on(s3.put_object(
        &layout::manifest_key(BASE, NAME),
        manifest.to_json().into_bytes().into(),
        &PutOptions::default(),
    ))?;
    let hosts = SshCluster::start_in(&root.path().join("ssh"), &specs)?;

    let node_push = root.path().join("node-push");
    fs_err::copy(testkit::workspace_bin("node-push")?, &node_push)?;
    let out = Command::new(env!("CARGO_BIN_EXE_cassandra-snapshotter"))
        .args(["--s3-bucket-name", BUCKET, "--s3-base-path", BASE])
        .args([
            "--s3-endpoint",
            &weed.endpoint,
            "--s3-bucket-region",
            weed.region(),
        ])
        .args(["-v", "restore", "--keyspace=ks1", "--mode=refresh"])
        .arg(format!(
            "--ssh-config={}",
            hosts.ssh_config_path().display()
        ))
        .arg(format!("--node-push-binary={}", node_push.display()))
        .arg(format!(
            "--node-push-path={}",
            root.path().join("installed/node-push").display()
        ))
        .env_remove("AWS_PROFILE")
        .envs(weed.aws_env())
        .stdin(Stdio::null())
        .output()
        .context("cannot run cassandra-snapshotter")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    testkit::log!("{stderr}");
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // What the operator reads.
    for (alias, _, version, _, _) in HOSTS {
        let loader = if version.starts_with('3') {
            "moving into the live table directories, then `nodetool refresh`"
        } else {
            "loading with `nodetool import` from the verified staging directory"
        };
        let major_minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
        assert!(
            stderr.contains(&format!("{alias}: Cassandra {major_minor}: {loader}")),
            "{alias}: {stderr}"
        );
    }
    assert!(
        stderr.contains("index users_idx not restored: Cassandra builds it"),
        "{stderr}"
    );
    assert!(!stderr.contains("node-push: node-push:"), "{stderr}");
    assert!(!stderr.contains("stdin closed"), "{stderr}");
    assert!(
        !stderr.contains("deprecated"),
        "refresh is used only where it is not deprecated"
    );

    for (alias, _, version, layout, _) in HOSTS {
        let dir = root.path().join(alias);
        let log = fs_err::read_to_string(dir.join("nodetool.log"))?;
        let imported = !version.starts_with('3');
        assert_eq!(
            log.contains("import --keep-level ks1 users"),
            imported,
            "{alias}: {log}"
        );
        assert_eq!(
            log.contains("refresh ks1 users"),
            !imported,
            "{alias}: {log}"
        );
        for table in ["users", "events"] {
            let table_dir = dir
                .join("data/ks1")
                .join(table_dir_name(layout, "ks1", table));
            let live = files_below(&table_dir);
            assert!(
                !live.iter().any(|f| f.contains("_idx")),
                "{alias}: index files restored: {live:?}"
            );
            // Every Data.db of the snapshot once, byte for byte.
            let name = table_dir_name(layout, "ks1", table);
            let want: Vec<&String> = snapshots[alias]
                .iter()
                .filter(|(t, _)| *t == name)
                .map(|(_, sha)| sha)
                .collect();
            let mut got: Vec<String> = live
                .iter()
                .filter(|f| f.ends_with("Data.db") && !f.starts_with("backups/"))
                .map(|f| sha(&table_dir.join(f)))
                .collect();
            got.sort();
            assert_eq!(
                got.iter().collect::<Vec<_>>(),
                want,
                "{alias} {table}: {live:?}"
            );
            let backups: Vec<&String> = live.iter().filter(|f| f.starts_with("backups/")).collect();
            assert_eq!(
                !backups.is_empty(),
                imported,
                "{alias}: import links into backups/: {live:?}"
            );
        }
        assert!(
            !dir.join("data/.restore-staging").exists(),
            "{alias}: staging left"
        );
    }

    // The report, with what differs between runs redacted.
    let root_text = root.path().display().to_string();
    let report = stdout.replace(&root_text, "[ROOT]");
    let report = regex_lite_sizes(&report);
    insta::assert_snapshot!(report);
    Ok(())
}

/// "123.4 KiB written" -> "[SIZE] written" (compressed sizes vary with the lzo build).
fn regex_lite_sizes(text: &str) -> String {
    text.lines()
        .map(|line| match line.find(" files, ") {
            Some(at) => match line[at..].find(" written") {
                Some(end) => format!("{} files, [SIZE]{}", &line[..at], &line[at + end..]),
                None => line.to_string(),
            },
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
