//! An HTTP proxy in front of the real S3 server that damages chosen requests: fault injection on top of the
//! real stack, for the error paths a healthy server never takes.
//!
//! The proxy understands just enough HTTP/1.1 to see which S3 operation a request is (PUT, part upload,
//! multipart completion, HEAD, ...) and which key it touches, so a test can say "answer the second part
//! upload of `big.db` with a 500" or "reset the connection in the middle of every PUT to node2". Each
//! client connection carries exactly one request: the proxy tells both sides `Connection: close`, so a
//! client never reuses a connection the proxy has just damaged, and every request is seen on its own.
//!
//! Faults:
//! - [`Fault::Status`]: answered by the proxy (500 InternalError, 503 SlowDown); the server never sees it.
//! - [`Fault::ResetMidBody`]: half of the request body is read, then the connection is reset; the server
//!   never sees the request.
//! - [`Fault::Truncate`]: the server does the work, the client gets only the first half of the answer.
//! - [`Fault::Stall`]: the server does the work, the client gets nothing until it gives up.
//! - [`Fault::CutAfter`], [`Fault::StallAfter`]: the same two with the cut at a given byte of the answer
//!   (its head included), to reach a client's mid-body error paths exactly.
//!
//! Every request is logged ([`FaultProxy::requests`]) with the fault it got, so tests can check that the
//! faults they asked for really happened and which keys were written.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

/// The S3 operation of a request, from its method, key and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    PutObject,
    CreateMultipart,
    UploadPart,
    CompleteMultipart,
    AbortMultipart,
    Head,
    GetObject,
    List,
    ListMultipartUploads,
    DeleteObject,
    Other,
}

impl Operation {
    /// Whether the request writes object data (a PUT, a part, or the start or end of a multipart upload).
    pub fn writes_data(self) -> bool {
        matches!(
            self,
            Operation::PutObject
                | Operation::UploadPart
                | Operation::CreateMultipart
                | Operation::CompleteMultipart
        )
    }
}

/// What happens to a request a rule picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and S3 error code, without asking the server.
    Status { status: u16, code: &'static str },
    /// Read half of the request body, then reset the connection; the server never sees the request.
    ResetMidBody,
    /// Forward the request, then send back only the first half of the answer (of its head, when it has no
    /// body) and close the connection.
    Truncate,
    /// Forward the request, then send nothing back; the connection stays open until the client closes it.
    Stall,
    /// Forward the request, send back the first `n` bytes of the answer (head included), then close.
    CutAfter(usize),
    /// Forward the request, send back the first `n` bytes of the answer (head included), then nothing
    /// more until the client closes the connection.
    StallAfter(usize),
}

impl Fault {
    /// `500 InternalError`.
    pub const INTERNAL_ERROR: Fault = Fault::Status {
        status: 500,
        code: "InternalError",
    };
    /// `503 SlowDown`, S3's throttling answer.
    pub const SLOW_DOWN: Fault = Fault::Status {
        status: 503,
        code: "SlowDown",
    };
}

/// Which requests get a fault, and how many of them.
#[derive(Debug, Clone)]
pub struct Rule {
    fault: Fault,
    operation: Option<Operation>,
    /// Every one of these must be in the key.
    key_contains: Vec<String>,
    /// Matching requests let through before the fault applies.
    skip: usize,
    /// How many matching requests get the fault after the skipped ones; `None` for all of them.
    times: Option<usize>,
}

impl Rule {
    /// A rule applying `fault` once, to the first request of any kind.
    pub fn new(fault: Fault) -> Rule {
        Rule {
            fault,
            operation: None,
            key_contains: Vec::new(),
            skip: 0,
            times: Some(1),
        }
    }

    /// Only requests of this operation.
    pub fn on(mut self, operation: Operation) -> Rule {
        self.operation = Some(operation);
        self
    }

    /// Only requests whose (decoded) key contains `text` (and what earlier calls asked for).
    pub fn key_containing(mut self, text: &str) -> Rule {
        self.key_contains.push(text.to_string());
        self
    }

    /// Let the first `n` matching requests through.
    pub fn after(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }

    /// Apply the fault to `n` matching requests (1 unless told).
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }

    /// Apply the fault to every matching request from now on.
    pub fn always(mut self) -> Rule {
        self.times = None;
        self
    }

    fn matches(&self, operation: Operation, key: &str) -> bool {
        self.operation.is_none_or(|op| op == operation)
            && self
                .key_contains
                .iter()
                .all(|text| key.contains(text.as_str()))
    }
}

