//! Ctrl-C and SIGTERM: the one way every command waits for the user (or systemd) to stop it.
//!
//! [`interrupted`] resolves on the first of them. A command that cleans up after it (the backup clears
//! its snapshots) uses [`exit_on_second_interrupt`], so that a second Ctrl-C during a slow cleanup ends
//! the process at once instead of being swallowed.

use contract::exit::ExitStatus;
use tokio::signal::unix::{signal, SignalKind};

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. When SIGTERM cannot be watched, Ctrl-C alone.
pub async fn interrupted() {
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
}

/// From now on, the next Ctrl-C runs `before_exit` (a last message) and exits with 130, without
/// waiting for the cleanup in progress.
///
/// Not unit-tested: a signal raised in the test process would reach every other test waiting on
/// [`interrupted`]; backup_e2e's Ctrl-C step runs the real binary instead.
pub fn exit_on_second_interrupt(before_exit: impl FnOnce() + Send + 'static) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            before_exit();
            std::process::exit(ExitStatus::Interrupted.code());
        }
    });
}
