//! The restore part: the tree backed up once by node-push and once uncompressed by rclone to one SeaweedFS,
//! then brought back round after round by `node-push restore` (download, lzop decode, digest and size
//! checks, fsync, rename) into a fresh staging directory and by `rclone copy` into a fresh directory
//! (the reference), and once more by `rclone copy` followed by an fsync of each file it wrote.
//!
//! node-push restores from a plan (`--plan FILE`, a restore request as the coordinator sends it) made from
//! the entries its own upload printed, each file to `<staging>/<keyspace>/<table dir>/<file>`, where
//! `restore --staging-dir` puts them; so no manifest is needed and only the restore itself is measured.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use testkit::seaweed::SeaweedFs;

use super::local::fresh_dir;
use super::s3::{
    node_push_run, node_push_upload, rclone_run, run_beside_server, with_rclone_env, RCLONE_REMOTE,
};
use super::tools::{json_string, PushSummary, RestoreSummary, Tools};
use super::tree::{bytes_under, files_under, SourceTree};
use crate::bench::measure::{stdout_path, TimedRun};
use crate::bench::report::{Row, Sample};
use crate::cmd;

const BUCKET: &str = "bench-restore";
/// Where in [`BUCKET`] node-push's backup and rclone's uncompressed copy are.
const NODE_PUSH_PREFIX: &str = "node-push";
const RCLONE_PREFIX: &str = "rclone";

/// The restore rows; `rclone` is the reference.
#[derive(Debug)]
pub struct RestoreRuns {
    pub node_push: Row,
    pub rclone: Row,
    pub rclone_then_fsync: Row,
}

impl RestoreRuns {
    pub fn rows(&self) -> Vec<Row> {
        vec![
            self.node_push.clone(),
            self.rclone.clone(),
            self.rclone_then_fsync.clone(),
        ]
    }
}

/// rclone's copy, then an fsync of every file it wrote (coreutils `sync FILE...`), inside the timed run:
/// the page writeback an fsync makes the caller do is then counted as node-push's own fsyncs are.
const RCLONE_THEN_FSYNC_SCRIPT: &str =
    r#""$1" copy --transfers 4 "$2" "$3" && find "$3" -type f -exec sync -- {} +"#;

/// The restorers, in the order each round runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restorer {
    /// The reference.
    Rclone,
    /// For comparison only: what rclone costs when its files are made as durable as node-push's.
    RcloneThenFsync,
    NodePush,
}

const RESTORERS: [Restorer; 3] = [
    Restorer::Rclone,
    Restorer::RcloneThenFsync,
    Restorer::NodePush,
];

impl Restorer {
    fn label(self) -> &'static str {
        match self {
            Restorer::Rclone => "rclone copy --transfers 4 (restore)",
            Restorer::RcloneThenFsync => "rclone copy --transfers 4, then fsync of each file",
            Restorer::NodePush => "node-push restore",
        }
    }
}

