//! node-push runs against a scripted host: messages in, entries and failures out, credentials on stdin.

use super::*;
use crate::settings::{OutputMode, Verbosity};
use crate::stages::fake::FakeRemote;
use contract::message::PROTOCOL_VERSION;

fn entry(path: &str) -> ObjectEntry {
    ObjectEntry {
        key: format!("b/n/h{path}.lzo"),
        host: "h".into(),
        source_path: path.into(),
        keyspace: "ks".into(),
        table: "t".into(),
        size: 10,
        compressed_size: 8,
        sha256: "0".repeat(64),
        blake3: String::new(),
        etag: "e".into(),
        variant: 0,
        source_id: None,
    }
}

fn lines(messages: &[Message]) -> String {
    let mut text = String::from("a login banner\n");
    for m in messages {
        text.push_str(&m.to_line());
        text.push('\n');
    }
    text
}

fn hello() -> Message {
    Message::Hello {
        protocol: PROTOCOL_VERSION,
        tool_version: "0.1.0".into(),
        hostname: "h".into(),
        arch: "x86_64".into(),
    }
}

fn call() -> NodePushCall {
    let mut request = UploadRequest::new(contract::request::StoreRequest::new(
        "s3://bucket/base/20240101000000/node1",
    ));
    request.cassandra_yaml = Some("/etc/my conf/cassandra.yaml".into());
    request.snapshot_tag = Some("20240101000000".into());
    node_push_command(Privilege::Sudo, "/home/u/.cache/np", &request)
}

fn quiet() -> Output {
    Output::new(OutputMode::Plain, Verbosity::Quiet)
}

fn secret_input() -> NodeInput {
    NodeInput {
        aws_access_key_id: Some("AKIA1".into()),
        aws_secret_access_key: Some("the-secret-key".into()),
        aws_session_token: None,
    }
}

#[tokio::test]
async fn collects_entries_and_sends_credentials_on_stdin() {
    let stdout = lines(&[
        hello(),
        Message::Plan {
            files: 2,
            bytes: 20,
        },
        Message::FileDone {
            entry: entry("/d/a"),
        },
        Message::FileSkipped {
            path: "/d/b".into(),
            reason: SkipReason::AlreadyStored {
                entry: entry("/d/b"),
            },
        },
        Message::FileSkipped {
            path: "/d/c".into(),
            reason: SkipReason::Referenced {
                entry: entry("/d/c"),
            },
        },
        Message::Summary(Summary {
            files_total: 3,
            files_done: 1,
            files_skipped: 2,
            files_referenced: 1,
            ..Summary::default()
        }),
    ]);
    let remote = FakeRemote::new("h").on("upload", 0, &stdout);
    let result = run(&remote, &call(), &secret_input(), &quiet())
        .await
        .unwrap();
    assert_eq!(
        result.entries.len(),
        3,
        "uploaded, already stored, referenced"
    );
    assert_eq!(
        (result.uploaded, result.already_stored, result.referenced),
        (1, 1, 1)
    );
    assert_eq!(result.bytes_referenced, entry("/d/c").size);
    assert_eq!(result.failure("h"), None);
    // The secret went to stdin, not to the command line.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let received = String::from_utf8(remote.stdin_received.lock().unwrap().concat()).unwrap();
    let mut sent = received.lines();
    let request = contract::request::RequestLine::parse(sent.next().unwrap()).unwrap();
    assert_eq!(request.request, call().request);
    assert!(request.session.credentials_stdin && request.session.watch_stdin);
    let credentials: NodeInput = serde_json::from_str(sent.next().unwrap()).unwrap();
    assert_eq!(credentials, secret_input());
    assert!(!remote.scripts()[0].contains("the-secret-key"));
}

#[tokio::test]
async fn failures_are_named() {
    let failed = lines(&[
        hello(),
        Message::FileFailed {
            path: "/d/x".into(),
            key: "k".into(),
            error: "500 Internal Error".into(),
            retryable: true,
        },
        Message::Summary(Summary::default()),
    ]);
    let fatal = lines(&[
        hello(),
        Message::Fatal {
            error: "bucket b does not exist".into(),
        },
    ]);
    let cases = [
        (
            FakeRemote::new("h1").on("upload", 1, &failed),
            "h1: 1 file(s) failed to upload, first: /d/x: 500",
        ),
        (
            FakeRemote::new("h2").on("upload", 1, &fatal),
            "h2: node-push: bucket b does not exist",
        ),
        (
            FakeRemote::new("h3").on_err(
                "upload",
                255,
                &lines(&[hello()]),
                "Connection to 127.0.0.3 closed by remote host.\n",
            ),
            "h3: connection lost during the upload",
        ),
        (
            FakeRemote::new("h4").on_err("upload", 0, "", "killed\n"),
            "h4: node-push ended without a summary: killed",
        ),
        (
            FakeRemote::new("h5").on("upload", 0, "{\"type\":\"launch\"}\n"),
            "h5: node-push: bad message",
        ),
        (
            // The ssh master was killed: its session ends with 255 and no word.
            FakeRemote::new("h6").on_err("upload", 255, &lines(&[hello()]), ""),
            "h6: connection lost during the upload (ssh ended without a message)",
        ),
    ];
    for (remote, needle) in cases {
        let result = run(&remote, &call(), &NodeInput::default(), &quiet())
            .await
            .unwrap();
        let failure = result.failure(&remote.host).unwrap();
        assert!(failure.starts_with(needle), "{failure}");
    }
}

#[test]
fn the_command_line_is_quoted_and_has_no_settings() {
    let cmd = node_push_command(Privilege::Sudo, "/home/u/.cache/my np", &call_request()).command;
    assert_eq!(
        cmd.script(),
        "sudo -n -- '/home/u/.cache/my np' upload --request-stdin"
    );
}

fn call_request() -> UploadRequest {
    match call().request {
        Request::Upload(request) => *request,
        other => panic!("{other:?}"),
    }
}
