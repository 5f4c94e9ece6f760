//! `cassandra-snapshotter`: the coordinator binary. Parses the command line, runs one subcommand, and maps
//! the outcome to an exit code: 0 success, 1 failure (each named on stderr), 2 bad usage, 130 interrupted.
mod backup;
mod cli;
mod completions;
mod list;
#[cfg(test)]
mod memstore;
mod metrics;
mod nodetool;
mod output;
mod purge;
mod remote;
mod report;
mod restore;
mod schema;
mod settings;
mod shell;
mod signals;
mod ssh;
mod stages;
mod store;
mod verify;

use anyhow::Result;
use contract::exit::ExitStatus;
// The one `Secret` type of both binaries (node-push/contract), reachable as `crate::secret`.
use cli::{Cli, Command};
use contract::secret;
use output::Output;
use settings::{BackupSettings, CommonSettings};
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    if let Some(file) = std::env::var_os(ssh::ASKPASS_FILE_ENV) {
        // ssh runs us as its askpass helper: answer and leave.
        return ExitCode::from(ssh::askpass_main(std::path::Path::new(&file)) as u8);
    }
    let cli = settings::config::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            output::error_line(&format!("cannot start the async runtime: {error}"));
            return ExitStatus::Failed.into();
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            output::error_line(&format!("{error:#}"));
            ExitStatus::Failed.into()
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Backup(args) => {
            let metrics = metrics::BackupMetrics::of(
                args,
                cli.global
                    .store
                    .s3_bucket_name
                    .as_deref()
                    .unwrap_or_default(),
                cli.global.store.s3_base_path.as_deref().unwrap_or_default(),
            );
            let run = async {
                run_backup(
                    BackupSettings::resolve(&cli.global, args)?,
                    metrics.as_ref(),
                )
                .await
            };
            let outcome = run.await;
            if let (Some(metrics), Err(_)) = (&metrics, &outcome) {
                if let Err(error) = metrics.write_failure() {
                    output::error_line(&format!("{error:#}"));
                }
            }
            outcome
        }
        Command::List(args) => {
            let common = CommonSettings::resolve(&cli.global, false)?;
            let store = store::connect(&common.s3).await?;
            let entries =
                list::list(store.as_ref(), &common.s3.base_path, args.count_legacy).await?;
            let output = Output::new(common.output, common.verbosity);
            output.result(&list::table(&entries), &serde_json::to_value(&entries)?);
            // A manifest that is there but cannot be read is damage, not a backup still running: the
            // listing shows everything else, and the exit code says something is wrong.
            let damaged: Vec<String> = entries
                .iter()
                .filter_map(|e| Some(format!("backup {}: {}", e.name, e.problem.as_ref()?)))
                .filter(|line| !line.contains(": no manifest.json"))
                .collect();
            for line in &damaged {
                output::error_line(line);
            }
            Ok(if damaged.is_empty() {
                ExitStatus::Success.into()
            } else {
                ExitStatus::Failed.into()
            })
        }
        Command::Restore(args) => restore::run(&cli.global, args).await,
        Command::Verify(args) => verify::run(&cli.global, args).await,
        Command::Purge(args) => purge::run(&cli.global, args).await,
        Command::Completions(args) => {
            completions::print_completions(args)?;
            Ok(ExitStatus::Success.into())
        }
        Command::Man(args) => {
            completions::print_man_page(args)?;
            Ok(ExitStatus::Success.into())
        }
    }
}

async fn run_backup(
    settings: BackupSettings,
    metrics: Option<&metrics::BackupMetrics>,
) -> Result<ExitCode> {
    let output = Arc::new(Output::new(
        settings.common.output,
        settings.common.verbosity,
    ));
    let store = store::connect(&settings.common.s3).await?;
    let node_push = stages::install::NodePushCatalog::new(settings.node_push_binary.as_deref())?;
    let plan = backup::choose_plan(store.as_ref(), &settings, &output).await?;
    let context = ssh::SshContext::new(settings.ssh.clone())?;
    let job = backup::BackupJob {
        settings,
        output: output.clone(),
        store,
        node_push,
        connector: Arc::new(ssh::SshConnector::new(context)),
    };
    let report = job.run(plan, shutdown_signal()).await;
    let metrics_written = metrics.map_or(Ok(()), |m| m.write_report(&report));
    output.result(&report.table(), &serde_json::to_value(&report)?);
    if let Err(error) = metrics_written {
        output::error_line(&format!("{error:#}"));
        return Ok(ExitStatus::Failed.into());
    }
    if report.interrupted {
        return Ok(ExitStatus::Interrupted.into());
    }
    if report.failed() {
        output.failure(
            &format!("backup {} failed:", report.backup),
            &report.failure_lines(),
        );
        return Ok(ExitStatus::Failed.into());
    }
    Ok(ExitStatus::Success.into())
}

/// Resolves on Ctrl-C or SIGTERM. A second Ctrl-C during the cleanup that follows exits at once.
async fn shutdown_signal() {
    signals::interrupted().await;
    signals::exit_on_second_interrupt(|| {
        output::stderr_line("interrupted again: exiting without clearing snapshots");
    });
}
