//! Helpers of the fault tests: the node-push binary run by hand (with its JSON lines read as they come), a
//! direct S3 view of SeaweedFS (never through the fault proxy) to check what was stored, and test files.
#![allow(dead_code)] // each test binary uses a different subset

pub mod coordinator;

use anyhow::{bail, Context, Result};
use contract::manifest::ObjectEntry;
use contract::message::{Message, SkipReason, Summary};
use engine::lzop::LzopDecoder;
use engine::store::s3::S3Store;
use engine::store::{with_retry, ObjectMeta, ObjectStore, RetryPolicy};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use testkit::seaweed::SeaweedFs;

/// A private copy of a workspace binary: a concurrent `cargo build` relinking the workspace's copy cannot
/// pull it away in the middle of a test.
pub struct BinaryCopy {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl BinaryCopy {
    pub fn of(name: &str) -> Result<BinaryCopy> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(name);
        fs_err::copy(testkit::workspace_bin(name)?, &path)?;
        Ok(BinaryCopy { path, _dir: dir })
    }
}

/// What SeaweedFS holds, seen directly (not through a proxy).
pub struct DirectStore {
    pub store: S3Store,
    runtime: tokio::runtime::Runtime,
}

impl DirectStore {
    pub fn connect(weed: &SeaweedFs, bucket: &str) -> Result<DirectStore> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let store = runtime.block_on(S3Store::connect(weed.s3_config(bucket)))?;
        Ok(DirectStore { store, runtime })
    }

    /// Runs `op` with retries: after a server restart, the first request may go out on a pooled
    /// connection the dead server left behind.
    fn retried<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, engine::store::StoreError>>,
    {
        Ok(self
            .runtime
            .block_on(with_retry(&RetryPolicy::default(), op))?)
    }

    /// Every object under `prefix`, by key.
    pub fn objects(&self, prefix: &str) -> Result<BTreeMap<String, ObjectMeta>> {
        let listing = self.retried(|| self.store.list(prefix, None))?;
        Ok(listing
            .objects
            .into_iter()
            .map(|o| (o.key.clone(), o))
            .collect())
    }

    /// Multipart uploads still open under `prefix`.
    pub fn open_uploads(&self, prefix: &str) -> Result<usize> {
        Ok(self
            .retried(|| self.store.list_multipart_uploads(prefix))?
            .len())
    }

    pub fn get(&self, key: &str) -> Result<Vec<u8>> {
        Ok(self.retried(|| self.store.get(key, None))?.to_vec())
    }

    pub fn put(&self, key: &str, body: &[u8]) -> Result<()> {
        let body = bytes::Bytes::copy_from_slice(body);
        let options = engine::store::PutOptions::default();
        self.retried(|| self.store.put_object(key, body.clone(), &options))?;
        Ok(())
    }

    /// Every record of `manifest`'s backup, whatever its format, host by host in its `--hosts` order.
    pub fn entries(&self, manifest: &contract::manifest::Manifest) -> Result<Vec<ObjectEntry>> {
        let mut entries = Vec::new();
        for host in &manifest.hosts {
            entries.extend(self.runtime.block_on(engine::records::host_entries(
                &self.store,
                manifest,
                host,
                None,
            ))?);
        }
        Ok(entries)
    }

    /// Download `entry`'s object, decode it, and check its size and digest against the entry.
    pub fn check_decodes(&self, entry: &ObjectEntry) -> Result<()> {
        let stored = self.get(&entry.key)?;
        let mut decoded = Vec::new();
        LzopDecoder::new(&stored[..])?
            .read_to_end(&mut decoded)
            .with_context(|| format!("{} does not decode", entry.key))?;
        if decoded.len() as u64 != entry.size || !digest_matches(entry, &decoded) {
            bail!(
                "{} does not decode to the size and digest of its entry",
                entry.key
            );
        }
        Ok(())
    }

    /// Download `entry`'s object, decode it, and check it against the entry and against `source`'s bytes.
    pub fn check_restores_to(&self, entry: &ObjectEntry, source: &[u8]) -> Result<()> {
        let stored = self.get(&entry.key)?;
        if stored.len() as u64 != entry.compressed_size {
            bail!(
                "{}: {} bytes stored, the entry says {}",
                entry.key,
                stored.len(),
                entry.compressed_size
            );
        }
        let mut decoded = Vec::new();
        LzopDecoder::new(&stored[..])?
            .read_to_end(&mut decoded)
            .with_context(|| format!("{} does not decode", entry.key))?;
        if decoded != source {
            bail!("{} does not decode to its source file", entry.key);
        }
        if !digest_matches(entry, &decoded) || decoded.len() as u64 != entry.size {
            bail!("{}: the entry's size or digest is wrong", entry.key);
        }
        Ok(())
    }
}

/// Whether `bytes` have the digest `entry` records (BLAKE3, or SHA-256 in earlier versions' entries).
pub fn digest_matches(entry: &ObjectEntry, bytes: &[u8]) -> bool {
    use engine::digest::{Algorithm, Hasher};
    let Some((algorithm, recorded)) = Algorithm::of_entry(entry) else {
        return false;
    };
    let mut hasher = Hasher::new(algorithm);
    hasher.update(bytes);
    engine::digest::same_hex(&hasher.finalize_hex(), recorded)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes `len` incompressible bytes (different for every `seed`) to `path`.
pub fn write_random(path: &Path, len: usize, seed: u64) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let mut data = vec![0u8; len];
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    testkit::tree::random_fill(&mut data, &mut state);
    fs_err::write(path, data)?;
    Ok(())
}

