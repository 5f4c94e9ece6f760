//! `--request-stdin`, the coordinator's way to run node-push, with the real binary and no servers: a
//! request line of another protocol version is refused with one clear line (exit 2, a `fatal` message),
//! a request for another command too, and a good upload request of a plain directory to a `file://` store
//! stores every file.

mod standalone;

use contract::exit::ExitStatus;
use contract::message::{Message, PROTOCOL_VERSION};
use contract::request::{Request, RequestLine, Session, StoreRequest, UploadRequest};
use std::io::Write;
use std::process::{Output, Stdio};

fn run(command: &str, stdin: &str, home: &std::path::Path) -> Output {
    let mut child = standalone::clean_command(standalone::node_push_bin(), home)
        .args([command, "--request-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn messages(output: &Output) -> Vec<Message> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| Message::parse_line(line).unwrap())
        .collect()
}

fn upload_line(data: &std::path::Path, store: &std::path::Path) -> RequestLine {
    let mut request = UploadRequest::new(StoreRequest::new(format!("file://{}", store.display())));
    request.dir = Some(data.to_path_buf());
    RequestLine::new(Session::default(), Request::Upload(Box::new(request)))
}

#[test]
fn another_protocol_or_another_command_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = standalone::data_dir(tmp.path(), 2, 1024);
    let mut line = upload_line(&data, &tmp.path().join("store"));
    line.version = PROTOCOL_VERSION + 1;
    let out = run("upload", &format!("{}\n", line.to_line()), tmp.path());
    assert_eq!(out.status.code(), Some(ExitStatus::Fatal.code()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("coordinator and node-push differ"),
        "{stderr}"
    );
    assert!(matches!(messages(&out).last(), Some(Message::Fatal { .. })));
    assert!(!tmp.path().join("store").exists());

    let line = upload_line(&data, &tmp.path().join("store"));
    let out = run("restore", &format!("{}\n", line.to_line()), tmp.path());
    assert_eq!(out.status.code(), Some(ExitStatus::Fatal.code()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("node-push restore got a upload request"),
        "{stderr}"
    );
}

#[test]
fn an_upload_request_stores_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = standalone::data_dir(tmp.path(), 4, 4096);
    let store = tmp.path().join("store");
    fs_err::create_dir_all(&store).unwrap();
    let line = upload_line(&data, &store);
    let out = run("upload", &format!("{}\n", line.to_line()), tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let Some(Message::Summary(summary)) = messages(&out).pop() else {
        panic!("no summary: {stderr}")
    };
    assert_eq!((summary.files_total, summary.files_done), (4, 4));
    let mut stored: Vec<String> = walk(&store)
        .into_iter()
        .filter_map(|path| {
            let key = path.strip_prefix(&format!("{}/", store.display()))?;
            // The local store keeps each object's ETag in a sidecar tree of its own.
            (!key.starts_with(".etags/")).then(|| key.to_string())
        })
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [
            "f0.bin.lzo",
            "f2.bin.lzo",
            "sub/f1.bin.lzo",
            "sub/f3.bin.lzo"
        ]
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}
