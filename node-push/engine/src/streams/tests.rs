use super::*;
use crate::sstable::source_id_of;
use contract::stream::DEFAULT_EXPIRE_AFTER_DAYS;
use std::path::Path;

fn spec(name: &str, keyspaces: &[&str], table: Option<&str>) -> StreamSpec {
    StreamSpec {
        id: stream_id("s3://b", name, &format!("{keyspaces:?} {table:?}")),
        label: name.to_string(),
        keyspaces: keyspaces.iter().map(|s| s.to_string()).collect(),
        table: table.map(str::to_string),
        exclude_tables: Vec::new(),
    }
}

fn request(stream: &StreamSpec, action: StreamAction) -> StreamRequest {
    StreamRequest {
        version: STREAM_REQUEST_VERSION,
        stream: stream.clone(),
        action,
        expire_after_days: DEFAULT_EXPIRE_AFTER_DAYS,
    }
}

/// A data dir with `ks/<table>/backups/<file>` links of live files.
fn link(data: &Path, table: &str, file: &str) -> std::path::PathBuf {
    let dir = data.join("ks").join(table);
    fs_err::create_dir_all(dir.join("backups")).unwrap();
    let live = dir.join(file);
    fs_err::write(&live, file).unwrap();
    let backup = dir.join("backups").join(file);
    fs_err::hard_link(&live, &backup).unwrap();
    backup
}

fn commit(stream: &StreamSpec, data: &Path, state: &Path, files: &[&Path]) -> StreamAnswer {
    let ids = files.iter().map(|f| source_id_of(f).unwrap()).collect();
    let req = request(
        stream,
        StreamAction::Commit {
            backup: "20240101000000".into(),
            source_ids: ids,
        },
    );
    run(&req, &[data.to_path_buf()], state).unwrap()
}

fn register(stream: &StreamSpec, data: &Path, state: &Path) -> StreamAnswer {
    let req = request(
        stream,
        StreamAction::Register {
            backup: "20240101000000".into(),
        },
    );
    run(&req, &[data.to_path_buf()], state).unwrap()
}

#[test]
fn a_link_goes_only_when_every_covering_stream_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let (data, state) = (dir.path().join("data"), dir.path().join("state"));
    let f = link(&data, "a", "ks-a-ia-1-Data.db");
    let full = spec("full", &[], None);
    let scoped = spec("other-base", &["ks"], Some("a"));
    let unrelated = spec("other-table", &["ks"], Some("b"));
    assert!(!register(&full, &data, &state).registry_existed);
    assert!(register(&scoped, &data, &state).registry_existed);
    register(&unrelated, &data, &state);

    let answer = commit(&scoped, &data, &state, &[&f]);
    assert_eq!((answer.deleted, answer.kept_for_others), (0, 1));
    assert!(f.exists(), "the full stream has not stored it yet");

    let answer = commit(&full, &data, &state, &[&f]);
    assert_eq!(answer.deleted, 1);
    assert!(!f.exists());
}

#[test]
fn a_file_written_again_under_the_same_name_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (data, state) = (dir.path().join("data"), dir.path().join("state"));
    let f = link(&data, "a", "nb-1-big-Data.db");
    let stream = spec("full", &[], None);
    register(&stream, &data, &state);
    let old_id = source_id_of(&f).unwrap();
    // The table is rebuilt: the same name now holds another file.
    fs_err::remove_file(&f).unwrap();
    fs_err::write(&f, "new bytes, another inode").unwrap();
    let req = request(
        &stream,
        StreamAction::Commit {
            backup: "20240101000000".into(),
            source_ids: vec![old_id],
        },
    );
    let answer = run(&req, std::slice::from_ref(&data), &state).unwrap();
    assert_eq!(answer.deleted, 0);
    assert!(f.exists());
}

#[test]
fn index_links_and_uncovered_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (data, state) = (dir.path().join("data"), dir.path().join("state"));
    let table = data.join("ks/t-0123456789abcdef0123456789abcdef");
    fs_err::create_dir_all(table.join("backups/.idx")).unwrap();
    fs_err::create_dir_all(table.join(".idx")).unwrap();
    fs_err::write(table.join(".idx/nb-1-big-Data.db"), "i").unwrap();
    let index_link = table.join("backups/.idx/nb-1-big-Data.db");
    fs_err::hard_link(table.join(".idx/nb-1-big-Data.db"), &index_link).unwrap();
    let other = link(&data, "u", "ks-u-ia-1-Data.db");
    let stream = spec("only-t", &["ks"], Some("t"));
    register(&stream, &data, &state);
    // The stream claims `other` too, but covers only t: a table nobody covers is never pruned.
    let answer = commit(&stream, &data, &state, &[&index_link, &other]);
    assert_eq!(answer.deleted, 1);
    assert!(!index_link.exists());
    assert!(other.exists());
}

#[test]
fn stale_streams_expire_and_a_new_backup_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (data, state) = (dir.path().join("data"), dir.path().join("state"));
    let f = link(&data, "a", "ks-a-ia-1-Data.db");
    let (live, stale) = (spec("live", &[], None), spec("stale", &[], None));
    register(&live, &data, &state);
    register(&stale, &data, &state);
    {
        let mut registry = registry::Registry::open(&state).unwrap();
        registry.streams.get_mut(&stale.id).unwrap().last_seen -= chrono::Duration::days(15);
        registry.save().unwrap();
    }
    let answer = commit(&live, &data, &state, &[&f]);
    assert_eq!(answer.expired, ["stale"]);
    assert_eq!(answer.deleted, 1);
    // The dropped stream is unknown now: its incremental must not rely on backups/.
    let status = run(
        &request(
            &stale,
            StreamAction::Status {
                backup: "20240101000000".into(),
            },
        ),
        std::slice::from_ref(&data),
        &state,
    )
    .unwrap();
    assert!(status.registry_existed && !status.registered);
    // A new backup of a stream forgets what its previous backup committed.
    let g = link(&data, "a", "ks-a-ia-2-Data.db");
    commit(&stale, &data, &state, &[&g]);
    let mut registry = registry::Registry::open(&state).unwrap();
    registry.register(&stale, "20250101000000", chrono::Utc::now());
    assert!(registry.streams[&stale.id].committed.is_empty());
}

#[test]
fn coverage_follows_the_selection_rules() {
    let mut s = spec("x", &["shop"], None);
    s.exclude_tables = vec!["audit".into(), "users.log".into()];
    assert!(covers(&s, "shop", "orders"));
    assert!(!covers(&s, "shop", "audit"));
    assert!(!covers(&s, "users", "orders"));
    let mut all = spec("y", &[], None);
    all.exclude_tables = vec!["users.log".into()];
    assert!(
        covers(&all, "users", "orders")
            && !covers(&all, "users", "log")
            && covers(&all, "shop", "log")
    );
}

#[test]
fn requests_round_trip_and_reject_other_versions() {
    let req = request(
        &spec("x", &["ks"], Some("t")),
        StreamAction::Commit {
            backup: "n".into(),
            source_ids: vec!["1:2:3:4".into()],
        },
    );
    let json = serde_json::to_string(&req).unwrap();
    assert_eq!(serde_json::from_str::<StreamRequest>(&json).unwrap(), req);
    let mut bad = req.clone();
    bad.version = 99;
    let dir = tempfile::tempdir().unwrap();
    let err = run(&bad, &[], dir.path()).unwrap_err().to_string();
    assert!(err.contains("version 99"), "{err}");
}
