//! `node-push`: the node-side agent. Parses the command line, runs it, maps the outcome to an exit code.
//!
//! stdout carries only JSON lines (see `node_push::message`); human messages go to stderr.

use clap::Parser;
use node_push::agent::{self, Outcome};
use node_push::cli::{Cli, Command};
use node_push::message::Message;
use node_push::metrics::UploadJob;
use node_push::restore;
use node_push::upload::Reporter;
use std::sync::Arc;

/// Static musl builds only: musl's own malloc serialises every thread on one lock (see Cargo.toml).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    let reporter = Reporter::stdout();
    reporter.emit(agent::hello());
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("cannot start the async runtime")
    };
    let code = match cli.command {
        Command::Hello => 0,
        Command::Stream(args) => {
            match node_push::streams::command(&args, &mut std::io::stdin().lock()) {
                Ok(answer) => {
                    reporter.emit(Message::Stream(answer));
                    0
                }
                Err(error) => fatal(&reporter, error),
            }
        }
        Command::Restore(args) => {
            let events: restore::Events = {
                let reporter = reporter.clone();
                Arc::new(move |message| reporter.emit(message))
            };
            match runtime().block_on(restore::command::run(*args, events, cli.verbose)) {
                Ok((outcome, summary)) => {
                    if summary.files_failed > 0 {
                        eprintln!(
                            "node-push: {} of {} files were not restored",
                            summary.files_failed, summary.files_total
                        );
                    }
                    reporter.emit(Message::RestoreSummary(summary));
                    outcome.exit_code()
                }
                Err(error) => fatal(&reporter, error),
            }
        }
        Command::Upload(args) => {
            let metrics = args
                .metrics_file
                .clone()
                .map(|path| (path, UploadJob::of(&args)));
            let started = std::time::Instant::now();
            let (code, summary) =
                match runtime().block_on(agent::upload(*args, reporter.clone(), cli.verbose)) {
                    Ok((outcome, summary)) => {
                        if summary.files_failed > 0 {
                            eprintln!(
                                "node-push: {} of {} files failed",
                                summary.files_failed, summary.files_total
                            );
                        }
                        reporter.emit(Message::Summary(summary.clone()));
                        (outcome.exit_code(), Some(summary))
                    }
                    Err(error) => (fatal(&reporter, error), None),
                };
            match metrics {
                Some((path, job)) => {
                    let run = job.metrics(summary.as_ref(), code == 0, started.elapsed());
                    match run.write(&path) {
                        Ok(()) => code,
                        Err(error) => {
                            eprintln!(
                                "node-push: cannot write the metrics file {}: {error}",
                                path.display()
                            );
                            code.max(1)
                        }
                    }
                }
                None => code,
            }
        }
    };
    std::process::exit(code);
}

/// Reports an error that stopped the run before it could do anything: one line on stderr, a `fatal` message.
fn fatal(reporter: &Reporter, error: anyhow::Error) -> i32 {
    let error = format!("{error:#}");
    eprintln!("node-push: {error}");
    reporter.emit(Message::Fatal { error });
    Outcome::SomeFailed.exit_code().max(2)
}