/// Returned by [`FaultProxy::add`], to ask how often the rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleId(usize);

/// One request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub operation: Operation,
    /// The object key, percent-decoded (empty for bucket-level requests).
    pub key: String,
    /// The fault it got, if any.
    pub fault: Option<Fault>,
}

#[derive(Debug)]
struct ActiveRule {
    rule: Rule,
    seen: usize,
    applied: usize,
}

#[derive(Debug, Default)]
struct Shared {
    rules: Mutex<Vec<ActiveRule>>,
    log: Mutex<Vec<Exchange>>,
}

impl Shared {
    /// The fault for this request (the first rule that wants it), counting it against that rule.
    fn decide(&self, operation: Operation, key: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        for active in rules.iter_mut() {
            if !active.rule.matches(operation, key) {
                continue;
            }
            let exhausted = active
                .rule
                .times
                .is_some_and(|times| active.applied >= times);
            if exhausted {
                continue;
            }
            active.seen += 1;
            if active.seen <= active.rule.skip {
                continue;
            }
            active.applied += 1;
            return Some(active.rule.fault);
        }
        None
    }

    fn record(&self, exchange: Exchange) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(exchange);
    }
}

/// A running proxy. It stops accepting when dropped; connections it is stalling end when their client
/// closes them (or after five minutes).
#[derive(Debug)]
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`: give this to the client instead of the server's endpoint.
    pub endpoint: String,
    address: SocketAddr,
    shared: Arc<Shared>,
    stopping: Arc<AtomicBool>,
}

/// How long a stalled connection is held at most, and how long a silent client is waited for.
const STALL_LIMIT: Duration = Duration::from_secs(300);
const CLIENT_SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// A request head larger than this is not S3.
const MAX_HEAD: usize = 64 * 1024;

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`http://ip:port`).
    pub fn start(upstream: &str) -> Result<FaultProxy> {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("the upstream {upstream} is not http://ip:port"))?;
        let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind the fault proxy")?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let (accept_shared, accept_stopping) = (shared.clone(), stopping.clone());
        thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if accept_stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let shared = accept_shared.clone();
                    let _ = thread::Builder::new()
                        .name("fault-proxy-conn".into())
                        .spawn(move || serve(client, upstream, &shared));
                }
            })
            .context("cannot start the fault proxy thread")?;
        Ok(FaultProxy {
            endpoint: format!("http://{address}"),
            address,
            shared,
            stopping,
        })
    }

    /// Adds a rule; rules are tried in the order they were added, and the first that wants a request
    /// decides its fault.
    pub fn add(&self, rule: Rule) -> RuleId {
        let mut rules = self.shared.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.push(ActiveRule {
            rule,
            seen: 0,
            applied: 0,
        });
        RuleId(rules.len() - 1)
    }

    /// How many requests rule `id` has damaged so far.
    pub fn applied(&self, id: RuleId) -> usize {
        self.shared
            .rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id.0)
            .map_or(0, |active| active.applied)
    }

    /// Stops every rule: requests pass through from now on. Ids stay valid for [`applied`](Self::applied).
    pub fn clear_rules(&self) {
        let mut rules = self.shared.rules.lock().unwrap_or_else(|e| e.into_inner());
        for active in rules.iter_mut() {
            active.rule.times = Some(active.applied);
        }
    }

    /// Replaces every rule with one: `fault` for every request from now on ([`clear_rules`](Self::clear_rules)
    /// lets them through again).
    pub fn fail_every_request(&self, fault: Fault) -> RuleId {
        self.clear_rules();
        self.add(Rule::new(fault).always())
    }

    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<Exchange> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the requests seen so far.
    pub fn clear_requests(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
    }
}

/// A parsed request head.
struct RequestHead {
    /// The head as received, `\r\n\r\n` included.
    raw: Vec<u8>,
    method: String,
    path: String,
    query: String,
    content_length: usize,
    chunked: bool,
}

