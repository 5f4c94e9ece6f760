//! node-push run standalone (cron, systemd, `nohup`, CI): its stdin never stops it. Cron hands a job a
//! pipe already at end of file, systemd `/dev/null`, some wrappers close it; each run here uploads
//! everything to a real SeaweedFS. Only `--watch-stdin` (what the coordinator passes) makes the end of
//! stdin a cancellation, and the control case shows the upload is long enough for a watch to fire.
//! Also: `--metrics-file` output passes the real `promtool check metrics`, and a failed run keeps the last
//! success time.

mod standalone;

use std::process::Stdio;
use std::time::Duration;

use standalone::*;
use testkit::seaweed::SeaweedFs;

const FILES: usize = 4;

fn start() -> (tempfile::TempDir, SeaweedFs, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let weed = SeaweedFs::start().expect("SeaweedFS starts (cargo xtask setup)");
    weed.create_bucket(BUCKET).unwrap();
    // 4 x 128 KiB at 256 KiB/s: about two seconds, so a stdin watch would stop it first.
    let data = data_dir(tmp.path(), FILES, 128 << 10);
    (tmp, weed, data)
}

/// node-push with `args`, the instance's keys in its environment, stdin as `stdin` says.
fn run(
    weed: &SeaweedFs,
    home: &std::path::Path,
    args: &[String],
    stdin: &str,
) -> std::process::Output {
    let mut command = match stdin {
        "devnull" => {
            let mut c = clean_command(node_push_bin(), home);
            c.stdin(Stdio::null());
            c
        }
        // A pipe whose writer is gone: what cron gives its jobs.
        "pipe-at-eof" => {
            let mut c = clean_command("sh", home);
            c.arg("-c")
                .arg("true | exec \"$0\" \"$@\"")
                .arg(node_push_bin());
            c
        }
        "closed" => {
            let mut c = clean_command("sh", home);
            c.arg("-c")
                .arg("exec \"$0\" \"$@\" <&-")
                .arg(node_push_bin());
            c
        }
        other => panic!("unknown stdin {other}"),
    };
    command.args(args).envs(weed.aws_env());
    run_within(command, Duration::from_secs(120))
}

#[test]
fn stdin_at_end_of_file_closed_or_null_never_stops_a_standalone_upload() {
    let (tmp, weed, data) = start();
    for mode in ["pipe-at-eof", "devnull", "closed"] {
        let args = upload_args(&weed, &data, mode, &["--rate-limit", "256"]);
        let started = std::time::Instant::now();
        let out = run(&weed, tmp.path(), &args, mode);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{mode}: {stderr}");
        assert!(!stderr.contains("stdin closed"), "{mode}: {stderr}");
        let stored = objects(&weed, &format!("{mode}/"));
        assert_eq!(stored.len(), FILES, "{mode}: {stored:?}");
        testkit::log!("{mode}: {FILES} files uploaded in {:?}", started.elapsed());
    }
    // Control: asked to watch, the same pipe at end of file stops it at once.
    let args = upload_args(
        &weed,
        &data,
        "watched",
        &["--rate-limit", "256", "--watch-stdin"],
    );
    let out = run(&weed, tmp.path(), &args, "pipe-at-eof");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("stdin closed"), "{stderr}");
    assert!(objects(&weed, "watched/").len() < FILES);
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn metrics_file_passes_promtool_and_a_failed_run_keeps_the_last_success() {
    let (tmp, weed, data) = start();
    let metrics = tmp.path().join("textfile").join("node-push.prom");
    fs_err::create_dir_all(metrics.parent().unwrap()).unwrap();
    let metrics_arg = metrics.display().to_string();
    let args = upload_args(&weed, &data, "m", &["--metrics-file", &metrics_arg]);
    let out = run(&weed, tmp.path(), &args, "devnull");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    promtool_check(&metrics).unwrap();
    let ok = fs_err::read_to_string(&metrics).unwrap();
    testkit::log!("{ok}");
    assert!(ok.contains("# HELP node_push_upload_last_success_timestamp_seconds"));
    assert!(ok.contains("# TYPE node_push_upload_last_success_timestamp_seconds gauge"));
    let success = metric(&ok, "node_push_upload_last_success_timestamp_seconds");
    assert_eq!(
        success,
        metric(&ok, "node_push_upload_last_run_timestamp_seconds")
    );
    assert_eq!(metric(&ok, "node_push_upload_last_run_success"), 1.0);
    assert_eq!(
        metric(&ok, "node_push_upload_last_run_files_uploaded"),
        FILES as f64
    );
    assert_eq!(
        metric(&ok, "node_push_upload_last_run_read_bytes"),
        (FILES << 17) as f64
    );
    assert!(metric(&ok, "node_push_upload_last_run_stored_bytes") > 0.0);

    // Same job, wrong keys: the store refuses, the run fails.
    let mut command = clean_command(node_push_bin(), tmp.path());
    command
        .args(&args)
        .stdin(Stdio::null())
        .env("AWS_ACCESS_KEY_ID", weed.access_key())
        .env("AWS_SECRET_ACCESS_KEY", "wrong-secret-for-the-test");
    let out = run_within(command, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("wrong-secret-for-the-test"), "{stderr}");
    promtool_check(&metrics).unwrap();
    let failed = fs_err::read_to_string(&metrics).unwrap();
    assert_eq!(metric(&failed, "node_push_upload_last_run_success"), 0.0);
    assert_eq!(
        metric(&failed, "node_push_upload_last_success_timestamp_seconds"),
        success,
        "the failed run kept the last success time"
    );
    assert!(metric(&failed, "node_push_upload_last_run_timestamp_seconds") > success);
    // Nothing but the metrics file in its directory: no temp file left behind.
    let names: Vec<_> = fs_err::read_dir(metrics.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("node-push.prom")]);
}
