//! A TCP proxy in front of the real S3 server that can damage its answers on demand: cut a response
//! short, go silent, or answer 503 SlowDown itself. Fault injection on top of the real stack, for the
//! error paths a healthy server never takes.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What happens to the server's answers while the mode is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything through.
    None,
    /// Forward the first `n` bytes of an answer, then close the connection.
    CutAfter(usize),
    /// Forward the first `n` bytes of an answer, then send nothing more (connection stays open).
    StallAfter(usize),
    /// Answer every request with `503 SlowDown` without asking the server.
    SlowDown,
}

#[derive(Debug, Clone)]
pub struct FaultProxy {
    pub endpoint: String,
    fault: Arc<Mutex<Fault>>,
    /// Client connections, closed whenever the fault changes so that it applies from the next request on
    /// (the client opens new connections instead of reusing pooled ones).
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

const SLOW_DOWN_BODY: &str =
    "<?xml version=\"1.0\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your rate</Message></Error>";

fn slow_down_response() -> String {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/xml\r\n\
         Content-Length: {}\r\n\r\n{SLOW_DOWN_BODY}",
        SLOW_DOWN_BODY.len()
    )
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("upstream is http://ip:port");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fault = Arc::new(Mutex::new(Fault::None));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (shared, open) = (fault.clone(), connections.clone());
        // The accept loop ends with the test process; it holds nothing that needs cleaning up.
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if let Ok(handle) = client.try_clone() {
                    open.lock().unwrap().push(handle);
                }
                let fault = shared.clone();
                thread::spawn(move || serve(client, upstream, fault));
            }
        });
        FaultProxy {
            endpoint,
            fault,
            connections,
        }
    }

    /// Applies `fault` to every request from now on.
    pub async fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
        for connection in self.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
        // Let the client's connection tasks run and notice the closed connections, so that its pool
        // does not hand out one of them (a blocking sleep would stall a current-thread runtime).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn serve(mut client: TcpStream, upstream: SocketAddr, fault: Arc<Mutex<Fault>>) {
    if *fault.lock().unwrap() == Fault::SlowDown {
        // Read the whole request first: closing a socket with unread data resets the connection, and
        // the client would see a reset instead of our answer.
        read_request(&mut client);
        let _ = client.write_all(slow_down_response().as_bytes());
        let _ = client.shutdown(Shutdown::Write);
        let mut rest = Vec::new();
        let _ = client.read_to_end(&mut rest);
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    let (mut client_reader, mut server_writer) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    thread::spawn(move || {
        let _ = std::io::copy(&mut client_reader, &mut server_writer);
        let _ = server_writer.shutdown(Shutdown::Write);
    });
    let mut buf = [0u8; 16 * 1024];
    let mut forwarded = 0usize;
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let current = *fault.lock().unwrap();
        let limit = match current {
            Fault::CutAfter(limit) | Fault::StallAfter(limit) => Some(limit),
            Fault::None | Fault::SlowDown => None,
        };
        let allowed = limit.map_or(n, |limit| n.min(limit.saturating_sub(forwarded)));
        if client.write_all(&buf[..allowed]).is_err() {
            break;
        }
        forwarded += allowed;
        if allowed < n {
            if let Fault::StallAfter(_) = current {
                // Hold the connection open and silent until the client gives up.
                let mut sink = [0u8; 1024];
                client.set_read_timeout(Some(Duration::from_secs(60))).ok();
                while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
            }
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

/// Reads one request (head and `Content-Length` body) from `client`.
fn read_request(client: &mut TcpStream) {
    client.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut request = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|len| len.trim().parse().ok())
        .unwrap_or(0);
    let mut have = request.len() - head_end;
    while have < body_len {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
    }
}
