//! The S3 part: one SeaweedFS on 127.0.0.1, the tree uploaded by rclone, node-push and the AWS CLI in turn,
//! round after round, each run to a bucket of its own (deleted once checked), with the server's CPU time
//! measured alongside each client.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use testkit::seaweed::SeaweedFs;

use super::tools::{json_string, PushSummary, Tools};
use super::tree::SourceTree;
use crate::bench::measure::{stdout_path, Measurement, TimedRun};
use crate::bench::report::{Row, Sample};
use crate::cmd;

/// Clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on every Linux this runs on).
const TICKS_PER_SEC: f64 = 100.0;
/// Between two tools the server is given this long to finish flushing what the last one sent.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// The S3 rows in table order; `rclone` is the reference.
#[derive(Debug)]
pub struct UploadRuns {
    pub node_push: Row,
    pub node_push_all_cores: Row,
    pub rclone: Row,
    pub aws: Row,
}

impl UploadRuns {
    pub fn rows(&self) -> Vec<Row> {
        [
            &self.node_push,
            &self.node_push_all_cores,
            &self.rclone,
            &self.aws,
        ]
        .into_iter()
        .cloned()
        .collect()
    }
}

/// The uploaders, in the order each round runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Uploader {
    /// The reference, first in each round.
    Rclone,
    /// node-push's default compression threads, which leave half the cores to Cassandra.
    NodePush,
    NodePushAllCores,
    Aws,
}

const UPLOADERS: [Uploader; 4] = [
    Uploader::Rclone,
    Uploader::NodePush,
    Uploader::NodePushAllCores,
    Uploader::Aws,
];

impl Uploader {
    fn label(self) -> String {
        match self {
            Uploader::Rclone => "rclone copy --transfers 4".into(),
            Uploader::NodePush => "node-push".into(),
            Uploader::NodePushAllCores => format!("node-push --threads {}", super::cores()),
            Uploader::Aws => "aws s3 cp --recursive".into(),
        }
    }
}

pub fn measure(
    tools: &Tools,
    tree: &SourceTree,
    logs: &Path,
    runs: usize,
    timeout: Duration,
) -> Result<UploadRuns> {
    let s3 = SeaweedFs::start().context("starting SeaweedFS")?;
    println!("bench: SeaweedFS S3 at {}", s3.endpoint);
    let samples = super::in_rounds(runs, &UPLOADERS, |uploader, round| {
        let label = format!("{} #{round}", uploader.label());
        let sample = upload(&s3, tools, tree, logs, &label, |bucket| {
            let dest = format!("{bucket}/x");
            Ok(match uploader {
                Uploader::Rclone => rclone_run(tools, &s3, logs, &label, timeout)?
                    .args(["copy", "--transfers", "4"])
                    .arg(&tree.root)
                    .arg(format!("{RCLONE_REMOTE}:{dest}")),
                Uploader::NodePush => node_push_upload(tools, &s3, tree, &dest, &label, timeout),
                Uploader::NodePushAllCores => {
                    node_push_upload(tools, &s3, tree, &dest, &label, timeout)
                        .args(["--threads", &super::cores().to_string()])
                }
                Uploader::Aws => {
                    let mut run = TimedRun::new(&label, &tools.aws, timeout)
                        .args(["s3", "cp", "--recursive", "--only-show-errors"])
                        .arg(&tree.root)
                        .arg(format!("s3://{dest}"))
                        .args(["--endpoint-url", &s3.endpoint]);
                    for (key, value) in aws_env(&s3, logs) {
                        run = run.env(key, value);
                    }
                    run
                }
            })
        })?;
        if matches!(uploader, Uploader::NodePush | Uploader::NodePushAllCores) {
            PushSummary::read(&stdout_path(logs, &label))?
                .check_complete(tree.files.len())
                .with_context(|| format!("{label} to S3"))?;
        }
        Ok(sample)
    })?;
    let row = |uploader: Uploader| {
        let index = UPLOADERS.iter().position(|u| *u == uploader).unwrap_or(0);
        Row::from_samples(uploader.label(), &samples[index])
    };
    Ok(UploadRuns {
        rclone: row(Uploader::Rclone),
        node_push: row(Uploader::NodePush),
        node_push_all_cores: row(Uploader::NodePushAllCores),
        aws: row(Uploader::Aws),
    })
}

/// The name the rclone runs give the store (configured through the environment, not a config file).
pub const RCLONE_REMOTE: &str = "bench";

/// rclone with [`RCLONE_REMOTE`] set to `s3` and nothing else configured; the caller adds the command.
pub fn rclone_run(
    tools: &Tools,
    s3: &SeaweedFs,
    logs: &Path,
    label: &str,
    timeout: Duration,
) -> Result<TimedRun> {
    with_rclone_env(TimedRun::new(label, &tools.rclone, timeout), s3, logs)
}

/// `run` (rclone, or a script running it) with the environment that makes [`RCLONE_REMOTE`] the store.
pub fn with_rclone_env(run: TimedRun, s3: &SeaweedFs, logs: &Path) -> Result<TimedRun> {
    let var = |name: &str| format!("RCLONE_CONFIG_{}_{name}", RCLONE_REMOTE.to_uppercase());
    let empty_config = logs.join("rclone.conf");
    fs_err::write(&empty_config, "")?;
    Ok(run
        .env("RCLONE_CONFIG", empty_config)
        .env(var("TYPE"), "s3")
        .env(var("PROVIDER"), "Other")
        .env(var("ENDPOINT"), &s3.endpoint)
        .env(var("REGION"), s3.region())
        .env(var("ACCESS_KEY_ID"), s3.access_key())
        .env(var("SECRET_ACCESS_KEY"), s3.secret_key())
        // Debian's rclone 1.60 fails on the machine's AWS_CA_BUNDLE ("unable to load custom CA bundle").
        .env_remove("AWS_CA_BUNDLE"))
}

