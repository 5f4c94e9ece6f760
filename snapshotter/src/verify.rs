//! `verify [--snapshot-name N] [--deep]`: check a backup's objects from this machine with node-push's
//! verify library. Shallow: every object exists with the size and ETag its manifest entry records. Deep:
//! also downloaded (ranged GETs, bounded memory, nothing written) and checked against the lzop block
//! checksums, the recorded size and the digest. A backup the old tool wrote has no recorded sizes or
//! hashes: its objects are found by listing and, deep, checked by their lzop checksums.
//!
//! Host by host: one host's records ([`engine::records::host_entries`]) are in memory at a time. Every
//! record is checked where its key points, also under another backup's prefix (a differential snapshot's
//! referenced objects). A host whose records cannot be read is reported bad and the others still checked.
//!
//! Per-host report; exit code 1 when any object is bad, naming each.

use crate::cli::{GlobalArgs, VerifyArgs};
use crate::output::table::{Column, Table};
use crate::output::Output;
use crate::settings::CommonSettings;
use crate::store;
use anyhow::{bail, Context, Result};
use contract::exit::ExitStatus;
use contract::layout;
use contract::manifest::{Manifest, ObjectEntry};
use engine::records::host_entries;
use engine::restore::{backup_objects, find_backup, BackupSelector};
use engine::store::ObjectStore;
use engine::verify::{verify_objects, VerifyConfig, VerifyDepth};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One host's line.
#[derive(Debug, Clone, Serialize)]
struct HostLine {
    host: String,
    objects: usize,
    /// Objects stored under another backup's prefix (referenced by a differential snapshot).
    referenced: usize,
    ok: usize,
    bad: usize,
}

/// One bad object.
#[derive(Debug, Clone, Serialize)]
struct BadObject {
    host: String,
    key: String,
    problem: String,
}

/// Bad objects listed in the outcome; the rest are counted (each was logged as it was found), so that a
/// backup whose objects are all gone does not make verify hold every key.
const LISTED_BAD: usize = 100;

#[derive(Debug, Clone, Serialize)]
struct VerifyOutcome {
    backup: String,
    deep: bool,
    /// Written by the old tool: no recorded sizes or hashes.
    legacy: bool,
    ok: bool,
    hosts: Vec<HostLine>,
    /// The first [`LISTED_BAD`] bad objects.
    bad: Vec<BadObject>,
    /// Every bad object (and unreadable records document), listed or not.
    bad_total: usize,
}

impl VerifyOutcome {
    fn add_bad(&mut self, bad: BadObject) {
        self.bad_total += 1;
        if self.bad.len() < LISTED_BAD {
            self.bad.push(bad);
        }
    }
}

impl VerifyOutcome {
    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "verify ({}) of backup {}{}: {}",
            if self.deep { "deep" } else { "shallow" },
            self.backup,
            if self.legacy {
                " (old tool's: no recorded hashes)"
            } else {
                ""
            },
            if self.ok { "ok" } else { "FAILED" }
        );
        let mut table = Table::new(vec![
            Column::left("HOST"),
            Column::right("OBJECTS").min_width(8),
            Column::right("REFERENCED").min_width(8),
            Column::right("OK").min_width(8),
            Column::right("BAD").min_width(8),
        ]);
        for h in &self.hosts {
            table.row([
                h.host.clone(),
                h.objects.to_string(),
                h.referenced.to_string(),
                h.ok.to_string(),
                h.bad.to_string(),
            ]);
        }
        out.push_str(&table.render());
        for bad in &self.bad {
            let _ = writeln!(out, "{}: {}: {}", bad.host, bad.key, bad.problem);
        }
        if self.bad_total > self.bad.len() {
            let _ = writeln!(
                out,
                "... and {} more bad object(s), each logged above",
                self.bad_total - self.bad.len()
            );
        }
        out
    }
}

