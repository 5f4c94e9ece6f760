//! The local part: node-push to a `file://` store against `lzop -1` on all cores over the same files, and
//! one big file through node-push to see that its memory does not grow with file size.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::tools::{PushSummary, Tools};
use super::tree::{bytes_under, files_under, warm_page_cache, write_big_file, SourceTree};
use crate::bench::measure::{stdout_path, TimedRun};
use crate::bench::report::{Row, Sample};

/// Each `lzop -1` job compresses one file to `$BENCH_OUT/<relative path>.lzo`; `xargs -P` runs one job
/// per core, as a parallel shell loop over a snapshot would.
const LZOP_JOBS_SCRIPT: &str = r#"find . -type f -print0 |
  xargs -0 -P "$BENCH_JOBS" -n 1 sh -c 'lzop -1 -c -- "$1" > "$BENCH_OUT/$1.lzo"' lzop-job"#;

/// The local rows in table order; `lzop` is the reference.
#[derive(Debug)]
pub struct LocalRuns {
    pub node_push_all_cores: Row,
    pub node_push: Row,
    pub lzop: Row,
}

impl LocalRuns {
    pub fn rows(&self) -> Vec<Row> {
        [&self.node_push_all_cores, &self.node_push, &self.lzop]
            .into_iter()
            .cloned()
            .collect()
    }
}

/// node-push's run over one big file.
#[derive(Debug)]
pub struct BigFileRun {
    pub row: Row,
    pub source_bytes: u64,
    pub description: String,
}

/// The local tools, in the order each round runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compressor {
    NodePushAllCores,
    NodePush,
    Lzop,
}

const COMPRESSORS: [Compressor; 3] = [
    Compressor::NodePushAllCores,
    Compressor::NodePush,
    Compressor::Lzop,
];

impl Compressor {
    fn label(self) -> String {
        let cores = super::cores();
        match self {
            Compressor::NodePushAllCores => format!("node-push --threads {cores} (local)"),
            Compressor::NodePush => "node-push (local)".into(),
            Compressor::Lzop => format!("lzop -1, {cores} parallel jobs"),
        }
    }
}

pub fn measure(
    tools: &Tools,
    tree: &SourceTree,
    out: &Path,
    logs: &Path,
    runs: usize,
    timeout: Duration,
) -> Result<LocalRuns> {
    let cores = super::cores();
    let samples = super::in_rounds(runs, &COMPRESSORS, |compressor, round| {
        let label = format!("{} #{round}", compressor.label());
        let tree_push = |dir: &str, threads: Option<usize>| LocalPush {
            source: &tree.root,
            expected_files: tree.files.len(),
            out: out.join(dir),
            label: label.clone(),
            threads,
        };
        match compressor {
            Compressor::NodePushAllCores => push_to_local(
                tools,
                tree_push("node-push-all-cores", Some(cores)),
                logs,
                timeout,
            ),
            Compressor::NodePush => {
                push_to_local(tools, tree_push("node-push", None), logs, timeout)
            }
            Compressor::Lzop => {
                lzop_all_cores(tools, tree, &out.join("lzop"), logs, &label, cores, timeout)
            }
        }
    })?;
    let row = |compressor: Compressor| {
        let index = COMPRESSORS
            .iter()
            .position(|c| *c == compressor)
            .unwrap_or(0);
        Row::from_samples(compressor.label(), &samples[index])
    };
    Ok(LocalRuns {
        node_push_all_cores: row(Compressor::NodePushAllCores),
        node_push: row(Compressor::NodePush),
        lzop: row(Compressor::Lzop),
    })
}

/// Writes a `gib` GiB sparse file and pushes it alone to the local store with node-push's defaults,
/// `runs` times.
pub fn measure_big_file(
    tools: &Tools,
    work: &Path,
    logs: &Path,
    gib: u64,
    runs: usize,
    timeout: Duration,
) -> Result<BigFileRun> {
    let source_dir = work.join("big-source");
    let (path, description) = write_big_file(&source_dir, gib)?;
    let source_bytes = fs_err::metadata(&path)?.len();
    // The first read of a hole allocates page-cache pages: kernel time that is not node-push's.
    warm_page_cache(&path)?;
    let tool = format!("node-push, one {gib} GiB file (local)");
    let samples = super::in_rounds(runs, &[()], |(), round| {
        let push = LocalPush {
            source: &source_dir,
            expected_files: 1,
            out: work.join("big-out"),
            label: format!("{tool} #{round}"),
            threads: None,
        };
        push_to_local(tools, push, logs, timeout)
    })?;
    fs_err::remove_dir_all(&source_dir)?;
    Ok(BigFileRun {
        row: Row::from_samples(tool, &samples[0]),
        source_bytes,
        description,
    })
}

/// One node-push run to the local store.
struct LocalPush<'a> {
    source: &'a Path,
    expected_files: usize,
    /// The store's root; removed after the run.
    out: PathBuf,
    label: String,
    /// `--threads`; node-push's default when `None`.
    threads: Option<usize>,
}

/// `node-push upload --dir SOURCE --dest file://OUT`, checked complete.
fn push_to_local(
    tools: &Tools,
    push: LocalPush<'_>,
    logs: &Path,
    timeout: Duration,
) -> Result<Sample> {
    let LocalPush {
        source,
        expected_files,
        out,
        label,
        threads,
    } = push;
    fresh_dir(&out)?;
    let mut run = TimedRun::new(&label, &tools.node_push, timeout)
        .args(["upload", "--dir"])
        .arg(source)
        .arg("--dest")
        .arg(format!("file://{}", out.display()));
    if let Some(threads) = threads {
        run = run.args(["--threads", &threads.to_string()]);
    }
    let measured = run.run(logs)?;
    PushSummary::read(&stdout_path(logs, &label))?
        .check_complete(expected_files)
        .with_context(|| label.clone())?;
    let stored_bytes = bytes_under(&out)?;
    fs_err::remove_dir_all(&out)?;
    Ok(Sample {
        measured,
        stored_bytes,
        server_cpu_secs: None,
    })
}

/// `lzop -1` over every file of the tree, `jobs` at a time, into a mirror of the tree under `out`.
fn lzop_all_cores(
    tools: &Tools,
    tree: &SourceTree,
    out: &Path,
    logs: &Path,
    label: &str,
    jobs: usize,
    timeout: Duration,
) -> Result<Sample> {
    fresh_dir(out)?;
    // The directories exist before the clock starts: only compression and writing are timed.
    for file in &tree.files {
        let relative = file.strip_prefix(&tree.root)?;
        if let Some(parent) = relative.parent() {
            fs_err::create_dir_all(out.join(parent))?;
        }
    }
    let lzop_dir = tools.lzop.parent().context("lzop has no directory")?;
    let path = std::env::join_paths(std::iter::once(lzop_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))?;
    let measured = TimedRun::new(label, "sh", timeout)
        .arg("-c")
        .arg(LZOP_JOBS_SCRIPT)
        .current_dir(&tree.root)
        .env("BENCH_JOBS", jobs.to_string())
        .env("BENCH_OUT", out)
        .env("PATH", path)
        .run(logs)?;
    let written = files_under(out)?.len();
    if written != tree.files.len() {
        bail!(
            "lzop wrote {written} files for {} sources",
            tree.files.len()
        );
    }
    let stored_bytes = bytes_under(out)?;
    fs_err::remove_dir_all(out)?;
    Ok(Sample {
        measured,
        stored_bytes,
        server_cpu_secs: None,
    })
}

pub fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    fs_err::create_dir_all(dir)?;
    Ok(())
}
