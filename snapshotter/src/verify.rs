//! `verify [--snapshot-name N] [--deep]`: check a backup's objects from this machine with node-push's
//! verify library. Shallow: every object exists with the size and ETag its manifest entry records. Deep:
//! also downloaded (ranged GETs, bounded memory, nothing written) and checked against the lzop block
//! checksums, the recorded size and the SHA-256. A backup the old tool wrote has no recorded sizes or
//! hashes: its objects are found by listing and, deep, checked by their lzop checksums.
//!
//! Per-host report; exit code 1 when any object is bad, naming each.

use crate::cli::{GlobalArgs, VerifyArgs};
use crate::output::table::{Column, Table};
use crate::output::Output;
use crate::settings::CommonSettings;
use crate::store;
use anyhow::{bail, Context, Result};
use contract::exit::ExitStatus;
use engine::restore::{backup_objects, find_backup, BackupSelector};
use engine::verify::{verify_objects, VerifyConfig, VerifyDepth};
use serde::Serialize;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One host's line.
#[derive(Debug, Clone, Serialize)]
struct HostLine {
    host: String,
    objects: usize,
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

#[derive(Debug, Clone, Serialize)]
struct VerifyOutcome {
    backup: String,
    deep: bool,
    /// Written by the old tool: no recorded sizes or hashes.
    legacy: bool,
    ok: bool,
    hosts: Vec<HostLine>,
    bad: Vec<BadObject>,
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
            Column::right("OK").min_width(8),
            Column::right("BAD").min_width(8),
        ]);
        for h in &self.hosts {
            table.row([
                h.host.clone(),
                h.objects.to_string(),
                h.ok.to_string(),
                h.bad.to_string(),
            ]);
        }
        out.push_str(&table.render());
        for bad in &self.bad {
            let _ = writeln!(out, "{}: {}: {}", bad.host, bad.key, bad.problem);
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
    let objects = backup_objects(store.as_ref(), base, &manifest, None)
        .await
        .with_context(|| format!("backup {} in {}", manifest.name, store.describe()))?;
    let depth = if args.deep {
        VerifyDepth::Deep
    } else {
        VerifyDepth::Shallow
    };
    let mut config = VerifyConfig::new(depth);
    if let Some(n) = args.concurrency {
        config.concurrency = n;
    }
    output.info(format!(
        "verifying {} objects of backup {} ({})",
        objects.len(),
        manifest.name,
        if args.deep {
            "download and decode each"
        } else {
            "HEAD each"
        }
    ));
    let checked = Arc::new(AtomicU64::new(0));
    let total = objects.len() as u64;
    let report = {
        let output = output.clone();
        let checked = checked.clone();
        verify_objects(store, objects, &config, move |object| {
            let n = checked.fetch_add(1, Ordering::Relaxed) + 1;
            if !object.status.is_ok() {
                output.error(format!("{}: {}", object.entry.host, object));
            } else {
                output.verbose(format!("ok {}", object.entry.key));
            }
            if n.is_multiple_of(100) && n < total {
                output.info(format!("{n}/{total} objects checked"));
            }
        })
        .await
    };
    let outcome = VerifyOutcome {
        backup: manifest.name.clone(),
        deep: args.deep,
        legacy: manifest.is_legacy(),
        ok: report.is_ok(),
        hosts: report
            .per_host()
            .into_iter()
            .map(|(host, ok, bad)| HostLine {
                host: host.to_string(),
                objects: ok + bad,
                ok,
                bad,
            })
            .collect(),
        bad: report
            .failures()
            .map(|r| BadObject {
                host: r.entry.host.clone(),
                key: r.entry.key.clone(),
                problem: r.status.to_string(),
            })
            .collect(),
    };
    output.result(&outcome.table(), &serde_json::to_value(&outcome)?);
    if outcome.ok {
        return Ok(ExitStatus::Success.into());
    }
    output.failure(
        &format!(
            "verify of backup {} failed: {} bad object(s)",
            outcome.backup,
            outcome.bad.len()
        ),
        &[],
    );
    Ok(ExitStatus::Failed.into())
}
