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
mod secret;
mod settings;
mod shell;
mod ssh;
mod stages;
mod store;
mod verify;

use anyhow::Result;
use cli::{Cli, Command};
use output::Output;
use settings::{BackupSettings, CommonSettings, OutputMode};
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
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Backup(args) => {
            let metrics = metrics::BackupMetrics::of(
                args,
                cli.global.s3_bucket_name.as_deref().unwrap_or_default(),
                cli.global.s3_base_path.as_deref().unwrap_or_default(),
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
                    eprintln!("error: {error:#}");
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
                eprintln!("error: {line}");
            }
            Ok(if damaged.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Restore(args) => restore::run(&cli.global, args).await,
        Command::Verify(args) => verify::run(&cli.global, args).await,
        Command::Purge(args) => purge::run(&cli.global, args).await,
        Command::Completions(args) => {
            completions::print_completions(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man(args) => {
            completions::print_man_page(args)?;
            Ok(ExitCode::SUCCESS)
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
        eprintln!("error: {error:#}");
        return Ok(ExitCode::FAILURE);
    }
    if report.interrupted {
        return Ok(ExitCode::from(130));
    }
    if report.failed() {
        if output.mode() != OutputMode::Json {
            eprintln!("backup {} failed:", report.backup);
            for line in report.failure_lines() {
                eprintln!("  {line}");
            }
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM. A second Ctrl-C during the cleanup that follows exits at once.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).ok();
    let term = async {
        match terminate.as_mut() {
            Some(stream) => {
                stream.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted again: exiting without clearing snapshots");
            std::process::exit(130);
        }
    });
}
