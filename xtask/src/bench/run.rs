//! The measuring half of `cargo xtask bench` (compiled with the `bench` feature, which brings testkit):
//! prepare the data, run every tool of the chosen parts `--runs` times, judge the targets, write
//! `target/bench/results.md` (or `results-PART.md`).

mod local;
mod restore;
mod s3;
mod tools;
mod tree;

use std::fmt::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use super::report::{self, Bound, Sample, Target};
use super::{Options, Part};
use crate::cmd;
use local::{BigFileRun, LocalRuns};
use restore::RestoreRuns;
use s3::UploadRuns;
use tools::{target_dir, Tools};
use tree::SourceTree;

/// The targets.
const WALL_VS_RCLONE: f64 = 0.8;
/// Issue 14: node-push compresses and must still cost well under half of what rclone does.
const CPU_VS_RCLONE: f64 = 0.4;
const PEAK_RSS_MIB: f64 = 64.0;
const THROUGHPUT_VS_LZOP: f64 = 0.8;
const CPU_VS_LZOP: f64 = 1.5;
/// Restore: against `rclone copy` of the uncompressed tree back from the same store.
const RESTORE_WALL_VS_RCLONE: f64 = 0.8;
const RESTORE_CPU_VS_RCLONE: f64 = 0.6;
/// A 1-minute load average above this means other work shares the cores: the ratios still compare tools
/// measured in the same run, but the absolute numbers are worse than on a quiet machine.
const QUIET_LOAD: f64 = 0.5;

pub fn run(options: &Options) -> Result<()> {
    if options.node_push.is_none() {
        cmd::run(cmd::cargo().args(["build", "--release", "--package", "node-push"]))?;
    }
    let tools = Tools::find(options.node_push.as_deref())?;
    let timeout = Duration::from_secs(options.tool_timeout_secs);
    let bench_dir = target_dir().join("bench");
    let logs = bench_dir.join("logs");
    if logs.exists() {
        fs_err::remove_dir_all(&logs)?;
    }
    fs_err::create_dir_all(&logs)?;
    let machine = Machine::now();
    if machine.load_1min > QUIET_LOAD {
        println!(
            "bench: warning: load average {:.2} at start: other work shares the cores",
            machine.load_1min
        );
    }
    let tree = tree::ensure_tree(&bench_dir.join("tree"), options.tree_mib)?;
    tree.warm_page_cache()?;
    println!("bench: source: {}", tree.describe());
    let runs = options.runs;
    let mut results = Results {
        node_push: tools.node_push.clone(),
        machine,
        runs,
        tree,
        uploads: None,
        local: None,
        big_file: None,
        restore: None,
    };
    let tree = &results.tree;
    for part in &options.parts {
        match part {
            Part::S3 => results.uploads = Some(s3::measure(&tools, tree, &logs, runs, timeout)?),
            Part::Local => {
                let out = bench_dir.join("out");
                results.local = Some(local::measure(&tools, tree, &out, &logs, runs, timeout)?);
            }
            Part::BigFile => {
                let gib = options.big_file_gib;
                let big = local::measure_big_file(&tools, &bench_dir, &logs, gib, runs, timeout)?;
                results.big_file = Some(big);
            }
            Part::Restore => {
                let work = bench_dir.join("restore");
                local::fresh_dir(&work)?;
                let restore = restore::measure(&tools, tree, &work, &logs, runs, timeout)?;
                fs_err::remove_dir_all(&work)?;
                results.restore = Some(restore);
            }
        }
    }
    let markdown = results.to_markdown();
    println!("\n{markdown}");
    let results_path = match &options.parts[..] {
        [part] => bench_dir.join(format!("results-{}.md", part.name())),
        _ => bench_dir.join("results.md"),
    };
    fs_err::write(&results_path, &markdown)?;
    println!(
        "bench: written to {} (tool logs in {})",
        results_path.display(),
        logs.display()
    );
    Ok(())
}

