//! `restore`: bring a backup back, byte for byte, where Cassandra can use it.
//!
//! 1. [`source`]: the backup (`--snapshot-name` or the newest complete one), its objects up to `--until`
//!    (old-tool backups: every data object listed under it), planned with node-push's `plan_restore`.
//! 2. The node modes (`stage`, `refresh`, `in-place`, see [`node`]) run node-push on every target host
//!    (the source hosts through `--host-map`), at most `--connection-pool-size` at once; the local modes
//!    (`local`, `sstableloader`, see [`local`]) download here with the same library.
//! 3. One report per target and table; exit code 1 when any table failed, 130 when interrupted (Ctrl-C
//!    or SIGTERM closes node-push's stdin, which removes its unfinished `.part` files).

mod agent;
mod load;
mod local;
mod node;
mod placement;
mod report;
mod ring;
mod schema;
mod scripts;
mod settings;
mod source;
mod tables;

use crate::cli::{GlobalArgs, ModeArg, RestoreArgs};
use crate::output::Output;
use crate::signals;
use crate::ssh::{SshConnector, SshContext};
use crate::stages::bounded;
use crate::stages::install::NodePushBinary;
use crate::store;
use anyhow::Result;
use contract::exit::ExitStatus;
use contract::layout;
use engine::restore::PlannedFile;
use engine::store::ObjectStore;
use report::{RestoreReport, TargetReport};
use settings::RestoreSettings;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

/// Run `restore`.
pub async fn run(global: &GlobalArgs, args: &RestoreArgs) -> Result<ExitCode> {
    let settings = Arc::new(RestoreSettings::resolve(global, args)?);
    let output = Arc::new(Output::new(
        settings.common.output,
        settings.common.verbosity,
    ));
    let store = store::connect(&settings.common.s3).await?;
    let selected = source::select(store.as_ref(), &settings, &output).await?;
    let name = selected.manifest.name.clone();
    if args.schema {
        // `--schema`: the backup's schema first, where it is missing (see restore/schema.rs).
        schema::apply(
            &settings,
            store.as_ref(),
            &name,
            &selected.manifest.hosts,
            &output,
        )
        .await?;
    }
    let planned = if settings.on_nodes() {
        source::plan_for_nodes(&selected, &settings)?
    } else if settings.mode == ModeArg::Sstableloader {
        source::plan_loader(&selected, &settings)?
    } else {
        source::plan_local(&selected, &settings)?
    };
    if let Some(note) = planned.note() {
        output.info(format!("backup {name}: {note}"));
    }
    let files = planned.files;
    let (targets, interrupted) = if settings.on_nodes() {
        on_nodes(&settings, store.as_ref(), &name, files, &output).await?
    } else {
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let run = local::run(&settings, store.clone(), files, output.clone(), cancel_rx);
        tokio::pin!(run);
        let mut interrupted = false;
        let report = loop {
            tokio::select! {
                report = &mut run => break report?,
                () = signals::interrupted(), if !interrupted => {
                    output.error("interrupted: stopping the downloads");
                    interrupted = true;
                    let _ = cancel_tx.send(true);
                }
            }
        };
        (vec![report], interrupted)
    };
    let report = RestoreReport {
        backup: name,
        mode: settings.mode,
        until: settings.until,
        keyspace: settings.keyspace.clone(),
        targets,
        interrupted,
    };
    output.result(&report.table(), &serde_json::to_value(&report)?);
    if interrupted {
        return Ok(ExitStatus::Interrupted.into());
    }
    if report.failed() {
        output.failure(
            &format!("restore of backup {} failed:", report.backup),
            &report.failure_lines(),
        );
        return Ok(ExitStatus::Failed.into());
    }
    Ok(ExitStatus::Success.into())
}

/// The node modes: every target host at once (bounded), until done or Ctrl-C.
async fn on_nodes(
    settings: &Arc<RestoreSettings>,
    store: &dyn ObjectStore,
    name: &str,
    files: Vec<PlannedFile>,
    output: &Arc<Output>,
) -> Result<(Vec<TargetReport>, bool)> {
    let binary = NodePushBinary::load(&settings.nodes.node_push_binary)?;
    let ring = if settings.mode == ModeArg::InPlace {
        let key = layout::ring_key(&settings.common.s3.base_path, name);
        match store::get(store, &key).await {
            Ok(Some(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Ok(None) => None,
            Err(error) => {
                output.warn(format!("{error:#}: tokens unknown"));
                None
            }
        }
    } else {
        None
    };
    let mut by_target: BTreeMap<String, Vec<PlannedFile>> = BTreeMap::new();
    for file in files {
        by_target
            .entry(file.target_host.clone())
            .or_default()
            .push(file);
    }
    let targets: Vec<(String, Vec<PlannedFile>)> = by_target.into_iter().collect();
    output.info(format!(
        "== restore ({}) onto {}",
        settings::mode_name(settings.mode),
        targets
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let context = SshContext::new(settings.nodes.ssh.clone())?;
    let connector = Arc::new(SshConnector::new(context));
    let job = node::NodeRestore {
        settings: settings.clone(),
        output: output.clone(),
        binary,
        connector: connector.clone(),
        backup_name: name.to_string(),
        ring,
    };
    let work = bounded(&targets, settings.nodes.pool_size, |(target, files)| {
        job.run(target, files)
    });
    let result = tokio::select! {
        reports = work => Some(reports),
        () = signals::interrupted() => None,
    };
    if result.is_none() {
        output.error(
            "interrupted: node-push stopped on every host (it removes its unfinished files)",
        );
    }
    use crate::remote::Connector as _;
    connector.close_all().await;
    Ok(match result {
        Some(reports) => (reports, false),
        None => (Vec::new(), true),
    })
}

#[cfg(test)]
mod tests;
