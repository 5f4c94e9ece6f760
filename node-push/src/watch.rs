//! The one stdin watch of upload and restore (the session's `watch_stdin`, which the coordinator asks
//! for): the end of stdin (the SSH connection dropped, the coordinator gone) cancels the run; each
//! further line is fresh credentials.
//!
//! Unlike a bare watch, it knows when the run is over: the coordinator closes stdin as soon as it has
//! the summary, and a run that succeeded must not then log `stdin closed, stopping the restore`.

use contract::message::NodeInput;
use engine::store::s3::{publish_keys, Keys};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// Tells the watch that the run is over: an end of stdin after it is the coordinator hanging up, not a
/// reason to stop anything.
#[derive(Debug, Clone, Default)]
pub struct RunOver(Arc<AtomicBool>);

impl RunOver {
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Starts the watch thread on stdin; `cancel` is set at end of file while the run is not over. `what`
/// names the run in the log line ("upload", "restore").
pub fn watch_stdin(cancel: watch::Sender<bool>, what: &'static str) -> RunOver {
    watch_lines(|| std::io::stdin().lock(), cancel, std::io::stderr, what)
}

/// The watch over any line source, logging to `log`.
fn watch_lines<R: BufRead, W: Write>(
    open: impl FnOnce() -> R + Send + 'static,
    cancel: watch::Sender<bool>,
    log: impl FnOnce() -> W + Send + 'static,
    what: &'static str,
) -> RunOver {
    let over = RunOver::default();
    let seen = over.clone();
    std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut line = String::new();
            let mut input = open();
            while matches!(input.read_line(&mut line), Ok(n) if n > 0) {
                take_credentials_line(&line);
                line.clear();
            }
            if seen.is_set() {
                return;
            }
            // Said before the cancel, so the line is there by the time anyone sees the run stop. stderr
            // usually went with the connection: writeln! to it may fail, eprintln! would panic here.
            let _ = writeln!(log(), "node-push: stdin closed, stopping the {what}");
            let _ = cancel.send(true);
        })
        .expect("can start a thread");
    over
}

/// A credentials line: its keys replace the current ones for the next requests. Blank lines and lines
/// without keys are ignored; a line that is not JSON is named without its content (it may hold a secret).
fn take_credentials_line(line: &str) {
    let line = line.trim();
    if line.is_empty() {
        return;
    }
    match serde_json::from_str::<NodeInput>(line) {
        Ok(NodeInput {
            aws_access_key_id: Some(access_key),
            aws_secret_access_key: Some(secret_key),
            aws_session_token,
            ..
        }) if !access_key.is_empty() && !secret_key.is_empty() => publish_keys(Keys {
            access_key,
            secret_key,
            session_token: aws_session_token,
            expires: None,
        }),
        Ok(_) => {}
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "node-push: ignored a credentials line on stdin (not valid JSON)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Mutex;

    /// Lines sent through a channel; its end is the end of "stdin".
    struct Lines(mpsc::Receiver<Vec<u8>>, Vec<u8>);

    impl std::io::Read for Lines {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1.is_empty() {
                match self.0.recv() {
                    Ok(bytes) => self.1 = bytes,
                    Err(_) => return Ok(0),
                }
            }
            let n = buf.len().min(self.1.len());
            buf[..n].copy_from_slice(&self.1[..n]);
            self.1.drain(..n);
            Ok(n)
        }
    }

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Starts a watch; returns the line sender, the cancel receiver, the log and the run-over flag.
    fn start() -> (mpsc::Sender<Vec<u8>>, watch::Receiver<bool>, Log, RunOver) {
        let (tx, rx) = mpsc::channel();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let log = Log::default();
        let sink = log.clone();
        let over = watch_lines(
            move || std::io::BufReader::new(Lines(rx, Vec::new())),
            cancel_tx,
            move || sink,
            "restore",
        );
        (tx, cancel_rx, log, over)
    }

    #[tokio::test]
    async fn the_end_of_stdin_cancels_a_running_restore_and_says_so() {
        let (tx, mut cancel, log, _over) = start();
        tx.send(b"\n".to_vec()).unwrap();
        drop(tx);
        cancel.wait_for(|c| *c).await.unwrap();
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "node-push: stdin closed, stopping the restore\n");
    }

    #[tokio::test]
    async fn the_end_of_stdin_after_the_restore_is_silent() {
        let (tx, cancel, log, over) = start();
        over.set();
        drop(tx);
        // The watch thread ends at end of file; its cancel sender goes with it.
        let mut cancel = cancel;
        assert!(cancel.changed().await.is_err(), "no cancel after the run");
        assert!(!*cancel.borrow());
        assert!(log.0.lock().unwrap().is_empty(), "nothing logged");
    }
}
