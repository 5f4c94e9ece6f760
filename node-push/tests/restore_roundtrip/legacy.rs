//! A backup the old Python tool wrote: objects made by the real `lzop`, keys of both forms (`<host>//var/...`
//! up to release 1.0.1, `<host>/var/...` after), a format-0 manifest. It restores in the old tool's flat
//! layout and, by hand on a node, with Cassandra's names; deep verify checks its lzop checksums.

use crate::support::*;
use contract::layout;
use engine::restore::objects_from_listing;
use engine::verify::{verify_objects, ObjectStatus, VerifyConfig, VerifyDepth};
use std::path::{Path, PathBuf};
use testkit::seaweed::SeaweedFs;
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

/// `lzop -c file`, as the old tool uploaded every file.
fn real_lzop(file: &Path) -> Vec<u8> {
    let out = std::process::Command::new("lzop")
        .arg("-c")
        .arg(file)
        .output()
        .expect("lzop is installed (cargo xtask setup)");
    assert!(out.status.success(), "lzop -c {}", file.display());
    out.stdout
}

#[test]
fn a_backup_the_old_tool_wrote_restores_in_its_flat_layout() {
    let weed = SeaweedFs::start().unwrap();
    weed.create_bucket("legacy").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = Placement::Snapshot(NAME.into());
    let spec = |seed, placement| TreeSpec {
        keyspaces: vec!["ks".into()],
        seed,
        ..TreeSpec::new(Layout::V12, placement)
    };
    // h1 from releases up to 1.0.1 (`h1//var/...`), h2 from later ones, an incremental table on h1.
    let h1_dir = tmp.path().join("h1/var/lib/cassandra/data");
    let h2_dir = tmp.path().join("h2/var/lib/cassandra/data");
    let mut h1_files = write_tree(&h1_dir, &spec(1, snapshot.clone())).unwrap();
    h1_files.extend(
        write_tree(
            &h1_dir,
            &TreeSpec {
                tables: vec!["audit".into()],
                ..spec(3, Placement::Backups)
            },
        )
        .unwrap(),
    );
    let h2_files = write_tree(&h2_dir, &spec(2, snapshot)).unwrap();
    let store = s3_store(&weed, "legacy");
    for (host, files) in [("h1", &h1_files), ("h2", &h2_files)] {
        for file in files.iter() {
            let key = match host {
                "h1" => format!("old/{NAME}/{host}/{}.lzo", file.display()),
                _ => format!("old/{NAME}/{host}{}.lzo", file.display()),
            };
            put(store.as_ref(), &key, real_lzop(file));
        }
    }
    let manifest = format!(
        r#"{{"name": "{NAME}", "base_path": "old", "hosts": ["h1", "h2"], "keyspaces": ["ks"], "table": ""}}"#
    );
    put(
        store.as_ref(),
        &layout::manifest_key("old", NAME),
        manifest.into_bytes(),
    );
    put(
        store.as_ref(),
        &layout::ring_key("old", NAME),
        b"Address  Rack  Status\n".to_vec(),
    );

    let restore_dir = tmp.path().join("restore_cassandra");
    let mut argv = args(&[
        "restore",
        "--from",
        "s3://legacy/old",
        "--backup",
        "LATEST",
        "--keyspace",
        "ks",
        "--restore-dir",
        restore_dir.to_str().unwrap(),
        "--chunk-size-mib",
        "1",
    ]);
    argv.extend(s3_flags(&weed));
    let run = node_push(&argv, &[credentials_line(&weed)]);
    assert!(run.status.success(), "{}", run.stderr);
    let flat = |host: &str, source: &Path| {
        let relative = staged_relative(source);
        let name = format!("{host}_{}", relative.file_name().unwrap().to_str().unwrap());
        restore_dir.join(relative.with_file_name(name))
    };
    for (host, files) in [("h1", &h1_files), ("h2", &h2_files)] {
        for source in files.iter() {
            assert_same_bytes(&flat(host, source), source);
        }
    }
    assert_eq!(
        files_below(&restore_dir).len(),
        h1_files.len() + h2_files.len()
    );
    assert!(
        files_below(&restore_dir)
            .iter()
            .any(|p| p.to_str().unwrap().contains("/ks/users/.users_idx/h2_")),
        "index files keep their directory in the flat layout"
    );

    // Verify works on a listing too: no SHA-256 recorded, but every lzop checksum is checked.
    let listing = runtime()
        .block_on(store.list(&layout::backup_prefix("old", NAME), None))
        .unwrap();
    let objects = objects_from_listing("old", NAME, &listing.objects);
    assert_eq!(objects.len(), h1_files.len() + h2_files.len());
    let victim = objects
        .iter()
        .find(|o| o.host == "h2" && o.key.ends_with("-Index.db.lzo"))
        .unwrap()
        .clone();
    let deep = VerifyConfig::new(VerifyDepth::Deep);
    let report = runtime().block_on(verify_objects(
        store.clone(),
        objects.clone(),
        &deep,
        |_| {},
    ));
    assert!(
        report.is_ok(),
        "{:?}",
        report.failures().collect::<Vec<_>>()
    );
    let mut body = get(store.as_ref(), &victim.key);
    let at = body.len() - 50;
    body[at] ^= 0x04;
    let mut damaged = objects.clone();
    // A copy of the listing entry with the new ETag: as if bit rot kept it, so only the lzop checks can tell.
    let etag = runtime()
        .block_on(store.put_object(&victim.key, body.into(), &Default::default()))
        .unwrap();
    damaged
        .iter_mut()
        .filter(|o| o.key == victim.key)
        .for_each(|o| o.etag = etag.clone());
    let report = runtime().block_on(verify_objects(store.clone(), damaged, &deep, |_| {}));
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].entry.key, victim.key);
    assert!(
        matches!(failures[0].status, ObjectStatus::Corrupt { .. }),
        "{}",
        failures[0]
    );

    // On the node, by hand: h1's own files in Cassandra's names (the double-slash keys).
    let staging = tmp.path().join("staging");
    let mut argv = args(&[
        "restore",
        "--from",
        "s3://legacy/old",
        "--backup",
        NAME,
        "--host-label",
        "h1",
        "--table",
        "users",
        "--staging-dir",
        staging.to_str().unwrap(),
    ]);
    argv.extend(s3_flags(&weed));
    let run = node_push(&argv, &[credentials_line(&weed)]);
    assert!(run.status.success(), "{}", run.stderr);
    let users: Vec<&PathBuf> = h1_files
        .iter()
        .filter(|f| f.to_str().unwrap().contains("/ks/users/"))
        .collect();
    for source in &users {
        assert_same_bytes(&staging.join(staged_relative(source)), source);
    }
    assert_eq!(files_below(&staging).len(), users.len());
}
