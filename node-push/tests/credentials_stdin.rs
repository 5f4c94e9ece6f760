//! Fresh credentials over the coordinator's stdin channel: with `--watch-stdin`, each JSON line after the
//! first replaces the keys for the next requests. Proven both ways against SeaweedFS: a line with a second
//! key it accepts lets the upload finish; a line with a secret it rejects makes the rest of the upload
//! fail (so the swap really happens), and that secret is never echoed.

mod standalone;

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use standalone::*;
use testkit::seaweed::SeaweedFs;

const FILES: usize = 20;

fn line(access: &str, secret: &str) -> String {
    serde_json::json!({"aws_access_key_id": access, "aws_secret_access_key": secret}).to_string()
}

/// Uploads with the instance's key first, sends `second` once the first object is stored, keeps stdin
/// open to the end; returns the exit code, stderr and the objects stored.
fn upload_swapping_to(
    weed: &SeaweedFs,
    tmp: &std::path::Path,
    prefix: &str,
    second: &str,
) -> (Option<i32>, String, usize) {
    let data = data_dir(&tmp.join(prefix), FILES, 32 << 10);
    let args = upload_args(
        weed,
        &data,
        prefix,
        &[
            "--credentials-stdin",
            "--watch-stdin",
            "--rate-limit",
            "64",
            "--concurrency",
            "1",
        ],
    );
    let mut child = clean_command(node_push_bin(), tmp)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", line(weed.access_key(), weed.secret_key())).unwrap();
    let started = wait_until(Duration::from_secs(60), || {
        !objects(weed, &format!("{prefix}/")).is_empty()
    });
    assert!(started, "no object stored within 60 s");
    writeln!(stdin, "{second}").unwrap();
    stdin.flush().unwrap();
    let ended = wait_until(Duration::from_secs(120), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !ended {
        let _ = child.kill();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(ended, "node-push still ran after 120 s");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        objects(weed, &format!("{prefix}/")).len(),
    )
}

#[test]
fn keys_sent_on_stdin_during_the_run_replace_the_current_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let weed =
        SeaweedFs::start_accepting(&[("second-key".into(), "second-secret-key".into())]).unwrap();
    weed.create_bucket(BUCKET).unwrap();

    let (code, stderr, stored) = upload_swapping_to(
        &weed,
        tmp.path(),
        "good",
        &line("second-key", "second-secret-key"),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stored, FILES);

    let (code, stderr, stored) = upload_swapping_to(
        &weed,
        tmp.path(),
        "bad",
        &line("second-key", "rejected-secret-for-the-test"),
    );
    testkit::log!("after the bad keys: exit {code:?}, {stored} of {FILES} stored");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stored > 0 && stored < FILES, "{stored}");
    assert!(
        stderr.contains("SignatureDoesNotMatch") || stderr.contains("403"),
        "{stderr}"
    );
    assert!(!stderr.contains("rejected-secret-for-the-test"), "{stderr}");
}
