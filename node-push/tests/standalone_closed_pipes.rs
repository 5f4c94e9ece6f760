//! A dropped SSH connection takes node-push's stdin, stdout and stderr with it. node-push must then stop
//! in order and exit 3 (cancelled), not die on its next human line: `eprintln!` panics on a closed
//! stderr (exit 101, or 134 in release builds, which abort on panic), which is why every human line goes
//! through one writer that ignores write errors.
//!
//! The real binary restores one file from a small S3 endpoint in this test: it answers the store probe,
//! and holds the object's HEAD until stdin has been closed for a while, then answers 404, so the file
//! fails after the cancel and node-push has a failure line to write. stdout and stderr are pipes whose
//! reading ends this test closed before node-push wrote anything, and `-v` adds a human line at the start.

mod standalone;

use contract::exit::ExitStatus;
use contract::manifest::ObjectEntry;
use contract::message::{NodeInput, RestoreFile, RestoreRequest};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

fn request(target: &std::path::Path) -> RestoreRequest {
    RestoreRequest {
        files: vec![RestoreFile {
            entry: ObjectEntry {
                key: "base/20240101000000/n1/d/ks/t/snapshots/x/ks-t-ic-1-Data.db.lzo".into(),
                host: "n1".into(),
                source_path: "/d/ks/t/snapshots/x/ks-t-ic-1-Data.db".into(),
                keyspace: "ks".into(),
                table: "t".into(),
                size: 10,
                compressed_size: 64,
                sha256: "00".repeat(32),
                etag: "0".repeat(32),
                variant: 0,
                source_id: None,
                blake3: String::new(),
            },
            target: target.join("ks").join("t").join("ks-t-ic-1-Data.db"),
        }],
    }
}

#[test]
fn restore_with_closed_stdout_stderr_and_stdin_exits_cancelled() {
    let tmp = tempfile::tempdir().unwrap();
    let (stdin_closed, server) = fake_s3();
    let endpoint = format!("http://{server}");
    let mut child = standalone::clean_command(standalone::node_push_bin(), tmp.path())
        .args([
            "-v",
            "restore",
            "--from",
            "s3://bucket",
            "--endpoint",
            &endpoint,
            "--credentials-stdin",
            "--plan-stdin",
            "--watch-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The connection is gone: nobody reads what node-push says.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let mut stdin = child.stdin.take().unwrap();
    let credentials = NodeInput {
        aws_access_key_id: Some("test-key".into()),
        aws_secret_access_key: Some("test-secret".into()),
        aws_session_token: None,
    };
    let lines = format!(
        "{}\n{}\n",
        serde_json::to_string(&credentials).unwrap(),
        serde_json::to_string(&request(tmp.path())).unwrap()
    );
    stdin.write_all(lines.as_bytes()).unwrap();
    drop(stdin);
    stdin_closed.send(()).unwrap();
    let mut status = None;
    let ended = standalone::wait_until(Duration::from_secs(60), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if !ended {
        let _ = child.kill();
    }
    let status = status.expect("node-push ends within 60 s of its stdin closing");
    assert_eq!(
        status.code(),
        Some(ExitStatus::Cancelled.code()),
        "node-push ended with {status:?}, not 3 (cancelled)"
    );
}

/// An S3 endpoint that lists an empty bucket and answers a HEAD with 404 only once the returned sender
/// was used (stdin closed) and half a second more has passed (the watch thread read the end of stdin).
fn fake_s3() -> (std::sync::mpsc::Sender<()>, std::net::SocketAddr) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Mutex::new(Some(rx));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut request = String::new();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    request.push_str(&line);
                    line.clear();
                }
                if request.is_empty() {
                    break;
                }
                let answer = if request.starts_with("HEAD ") {
                    if let Some(rx) = rx.lock().unwrap().take() {
                        let _ = rx.recv();
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
                } else {
                    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult \
                        xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix>\
                        </Prefix><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false\
                        </IsTruncated></ListBucketResult>";
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                };
                if stream.write_all(answer.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    (tx, addr)
}