/// node-push with the store's endpoint and its keys on the credentials line, and no other credentials;
/// the caller adds the command.
pub fn node_push_run(tools: &Tools, s3: &SeaweedFs, label: &str, timeout: Duration) -> TimedRun {
    let mut run = TimedRun::new(label, &tools.node_push, timeout).stdin_line(format!(
        "{{\"aws_access_key_id\":{},\"aws_secret_access_key\":{}}}",
        json_string(s3.access_key()),
        json_string(s3.secret_key())
    ));
    // Only the stdin line may supply credentials.
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        run = run.env_remove(key);
    }
    run
}

/// The store flags `upload` and `restore` share.
pub fn store_flags(s3: &SeaweedFs) -> [&str; 5] {
    [
        "--endpoint",
        &s3.endpoint,
        "--region",
        s3.region(),
        "--credentials-stdin",
    ]
}

/// `node-push upload` of the tree to `s3://<dest>` with default threads.
pub fn node_push_upload(
    tools: &Tools,
    s3: &SeaweedFs,
    tree: &SourceTree,
    dest: &str,
    label: &str,
    timeout: Duration,
) -> TimedRun {
    node_push_run(tools, s3, label, timeout)
        .args(["upload", "--dir"])
        .arg(&tree.root)
        .args(["--dest", &format!("s3://{dest}")])
        .args(store_flags(s3))
}

/// Creates a bucket for the run labelled `label`, waits for the server to be idle, runs the tool built by
/// `make_run` (given the bucket), checks that the bucket holds one object per source file, and deletes it.
fn upload(
    s3: &SeaweedFs,
    tools: &Tools,
    tree: &SourceTree,
    logs: &Path,
    label: &str,
    make_run: impl FnOnce(&str) -> Result<TimedRun>,
) -> Result<Sample> {
    let bucket = format!(
        "bench-{}",
        label
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    );
    s3.create_bucket(&bucket)?;
    let run = make_run(&bucket)?;
    let (measured, server_cpu_secs) = run_beside_server(s3, &run, logs)?;
    let (objects, stored_bytes) = list_bucket(s3, &tools.aws, logs, &bucket)?;
    if objects != tree.files.len() as u64 {
        bail!(
            "{label} left {objects} objects in {bucket}, expected {}",
            tree.files.len()
        );
    }
    s3.delete_bucket(&bucket)?;
    Ok(Sample {
        measured,
        stored_bytes,
        server_cpu_secs: Some(server_cpu_secs),
    })
}

/// Runs `run` once the server is idle; returns its measurement and the server's CPU seconds meanwhile.
pub fn run_beside_server(
    s3: &SeaweedFs,
    run: &TimedRun,
    logs: &Path,
) -> Result<(Measurement, f64)> {
    let server_pid = s3.pid().context("SeaweedFS is not running")?;
    wait_until_idle(server_pid);
    let server_cpu_before = process_cpu_secs(server_pid)?;
    let measured = run.run(logs)?;
    Ok((measured, process_cpu_secs(server_pid)? - server_cpu_before))
}

/// The AWS CLI's environment: the instance's identity and nothing from the developer's own ~/.aws.
fn aws_env(s3: &SeaweedFs, logs: &Path) -> Vec<(String, String)> {
    let absent = logs.join("no-aws-config").display().to_string();
    let mut env = s3.aws_env();
    env.push(("AWS_CONFIG_FILE".into(), absent.clone()));
    env.push(("AWS_SHARED_CREDENTIALS_FILE".into(), absent));
    env
}

/// Number of objects and their total size in `bucket`, through the AWS CLI.
fn list_bucket(s3: &SeaweedFs, aws: &Path, logs: &Path, bucket: &str) -> Result<(u64, u64)> {
    let listing = cmd::read(
        Command::new(aws)
            .args(["s3api", "list-objects-v2", "--bucket", bucket])
            .args(["--endpoint-url", &s3.endpoint])
            .args(["--query", "[length(Contents), sum(Contents[].Size)]"])
            .args(["--output", "text"])
            .envs(aws_env(s3, logs)),
    )?;
    let numbers: Vec<u64> = listing
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("unexpected listing of {bucket}: {listing:?}"))?;
    match numbers[..] {
        [objects, bytes] => Ok((objects, bytes)),
        _ => bail!("unexpected listing of {bucket}: {listing:?}"),
    }
}

/// User plus system CPU seconds `pid` has used so far (all its threads).
fn process_cpu_secs(pid: u32) -> Result<f64> {
    let stat = fs_err::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces; utime and stime are fields 14
    // and 15, the 12th and 13th after the closing parenthesis.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> Result<f64> {
        fields
            .get(index)
            .and_then(|field| field.parse::<u64>().ok())
            .map(|ticks| ticks as f64 / TICKS_PER_SEC)
            .with_context(|| format!("no CPU times in /proc/{pid}/stat"))
    };
    Ok(ticks(11)? + ticks(12)?)
}

/// Waits (at most [`SETTLE_LIMIT`]) until the server used under 5% of a core over half a second, so that
/// one tool's uploads are not still being flushed while the next is measured.
fn wait_until_idle(pid: u32) {
    let deadline = Instant::now() + SETTLE_LIMIT;
    let interval = Duration::from_millis(500);
    while Instant::now() < deadline {
        let Ok(before) = process_cpu_secs(pid) else {
            return;
        };
        std::thread::sleep(interval);
        let Ok(after) = process_cpu_secs(pid) else {
            return;
        };
        if after - before < 0.05 * interval.as_secs_f64() {
            return;
        }
    }
}