/// node-push started by hand: its JSON lines arrive on a channel as they are printed; stdin stays open
/// (holding the credentials line) until [`NodePushRun::close_stdin`] or the end.
pub struct NodePushRun {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Message>,
    stderr: Option<std::thread::JoinHandle<String>>,
    seen: Vec<Message>,
}

/// How a node-push run ended.
#[derive(Debug)]
pub struct NodePushOutcome {
    pub code: Option<i32>,
    pub messages: Vec<Message>,
    pub stderr: String,
}

impl NodePushRun {
    /// Starts `binary upload ARGS` with `envs`, writing `stdin_line` first.
    pub fn start(
        binary: &Path,
        args: &[String],
        stdin_line: &str,
        envs: &[(&str, &str)],
    ) -> Result<NodePushRun> {
        let mut child = Command::new(binary)
            .args(args)
            .envs(envs.iter().copied())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start node-push")?;
        let mut stdin = child.stdin.take().expect("piped");
        writeln!(stdin, "{stdin_line}")?;
        stdin.flush()?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match Message::parse_line(&line) {
                    Ok(Some(message)) => {
                        if tx.send(message).is_err() {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(error) => panic!("node-push printed a bad line: {error}"),
                }
            }
        });
        let mut stderr = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Ok(NodePushRun {
            child,
            stdin: Some(stdin),
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        })
    }

    /// Waits (at most `limit`) for a message that `wanted` accepts, and returns it.
    pub fn wait_for(
        &mut self,
        limit: Duration,
        wanted: impl Fn(&Message) -> bool,
    ) -> Result<Message> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(message) => {
                    self.seen.push(message.clone());
                    if wanted(&message) {
                        return Ok(message);
                    }
                }
                Err(_) => bail!(
                    "node-push did not print the awaited message within {limit:?}; seen: {:?}",
                    self.seen
                ),
            }
        }
    }

    /// Closes node-push's stdin, as a dropped SSH connection would.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits (at most `limit`, then kills it) for the end; stdin is closed once the summary arrived.
    pub fn finish(mut self, limit: Duration) -> Result<NodePushOutcome> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(message) => {
                    let last = matches!(message, Message::Summary(_) | Message::Fatal { .. });
                    self.seen.push(message);
                    if last {
                        self.stdin = None;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if Instant::now() >= deadline {
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        bail!(
                            "node-push did not finish within {limit:?}; seen: {:?}",
                            self.seen
                        );
                    }
                }
            }
        }
        self.stdin = None;
        let status = self.child.wait()?;
        let stderr = self
            .stderr
            .take()
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        Ok(NodePushOutcome {
            code: status.code(),
            messages: std::mem::take(&mut self.seen),
            stderr,
        })
    }
}

impl Drop for NodePushRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodePushOutcome {
    pub fn summary(&self) -> &Summary {
        match self.messages.last() {
            Some(Message::Summary(summary)) => summary,
            other => panic!(
                "the last line is not a summary: {other:?}\nstderr: {}",
                self.stderr
            ),
        }
    }

    /// Entries of the files uploaded by this run, by file name.
    pub fn uploaded(&self) -> BTreeMap<String, ObjectEntry> {
        self.by_name(|m| match m {
            Message::FileDone { entry } => Some(entry),
            _ => None,
        })
    }

    /// Entries of the files found already stored, by file name.
    pub fn already_stored(&self) -> BTreeMap<String, ObjectEntry> {
        self.by_name(|m| match m {
            Message::FileSkipped {
                reason: SkipReason::AlreadyStored { entry },
                ..
            } => Some(entry),
            _ => None,
        })
    }

    /// `error` of every failed file, by file name.
    pub fn failed(&self) -> BTreeMap<String, String> {
        self.messages
            .iter()
            .filter_map(|m| match m {
                Message::FileFailed { path, error, .. } => Some((file_name(path), error.clone())),
                _ => None,
            })
            .collect()
    }

    /// Paths reported vanished, by file name.
    pub fn vanished(&self) -> Vec<String> {
        self.messages
            .iter()
            .filter_map(|m| match m {
                Message::FileSkipped {
                    path,
                    reason: SkipReason::Vanished,
                } => Some(file_name(path)),
                _ => None,
            })
            .collect()
    }

    fn by_name(
        &self,
        pick: impl Fn(&Message) -> Option<&ObjectEntry>,
    ) -> BTreeMap<String, ObjectEntry> {
        self.messages
            .iter()
            .filter_map(|m| pick(m).map(|e| (file_name(&e.source_path), e.clone())))
            .collect()
    }
}

pub fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// `upload --dir DIR --dest s3://BUCKET/PREFIX --endpoint ENDPOINT --credentials-stdin` and `extra`.
pub fn upload_args(
    dir: &Path,
    bucket: &str,
    prefix: &str,
    endpoint: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "upload".into(),
        "--dir".into(),
        dir.display().to_string(),
        "--dest".into(),
        format!("s3://{bucket}/{prefix}"),
        "--endpoint".into(),
        endpoint.to_string(),
        "--credentials-stdin".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}