fn serve(mut client: TcpStream, upstream: SocketAddr, shared: &Shared) {
    let _ = client.set_read_timeout(Some(CLIENT_SILENCE_LIMIT));
    let Some((head, early_body)) = read_head(&mut client) else {
        return;
    };
    let key = object_key(&head.path);
    let operation = classify(&head.method, &key, &head.query);
    // A chunked body cannot be cut in half safely here; S3 clients send Content-Length, so pass it through.
    let fault = if head.chunked {
        None
    } else {
        shared.decide(operation, &key)
    };
    shared.record(Exchange {
        operation,
        key,
        fault,
    });
    match fault {
        Some(Fault::Status { status, code }) => {
            drain_body(&mut client, head.content_length, early_body.len());
            let _ = client.write_all(error_response(status, code).as_bytes());
            let _ = client.shutdown(Shutdown::Both);
        }
        Some(Fault::ResetMidBody) => {
            drain_body(&mut client, head.content_length / 2, early_body.len());
            reset(client);
        }
        Some(
            damage @ (Fault::Truncate | Fault::Stall | Fault::CutAfter(_) | Fault::StallAfter(_)),
        ) => {
            if let Some(answer) = forward(&mut client, upstream, &head, &early_body) {
                deliver_damaged(client, &answer, damage);
            }
        }
        None => {
            if let Some(answer) = forward(&mut client, upstream, &head, &early_body) {
                let _ = client.write_all(&answer);
                let _ = client.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Reads the request head; returns it with whatever body bytes arrived in the same reads.
fn read_head(client: &mut TcpStream) -> Option<(RequestHead, Vec<u8>)> {
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if received.len() > MAX_HEAD {
            return None;
        }
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    };
    let body = received.split_off(head_end);
    let text = String::from_utf8_lossy(&received).into_owned();
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let target = request_line.next()?.to_string();
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (target, String::new()),
    };
    let mut content_length = 0;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if name == "content-length" {
            content_length = value.parse().unwrap_or(0);
        } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }
    Some((
        RequestHead {
            raw: received,
            method,
            path,
            query,
            content_length,
            chunked,
        },
        body,
    ))
}

/// The key of a path-style request (`/bucket/key`), percent-decoded; empty for the bucket itself.
fn object_key(path: &str) -> String {
    let without_slash = path.trim_start_matches('/');
    let key = without_slash
        .split_once('/')
        .map_or("", |(_bucket, key)| key);
    percent_decode(key)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn has_param(query: &str, name: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some(name))
}

fn classify(method: &str, key: &str, query: &str) -> Operation {
    match method {
        "PUT" if has_param(query, "partNumber") => Operation::UploadPart,
        "PUT" if !key.is_empty() => Operation::PutObject,
        "POST" if has_param(query, "uploads") => Operation::CreateMultipart,
        "POST" if has_param(query, "uploadId") => Operation::CompleteMultipart,
        "DELETE" if has_param(query, "uploadId") => Operation::AbortMultipart,
        "DELETE" if !key.is_empty() => Operation::DeleteObject,
        "HEAD" => Operation::Head,
        "GET" if key.is_empty() && has_param(query, "uploads") => Operation::ListMultipartUploads,
        "GET" if key.is_empty() => Operation::List,
        "GET" => Operation::GetObject,
        _ => Operation::Other,
    }
}

/// Reads and discards the request body up to `want` bytes (`already` of them arrived with the head).
fn drain_body(client: &mut TcpStream, want: usize, already: usize) {
    let mut left = want.saturating_sub(already);
    let mut buf = [0u8; 16 * 1024];
    while left > 0 {
        match client.read(&mut buf[..left.min(16 * 1024)]) {
            Ok(0) | Err(_) => return,
            Ok(n) => left -= n,
        }
    }
}

/// Closes the connection with unread data pending, which makes the kernel send a reset.
fn reset(client: TcpStream) {
    // Make sure something is unread: wait briefly for more of the body to arrive.
    let _ = client.set_read_timeout(Some(Duration::from_millis(200)));
    let mut probe = [0u8; 1];
    let _ = client.peek(&mut probe);
    drop(client);
}

/// Sends the request to the server with `Connection: close` and returns the server's whole answer,
/// rewritten to `Connection: close` too. `None` when the server cannot be reached (the client sees its
/// connection closed, as when the server itself is down).
fn forward(
    client: &mut TcpStream,
    upstream: SocketAddr,
    head: &RequestHead,
    early_body: &[u8],
) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)).ok()?;
    let _ = server.set_read_timeout(Some(STALL_LIMIT));
    server.write_all(&close_connection(&head.raw)).ok()?;
    server.write_all(early_body).ok()?;
    if head.chunked {
        // Pass the rest of the stream through as it comes; the server's answer ends the exchange.
        let (mut from_client, mut to_server) = (client.try_clone().ok()?, server.try_clone().ok()?);
        thread::spawn(move || {
            let _ = std::io::copy(&mut from_client, &mut to_server);
        });
    } else {
        let mut left = head.content_length.saturating_sub(early_body.len());
        let mut buf = [0u8; 64 * 1024];
        while left > 0 {
            let n = match client.read(&mut buf[..left.min(64 * 1024)]) {
                Ok(0) | Err(_) => return None,
                Ok(n) => n,
            };
            server.write_all(&buf[..n]).ok()?;
            left -= n;
        }
    }
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    if answer.is_empty() {
        return None;
    }
    Some(close_connection(&answer))
}

