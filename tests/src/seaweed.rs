//! A real S3 server for tests: SeaweedFS (`weed mini`) on loopback, with authentication switched on.
//!
//! [`SeaweedFs::start`] runs `weed mini` (master, volume server, filer and S3 gateway in one process) in a
//! fresh temp dir on 127.0.0.1. Every port it opens is picked free at start, so several instances (several
//! test binaries, several developers) can run at once; the process dies with the test process and on drop
//! (see [`crate::process`]).
//!
//! The instance has one identity, [`SeaweedFs::access_key`] / [`SeaweedFs::secret_key`], passed to weed
//! through the environment (never argv). SeaweedFS then checks every request's SigV4 signature, so a client
//! that signs wrongly fails here as it would on AWS; without credentials it would accept anything.
//! Buckets are not created on first upload (`-s3.autoCreateBucket=false`), as on AWS, so a missing bucket
//! is an error the tests can see.
//!
//! ```no_run
//! let s3 = testkit::seaweed::SeaweedFs::start()?;
//! s3.create_bucket("backups")?;
//! // point the client at s3.endpoint with s3.access_key() / s3.secret_key(), region s3.region()
//! # anyhow::Ok(())
//! ```
//!
//! [`SeaweedFs::stop`], [`SeaweedFs::kill`] and [`SeaweedFs::restart`] (same ports, same data) are for
//! fault-injection tests such as "the S3 server dies mid-upload and comes back". A start takes about 0.7 s
//! on the 2-core development machine (until the S3 gateway answers), creating a bucket about 0.15 s, and a
//! restart about 3 s, most of it weed's graceful shutdown; a [`kill`](SeaweedFs::kill) is immediate.

mod clients;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::process::{
    log_tail, wait_until_ready, ServerCommand, ServerProcess, DEFAULT_STOP_GRACE,
};

/// All servers of an instance listen here.
const IP: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// SeaweedFS derives each component's gRPC port as HTTP port + 10000 (and some clients assume it even
/// when a gRPC port is given), so every HTTP port is picked with that partner free too.
const GRPC_OFFSET: u16 = 10_000;
/// How long `weed mini` may take until its S3 gateway answers.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How many fresh port sets to try when another process takes one of ours during start-up.
const PORT_ATTEMPTS: usize = 5;
/// The region clients should sign for (SeaweedFS accepts any).
const REGION: &str = "us-east-1";

/// The HTTP ports of one instance (each component's gRPC port is this + [`GRPC_OFFSET`]).
#[derive(Debug, Clone, Copy)]
struct WeedPorts {
    master: u16,
    volume: u16,
    filer: u16,
    s3: u16,
    admin: u16,
}

/// A running SeaweedFS with an S3 endpoint. Stops on drop and removes its data.
#[derive(Debug)]
pub struct SeaweedFs {
    /// `http://127.0.0.1:<port>`: the S3 endpoint (path-style addressing).
    pub endpoint: String,
    ports: WeedPorts,
    access_key: String,
    secret_key: String,
    /// More accepted `(access key, secret key)` pairs besides the instance's own ([`start_accepting`]).
    ///
    /// [`start_accepting`]: SeaweedFs::start_accepting
    extra_keys: Vec<(String, String)>,
    // Field order is drop order: the server stops before its directory is removed.
    process: Option<ServerProcess>,
    dir: tempfile::TempDir,
}

impl SeaweedFs {
    /// Starts a fresh instance with no buckets and waits until its S3 gateway answers.
    pub fn start() -> Result<SeaweedFs> {
        Self::start_accepting(&[])
    }

    /// Like [`start`](Self::start), accepting `keys` too (each `(access key, secret key)` an identity of
    /// its own with full rights), e.g. the temporary keys an STS or metadata endpoint hands out. Only
    /// these and the instance's own key are accepted.
    pub fn start_accepting(keys: &[(String, String)]) -> Result<SeaweedFs> {
        let dir = tempfile::Builder::new()
            .prefix("testkit-seaweed-")
            .tempdir()?;
        fs_err::create_dir_all(dir.path().join("data"))?;
        // Different for every instance, so that no test can pass with a key it should not know.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let unique = nanos ^ (u128::from(std::process::id()) << 64);
        let mut weed = SeaweedFs {
            endpoint: String::new(),
            ports: WeedPorts {
                master: 0,
                volume: 0,
                filer: 0,
                s3: 0,
                admin: 0,
            },
            access_key: "testkit-access-key".to_string(),
            secret_key: format!("testkit-secret-{unique:x}"),
            extra_keys: keys.to_vec(),
            process: None,
            dir,
        };
        let mut last_error = None;
        for _attempt in 0..PORT_ATTEMPTS {
            weed.ports = pick_ports()?;
            weed.endpoint = format!("http://{IP}:{}", weed.ports.s3);
            match weed.spawn_and_wait() {
                Ok(()) => return Ok(weed),
                Err(err) if weed.lost_port_race() => last_error = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last_error.expect("at least one attempt")).context(format!(
            "weed mini could not bind free ports after {PORT_ATTEMPTS} tries"
        ))
    }

    /// Creates a bucket (through `weed shell`, which needs no request signing). Names may contain dots.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        let output = self.shell(&format!("s3.bucket.create -name {name}"))?;
        if !output.contains(&format!("created bucket {name}")) {
            bail!("weed shell did not create bucket {name}: {}", output.trim());
        }
        self.wait_for_bucket(name)
    }