pub fn measure(
    tools: &Tools,
    tree: &SourceTree,
    work: &Path,
    logs: &Path,
    runs: usize,
    timeout: Duration,
) -> Result<RestoreRuns> {
    let s3 = SeaweedFs::start().context("starting SeaweedFS")?;
    println!("bench: SeaweedFS S3 at {} (restore)", s3.endpoint);
    s3.create_bucket(BUCKET)?;
    let staging = work.join("staging");
    let plan_file = work.join("restore-plan.json");
    back_up(&s3, tools, tree, logs, &staging, &plan_file, timeout)?;
    let samples = super::in_rounds(runs, &RESTORERS, |restorer, round| {
        let label = format!("{} #{round}", restorer.label());
        fresh_dir(&staging)?;
        // The last run's written-back pages and deleted files are on disk before the clock starts.
        cmd::read(&mut Command::new("sync"))?;
        let rclone_source = format!("{RCLONE_REMOTE}:{BUCKET}/{RCLONE_PREFIX}");
        let run = match restorer {
            Restorer::Rclone => rclone_run(tools, &s3, logs, &label, timeout)?
                .args(["copy", "--transfers", "4"])
                .arg(rclone_source)
                .arg(&staging),
            Restorer::RcloneThenFsync => {
                let script = TimedRun::new(&label, "sh", timeout)
                    .args(["-c", RCLONE_THEN_FSYNC_SCRIPT, "rclone-then-fsync"])
                    .arg(&tools.rclone)
                    .arg(rclone_source)
                    .arg(&staging);
                with_rclone_env(script, &s3, logs)?
            }
            Restorer::NodePush => node_push_run(tools, &s3, &label, timeout)
                .args(["restore", "--from", &format!("s3://{BUCKET}")])
                .arg("--plan")
                .arg(&plan_file)
                .args(super::s3::store_flags(&s3)),
        };
        let (measured, server_cpu_secs) = run_beside_server(&s3, &run, logs)?;
        let written = files_under(&staging)?;
        let written_bytes = bytes_under(&staging)?;
        if written.len() != tree.files.len() || written_bytes != tree.bytes {
            bail!(
                "{label} wrote {} files, {written_bytes} bytes; the tree has {} files, {} bytes",
                written.len(),
                tree.files.len(),
                tree.bytes
            );
        }
        let downloaded = match restorer {
            Restorer::Rclone | Restorer::RcloneThenFsync => written_bytes,
            Restorer::NodePush => {
                let summary = RestoreSummary::read(&stdout_path(logs, &label))?;
                summary
                    .check_complete(tree.files.len(), tree.bytes)
                    .with_context(|| label.clone())?;
                summary.bytes_downloaded
            }
        };
        fs_err::remove_dir_all(&staging)?;
        Ok(Sample {
            measured,
            stored_bytes: downloaded,
            server_cpu_secs: Some(server_cpu_secs),
        })
    })?;
    let row = |restorer: Restorer| {
        let index = RESTORERS.iter().position(|r| *r == restorer).unwrap_or(0);
        Row::from_samples(restorer.label(), &samples[index])
    };
    Ok(RestoreRuns {
        node_push: row(Restorer::NodePush),
        rclone: row(Restorer::Rclone),
        rclone_then_fsync: row(Restorer::RcloneThenFsync),
    })
}

/// Uploads the tree with node-push (to [`NODE_PUSH_PREFIX`]) and with rclone, uncompressed (to
/// [`RCLONE_PREFIX`]), and writes the plan that restores node-push's backup into `staging`.
fn back_up(
    s3: &SeaweedFs,
    tools: &Tools,
    tree: &SourceTree,
    logs: &Path,
    staging: &Path,
    plan_file: &Path,
    timeout: Duration,
) -> Result<()> {
    let label = "restore setup: node-push upload";
    node_push_upload(
        tools,
        s3,
        tree,
        &format!("{BUCKET}/{NODE_PUSH_PREFIX}"),
        label,
        timeout,
    )
    .run(logs)?;
    let upload_stdout = stdout_path(logs, label);
    PushSummary::read(&upload_stdout)?
        .check_complete(tree.files.len())
        .context(label)?;
    let plan = restore_plan(
        &fs_err::read_to_string(&upload_stdout)?,
        &tree.root,
        staging,
    )?;
    fs_err::write(plan_file, plan)?;
    let label = "restore setup: rclone copy";
    rclone_run(tools, s3, logs, label, timeout)?
        .args(["copy", "--transfers", "4"])
        .arg(&tree.root)
        .arg(format!("{RCLONE_REMOTE}:{BUCKET}/{RCLONE_PREFIX}"))
        .run(logs)?;
    Ok(())
}