pub async fn run(global: &GlobalArgs, args: &VerifyArgs) -> Result<ExitCode> {
    let common = CommonSettings::resolve(global, args.quiet)?;
    let output = Arc::new(Output::new(common.output, common.verbosity));
    let selector: BackupSelector = args
        .snapshot_name
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid --snapshot-name: {e} (or LATEST)"))?;
    if args.concurrency == Some(0) {
        bail!("--concurrency must be at least 1");
    }
    let store = store::connect(&common.s3).await?;
    let base = &common.s3.base_path;
    let manifest = find_backup(store.as_ref(), base, &selector, None)
        .await
        .with_context(|| format!("--snapshot-name {selector} in {}", store.describe()))?;
    let depth = if args.deep {
        VerifyDepth::Deep
    } else {
        VerifyDepth::Shallow
    };
    let mut config = VerifyConfig::new(depth);
    if let Some(n) = args.concurrency {
        config.concurrency = n;
    }
    let outcome = verify_backup(store, base, &manifest, &config, &output).await?;
    output.result(&outcome.table(), &serde_json::to_value(&outcome)?);
    if outcome.ok {
        return Ok(ExitStatus::Success.into());
    }
    output.failure(
        &format!(
            "verify of backup {} failed: {} bad object(s)",
            outcome.backup, outcome.bad_total
        ),
        &[],
    );
    Ok(ExitStatus::Failed.into())
}

/// Checks every object of `manifest`, one host at a time.
async fn verify_backup(
    store: Arc<dyn ObjectStore>,
    base: &str,
    manifest: &Manifest,
    config: &VerifyConfig,
    output: &Arc<Output>,
) -> Result<VerifyOutcome> {
    let mut legacy = match manifest.is_legacy() {
        true => Some(by_host(
            backup_objects(store.as_ref(), base, manifest, None)
                .await
                .with_context(|| format!("backup {} in {}", manifest.name, store.describe()))?,
        )),
        false => None,
    };
    let (hosts, total) = match &legacy {
        Some(found) => (
            found.keys().cloned().collect(),
            found.values().map(Vec::len).sum::<usize>() as u64,
        ),
        None => (manifest.record_hosts(), manifest.totals().objects),
    };
    let deep = config.depth == VerifyDepth::Deep;
    output.info(format!(
        "verifying {total} objects of backup {} host by host ({})",
        manifest.name,
        if deep {
            "download and decode each"
        } else {
            "HEAD each"
        }
    ));
    let mut outcome = VerifyOutcome {
        backup: manifest.name.clone(),
        deep,
        legacy: manifest.is_legacy(),
        ok: true,
        hosts: Vec::new(),
        bad: Vec::new(),
        bad_total: 0,
    };
    let checked = Arc::new(AtomicU64::new(0));
    let own = layout::backup_prefix(base, &manifest.name);
    for host in hosts {
        let objects = match legacy.as_mut() {
            Some(found) => found.remove(&host).unwrap_or_default(),
            None => match host_entries(store.as_ref(), manifest, &host, None).await {
                Ok(objects) => objects,
                Err(error) => {
                    output.error(format!("{host}: {error}"));
                    outcome.add_bad(BadObject {
                        host: host.clone(),
                        key: String::new(),
                        problem: format!("records cannot be read: {error}"),
                    });
                    outcome.ok = false;
                    continue;
                }
            },
        };
        let referenced = objects.iter().filter(|o| !o.key.starts_with(&own)).count();
        let report = verify_objects(
            store.clone(),
            objects,
            config,
            progress(output.clone(), checked.clone(), total),
        )
        .await;
        outcome.ok &= report.is_ok();
        let (ok, bad) = report
            .per_host()
            .into_iter()
            .fold((0, 0), |(ok, bad), (_, o, b)| (ok + o, bad + b));
        outcome.hosts.push(HostLine {
            host,
            objects: ok + bad,
            referenced,
            ok,
            bad,
        });
        for r in report.failures() {
            outcome.add_bad(BadObject {
                host: r.entry.host.clone(),
                key: r.entry.key.clone(),
                problem: r.status.to_string(),
            });
        }
    }
    Ok(outcome)
}

fn by_host(objects: Vec<ObjectEntry>) -> BTreeMap<String, Vec<ObjectEntry>> {
    let mut hosts: BTreeMap<String, Vec<ObjectEntry>> = BTreeMap::new();
    for object in objects {
        hosts.entry(object.host.clone()).or_default().push(object);
    }
    hosts
}

/// What each checked object prints: bad ones as errors, a count every 100.
fn progress(
    output: Arc<Output>,
    checked: Arc<AtomicU64>,
    total: u64,
) -> impl Fn(&engine::verify::ObjectReport) + Send + Sync + 'static {
    move |object| {
        let n = checked.fetch_add(1, Ordering::Relaxed) + 1;
        if !object.status.is_ok() {
            output.error(format!("{}: {}", object.entry.host, object));
        } else {
            output.verbose(format!("ok {}", object.entry.key));
        }
        if n.is_multiple_of(100) && n < total {
            output.info(format!("{n}/{total} objects checked"));
        }
    }
}

#[cfg(test)]
mod tests;