/// The same message with its `Connection` header replaced by `Connection: close`.
fn close_connection(message: &[u8]) -> Vec<u8> {
    let Some(head_end) = message.windows(4).position(|w| w == b"\r\n\r\n") else {
        return message.to_vec();
    };
    let head = String::from_utf8_lossy(&message[..head_end]);
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        let name = line
            .split_once(':')
            .map(|(name, _)| name.trim().to_ascii_lowercase());
        if i > 0 && matches!(name.as_deref(), Some("connection" | "keep-alive")) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&message[head_end + 4..]);
    bytes
}

fn deliver_damaged(mut client: TcpStream, answer: &[u8], damage: Fault) {
    let (cut, then_stall) = match damage {
        Fault::Truncate => (half_of(answer), false),
        Fault::CutAfter(n) => (n.min(answer.len()), false),
        Fault::StallAfter(n) => (n.min(answer.len()), true),
        _ => (0, true),
    };
    let _ = client.write_all(&answer[..cut]);
    if then_stall {
        // Silence: wait for the client to give up (it closes, or sends nothing more for a long time).
        let _ = client.set_read_timeout(Some(STALL_LIMIT));
        let mut sink = [0u8; 1024];
        while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
    }
    let _ = client.shutdown(Shutdown::Both);
}

/// Where [`Fault::Truncate`] cuts: half way through the body, or through the head when there is no body.
fn half_of(answer: &[u8]) -> usize {
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |at| at + 4);
    let body = answer.len() - head_end;
    if body > 0 {
        head_end + body / 2
    } else {
        head_end / 2
    }
}

fn error_response(status: u16, code: &str) -> String {
    let reason = match status {
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the test's fault proxy</Message></Error>"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_like_s3_operations() {
        assert_eq!(classify("PUT", "a/b", ""), Operation::PutObject);
        assert_eq!(
            classify("PUT", "a/b", "partNumber=2&uploadId=x"),
            Operation::UploadPart
        );
        assert_eq!(
            classify("POST", "a/b", "uploads"),
            Operation::CreateMultipart
        );
        assert_eq!(
            classify("POST", "a/b", "uploads="),
            Operation::CreateMultipart
        );
        assert_eq!(
            classify("POST", "a/b", "uploadId=x"),
            Operation::CompleteMultipart
        );
        assert_eq!(
            classify("DELETE", "a/b", "uploadId=x"),
            Operation::AbortMultipart
        );
        assert_eq!(classify("DELETE", "a/b", ""), Operation::DeleteObject);
        assert_eq!(classify("HEAD", "a/b", ""), Operation::Head);
        assert_eq!(classify("GET", "", "list-type=2&prefix=a"), Operation::List);
        assert_eq!(
            classify("GET", "", "uploads&prefix=a"),
            Operation::ListMultipartUploads
        );
        assert_eq!(classify("GET", "a/b", ""), Operation::GetObject);
        assert_eq!(
            object_key("/bucket.with.dots/base/x%20y/f.lzo"),
            "base/x y/f.lzo"
        );
        assert_eq!(object_key("/bucket/"), "");
        assert_eq!(object_key("/bucket"), "");
    }

    #[test]
    fn rules_skip_count_and_stop() {
        let shared = Shared::default();
        shared.rules.lock().unwrap().push(ActiveRule {
            rule: Rule::new(Fault::INTERNAL_ERROR)
                .on(Operation::UploadPart)
                .key_containing("big")
                .after(1)
                .times(2),
            seen: 0,
            applied: 0,
        });
        let part = |key| shared.decide(Operation::UploadPart, key);
        assert_eq!(part("small"), None);
        assert_eq!(part("big"), None, "the first one passes");
        assert_eq!(part("big"), Some(Fault::INTERNAL_ERROR));
        assert_eq!(shared.decide(Operation::PutObject, "big"), None);
        assert_eq!(part("big"), Some(Fault::INTERNAL_ERROR));
        assert_eq!(part("big"), None, "two applied, then no more");
    }

    #[test]
    fn connection_headers_are_replaced() {
        let answer = b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";
        let closed = String::from_utf8(close_connection(answer)).unwrap();
        assert_eq!(
            closed,
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        );
    }
}
