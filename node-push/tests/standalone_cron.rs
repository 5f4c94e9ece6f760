//! node-push run by Debian's real cron daemon: the job's stdin is a pipe already at end of file, which
//! node-push once took for a dropped coordinator (exit 3 after 0 ms, nothing uploaded). Here cron runs
//! the job from a crontab in `/etc/cron.d`, the credentials reach it through a 0600 credentials file named
//! in the crontab (no secret in the crontab or argv), and the objects must be in SeaweedFS.
//!
//! Needs root (for `/etc/cron.d`) and `/usr/sbin/cron` (`cargo xtask setup`). Starts cron when none runs
//! and stops only the one it started. Cron starts jobs at the top of a minute: up to ~2 minutes.

mod standalone;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use standalone::*;
use testkit::seaweed::SeaweedFs;

const FILES: usize = 3;

/// Whether a process named `cron` runs (someone else's: it is left alone).
fn cron_running() -> bool {
    fs_err::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|e| fs_err::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "cron"))
}

/// The crontab file and the cron daemon this test started; both go on drop.
struct CronGuard {
    crontab: PathBuf,
    daemon: Option<Child>,
}

impl Drop for CronGuard {
    fn drop(&mut self) {
        let _ = fs_err::remove_file(&self.crontab);
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

fn install(crontab: &Path, text: &str) -> CronGuard {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::write(crontab, text).unwrap();
    // cron skips files that others may write.
    fs_err::set_permissions(crontab, std::fs::Permissions::from_mode(0o644)).unwrap();
    let daemon = if cron_running() {
        testkit::log!("a cron daemon already runs: using it");
        None
    } else {
        let child = Command::new("/usr/sbin/cron")
            .arg("-f")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/sbin/cron starts (Debian's cron package: cargo xtask setup)");
        testkit::log!("started cron, pid {}", child.id());
        Some(child)
    };
    CronGuard {
        crontab: crontab.to_path_buf(),
        daemon,
    }
}

#[test]
fn a_cron_job_uploads_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let weed = SeaweedFs::start().expect("SeaweedFS starts (cargo xtask setup)");
    weed.create_bucket(BUCKET).unwrap();
    let data = data_dir(tmp.path(), FILES, 256 << 10);
    let credentials = credentials_file(tmp.path(), &weed, "cronjob");
    let metrics = tmp.path().join("node-push.prom");
    let (out, err, done, stdin) = (
        tmp.path().join("job.out"),
        tmp.path().join("job.err"),
        tmp.path().join("job.done"),
        tmp.path().join("job.stdin"),
    );
    let args = upload_args(
        &weed,
        &data,
        "cron",
        &[
            "--profile",
            "cronjob",
            "--rate-limit",
            "512",
            "--metrics-file",
            &metrics.display().to_string(),
        ],
    );
    let job = format!(
        "readlink /proc/$$/fd/0 > {stdin}; {bin} {args} > {out} 2> {err}; echo $? > {done}.tmp && mv {done}.tmp {done}",
        stdin = stdin.display(),
        bin = node_push_bin(),
        args = args.join(" "),
        out = out.display(),
        err = err.display(),
        done = done.display(),
    );
    assert!(!job.contains('%'), "cron treats % specially");
    let crontab = format!(
        "# node-push standalone test {pid}\n\
         SHELL=/bin/sh\n\
         PATH=/usr/bin:/bin\n\
         AWS_SHARED_CREDENTIALS_FILE={credentials}\n\
         AWS_CONFIG_FILE={missing}\n\
         AWS_EC2_METADATA_DISABLED=true\n\
         * * * * * root {job}\n",
        pid = std::process::id(),
        credentials = credentials.display(),
        missing = tmp.path().join("no-aws-config").display(),
    );
    assert!(
        !crontab.contains(weed.secret_key()),
        "no secret in the crontab"
    );
    let started = std::time::Instant::now();
    let guard = install(
        Path::new(&format!(
            "/etc/cron.d/node-push-test-{}",
            std::process::id()
        )),
        &crontab,
    );
    let ran = wait_until(Duration::from_secs(200), || done.exists());
    drop(guard);
    let stderr = fs_err::read_to_string(&err).unwrap_or_default();
    assert!(ran, "cron did not run the job within 200 s");
    testkit::log!("cron ran the job after {:?}", started.elapsed());
    let code = fs_err::read_to_string(&done).unwrap();
    assert_eq!(code.trim(), "0", "node-push under cron: {stderr}");
    let job_stdin = fs_err::read_to_string(&stdin).unwrap();
    testkit::log!("the job's stdin: {}", job_stdin.trim());
    assert!(
        job_stdin.starts_with("pipe:") || job_stdin.trim() == "/dev/null",
        "{job_stdin}"
    );
    let stored = objects(&weed, "cron/");
    assert_eq!(stored.len(), FILES, "{stored:?}");
    promtool_check(&metrics).unwrap();
    let text = fs_err::read_to_string(&metrics).unwrap();
    assert!(
        text.contains("node_push_upload_last_run_success{"),
        "{text}"
    );
    assert!(!stderr.contains(weed.secret_key()));
}
