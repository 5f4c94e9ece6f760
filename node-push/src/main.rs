//! `node-push`: the node-side agent. Turns the command line (flags, or `--request-stdin`'s request line)
//! into a request, runs it, and maps the outcome to an exit status (`contract::exit::ExitStatus`).
//!
//! stdout carries only JSON lines (see `contract::message`); human messages go to stderr through
//! `engine::upload::log_line`, which never panics: after a dropped SSH connection stderr is gone, and the
//! run must still stop in order (exit 3), not abort.

use clap::Parser;
use contract::exit::ExitStatus;
use contract::message::Message;
use contract::request::{Request, Session, UploadRequest};
use contract::stream::StreamRequest;
use engine::restore;
use engine::upload::{log_line, Reporter};
use node_push::agent;
use node_push::cli::{Cli, Command, RestoreArgs, StreamArgs, UploadArgs};
use node_push::metrics_job::UploadJob;
use node_push::restore_command::{FilesFrom, RestoreInput};
use node_push::session::{read_json_line, read_request};
use std::process::ExitCode;
use std::sync::Arc;

/// Static musl builds only: musl's own malloc serialises every thread on one lock (see Cargo.toml).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let reporter = Reporter::stdout();
    reporter.emit(agent::hello());
    let status = match cli.command {
        Command::Hello => ExitStatus::Success,
        Command::Stream(args) => stream(&args, &reporter),
        Command::Restore(args) => restore(&args, &reporter, cli.verbose),
        Command::Upload(args) => upload(&args, &reporter, cli.verbose),
    };
    status.into()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot start the async runtime")
}

fn stream(args: &StreamArgs, reporter: &Reporter) -> ExitStatus {
    let request = if args.request_stdin {
        read_request("stream").map(|(_, request)| match request {
            Request::Stream(request) => *request,
            _ => unreachable!("read_request checks the command"),
        })
    } else {
        read_json_line::<StreamRequest>(&mut std::io::stdin().lock(), "stream request")
            .map(|request| args.to_request(request))
    };
    match request.and_then(|request| node_push::stream_command::command(&request)) {
        Ok(answer) => {
            reporter.emit(Message::Stream(answer));
            ExitStatus::Success
        }
        Err(error) => fatal(reporter, error),
    }
}

fn restore(args: &RestoreArgs, reporter: &Reporter, verbose: bool) -> ExitStatus {
    let input = if args.request_stdin {
        read_request("restore").map(|(session, request)| match request {
            Request::Restore(request) => (
                session,
                RestoreInput {
                    request: *request,
                    files_from: FilesFrom::Request,
                },
            ),
            _ => unreachable!("read_request checks the command"),
        })
    } else {
        args.to_input()
    };
    let (session, input) = match input {
        Ok(input) => input,
        Err(error) => return fatal(reporter, error),
    };
    let events: restore::Events = {
        let reporter = reporter.clone();
        Arc::new(move |message| reporter.emit(message))
    };
    let run = node_push::restore_command::run(input, session, events, verbose);
    match runtime().block_on(run) {
        Ok((status, summary)) => {
            if summary.files_failed > 0 {
                log_line(format_args!(
                    "{} of {} files were not restored",
                    summary.files_failed, summary.files_total
                ));
            }
            reporter.emit(Message::RestoreSummary(summary));
            status
        }
        Err(error) => fatal(reporter, error),
    }
}

fn upload_request(args: &UploadArgs) -> anyhow::Result<(Session, UploadRequest)> {
    if !args.request_stdin {
        return args.to_request();
    }
    let (session, request) = read_request("upload")?;
    match request {
        Request::Upload(request) => Ok((session, *request)),
        _ => unreachable!("read_request checks the command"),
    }
}

fn upload(args: &UploadArgs, reporter: &Reporter, verbose: bool) -> ExitStatus {
    let (session, request) = match upload_request(args) {
        Ok(request) => request,
        Err(error) => return fatal(reporter, error),
    };
    let metrics = request
        .metrics_file
        .clone()
        .map(|path| (path, UploadJob::of(&request)));
    let started = std::time::Instant::now();
    let run = agent::upload(request, session, reporter.clone(), verbose);
    let (status, summary) = match runtime().block_on(run) {
        Ok((status, summary)) => {
            if summary.files_failed > 0 {
                log_line(format_args!(
                    "{} of {} files failed",
                    summary.files_failed, summary.files_total
                ));
            }
            reporter.emit(Message::Summary(summary.clone()));
            (status, Some(summary))
        }
        Err(error) => (fatal(reporter, error), None),
    };
    let Some((path, job)) = metrics else {
        return status;
    };
    let run = job.metrics(
        summary.as_ref(),
        status == ExitStatus::Success,
        started.elapsed(),
    );
    match run.write(&path) {
        Ok(()) => status,
        Err(error) => {
            log_line(format_args!(
                "cannot write the metrics file {}: {error}",
                path.display()
            ));
            match status {
                ExitStatus::Success => ExitStatus::Failed,
                other => other,
            }
        }
    }
}

/// Reports an error that stopped the run before it could do anything: one line on stderr, a `fatal` message.
fn fatal(reporter: &Reporter, error: anyhow::Error) -> ExitStatus {
    let error = format!("{error:#}");
    log_line(format_args!("{error}"));
    reporter.emit(Message::Fatal { error });
    ExitStatus::Fatal
}