/// Measures every one of `tools` once per round, `runs` rounds, always in the same order, so that other
/// load that comes and goes hits every tool alike. Returns each tool's samples, in `tools`' order.
fn in_rounds<T: Copy>(
    runs: usize,
    tools: &[T],
    mut measure: impl FnMut(T, usize) -> Result<Sample>,
) -> Result<Vec<Vec<Sample>>> {
    let mut samples = vec![Vec::with_capacity(runs); tools.len()];
    for round in 1..=runs {
        for (tool, tool_samples) in tools.iter().zip(&mut samples) {
            tool_samples.push(measure(*tool, round)?);
        }
    }
    Ok(samples)
}

/// The number of cores: `lzop` and node-push's "all cores" runs use this many jobs or threads.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// What the numbers were measured on.
#[derive(Debug)]
struct Machine {
    when: String,
    cpu_model: String,
    cores: usize,
    load_1min: f64,
    load_text: String,
}

impl Machine {
    fn now() -> Machine {
        let when = cmd::read(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
            .map(|date| date.trim().to_string())
            .unwrap_or_default();
        let cpu_model = fs_err::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let load_text = fs_err::read_to_string("/proc/loadavg")
            .map(|load| {
                load.split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let load_1min = load_text
            .split_whitespace()
            .next()
            .and_then(|load| load.parse().ok())
            .unwrap_or(0.0);
        Machine {
            when,
            cpu_model,
            cores: cores(),
            load_1min,
            load_text,
        }
    }
}

/// Everything one run measured; a part that did not run is `None`.
#[derive(Debug)]
struct Results {
    node_push: PathBuf,
    machine: Machine,
    runs: usize,
    tree: SourceTree,
    uploads: Option<UploadRuns>,
    local: Option<LocalRuns>,
    big_file: Option<BigFileRun>,
    restore: Option<RestoreRuns>,
}

impl Results {
    fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        if let Some(UploadRuns {
            node_push, rclone, ..
        }) = &self.uploads
        {
            targets.extend([
                Target::new(
                    "node-push wall / rclone wall (S3)",
                    report::ratio(node_push.measured.wall_secs, rclone.measured.wall_secs),
                    Bound::AtMost(WALL_VS_RCLONE),
                ),
                Target::new(
                    "node-push client CPU / rclone client CPU (S3)",
                    report::ratio(node_push.measured.cpu_secs(), rclone.measured.cpu_secs()),
                    Bound::AtMost(CPU_VS_RCLONE),
                ),
                Target::new(
                    "node-push peak RSS MiB (S3, whole tree)",
                    node_push.measured.max_rss_mib(),
                    Bound::AtMost(PEAK_RSS_MIB),
                ),
            ]);
        }
        if let Some(local) = &self.local {
            for row in [&local.node_push, &local.node_push_all_cores] {
                targets.extend([
                    Target::new(
                        format!("{} throughput / lzop -1 throughput", row.tool),
                        report::throughput_ratio(row, &local.lzop),
                        Bound::AtLeast(THROUGHPUT_VS_LZOP),
                    ),
                    Target::new(
                        format!("{} CPU / lzop -1 CPU", row.tool),
                        report::ratio(row.measured.cpu_secs(), local.lzop.measured.cpu_secs()),
                        Bound::AtMost(CPU_VS_LZOP),
                    ),
                ]);
            }
        }
        if let Some(big) = &self.big_file {
            targets.push(Target::new(
                format!("node-push peak RSS MiB ({})", big.row.tool),
                big.row.measured.max_rss_mib(),
                Bound::AtMost(PEAK_RSS_MIB),
            ));
        }
        if let Some(RestoreRuns {
            node_push, rclone, ..
        }) = &self.restore
        {
            targets.extend([
                Target::new(
                    "node-push restore wall / rclone copy wall",
                    report::ratio(node_push.measured.wall_secs, rclone.measured.wall_secs),
                    Bound::AtMost(RESTORE_WALL_VS_RCLONE),
                ),
                Target::new(
                    "node-push restore client CPU / rclone copy client CPU",
                    report::ratio(node_push.measured.cpu_secs(), rclone.measured.cpu_secs()),
                    Bound::AtMost(RESTORE_CPU_VS_RCLONE),
                ),
                Target::new(
                    "node-push restore peak RSS MiB",
                    node_push.measured.max_rss_mib(),
                    Bound::AtMost(PEAK_RSS_MIB),
                ),
            ]);
        }
        targets
    }

    fn to_markdown(&self) -> String {
        let machine = &self.machine;
        let mut text = String::new();
        let _ = writeln!(text, "# node-push benchmark\n");
        let _ = writeln!(
            text,
            "Measured {} on {} ({} cores), load average at start {}; node-push is `{}`; SeaweedFS and \
             every tool on 127.0.0.1. {} Client CPU seconds (user + system) and peak RSS are the kernel's rusage of each tool \
             via GNU time; \"S3 server CPU s\" is what SeaweedFS spent meanwhile (it shares the cores).\n",
            machine.when,
            machine.cpu_model,
            machine.cores,
            machine.load_text,
            self.node_push.strip_prefix(cmd::project_root()).unwrap_or(&self.node_push).display(),
            match self.runs {
                1 => "Every tool ran once.".to_string(),
                runs => format!(
                    "Every tool ran {runs} times, round after round, each run into a fresh bucket or \
                     directory; each figure is the median of its runs (peak RSS also shows the highest \
                     run's)."
                ),
            },
        );
        if machine.load_1min > QUIET_LOAD {
            let _ = writeln!(
                text,
                "**Other work shared the cores during this run** (load average {:.1} at start): every tool \
                 ran slower than on a quiet machine; the ratios compare tools measured in the same rounds \
                 under that load.\n",
                machine.load_1min
            );
        }
        let _ = writeln!(text, "Source: {}.\n", self.tree.describe());
        if let Some(uploads) = &self.uploads {
            let _ = writeln!(text, "## Upload to S3 (SeaweedFS)\n");
            text.push_str(&report::s3_table(
                &uploads.rows(),
                &uploads.rclone,
                "stored MiB",
            ));
            let _ = writeln!(
                text,
                "\n`node-push` runs with its default compression threads (half the cores, leaving the rest \
                 to Cassandra); every tool moves 4 files at a time.\n"
            );
        }
        if let Some(local) = &self.local {
            let _ = writeln!(text, "## Compression to a local directory vs `lzop -1`\n");
            text.push_str(&report::local_table(
                &local.rows(),
                self.tree.bytes,
                Some(&local.lzop),
            ));
            text.push('\n');
        }
        if let Some(big) = &self.big_file {
            let _ = writeln!(text, "## One big file\n");
            let _ = writeln!(text, "Source: {}.\n", big.description);
            text.push_str(&report::local_table(
                std::slice::from_ref(&big.row),
                big.source_bytes,
                None,
            ));
            text.push('\n');
        }
        if let Some(restore) = &self.restore {
            let _ = writeln!(text, "## Restore from S3 (SeaweedFS)\n");
            text.push_str(&report::s3_table(
                &restore.rows(),
                &restore.rclone,
                "downloaded MiB",
            ));
            let _ = writeln!(
                text,
                "\n`node-push restore` brings node-push's backup of the tree back into a fresh staging \
                 directory (download, lzop decode, digest and size checks, fsync, rename; 4 files at a \
                 time); `rclone copy --transfers 4` copies the tree, uploaded uncompressed to the same \
                 store, back into a fresh directory, without fsync; the last row adds an fsync of each \
                 file rclone wrote (coreutils `sync FILE...`, in the same timed run), which makes the \
                 caller do the page writeback as node-push's fsyncs do. Ratios are to plain rclone.\n"
            );
        }
        let _ = writeln!(text, "## Targets\n");
        text.push_str(&report::target_list(&self.targets()));
        text
    }
}