/// A restore request (`{"files":[{"entry":…,"target":…},…]}`) with every entry node-push's upload printed
/// on `upload_stdout`, each to its staged path under `staging`. The entries are copied as printed, so the
/// plan holds exactly what the upload recorded, whatever fields the entry has.
fn restore_plan(upload_stdout: &str, tree_root: &Path, staging: &Path) -> Result<String> {
    const PREFIX: &str = r#"{"type":"file_done","entry":"#;
    let mut files = Vec::new();
    for line in upload_stdout.lines() {
        let Some(entry) = line.strip_prefix(PREFIX).and_then(|e| e.strip_suffix('}')) else {
            continue;
        };
        if !(entry.starts_with('{') && entry.ends_with('}')) {
            bail!("unexpected file_done line from node-push: {line}");
        }
        let source = PathBuf::from(string_field(entry, "source_path")?);
        let relative = source
            .strip_prefix(tree_root)
            .with_context(|| format!("{} is not in the tree", source.display()))?;
        let target = staging.join(staged_path(relative)?);
        let target = target.to_str().context("a non-UTF-8 staging path")?;
        files.push(format!(
            r#"{{"entry":{entry},"target":{}}}"#,
            json_string(target)
        ));
    }
    if files.is_empty() {
        bail!("node-push's upload printed no file_done line");
    }
    Ok(format!("{{\"files\":[{}]}}\n", files.join(",")))
}

/// `<ks>/<table dir>/snapshots/<tag>/<rest>` as staged: `<ks>/<table dir>/<rest>`.
fn staged_path(relative: &Path) -> Result<PathBuf> {
    let parts: Vec<_> = relative.components().collect();
    match parts
        .iter()
        .position(|part| part.as_os_str() == "snapshots")
    {
        Some(2) if parts.len() > 4 => Ok(parts[..2].iter().chain(&parts[4..]).collect()),
        _ => bail!("{} is not in a snapshot directory", relative.display()),
    }
}

/// The value of the string `"field":"…"` in a flat JSON object, for values without escapes.
fn string_field(object: &str, field: &str) -> Result<String> {
    let key = format!(r#""{field}":""#);
    let start = object
        .find(&key)
        .with_context(|| format!("no {field} in {object}"))?
        + key.len();
    let value = object[start..]
        .split('"')
        .next()
        .with_context(|| format!("unterminated {field} in {object}"))?;
    if value.contains('\\') {
        bail!("{field} with an escape in {object}: the benchmark tree has no such paths");
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_restores_every_uploaded_entry_to_its_staged_path() {
        let stdout = "{\"type\":\"hello\",\"protocol\":1}\n\
            {\"type\":\"file_done\",\"entry\":{\"key\":\"k/a.lzo\",\"source_path\":\"/t/ks/users-1/snapshots/bench/nb-1-big-Data.db\",\"size\":3,\"x\":{}}}\n\
            {\"type\":\"file_done\",\"entry\":{\"key\":\"k/b.lzo\",\"source_path\":\"/t/ks/users-1/snapshots/bench/.idx/nb-1-big-Index.db\",\"size\":4}}\n\
            {\"type\":\"summary\",\"files_done\":2}\n";
        let plan = restore_plan(stdout, Path::new("/t"), Path::new("/s")).unwrap();
        assert_eq!(
            plan,
            "{\"files\":[\
             {\"entry\":{\"key\":\"k/a.lzo\",\"source_path\":\"/t/ks/users-1/snapshots/bench/nb-1-big-Data.db\",\"size\":3,\"x\":{}},\
             \"target\":\"/s/ks/users-1/nb-1-big-Data.db\"},\
             {\"entry\":{\"key\":\"k/b.lzo\",\"source_path\":\"/t/ks/users-1/snapshots/bench/.idx/nb-1-big-Index.db\",\"size\":4},\
             \"target\":\"/s/ks/users-1/.idx/nb-1-big-Index.db\"}]}\n"
        );
        assert!(
            restore_plan("{\"type\":\"summary\"}\n", Path::new("/t"), Path::new("/s")).is_err()
        );
        assert!(staged_path(Path::new("ks/t/backups/f")).is_err());
        assert!(string_field(r#"{"source_path":"a\"b"}"#, "source_path").is_err());
    }
}
