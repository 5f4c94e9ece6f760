//! `--mode local` and `sstableloader` in-process, against an in-memory store holding objects compressed by
//! the real `lzop`: point in time, old-tool backups, a damaged object, a failing sstableloader.

use super::super::local;
use super::super::report::{TableState, TargetReport};
use super::super::source::{plan_loader, plan_local, select};
use super::settings;
use crate::memstore::MemoryStore;
use crate::output::Output;
use crate::settings::{OutputMode, Verbosity};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use contract::layout;
use contract::manifest::{Batch, BatchKind, Manifest, ObjectEntry};
use engine::store::{ObjectStore, PutOptions};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const NAME: &str = "20240101000000";

fn lzop(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("lzop")
        .args(["-c", "-1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("lzop is installed (cargo xtask setup)");
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Some bytes that differ per file.
fn content(seed: &str) -> Vec<u8> {
    (0..20_000u32)
        .map(|i| (i.wrapping_mul(31) as u8) ^ seed.as_bytes()[i as usize % seed.len()])
        .collect()
}

/// Store `file` of `host`'s table `t` (a snapshot file, or an incremental) and return its entry.
async fn store_file(
    store: &dyn ObjectStore,
    host: &str,
    file: &str,
    incremental: bool,
) -> ObjectEntry {
    let source = if incremental {
        format!("/d/ks/t/backups/{file}")
    } else {
        format!("/d/ks/t/snapshots/{NAME}/{file}")
    };
    let key = layout::data_key("base", NAME, host, Path::new(&source));
    let bytes = content(&format!("{host}{file}"));
    let stored = lzop(&bytes);
    let etag = store
        .put_object(&key, Bytes::from(stored.clone()), &PutOptions::default())
        .await
        .unwrap();
    ObjectEntry {
        key,
        host: host.into(),
        source_path: source,
        keyspace: "ks".into(),
        table: "t".into(),
        size: bytes.len() as u64,
        compressed_size: stored.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
        blake3: String::new(),
        etag,
        variant: 0,
        source_id: None,
    }
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A backup of n1 and n2: a snapshot batch, then an incremental batch an hour later.
async fn backup(store: &dyn ObjectStore) -> Manifest {
    let mut manifest = Manifest::new(NAME, "base", vec!["n1".into(), "n2".into()], None, "");
    manifest.format_version = 1; // objects inline
    let mut first = Vec::new();
    for host in ["n1", "n2"] {
        for file in ["ks-t-ia-1-Data.db", "ks-t-ia-1-Index.db"] {
            first.push(store_file(store, host, file, false).await);
        }
    }
    let second = vec![store_file(store, "n1", "ks-t-ia-2-Data.db", true).await];
    for (kind, time, objects) in [
        (BatchKind::Snapshot, "2024-01-01T00:05:00Z", first),
        (BatchKind::Incremental, "2024-01-01T01:05:00Z", second),
    ] {
        manifest.batches.push(Batch {
            kind,
            started_at: at(time),
            completed_at: at(time),
            objects,
            id: String::new(),
            records: Vec::new(),
        });
    }
    store
        .put_object(
            &layout::manifest_key("base", NAME),
            Bytes::from(manifest.to_json()),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    manifest
}

fn quiet() -> Arc<Output> {
    Arc::new(Output::new(OutputMode::Plain, Verbosity::Quiet))
}

async fn run_local(store: Arc<MemoryStore>, args: &[&str]) -> anyhow::Result<TargetReport> {
    let settings = settings(args)?;
    let selected = select(store.as_ref(), &settings, &quiet()).await?;
    let files = if settings.mode == crate::cli::ModeArg::Sstableloader {
        plan_loader(&selected, &settings)?.files
    } else {
        plan_local(&selected, &settings)?.files
    };
    let (_keep, cancel) = tokio::sync::watch::channel(false);
    local::run(&settings, store, files, quiet(), cancel).await
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
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

#[tokio::test]
async fn until_restores_exactly_the_snapshot_byte_for_byte() {
    let store = Arc::new(MemoryStore::default());
    let manifest = backup(store.as_ref()).await;
    let dir = tempfile::tempdir().unwrap();
    let restore_dir = format!("--restore-dir={}", dir.path().display());
    let report = run_local(
        store.clone(),
        &[
            "--keyspace=ks",
            "--local",
            &restore_dir,
            "--until=2024-01-01T00:30:00Z",
        ],
    )
    .await
    .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(
        files_under(dir.path()),
        [
            "ks/t/n1_ks-t-ia-1-Data.db",
            "ks/t/n1_ks-t-ia-1-Index.db",
            "ks/t/n2_ks-t-ia-1-Data.db",
            "ks/t/n2_ks-t-ia-1-Index.db"
        ]
    );
    for entry in &manifest.batches[0].objects {
        let name = entry.source_path.rsplit('/').next().unwrap();
        let bytes = fs_err::read(dir.path().join(format!("ks/t/{}_{name}", entry.host))).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), entry.sha256);
    }

    // Both hosts' files share the table dir: it is named once, and the counts are SSTables and files.
    let table = &report.tables[0];
    assert_eq!(table.staged_in, [format!("{}/ks/t", dir.path().display())]);
    assert_eq!((table.sstables, table.files), (2, 4));
    // The help says what was written: <ks>/<table dir>/<host>_<file>.
    use clap::CommandFactory;
    let help = crate::cli::Cli::command()
        .find_subcommand_mut("restore")
        .unwrap()
        .render_long_help()
        .to_string();
    assert!(help.contains("<ks>/<table dir>/<host>_<file>"), "{help}");
    assert!(!help.contains("<ks>/<table>/<host>_<file>"), "{help}");

    let all = tempfile::tempdir().unwrap();
    let restore_dir = format!("--restore-dir={}", all.path().display());
    let report = run_local(store.clone(), &["--keyspace=ks", "--local", &restore_dir])
        .await
        .unwrap();
    assert!(report.ok);
    assert_eq!(
        files_under(all.path()).len(),
        5,
        "snapshot plus the incremental"
    );

    let error = run_local(
        store,
        &["--keyspace=ks", "--local", "--until=20231231000000"],
    )
    .await
    .unwrap_err();
    assert!(format!("{error:#}").contains("before backup"), "{error:#}");
}

#[tokio::test]
async fn a_damaged_object_fails_its_table_and_leaves_no_file() {
    let store = Arc::new(MemoryStore::default());
    let manifest = backup(store.as_ref()).await;
    let victim = &manifest.batches[0].objects[2];
    let mut bytes = store.get(&victim.key, None).await.unwrap().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    store
        .put_object(&victim.key, Bytes::from(bytes), &PutOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let restore_dir = format!("--restore-dir={}", dir.path().display());
    let report = run_local(
        store,
        &["--keyspace=ks", "--local", &restore_dir, "--hosts=n2"],
    )
    .await
    .unwrap();
    assert!(!report.ok);
    let table = &report.tables[0];
    assert_eq!(table.state, TableState::Failed);
    assert!(
        table.error.as_deref().unwrap().contains(&victim.key),
        "{table:?}"
    );
    let left = files_under(dir.path());
    assert!(
        left.iter()
            .all(|f| !f.contains("ks-t-ia-1-Data.db") && !f.ends_with(".part")),
        "{left:?}"
    );
}

#[tokio::test]
async fn an_old_tool_backup_restores_from_a_listing() {
    let store = Arc::new(MemoryStore::default());
    let bytes = content("legacy");
    // The old tool's double-slash key form and its five-field manifest.
    let key = format!("base/{NAME}/n1//d/ks/t/snapshots/{NAME}/ks-t-hf-3-Data.db.lzo");
    store
        .put_object(&key, Bytes::from(lzop(&bytes)), &PutOptions::default())
        .await
        .unwrap();
    let manifest = format!(
        r#"{{"name": "{NAME}", "base_path": "base", "hosts": ["n1"], "keyspaces": ["ks"], "table": ""}}"#
    );
    store
        .put_object(
            &layout::manifest_key("base", NAME),
            Bytes::from(manifest),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let restore_dir = format!("--restore-dir={}", dir.path().display());
    let report = run_local(store.clone(), &["--keyspace=ks", "--local", &restore_dir])
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(
        fs_err::read(dir.path().join("ks/t/n1_ks-t-hf-3-Data.db")).unwrap(),
        bytes
    );
    let error = run_local(
        store,
        &["--keyspace=ks", "--local", "--until=20240102000000"],
    )
    .await
    .unwrap_err();
    assert!(format!("{error:#}").contains("--until needs a backup written by this tool"));
}

#[tokio::test]
async fn sstableloader_runs_per_table_dir_and_its_failure_fails_the_table() {
    use std::os::unix::fs::PermissionsExt;
    let store = Arc::new(MemoryStore::default());
    backup(store.as_ref()).await;
    let bin = tempfile::tempdir().unwrap();
    let loader = bin.path().join("sstableloader");
    let log = bin.path().join("calls");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {}\nls \"$3\" >> {}\n[ -f {}/fail ] && {{ echo 'Could not retrieve endpoint ranges' >&2; exit 1; }}\nexit 0\n",
        log.display(),
        log.display(),
        bin.path().display()
    );
    fs_err::write(&loader, script).unwrap();
    fs_err::set_permissions(&loader, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--keyspace=ks".to_string(),
        "--target-hosts=10.0.0.1,10.0.0.2".into(),
        format!("--restore-dir={}", dir.path().display()),
        format!("--cassandra-bin-dir={}", bin.path().display()),
        "--until=2024-01-01T00:30:00Z".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = run_local(store.clone(), &args).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.tables[0].state, TableState::Loaded);
    let calls = fs_err::read_to_string(&log).unwrap();
    let expected = format!("-d 10.0.0.1,10.0.0.2 {}/n1/ks/t\n", dir.path().display());
    assert!(calls.starts_with(&expected), "{calls}");
    assert!(
        calls.contains("ks-t-ia-1-Data.db\nks-t-ia-1-Index.db\n"),
        "Cassandra's names: {calls}"
    );
    assert!(calls.contains(&format!("{}/n2/ks/t", dir.path().display())));

    fs_err::write(bin.path().join("fail"), "").unwrap();
    let report = run_local(store, &args).await.unwrap();
    assert!(!report.ok);
    let error = report.tables[0].error.as_deref().unwrap();
    assert!(
        error.contains("Could not retrieve endpoint ranges"),
        "{error}"
    );
}

/// The backup of [`backup`] in format 2 (records documents per host and batch), n1's snapshot Index.db a
/// differential reference: stored under an older backup's prefix, its record pointing there.
async fn format2_backup(store: &dyn ObjectStore) -> Manifest {
    let inline = backup(store).await;
    let mut manifest = Manifest::new(NAME, "base", inline.hosts.clone(), None, "");
    for (n, old) in inline.batches.iter().enumerate() {
        let id = Batch::new_id(old.started_at, n as u32);
        let mut batch = Batch::new(old.kind, old.started_at, old.completed_at, id.clone());
        for host in &manifest.hosts {
            let mut entries: Vec<ObjectEntry> = old
                .objects
                .iter()
                .filter(|o| o.host == *host)
                .cloned()
                .collect();
            for entry in entries
                .iter_mut()
                .filter(|e| e.key.ends_with("1-Index.db.lzo"))
            {
                if host != "n1" {
                    continue;
                }
                let moved = entry.key.replacen(NAME, "20231231000000", 1);
                let body = store.get(&entry.key, None).await.unwrap();
                store
                    .put_object(&moved, body, &PutOptions::default())
                    .await
                    .unwrap();
                store.delete(&entry.key).await.unwrap();
                entry.key = moved;
            }
            let summary = engine::records::write_document(
                store,
                ("base", NAME, &id),
                host,
                &entries,
                &PutOptions::default(),
            )
            .await
            .unwrap();
            batch.records.push(summary);
        }
        manifest.batches.push(batch);
    }
    store
        .put_object(
            &layout::manifest_key("base", NAME),
            Bytes::from(manifest.to_json()),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    manifest
}

#[tokio::test]
async fn a_format_2_backup_restores_its_referenced_objects_and_reads_only_the_hosts_asked_for() {
    let store = Arc::new(MemoryStore::default());
    let manifest = format2_backup(store.as_ref()).await;
    assert_eq!(manifest.batches[0].records[0].refers_to, ["20231231000000"]);
    let dir = tempfile::tempdir().unwrap();
    let restore_dir = format!("--restore-dir={}", dir.path().display());
    let until = "--until=2024-01-01T00:30:00Z";
    let report = run_local(
        store.clone(),
        &["--keyspace=ks", "--local", &restore_dir, until],
    )
    .await
    .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(
        files_under(dir.path()),
        [
            "ks/t/n1_ks-t-ia-1-Data.db",
            "ks/t/n1_ks-t-ia-1-Index.db",
            "ks/t/n2_ks-t-ia-1-Data.db",
            "ks/t/n2_ks-t-ia-1-Index.db"
        ]
    );
    let referenced = fs_err::read(dir.path().join("ks/t/n1_ks-t-ia-1-Index.db")).unwrap();
    assert_eq!(referenced, content("n1ks-t-ia-1-Index.db"));

    // Without n2's records, n1 alone still restores; every host fails naming the missing document.
    let n2 = layout::records_key("base", NAME, &manifest.batches[0].id, "n2");
    store.delete(&n2).await.unwrap();
    let only_n1 = tempfile::tempdir().unwrap();
    let only_n1_dir = format!("--restore-dir={}", only_n1.path().display());
    let report = run_local(
        store.clone(),
        &[
            "--keyspace=ks",
            "--local",
            &only_n1_dir,
            "--hosts=n1",
            until,
        ],
    )
    .await
    .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(
        files_under(only_n1.path()),
        ["ks/t/n1_ks-t-ia-1-Data.db", "ks/t/n1_ks-t-ia-1-Index.db"]
    );
    let error = run_local(store, &["--keyspace=ks", "--local", &restore_dir, until])
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains(&n2), "{error:#}");
}