    /// Deletes a bucket and everything in it (through `weed shell`), e.g. behind a client's back.
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        let output = self.shell(&format!("s3.bucket.delete -name {name}"))?;
        if output.to_lowercase().contains("error") {
            bail!("weed shell did not delete bucket {name}: {}", output.trim());
        }
        Ok(())
    }

    /// The access key id the instance accepts.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret key that goes with [`access_key`](Self::access_key).
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The region to sign requests for.
    pub fn region(&self) -> &str {
        REGION
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION` and `AWS_REGION` for child
    /// processes (the AWS CLI, node-push) that should talk to this instance.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
            ("AWS_DEFAULT_REGION".into(), REGION.into()),
            ("AWS_REGION".into(), REGION.into()),
        ]
    }

    /// The weed process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ServerProcess::pid)
    }

    pub fn is_running(&self) -> bool {
        self.process.as_ref().is_some_and(ServerProcess::is_running)
    }

    /// Where the instance keeps its data (kept across [`restart`](Self::restart)).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// weed's log (appended to across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("weed.log")
    }

    /// Stops the server gracefully (SIGTERM, SIGKILL after a grace period) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop(DEFAULT_STOP_GRACE);
        }
    }

    /// Kills the server with SIGKILL, as a crash would, and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill_abruptly();
            process.stop(DEFAULT_STOP_GRACE);
            self.remove_stale_sockets();
        }
    }

    /// A killed weed leaves its gRPC unix sockets in /tmp (`seaweedfs-<component>-grpc-<port>.sock`, no
    /// flag moves them); they are named after our ports, so removing them touches nothing of others.
    fn remove_stale_sockets(&self) {
        let WeedPorts {
            master,
            volume,
            filer,
            s3,
            admin,
        } = self.ports;
        let ports = [master, volume, filer, s3, admin];
        let Ok(entries) = fs_err::read_dir("/tmp") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.starts_with("seaweedfs-")
                && ports.iter().any(|&port| {
                    let grpc = port + GRPC_OFFSET;
                    name.ends_with(&format!("-{port}.sock"))
                        || name.ends_with(&format!("-{grpc}.sock"))
                });
            if ours {
                let _ = fs_err::remove_file(entry.path());
            }
        }
    }

    /// Stops the server if it runs, then starts it again on the same ports with the same data.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.spawn_and_wait()
            .context("restarting SeaweedFS on its previous ports")
    }

    /// The `-s3.config` identities file for [`start_accepting`](Self::start_accepting).
    fn write_identities(&self) -> Result<PathBuf> {
        let identity = |name: String, access: &str, secret: &str| {
            serde_json::json!({
                "name": name,
                "credentials": [{"accessKey": access, "secretKey": secret}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            })
        };
        let mut identities = vec![identity(
            "testkit".into(),
            &self.access_key,
            &self.secret_key,
        )];
        for (i, (access, secret)) in self.extra_keys.iter().enumerate() {
            identities.push(identity(format!("extra{i}"), access, secret));
        }
        let path = self.dir.path().join("s3-identities.json");
        fs_err::write(
            &path,
            serde_json::json!({ "identities": identities }).to_string(),
        )?;
        Ok(path)
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        let ports = self.ports;
        let mut command = ServerCommand::new(
            format!("weed mini (S3 {IP}:{})", ports.s3),
            crate::weed_bin()?,
            self.log_path(),
        )
        .arg("mini")
        .arg(format!("-dir={}", self.data_dir().display()))
        .arg(format!("-ip={IP}"))
        .arg(format!("-ip.bind={IP}"))
        .arg(format!("-master.port={}", ports.master))
        .arg(format!("-volume.port={}", ports.volume))
        .arg(format!("-filer.port={}", ports.filer))
        .arg(format!("-s3.port={}", ports.s3))
        .arg(format!("-admin.port={}", ports.admin))
        .args([
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-s3.autoCreateBucket=false",
        ])
        // Empty bucket variables keep a developer's own S3_BUCKET from creating buckets behind the
        // tests' back.
        .env("S3_BUCKET", "")
        .env("S3_TABLE_BUCKET", "");
        command = if self.extra_keys.is_empty() {
            // With these set, weed creates an identity and checks signatures.
            command
                .env("AWS_ACCESS_KEY_ID", &self.access_key)
                .env("AWS_SECRET_ACCESS_KEY", &self.secret_key)
        } else {
            // weed ignores -s3.config when the variables above name an identity: the file holds all.
            command
                .env("AWS_ACCESS_KEY_ID", "")
                .env("AWS_SECRET_ACCESS_KEY", "")
                .arg(format!("-s3.config={}", self.write_identities()?.display()))
        };
        self.process = Some(command.spawn()?);
        let process = self.process.as_ref().expect("just spawned");
        let s3 = SocketAddr::from((IP, ports.s3));
        let with_file = !self.extra_keys.is_empty();
        wait_until_ready(process, START_TIMEOUT, Duration::from_millis(50), || {
            // The identities file is read a moment after the gateway answers; until then it lets
            // anonymous requests through. Refusing one means the keys are in place.
            Ok(http_answers(s3) && (!with_file || http_status(s3, "/").ok() == Some(403)))
        })
    }

    /// Whether the last start failed because another process took one of the ports.
    fn lost_port_race(&self) -> bool {
        let log = log_tail(&self.log_path(), 40);
        !self.is_running()
            && (log.contains("not available") || log.contains("address already in use"))
    }

    /// Runs one `weed shell` command against this instance and returns its output.
    fn shell(&self, command: &str) -> Result<String> {
        let mut child = Command::new(crate::weed_bin()?)
            .arg("shell")
            .arg(format!("-master={IP}:{}", self.ports.master))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run weed shell")?;
        child
            .stdin
            .take()
            .expect("stdin was piped")
            .write_all(format!("{command}\nexit\n").as_bytes())?;
        let output = child.wait_with_output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            bail!(
                "weed shell `{command}` failed ({}): {}",
                output.status,
                text.trim()
            );
        }
        Ok(text)
    }

    /// Waits until the filer shows the bucket's directory, which is what the S3 gateway serves.
    fn wait_for_bucket(&self, name: &str) -> Result<()> {
        let filer = SocketAddr::from((IP, self.ports.filer));
        // Every 20 ms: a bucket appears within a few of them, and every test creates one.
        let appeared =
            crate::wait::poll_every(Duration::from_millis(20), Duration::from_secs(10), || {
                http_status(filer, &format!("/buckets/{name}/")).ok() == Some(200)
            });
        if !appeared {
            bail!(
                "bucket {name} did not appear in the filer of {}",
                self.endpoint
            );
        }
        Ok(())
    }

    /// The directory holding the data dir and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        // The data goes away with the temp dir, so there is nothing to shut down cleanly: SIGKILL is
        // instant where SIGTERM takes weed a few seconds.
        self.kill();
    }
}

/// Five HTTP ports on 127.0.0.1, each free together with its gRPC partner (+10000).
fn pick_ports() -> Result<WeedPorts> {
    // The listeners stay open until all ports are chosen, so none is handed out twice.
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _try in 0..200 {
        if ports.len() == 5 {
            break;
        }
        let probe = TcpListener::bind((IP, 0))?;
        let port = probe.local_addr()?.port();
        let Some(grpc) = port.checked_add(GRPC_OFFSET) else {
            continue;
        };
        if let Ok(partner) = TcpListener::bind((IP, grpc)) {
            ports.push(port);
            held.push(probe);
            held.push(partner);
        }
    }
    let [master, volume, filer, s3, admin] = ports[..] else {
        bail!("found only {} of 5 free port pairs on {IP}", ports.len());
    };
    Ok(WeedPorts {
        master,
        volume,
        filer,
        s3,
        admin,
    })
}

/// Whether something answers HTTP at `addr` (any status: unsigned requests get 403 from the S3 gateway).
fn http_answers(addr: SocketAddr) -> bool {
    http_status(addr, "/").is_ok()
}

/// The status code of a plain `GET path` at `addr`.
fn http_status(addr: SocketAddr, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 32];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..])?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let line = String::from_utf8_lossy(&head[..read]);
    // "HTTP/1.1 200 OK"
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no HTTP status line from {addr}: {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An unsigned request: with authentication on, the gateway must refuse it.
    fn unsigned_put_status(weed: &SeaweedFs, path: &str) -> u16 {
        let addr = SocketAddr::from((IP, weed.ports.s3));
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn two_instances_run_side_by_side_and_survive_a_restart() {
        let started = Instant::now();
        let mut first = SeaweedFs::start().unwrap();
        let second = SeaweedFs::start().unwrap();
        crate::log!("two starts took {:?}", started.elapsed());
        assert_ne!(first.endpoint, second.endpoint);
        assert_ne!(first.secret_key(), second.secret_key());
        first.create_bucket("with.dots").unwrap();
        second.create_bucket("plain").unwrap();
        assert_eq!(unsigned_put_status(&first, "/with.dots/key"), 403);

        let pid = first.pid().unwrap();
        let started = Instant::now();
        first.restart().unwrap();
        crate::log!("restart took {:?}", started.elapsed());
        assert_ne!(first.pid(), Some(pid));
        assert!(first.is_running());
        // The bucket (filer metadata in the data dir) survived the restart.
        first.create_bucket("another").unwrap();
        let listing = first.shell("s3.bucket.list").unwrap();
        assert!(
            listing.contains("with.dots") && listing.contains("another"),
            "{listing}"
        );

        first.kill();
        assert!(!first.is_running());
        assert_eq!(first.pid(), None);
        assert!(http_status(SocketAddr::from((IP, first.ports.s3)), "/").is_err());
        first.restart().unwrap();
        assert!(first.shell("s3.bucket.list").unwrap().contains("with.dots"));
        assert!(second.is_running());
    }
}
